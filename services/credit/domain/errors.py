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
