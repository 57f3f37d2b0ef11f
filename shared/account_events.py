"""`accounts.events.v1`: facts about accounts, published by the credit service."""

from decimal import Decimal
from typing import Annotated, Literal, Self, get_args

from pydantic import ConfigDict, Field, StringConstraints, TypeAdapter, model_validator

from shared.base import Email, Id, Message, Name, PartialUpdate, Text
from shared.currencies import Currency
from shared.money import Amount, NonNegativeAmount
from shared.sales import Override
from shared.terms import (
    AccountStatus,
    AccountTerms,
    CreditPeriodDays,
    Funding,
    OverdueHoldDays,
    OverrideRules,
    SettlementFrequency,
)
from shared.timestamps import Day, Timestamp

__all__ = [
    "REJECT_REASONS",
    "AccountChanged",
    "AccountEvent",
    "AccountEventBase",
    "AccountOpened",
    "CommandRejected",
    "Entry",
    "EntryKind",
    "EntryPosted",
    "LedgerEntry",
    "RejectCode",
    "RejectReason",
    "account_event_adapter",
    "account_event_key",
]


class AccountEventBase(Message):
    event_id: Id
    occurred_at: Timestamp
    # Added to the contract's fields: the command that caused the event (null when a sale did), so
    # a back office can match the outcome to what it sent.
    command_id: Id | None = None


class AccountOpened(AccountEventBase, AccountTerms):
    """The account's full terms and its first status."""

    type: Literal["account_opened"] = "account_opened"
    account_number: Id
    status: AccountStatus


# Terms that can be unset; the rest always have a value once an account is open.
_CLEARABLE = frozenset(
    {"credit_rating", "overdue_hold_days", "parent_account_number", "funding", "override_rules"}
)


class AccountChanged(AccountEventBase, PartialUpdate):
    """New values of what changed: an absent field is unchanged, `null` means cleared.

    Group membership is a change to the member account: `add_member` sets its
    `parent_account_number` and `funding`, `remove_member` clears both.
    """

    FIXED_FIELDS = frozenset({*AccountEventBase.model_fields, "type", "account_number", "reason"})

    type: Literal["account_changed"] = "account_changed"
    account_number: Id
    status: AccountStatus | None = None
    name: Name | None = None
    credit_limit: NonNegativeAmount | None = None
    restrict_credit: bool | None = None
    credit_period_days: CreditPeriodDays | None = None
    credit_rating: Name | None = None
    overdue_hold_days: OverdueHoldDays | None = None
    settlement_frequency: SettlementFrequency | None = None
    statement_email: Email | None = None
    parent_account_number: Id | None = None
    funding: Funding | None = None
    override_rules: OverrideRules | None = None
    reason: Text | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        changes = self.changes()
        if not changes:
            raise ValueError("account_changed must change something")
        cleared = [n for n, v in changes.items() if v is None and n not in _CLEARABLE]
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be null")
        if self.parent_account_number is not None and self.funding is None:
            raise ValueError("a member's parent_account_number comes with its funding")
        return self


EntryKind = Literal[
    "opening_balance", "charge", "charge_reversal", "payment", "credit_note", "journal", "write_off"
]
# The sign each kind must have (positive raises what the customer owes), so a consumer can
# rely on it and a bug in the ledger is caught before it is published.
_RAISES = frozenset({"charge"})
_LOWERS = frozenset({"charge_reversal", "payment", "credit_note"})
_NOT_ZERO = frozenset({"journal", "write_off"})


class Entry(Message):
    """One ledger entry.

    `reference` is the id the entry came from: the `sale_id` of a charge or reversal, the
    `payment_id`, `credit_note_id` or `journal_id`. `forced` marks a charge from an offline till
    that was posted without a credit check.
    """

    entry_id: Id
    kind: EntryKind
    amount: Amount
    currency: Currency
    balance_after: Amount
    reference: Id | None = None
    due_date: Day | None = None
    posted_at: Timestamp
    forced: bool = False
    # Added: the manager's override that let this charge past the limit, and the group member
    # whose sale a parent's charge is for.
    override: Override | None = None
    member_account_number: Id | None = None

    @model_validator(mode="after")
    def _sign_fits_kind(self) -> Self:
        if self.kind in _RAISES and self.amount <= 0:
            raise ValueError(f"a {self.kind} entry is positive")
        if self.kind in _LOWERS and self.amount >= 0:
            raise ValueError(f"a {self.kind} entry is negative")
        if self.kind in _NOT_ZERO and self.amount == Decimal("0"):
            raise ValueError(f"a {self.kind} entry is not zero")
        if self.forced and self.kind != "charge":
            raise ValueError("only a charge can be forced")
        return self


LedgerEntry = Entry
"""Another name for `Entry`, for modules that have a domain `Entry` of their own."""


class EntryPosted(AccountEventBase):
    type: Literal["entry_posted"] = "entry_posted"
    account_number: Id
    entry: Entry


RejectReason = Literal[
    "invalid_command",
    "account_not_found",
    "account_exists",
    "account_terminated",
    "account_not_pending_approval",
    "status_unchanged",
    "balance_not_zero",
    "payment_exists",
    "credit_note_exists",
    "journal_exists",
    "allocation_sale_not_found",
    "allocation_exceeds_open_amount",
    "member_not_found",
    "member_already_in_group",
    "member_not_in_group",
    "member_currency_mismatch",
]
"""Reason codes the credit service uses today; consumers must accept codes not listed here."""
REJECT_REASONS: tuple[RejectReason, ...] = get_args(RejectReason)

RejectCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class CommandRejected(AccountEventBase):
    """A command that had no effect, and why.

    `account_number` is null only when the command was too broken to name one; the event is then
    keyed by `command_id`.
    """

    type: Literal["command_rejected"] = "command_rejected"
    account_number: Id | None = None
    command_id: Id
    reason: RejectCode
    detail: Text


AccountEvent = Annotated[
    AccountOpened | AccountChanged | EntryPosted | CommandRejected, Field(discriminator="type")
]
# The title names the union in error messages instead of a list of its members.
account_event_adapter: TypeAdapter[AccountEvent] = TypeAdapter(
    AccountEvent, config=ConfigDict(title="AccountEvent")
)


def account_event_key(event: AccountEventBase) -> str:
    """The Kafka key: `account_number` (contract), else the rejected command's id."""
    account_number: str | None = getattr(event, "account_number", None)
    return account_number or event.command_id or event.event_id
