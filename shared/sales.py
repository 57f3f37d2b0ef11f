"""`pos.sales.v1`: what a till says about a sale."""

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
_ZERO = Decimal("0")

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
        return self._tendered("account")

    def points_amount(self) -> Decimal:
        """The money value paid with loyalty points."""
        return self._tendered("points")

    def loyalty_amount(self) -> Decimal:
        """The money value that earns points under the contract's default rule."""
        return sum(
            (t.amount for t in self.tenders if t.type not in LOYALTY_EXCLUDED_TENDERS),
            _ZERO,
        )

    def _tendered(self, kind: TenderType) -> Decimal:
        # A loop, not sum() over a generator: the account amount is asked twice of every sale.
        amount = _ZERO
        for tender in self.tenders:
            if tender.type == kind:
                amount += tender.amount
        return amount

    @model_validator(mode="after")
    def _sale_rules(self) -> Self:
        problems = self._problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _problems(self) -> list[str]:
        # Every sale a till sends passes here: one pass over the tenders, then the rules.
        stage = self.stage
        tendered = _ZERO
        account_tender = zero_account_tender = points_tender = False
        for tender in self.tenders:
            tendered += tender.amount
            if tender.type == "account":
                account_tender = True
                zero_account_tender = zero_account_tender or not tender.amount
            elif tender.type == "points":
                points_tender = True
        problems: list[str] = []
        if stage != "voided":
            given = self.model_fields_set
            problems += [
                f"{name} is required for a {stage} sale"
                for name in ("total", "tenders")
                if name not in given
            ]
        if (self.tenders or stage != "voided") and tendered != self.total:
            problems.append(f"tenders sum to {tendered}, not the total {self.total}")
        if zero_account_tender:
            problems.append("an account tender must be more than zero")
        if self.account_number is None and (stage == "authorize" or account_tender):
            problems.append("account_number is required to authorize or to take an account tender")
        if stage == "authorize" and not account_tender:
            problems.append("authorize needs an account tender")
        if points_tender and self.customer_id is None:
            problems.append("a points tender needs customer_id")
        if stage == "returned" and self.original_sale_id is None:
            problems.append("returned needs original_sale_id")
        return problems


def sale_key(sale: SaleEvent) -> str:
    """The Kafka key: `account_number`, else `customer_id`, else `sale_id` (contract)."""
    return sale.account_number or sale.customer_id or sale.sale_id
