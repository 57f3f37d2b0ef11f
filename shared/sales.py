"""`pos.sales.v1`: what a till says about a sale."""

from collections.abc import Collection
from decimal import Decimal
from typing import Literal, Self

from pydantic import Field, model_validator

from shared.base import Id, Message, Name, Text
from shared.currencies import Currency
from shared.money import Amount, NonNegativeAmount, Quantity, exact_product
from shared.timestamps import Timestamp

__all__ = [
    "LINES_MAX",
    "LOYALTY_EXCLUDED_TENDERS",
    "TENDERS_MAX",
    "Override",
    "SaleEvent",
    "SaleLine",
    "SaleStage",
    "Tender",
    "TenderType",
    "sale_key",
]

# Bounds on one event, so a runaway till cannot make one message cost unbounded work.
LINES_MAX = 1000
TENDERS_MAX = 50

TenderType = Literal["account", "cash", "card", "eftpos", "voucher", "points"]
SaleStage = Literal["authorize", "completed", "voided", "returned"]

# Contract (crm.loyalty.v1): points are earned on tenders other than `points` and `voucher`.
LOYALTY_EXCLUDED_TENDERS: frozenset[TenderType] = frozenset({"points", "voucher"})


class Tender(Message):
    type: TenderType
    amount: NonNegativeAmount


class SaleLine(Message):
    """One line of the docket.

    `unit_price` and `amount` may be negative, so a till can send a discount as its own line;
    no ledger rule reads line amounts (the tenders are what is charged).
    """

    sku: Id
    description: Text | None = None
    quantity: Quantity
    unit_price: Amount
    amount: Amount
    category: Name | None = None

    @model_validator(mode="after")
    def _amount_is_quantity_times_unit_price(self) -> Self:
        expected = exact_product(self.quantity, self.unit_price)
        if self.amount != expected:
            raise ValueError(
                f"line {self.sku}: amount {self.amount} is not quantity x unit_price = {expected}"
            )
        return self


class Override(Message):
    """A manager's override: lets an `authorize` past the credit-limit rule only."""

    code: Name
    authorised_by: Name


class SaleEvent(Message):
    """A sale at one stage of its life.

    Rules checked, all reported together:
    - every stage but `voided` must give `total` and `tenders`;
    - tenders sum to `total` (a `voided` event with no tenders is exempt: only `sale_id` is
      needed to cancel a sale, so its amounts are informational and default to zero);
    - an `account` tender is positive and needs `account_number`, whatever the stage;
    - a `points` tender needs `customer_id`, whose points pay for it;
    - `authorize` needs `account_number` and at least one `account` tender;
    - `returned` needs `original_sale_id`; its amounts are the positive amounts refunded.
    """

    event_id: Id
    occurred_at: Timestamp
    store_id: Id
    terminal_id: Id
    sale_id: Id
    stage: SaleStage
    currency: Currency
    total: NonNegativeAmount = Decimal("0")
    lines: list[SaleLine] = Field(default_factory=list, max_length=LINES_MAX)
    tenders: list[Tender] = Field(default_factory=list, max_length=TENDERS_MAX)
    account_number: Id | None = None
    customer_id: Id | None = None
    override: Override | None = None
    original_sale_id: Id | None = None

    def account_amount(self) -> Decimal:
        """What the sale puts on (or, when returned, credits back to) the account."""
        return self._tendered({"account"})

    def points_amount(self) -> Decimal:
        """The money value paid with loyalty points."""
        return self._tendered({"points"})

    def loyalty_amount(self) -> Decimal:
        """The money value that earns points under the contract's default rule."""
        return sum(
            (t.amount for t in self.tenders if t.type not in LOYALTY_EXCLUDED_TENDERS),
            Decimal("0"),
        )

    def has_account_tender(self) -> bool:
        return any(tender.type == "account" for tender in self.tenders)

    def _tendered(self, types: Collection[TenderType]) -> Decimal:
        return sum((t.amount for t in self.tenders if t.type in types), Decimal("0"))

    @model_validator(mode="after")
    def _sale_rules(self) -> Self:
        problems = [*self._amount_problems(), *self._stage_problems()]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _amount_problems(self) -> list[str]:
        problems: list[str] = []
        if self.stage != "voided":
            missing = [name for name in ("total", "tenders") if name not in self.model_fields_set]
            problems += [f"{name} is required for a {self.stage} sale" for name in missing]
        tendered = sum((tender.amount for tender in self.tenders), Decimal("0"))
        if (self.tenders or self.stage != "voided") and tendered != self.total:
            problems.append(f"tenders sum to {tendered}, not the total {self.total}")
        if any(t.type == "account" and t.amount == 0 for t in self.tenders):
            problems.append("an account tender must be more than zero")
        return problems

    def _stage_problems(self) -> list[str]:
        problems: list[str] = []
        if self.account_number is None and (self.stage == "authorize" or self.has_account_tender()):
            problems.append("account_number is required to authorize or to take an account tender")
        if self.stage == "authorize" and not self.has_account_tender():
            problems.append("authorize needs an account tender")
        if any(t.type == "points" for t in self.tenders) and self.customer_id is None:
            problems.append("a points tender needs customer_id")
        if self.stage == "returned" and self.original_sale_id is None:
            problems.append("returned needs original_sale_id")
        return problems


def sale_key(sale: SaleEvent) -> str:
    """The Kafka key: `account_number`, else `customer_id`, else `sale_id` (contract)."""
    return sale.account_number or sale.customer_id or sale.sale_id
