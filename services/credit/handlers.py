"""One function per message type: message in, domain call, replies out."""

from __future__ import annotations

from datetime import datetime, tzinfo

from services.common.ids import derived_id
from services.common.messages import Outgoing
from services.credit.domain.accounts import AccountStatus
from services.credit.domain.decisions import Approved, Declined, decide_authorization
from services.credit.domain.errors import AccountNotFound, CreditError, UnsupportedCommand
from services.credit.domain.ledger import due_date_of, post
from services.credit.domain.lifecycle import open_account, transition
from services.credit.messages import (
    account_changed,
    account_opened,
    command_rejected,
    decision_reply,
    entry_posted,
)
from services.credit.repository import SaleCharge
from services.credit.unit_of_work import CreditUnitOfWork
from shared.commands import AccountCommand, OpenAccount
from shared.sales import SaleEvent

_LIFECYCLE: dict[str, AccountStatus] = {
    "approve_account": "active",
    "suspend_account": "suspended",
    "reactivate_account": "active",
    "deactivate_account": "inactive",
    "terminate_account": "terminated",
}


def authorize_sale(
    sale: SaleEvent, uow: CreditUnitOfWork, now: datetime, business_tz: tzinfo
) -> list[Outgoing]:
    account = uow.account(sale.account_number)
    charged = uow.sale_charges.get(sale.sale_id)
    if charged is not None and account is not None:
        # A sale is charged at most once: the till gets its approval again, nothing is posted.
        return [decision_reply(sale, Approved(charged.amount, account.over_limit), account, now)]
    outcome = decide_authorization(account, sale.currency, sale.account_amount())
    if isinstance(outcome, Declined) or account is None:
        return [decision_reply(sale, outcome, account, now)]
    entry = post(
        account,
        entry_id=derived_id("entry", sale.event_id),
        kind="charge",
        amount=outcome.amount,
        reference=sale.sale_id,
        posted_at=now,
        due_date=due_date_of(account, now.astimezone(business_tz).date()),
    )
    uow.post(entry)
    uow.charge_sale(
        SaleCharge(sale.sale_id, account.number, outcome.amount, entry.entry_id, sale.event_id, now)
    )
    return [decision_reply(sale, outcome, account, now), entry_posted(entry, account, now)]


def handle_command(command: AccountCommand, uow: CreditUnitOfWork, now: datetime) -> list[Outgoing]:
    try:
        if isinstance(command, OpenAccount):
            return _open(command, uow, now)
        account = uow.account(command.account_number)
        if account is None:
            raise AccountNotFound(f"no account {command.account_number}")
        if command.type in _LIFECYCLE:
            transition(account, _LIFECYCLE[command.type])
            uow.touch(account)
            return [account_changed(command.command_id, account, now)]
        raise UnsupportedCommand(f"{command.type} is not supported yet")
    except CreditError as refusal:
        return [
            command_rejected(
                command.command_id, command.account_number, refusal.reason, refusal.detail, now
            )
        ]


def _open(command: OpenAccount, uow: CreditUnitOfWork, now: datetime) -> list[Outgoing]:
    account = open_account(command, uow.account(command.account_number), now)
    uow.open(account)
    replies = [account_opened(command.command_id, account, now)]
    if command.opening_balance:
        entry = post(
            account,
            entry_id=derived_id("entry", command.command_id),
            kind="opening_balance",
            amount=command.opening_balance,
            reference=command.command_id,
            posted_at=now,
        )
        uow.post(entry)
        replies.append(entry_posted(entry, account, now, command.command_id))
    return replies
