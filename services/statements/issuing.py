"""Making a statement: the figures from the store's entries, the document, and its record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from jinja2 import TemplateError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.errors import Unprocessable
from services.statements.documents import StatementRenderer
from services.statements.domain.delivery import DeliveryState
from services.statements.domain.schedule import Period
from services.statements.domain.statement import Statement, state_account
from services.statements.ledger_repository import AccountRecord, ledger
from services.statements.mail import message_id_for
from services.statements.statement_repository import StatementRecord


def statement_id_for(account_number: str, period_end: date) -> str:
    """One statement per account per period: its id is that key, readable by a person."""
    return f"{account_number}/{period_end.isoformat()}"


@dataclass(frozen=True)
class Issuer:
    renderer: StatementRenderer
    zone: tzinfo
    sender: str

    async def state(
        self, conn: AsyncConnection, account: AccountRecord, period: Period
    ) -> Statement:
        return state_account(account.stated, await ledger(conn, account.number), period, self.zone)

    def record(
        self,
        statement: Statement,
        account: AccountRecord,
        *,
        origin: str,
        status: DeliveryState,
        announce: bool,
        now: datetime,
    ) -> StatementRecord:
        """The record of a new statement: rendered now, to be emailed when `pending`."""
        statement_id = statement_id_for(account.number, statement.period.end)
        try:
            document = self.renderer.render(statement, statement_id, account.statement_email)
        except TemplateError as error:
            # An operator's template that passed the start-up check and fails on this account:
            # the request goes to the dead letters with why, instead of stalling its partition.
            raise Unprocessable(f"statement {statement_id} cannot be rendered: {error}") from error
        pending = status == "pending"
        return StatementRecord(
            statement_id=statement_id,
            account_number=account.number,
            period=statement.period,
            currency=account.currency,
            opening_balance=statement.opening_balance,
            closing_balance=statement.closing_balance,
            amount_due=statement.amount_due,
            due_date=statement.due_date,
            aging=statement.aging,
            subject=document.subject,
            body_text=document.text,
            body_html=document.html,
            pdf=document.pdf,
            message_id=message_id_for(statement_id, self.sender),
            origin=origin,
            status=status,
            delivery_round=1 if pending else 0,
            announce_round=announce,
            attempts=0,
            next_attempt_at=now if pending else None,
            created_at=now,
            updated_at=now,
        )
