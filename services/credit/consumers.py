"""The credit worker's topic handlers: parse, and apply a run of messages in one unit of work."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.errors import Contended
from services.common.handler import UnlockedRun
from services.common.inbox import Claims
from services.common.messages import Outgoing, Record
from services.credit.domain.postings import IncompleteBook
from services.credit.handlers import CreditHandlers, entry_id_for
from services.credit.messages import command_rejected, invalid_request_reply
from services.credit.unit_of_work import CreditUnitOfWork, Settling
from shared.commands import AccountCommand, AddMember, RemoveMember, account_command_adapter
from shared.sales import SaleEvent
from shared.topics import ACCOUNT_COMMANDS, POS_SALES
from shared.wire import best_effort_fields

# Stages that post a credit, which settles the account's debits.
_SETTLING_STAGES = frozenset({"voided", "returned"})


class SaleEvents:
    topic = POS_SALES

    def __init__(self, handlers: CreditHandlers) -> None:
        self._handlers = handlers
        self._by_stage = {
            "authorize": self._handlers.authorize_sale,
            "completed": self._handlers.complete_sale,
            "voided": self._handlers.void_sale,
            "returned": self._handlers.return_sale,
        }

    def parse(self, raw: bytes) -> SaleEvent:
        return SaleEvent.model_validate_json(raw)

    def message_id(self, message: SaleEvent) -> str:
        return message.event_id

    def rejection(self, record: Record, error: str, now: datetime) -> list[Outgoing]:
        fields = best_effort_fields(
            record.value,
            "event_id",
            "sale_id",
            "store_id",
            "terminal_id",
            "account_number",
            "stage",
        )
        # Only a till waiting on an authorize needs a reply, and only one it can match.
        if "event_id" not in fields or fields.get("stage") != "authorize":
            return []
        key = record.key.decode("utf-8", "replace") if record.key else None
        return [invalid_request_reply(fields["event_id"], fields, key, now)]

    async def apply(
        self, conn: AsyncConnection, messages: Sequence[SaleEvent], now: datetime
    ) -> list[list[Outgoing]]:
        lean = self._lean(messages)
        try:
            return await self._apply(conn, messages, now, lean)
        except IncompleteBook:
            # Nothing was written: the books were only changed in memory.
            return await self._apply(conn, messages, now, replace(lean, whole_books=True))

    async def read_unlocked(
        self, conn: AsyncConnection, messages: Sequence[SaleEvent], claims: Claims
    ) -> UnlockedRun[SaleEvent]:
        """What `apply` reads, from one unlocked statement that also finds the claims; its
        writes are guarded by the versions read (see `CreditUnitOfWork.read_unlocked`)."""
        settling = self._lean(messages)
        uow, stored = await CreditUnitOfWork.read_unlocked(
            conn,
            account_numbers=[m.account_number for m in messages if m.account_number],
            sale_ids=[s for m in messages for s in (m.sale_id, m.original_sale_id) if s],
            settling=settling,
            claims=claims,
        )
        return UnlockedSales(self._one, uow, stored)

    @staticmethod
    def _lean(messages: Sequence[SaleEvent]) -> Settling:
        """Charges settle nothing: their accounts need only their credits loaded. A void or a
        return usually settles only its own sale: first try with that sale's debit alone."""
        settling = [m for m in messages if m.stage in _SETTLING_STAGES]
        return Settling(
            frozenset(m.account_number for m in settling if m.account_number),
            frozenset(s for m in settling for s in (m.sale_id, m.original_sale_id) if s),
            whole_books=False,
        )

    async def _apply(
        self,
        conn: AsyncConnection,
        messages: Sequence[SaleEvent],
        now: datetime,
        settling: Settling,
    ) -> list[list[Outgoing]]:
        uow = await CreditUnitOfWork.load(
            conn,
            account_numbers=[m.account_number for m in messages if m.account_number],
            sale_ids=[s for m in messages for s in (m.sale_id, m.original_sale_id) if s],
            charges_only_but=settling,
        )
        results = [self._one(sale, uow, now) for sale in messages]
        await uow.flush()
        return results

    def _one(self, sale: SaleEvent, uow: CreditUnitOfWork, now: datetime) -> list[Outgoing]:
        return self._by_stage[sale.stage](sale, uow, now)


class UnlockedSales:
    """A run of sales read without locks (`SaleEvents.read_unlocked`)."""

    def __init__(
        self,
        one: Callable[[SaleEvent, CreditUnitOfWork, datetime], list[Outgoing]],
        uow: CreditUnitOfWork,
        stored: dict[str, list[Outgoing]],
    ) -> None:
        self._one = one
        self._uow = uow
        self.stored = stored

    async def apply(self, messages: Sequence[SaleEvent], now: datetime) -> list[list[Outgoing]]:
        """As `SaleEvents.apply` on the books read; raises Contended, having written nothing,
        where only the locking path can go on."""
        try:
            results = [self._one(sale, self._uow, now) for sale in messages]
        except IncompleteBook:
            raise Contended("a void or a return settles more than its own sale") from None
        await self._uow.flush()
        return results


class AccountCommands:
    topic = ACCOUNT_COMMANDS

    def __init__(self, handlers: CreditHandlers) -> None:
        self._handlers = handlers

    def parse(self, raw: bytes) -> AccountCommand:
        return account_command_adapter.validate_json(raw)

    def message_id(self, message: AccountCommand) -> str:
        return message.command_id

    def rejection(self, record: Record, error: str, now: datetime) -> list[Outgoing]:
        fields = best_effort_fields(record.value, "command_id", "account_number")
        if "command_id" not in fields:
            return []
        return [
            command_rejected(
                fields["command_id"], fields.get("account_number"), "invalid_command", error, now
            )
        ]

    async def apply(
        self, conn: AsyncConnection, messages: Sequence[AccountCommand], now: datetime
    ) -> list[list[Outgoing]]:
        members = [
            m.member_account_number for m in messages if isinstance(m, AddMember | RemoveMember)
        ]
        uow = await CreditUnitOfWork.load(
            conn,
            [*(m.account_number for m in messages), *members],
            entry_ids=[e for e in map(entry_id_for, messages) if e is not None],
            members=members,
        )
        results = [self._handlers.handle_command(command, uow, now) for command in messages]
        await uow.flush()
        return results
