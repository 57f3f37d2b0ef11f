"""`accounts.commands.v1`: what the back office asks of an account."""

from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, TypeAdapter, model_validator

from shared.base import Id, Message, Name, PartialUpdate, Text
from shared.money import Amount, NonNegativeAmount, PositiveAmount
from shared.terms import (
    AccountTerms,
    CategoryFunding,
    CreditPeriodDays,
    Funding,
    OverdueHoldDays,
    OverrideRules,
    SettlementFrequency,
)
from shared.timestamps import Timestamp

__all__ = [
    "ALLOCATIONS_MAX",
    "AccountCommand",
    "AddMember",
    "Allocation",
    "ApproveAccount",
    "CategoryFunding",
    "ChangeCreditTerms",
    "CommandBase",
    "DeactivateAccount",
    "Funding",
    "IssueCreditNote",
    "OpenAccount",
    "PaymentMethod",
    "PostJournal",
    "ReactivateAccount",
    "RecordPayment",
    "RemoveMember",
    "SettlementFrequency",
    "SuspendAccount",
    "TerminateAccount",
    "WriteOffAccount",
    "account_command_adapter",
    "command_key",
]

ALLOCATIONS_MAX = 1000

PaymentMethod = Literal["cash", "bank_transfer", "cheque", "card", "eft"]


class CommandBase(Message):
    command_id: Id
    issued_at: Timestamp
    issued_by: Name
    account_number: Id


class OpenAccount(CommandBase, AccountTerms):
    type: Literal["open_account"] = "open_account"


class ApproveAccount(CommandBase):
    type: Literal["approve_account"] = "approve_account"


_CLEARABLE_TERMS = frozenset({"credit_rating", "overdue_hold_days", "override_rules"})


class ChangeCreditTerms(CommandBase, PartialUpdate):
    """Changes only the terms present in the payload.

    An absent field keeps its value. `null` clears `credit_rating` and `overdue_hold_days` (no
    overdue hold); the other terms cannot be cleared, so `null` for them is invalid.
    """

    FIXED_FIELDS = frozenset({*CommandBase.model_fields, "type"})

    type: Literal["change_credit_terms"] = "change_credit_terms"
    credit_limit: NonNegativeAmount | None = None
    restrict_credit: bool | None = None
    credit_period_days: CreditPeriodDays | None = None
    credit_rating: Name | None = None
    overdue_hold_days: OverdueHoldDays | None = None
    override_rules: OverrideRules | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        changes = self.changes()
        if not changes:
            raise ValueError("change_credit_terms needs at least one term to change")
        cleared = [n for n, v in changes.items() if v is None and n not in _CLEARABLE_TERMS]
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be null")
        return self


class _StatusCommand(CommandBase):
    reason: Text | None = None


class SuspendAccount(_StatusCommand):
    type: Literal["suspend_account"] = "suspend_account"


class ReactivateAccount(_StatusCommand):
    type: Literal["reactivate_account"] = "reactivate_account"


class DeactivateAccount(_StatusCommand):
    type: Literal["deactivate_account"] = "deactivate_account"


class TerminateAccount(_StatusCommand):
    type: Literal["terminate_account"] = "terminate_account"


class Allocation(Message):
    sale_id: Id
    amount: PositiveAmount


class RecordPayment(CommandBase):
    """A payment; `allocations` settle chosen sales, otherwise the oldest open items go first.

    Allocations may total less than `amount` but never more, and name each sale once. An empty
    list means the same as none.
    """

    type: Literal["record_payment"] = "record_payment"
    payment_id: Id
    amount: PositiveAmount
    method: PaymentMethod
    allocations: list[Allocation] | None = Field(default=None, max_length=ALLOCATIONS_MAX)

    @model_validator(mode="after")
    def _allocations_within_amount(self) -> Self:
        allocations = self.allocations or []
        allocated = sum((a.amount for a in allocations), Decimal("0"))
        if allocated > self.amount:
            raise ValueError(f"allocations total {allocated}, more than the payment {self.amount}")
        sale_ids = [a.sale_id for a in allocations]
        if len(set(sale_ids)) != len(sale_ids):
            raise ValueError("each sale_id may be allocated once per payment")
        return self


class IssueCreditNote(CommandBase):
    type: Literal["issue_credit_note"] = "issue_credit_note"
    credit_note_id: Id
    amount: PositiveAmount
    reason: Text
    sale_id: Id | None = None


class PostJournal(CommandBase):
    """A manual adjustment: positive is a debit (the customer owes more), negative a credit."""

    type: Literal["post_journal"] = "post_journal"
    journal_id: Id
    amount: Amount
    memo: Text

    @model_validator(mode="after")
    def _amount_not_zero(self) -> Self:
        if self.amount == 0:
            raise ValueError("a journal amount cannot be zero")
        return self


class WriteOffAccount(CommandBase):
    type: Literal["write_off_account"] = "write_off_account"
    reason: Text | None = None


class _MemberCommand(CommandBase):
    """`account_number` is the group (the parent); `member_account_number` the member."""

    member_account_number: Id

    @model_validator(mode="after")
    def _member_is_another_account(self) -> Self:
        if self.member_account_number == self.account_number:
            raise ValueError("an account cannot be a member of itself")
        return self


class AddMember(_MemberCommand):
    type: Literal["add_member"] = "add_member"
    funding: Funding


class RemoveMember(_MemberCommand):
    type: Literal["remove_member"] = "remove_member"
    funding: Funding | None = None  # accepted for symmetry with add_member; not used


AccountCommand = Annotated[
    OpenAccount
    | ApproveAccount
    | ChangeCreditTerms
    | SuspendAccount
    | ReactivateAccount
    | DeactivateAccount
    | TerminateAccount
    | RecordPayment
    | IssueCreditNote
    | PostJournal
    | WriteOffAccount
    | AddMember
    | RemoveMember,
    Field(discriminator="type"),
]
# The title names the union in error messages instead of a list of its members.
account_command_adapter: TypeAdapter[AccountCommand] = TypeAdapter(
    AccountCommand, config=ConfigDict(title="AccountCommand")
)


def command_key(command: CommandBase) -> str:
    """The Kafka key of every command: its `account_number` (contract)."""
    return command.account_number
