"""One function per message type: message in, domain call, replies out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal

from services.common.errors import Unprocessable
from services.common.ids import derived_id
from services.common.messages import Outgoing
from services.credit.domain.accounts import Funding
from services.credit.domain.decisions import (
    Approved,
    Declined,
    OverrideRequest,
    decide_authorization,
)
from services.credit.domain.errors import (
    AccountNotAccepting,
    AccountNotFound,
    CreditError,
    DuplicateCreditNote,
    DuplicateJournal,
    DuplicatePayment,
    UnsupportedCommand,
)
from services.credit.domain.groups import add_member, is_funded, remove_member
from services.credit.domain.ledger import due_date_of
from services.credit.domain.lifecycle import (
    STATUS_COMMANDS,
    change_status,
    change_terms,
    open_account,
)
from services.credit.domain.postings import Book, Posting, post_credit, post_debit, write_off
from services.credit.messages import (
    account_changed,
    account_opened,
    command_rejected,
    decision_reply,
    entry_posted,
    membership_changed,
)
from services.credit.repository import SaleCharge
from services.credit.unit_of_work import CreditUnitOfWork
from shared.commands import (
    AccountCommand,
    AddMember,
    ChangeCreditTerms,
    IssueCreditNote,
    OpenAccount,
    PostJournal,
    RecordPayment,
    RemoveMember,
    WriteOffAccount,
)
from shared.sales import SaleEvent


def entry_id_for(command: AccountCommand) -> str | None:
    """The entry a command would post, named by its business key: one payment per
    payment_id, one credit note per credit_note_id, one journal per journal_id."""
    if isinstance(command, RecordPayment):
        return derived_id("entry", "payment", command.account_number, command.payment_id)
    if isinstance(command, IssueCreditNote):
        return derived_id("entry", "credit_note", command.account_number, command.credit_note_id)
    if isinstance(command, PostJournal):
        return derived_id("entry", "journal", command.account_number, command.journal_id)
    return None


class CreditHandlers:
    def __init__(self, business_tz: tzinfo, rating_limits: Mapping[str, Decimal]) -> None:
        self._tz = business_tz
        self._rating_limits = rating_limits
        self._dated: tuple[datetime, date] | None = None

    def today(self, now: datetime) -> date:
        """The business day of `now`. A batch has one clock reading and asks for every sale, so
        the last answer is kept (an instant has one date in the business zone)."""
        dated = self._dated
        if dated is None or dated[0] != now:
            dated = self._dated = (now, now.astimezone(self._tz).date())
        return dated[1]

    # Sales ------------------------------------------------------------------------------

    def authorize_sale(
        self, sale: SaleEvent, uow: CreditUnitOfWork, now: datetime
    ) -> list[Outgoing]:
        account = uow.account(sale.account_number)
        charged = uow.sale_charges.get(sale.sale_id)
        if charged is not None and account is not None:
            # A sale is charged at most once: the till gets its approval again, nothing posts.
            payer_now = uow.account(charged.account_number) or account
            approval = Approved(charged.amount, payer_now.over_limit)
            return [decision_reply(sale, approval, payer_now, now)]
        if account is None:
            return [decision_reply(sale, Declined("account_not_found"), None, now)]
        # A member's sale is decided on, and charged to, its group's parent.
        parent = uow.account(account.parent_account_number)
        payer = uow.book((parent or account).number)
        overdue = payer.overdue_beyond(self.today(now))
        override = (
            OverrideRequest(
                sale.override.code, sale.override.authorised_by, sale.store_id, sale.terminal_id
            )
            if sale.override is not None
            else None
        )
        outcome = decide_authorization(
            account,
            sale.currency,
            sale.account_amount(),
            overdue=overdue,
            parent=parent,
            funded=is_funded(account.funding, [line.category for line in sale.lines]),
            override=override,
        )
        if isinstance(outcome, Declined):
            return [decision_reply(sale, outcome, payer.account, now)]
        posting = self._charge(uow, payer, sale, now, forced=False, approval=outcome)
        return [
            decision_reply(sale, outcome, payer.account, now),
            entry_posted(posting.entry, payer.account, now),
        ]

    def complete_sale(
        self, sale: SaleEvent, uow: CreditUnitOfWork, now: datetime
    ) -> list[Outgoing]:
        """An account sale completed offline was never authorized: post it, flagged forced."""
        amount = sale.account_amount()
        if not amount or sale.sale_id in uow.sale_charges:
            return []
        book = uow.books.get(sale.account_number or "")
        if book is None or book.account.currency != sale.currency:
            raise Unprocessable(
                f"completed sale {sale.sale_id} names no {sale.currency} account "
                f"{sale.account_number}"
            )
        if book.account.parent_account_number in uow.books:
            book = uow.book(book.account.parent_account_number or "")
        posting = self._charge(uow, book, sale, now, forced=True)
        return [entry_posted(posting.entry, book.account, now)]

    def void_sale(self, sale: SaleEvent, uow: CreditUnitOfWork, now: datetime) -> list[Outgoing]:
        charge = uow.sale_charges.get(sale.sale_id)
        if charge is None or charge.reversed or charge.account_number not in uow.books:
            return []
        book = uow.book(charge.account_number)
        posting = post_credit(
            book,
            entry_id=derived_id("entry", "reversal", sale.sale_id),
            kind="charge_reversal",
            amount=charge.amount,
            reference=sale.sale_id,
            posted_at=now,
            settles_first=sale.sale_id,
        )
        uow.record(posting)
        uow.reverse_charge(sale.sale_id)
        return [entry_posted(posting.entry, book.account, now)]

    def return_sale(self, sale: SaleEvent, uow: CreditUnitOfWork, now: datetime) -> list[Outgoing]:
        """A refund to the account becomes a credit note against the original sale."""
        amount = sale.account_amount()
        original = uow.sale_charges.get(sale.original_sale_id or "")
        # The refund goes to whoever paid for the sale: a group's parent for a member's sale.
        book = uow.books.get(original.account_number if original else sale.account_number or "")
        if not amount or book is None:
            return []
        posting = post_credit(
            book,
            entry_id=derived_id("entry", "return", sale.event_id),
            kind="credit_note",
            amount=amount,
            reference=sale.original_sale_id or sale.sale_id,
            posted_at=now,
            settles_first=sale.original_sale_id,
        )
        uow.record(posting)
        return [entry_posted(posting.entry, book.account, now)]

    def _charge(
        self,
        uow: CreditUnitOfWork,
        book: Book,
        sale: SaleEvent,
        now: datetime,
        *,
        forced: bool,
        approval: Approved | None = None,
    ) -> Posting:
        """Charges the sale to the paying account's book (a group's parent for a member)."""
        amount = sale.account_amount()
        used = approval.override if approval is not None else None
        member = sale.account_number if sale.account_number != book.account.number else None
        posting = post_debit(
            book,
            entry_id=derived_id("entry", "charge", sale.sale_id),
            kind="charge",
            amount=amount,
            reference=sale.sale_id,
            posted_at=now,
            due_date=due_date_of(book.account, self.today(now)),
            forced=forced,
            override=(used.code, used.authorised_by) if used else None,
            member_account_number=member,
        )
        uow.record(posting)
        uow.charge_sale(
            SaleCharge(
                sale.sale_id,
                book.account.number,
                amount,
                posting.entry.entry_id,
                sale.event_id,
                now,
            )
        )
        return posting

    # Commands ---------------------------------------------------------------------------

    def handle_command(
        self, command: AccountCommand, uow: CreditUnitOfWork, now: datetime
    ) -> list[Outgoing]:
        try:
            if isinstance(command, OpenAccount):
                return self._open(command, uow, now)
            book = uow.books.get(command.account_number)
            if book is None:
                raise AccountNotFound(f"no account {command.account_number}")
            return self._on_account(command, book, uow, now)
        except CreditError as refusal:
            return [
                command_rejected(
                    command.command_id, command.account_number, refusal.reason, refusal.detail, now
                )
            ]

    def _on_account(
        self, command: AccountCommand, book: Book, uow: CreditUnitOfWork, now: datetime
    ) -> list[Outgoing]:
        account = book.account
        if command.type in STATUS_COMMANDS:
            change_status(account, command.type)
            uow.touch(account)
            return [account_changed(command.command_id, account, now)]
        if isinstance(command, ChangeCreditTerms):
            change_terms(account, command.changes(), self._rating_limits)
            uow.touch(account)
            return [account_changed(command.command_id, account, now)]
        if isinstance(command, AddMember | RemoveMember):
            return self._membership(command, book, uow, now)
        if isinstance(command, WriteOffAccount) and account.balance == 0:
            # Nothing to post: writing off a settled account only closes it.
            _refuse_if_terminated(book, command.type)
            account.status = "terminated"
            uow.touch(account)
            return [account_changed(command.command_id, account, now)]
        handler = self._postings.get(command.type)
        if handler is None:
            raise UnsupportedCommand(f"{command.type} is not supported yet")
        entry_id = entry_id_for(command)
        if entry_id is not None and entry_id in uow.known_entries:
            raise _DUPLICATES[command.type](f"{command.type} already recorded as {entry_id}")
        posting = handler(self, command, book, now)
        uow.record(posting)
        replies = [entry_posted(posting.entry, account, now, command.command_id)]
        if isinstance(command, WriteOffAccount):
            uow.touch(account)
            replies.append(account_changed(command.command_id, account, now))
        return replies

    def _open(self, command: OpenAccount, uow: CreditUnitOfWork, now: datetime) -> list[Outgoing]:
        account = open_account(command, uow.account(command.account_number), now)
        book = uow.open(account)
        replies = [account_opened(command.command_id, account, now)]
        amount = command.opening_balance
        if amount:
            entry_id = derived_id("entry", "opening", command.account_number)
            if amount > 0:
                posting = post_debit(
                    book,
                    entry_id=entry_id,
                    kind="opening_balance",
                    amount=amount,
                    reference=command.command_id,
                    posted_at=now,
                    due_date=self.today(now),
                )
            else:
                posting = post_credit(
                    book,
                    entry_id=entry_id,
                    kind="opening_balance",
                    amount=-amount,
                    reference=command.command_id,
                    posted_at=now,
                )
            uow.record(posting)
            replies.append(entry_posted(posting.entry, account, now, command.command_id))
        return replies

    def _membership(
        self, command: AddMember | RemoveMember, parent: Book, uow: CreditUnitOfWork, now: datetime
    ) -> list[Outgoing]:
        member = uow.books.get(command.member_account_number)
        if member is None:
            raise AccountNotFound(f"no account {command.member_account_number}")
        if isinstance(command, AddMember):
            funding: Funding = (
                "full" if command.funding == "full" else frozenset(command.funding.categories)
            )
            add_member(
                parent.account,
                member.account,
                funding,
                member_has_members=member.account.number in uow.parents,
            )
        else:
            remove_member(parent.account, member.account)
        uow.touch(member.account)
        return [membership_changed(command.command_id, member.account, now)]

    def _payment(self, command: AccountCommand, book: Book, now: datetime) -> Posting:
        assert isinstance(command, RecordPayment)
        named = [(a.sale_id, a.amount) for a in command.allocations or []]
        return post_credit(
            book,
            entry_id=_entry_id(command),
            kind="payment",
            amount=command.amount,
            reference=command.payment_id,
            posted_at=now,
            named=named,
        )

    def _credit_note(self, command: AccountCommand, book: Book, now: datetime) -> Posting:
        assert isinstance(command, IssueCreditNote)
        _refuse_if_terminated(book, command.type)
        return post_credit(
            book,
            entry_id=_entry_id(command),
            kind="credit_note",
            amount=command.amount,
            reference=command.credit_note_id,
            posted_at=now,
            settles_first=command.sale_id,
        )

    def _journal(self, command: AccountCommand, book: Book, now: datetime) -> Posting:
        assert isinstance(command, PostJournal)
        _refuse_if_terminated(book, command.type)
        if command.amount > 0:
            return post_debit(
                book,
                entry_id=_entry_id(command),
                kind="journal",
                amount=command.amount,
                reference=command.journal_id,
                posted_at=now,
                due_date=due_date_of(book.account, self.today(now)),
            )
        return post_credit(
            book,
            entry_id=_entry_id(command),
            kind="journal",
            amount=-command.amount,
            reference=command.journal_id,
            posted_at=now,
        )

    def _write_off(self, command: AccountCommand, book: Book, now: datetime) -> Posting:
        _refuse_if_terminated(book, command.type)
        posting = write_off(
            book, entry_id=derived_id("entry", "write_off", command.command_id), posted_at=now
        )
        book.account.status = "terminated"
        return posting

    _postings: dict[str, Callable[[CreditHandlers, AccountCommand, Book, datetime], Posting]] = {
        "record_payment": _payment,
        "issue_credit_note": _credit_note,
        "post_journal": _journal,
        "write_off_account": _write_off,
    }


_DUPLICATES: dict[str, type[CreditError]] = {
    "record_payment": DuplicatePayment,
    "issue_credit_note": DuplicateCreditNote,
    "post_journal": DuplicateJournal,
}


def _entry_id(command: AccountCommand) -> str:
    entry_id = entry_id_for(command)
    assert entry_id is not None
    return entry_id


def _refuse_if_terminated(book: Book, what: str) -> None:
    if book.account.status == "terminated":
        raise AccountNotAccepting(
            f"account {book.account.number} is terminated and accepts only payments, not {what}"
        )
