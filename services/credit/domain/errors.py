"""Why a command is refused: each refusal is a class with the contract's reason code."""

from __future__ import annotations

from typing import ClassVar, Literal

RejectReason = Literal[
    "invalid_command",
    "account_not_found",
    "account_exists",
    "account_terminated",
    "invalid_status_transition",
    "balance_not_zero",
    "sale_not_open",
    "allocation_exceeds_open_amount",
    "duplicate_payment",
    "duplicate_credit_note",
    "duplicate_journal",
    "account_not_accepting",
    "account_not_active",
    "already_member",
    "not_a_member",
    "nested_group",
    "member_currency_mismatch",
    "unsupported_command",
]


class CreditError(Exception):
    reason: ClassVar[RejectReason]

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class AccountNotFound(CreditError):
    reason = "account_not_found"


class AccountExists(CreditError):
    reason = "account_exists"


class AccountTerminated(CreditError):
    reason = "account_terminated"


class InvalidStatusTransition(CreditError):
    reason = "invalid_status_transition"


class UnsupportedCommand(CreditError):
    reason = "unsupported_command"


class BalanceNotZero(CreditError):
    reason = "balance_not_zero"


class SaleNotOpen(CreditError):
    reason = "sale_not_open"


class AllocationExceedsOpenAmount(CreditError):
    reason = "allocation_exceeds_open_amount"


class DuplicatePayment(CreditError):
    reason = "duplicate_payment"


class DuplicateCreditNote(CreditError):
    reason = "duplicate_credit_note"


class DuplicateJournal(CreditError):
    reason = "duplicate_journal"


class AccountNotAccepting(CreditError):
    """A terminated account accepts nothing but payments."""

    reason = "account_not_accepting"


class AccountNotActive(CreditError):
    reason = "account_not_active"


class AlreadyMember(CreditError):
    reason = "already_member"


class NotAMember(CreditError):
    reason = "not_a_member"


class NestedGroup(CreditError):
    reason = "nested_group"


class MemberCurrencyMismatch(CreditError):
    reason = "member_currency_mismatch"
