"""The ledger under a random stream of sales and commands, checked against a plain model.

The machine drives the domain the way services/credit/handlers.py does (decide, then post the
charge when approved; a sale already charged gets its approval again and posts nothing), and a
dict of expected balances, statuses and charged sales says what should have happened. The
invariants run after every step.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from services.credit.domain.accounts import AccountStatus
from services.credit.domain.decisions import (
    Approved,
    Declined,
    DeclineReason,
    decide_authorization,
)
from services.credit.domain.errors import (
    AccountTerminated,
    BalanceNotZero,
    CreditError,
    InvalidStatusTransition,
)
from services.credit.domain.ledger import Entry, EntryKind, due_date_of
from services.credit.domain.lifecycle import open_account, transition
from services.credit.domain.postings import Book, Posting, post_credit, post_debit
from tests.credit.domain.examples import NOW, NZDT, an_open_account_command

ZERO = Decimal("0")


@dataclass(frozen=True)
class Terms:
    currency: str
    credit_limit: Decimal
    restrict_credit: bool


# Small limits, so that sales hit them often.
TERMS = {
    "R-50": Terms("NZD", Decimal("50.00"), restrict_credit=True),
    "R-20": Terms("NZD", Decimal("20"), restrict_credit=True),
    "U-30": Terms("NZD", Decimal("30.00"), restrict_credit=False),
    "R-AUD": Terms("AUD", Decimal("40.00"), restrict_credit=True),
}
UNKNOWN = "ACC-NONE"

# The status each decline reason answers, and the statuses each target may be reached from:
# written from the contract, not read from the code under test.
STATUS_DECLINES: dict[AccountStatus, DeclineReason] = {
    "pending_approval": "account_pending_approval",
    "suspended": "account_suspended",
    "inactive": "account_inactive",
    "terminated": "account_terminated",
}
REACHED_FROM: dict[AccountStatus, set[AccountStatus]] = {
    "active": {"pending_approval", "suspended", "inactive"},
    "suspended": {"active", "inactive"},
    "inactive": {"active", "suspended"},
    "terminated": {"pending_approval", "active", "suspended", "inactive"},
}


def money(max_units: int) -> st.SearchStrategy[Decimal]:
    """Positive money up to `max_units`, written with 0, 2 or 4 places as a till would."""
    return st.one_of(
        st.integers(1, max_units).map(Decimal),
        st.integers(1, max_units * 100).map(lambda n: Decimal(n).scaleb(-2)),
        st.integers(1, max_units * 10_000).map(lambda n: Decimal(n).scaleb(-4)),
    )


signed_money = st.builds(lambda a, negative: -a if negative else a, money(40), st.booleans())
opening_balances = st.one_of(st.just(ZERO), signed_money, money(80))
account_numbers = st.sampled_from([*TERMS, *TERMS, UNKNOWN])
requires_approval = st.sampled_from([False, False, False, True])
known_accounts = st.sampled_from(list(TERMS))
currencies = st.sampled_from(["NZD", "NZD", "NZD", "AUD"])
# Active most often, so that sales are mostly decided on credit rather than on status.
status_commands: st.SearchStrategy[AccountStatus] = st.sampled_from(
    ["active", "active", "suspended", "inactive", "terminated"]
)


@dataclass(frozen=True)
class Sale:
    sale_id: str
    account_number: str
    currency: str
    amount: Decimal


@dataclass
class Expected:
    """The model of one account: a plain record of what the ledger should hold."""

    status: AccountStatus
    balance: Decimal


class LedgerMachine(RuleBasedStateMachine):
    sales = Bundle("sales")

    def __init__(self) -> None:
        super().__init__()
        self.now = NOW
        self.books: dict[str, Book] = {}
        self.entries: dict[str, list[Entry]] = {}
        # What the handler keeps in sale_charges: sale_id -> the charge entry.
        self.charged: dict[str, Entry] = {}
        # The model.
        self.expected: dict[str, Expected] = {}
        self.expected_charges: dict[str, tuple[str, Decimal]] = {}
        self.sales_made = 0

    # Opening -----------------------------------------------------------------------------

    @initialize(
        openings=st.fixed_dictionaries({n: opening_balances for n in TERMS}),
        needs_approval=st.fixed_dictionaries({n: requires_approval for n in TERMS}),
    )
    def open_accounts(self, openings: dict[str, Decimal], needs_approval: dict[str, bool]) -> None:
        for number, terms in TERMS.items():
            command = an_open_account_command(
                account_number=number,
                currency=terms.currency,
                credit_limit=str(terms.credit_limit),
                restrict_credit=terms.restrict_credit,
                opening_balance=str(openings[number]),
                requires_approval=needs_approval[number],
            )
            account = open_account(command, None, self.now)
            self.books[number] = Book(account)
            self.entries[number] = []
            # The opening balance is an entry of its own, posted like the handler's _open.
            if command.opening_balance:
                self._post_signed(number, "opening_balance", command.opening_balance, number)
            self.expected[number] = Expected(
                "pending_approval" if needs_approval[number] else "active",
                command.opening_balance,
            )

    # Sales -------------------------------------------------------------------------------

    @rule(target=sales, number=account_numbers, currency=currencies, amount=money(30))
    def authorize_sale(self, number: str, currency: str, amount: Decimal) -> Sale:
        self.sales_made += 1
        sale = Sale(f"S-{self.sales_made}", number, currency, amount)
        self._authorize_and_check(sale)
        return sale

    @rule(
        target=sales,
        number=known_accounts,
        over_by=st.sampled_from([ZERO, Decimal("0.0001"), Decimal("0.01"), Decimal("-0.01")]),
    )
    def authorize_sale_at_the_limit(self, number: str, over_by: Decimal) -> object:
        """A sale for the available credit, give or take the smallest amounts."""
        amount = TERMS[number].credit_limit - self.expected[number].balance + over_by
        if amount <= 0:
            return multiple()
        self.sales_made += 1
        sale = Sale(f"S-{self.sales_made}", number, TERMS[number].currency, amount)
        self._authorize_and_check(sale)
        return sale

    @rule(sale=sales, new_amount=st.none() | money(30))
    def deliver_a_sale_again(self, sale: Sale, new_amount: Decimal | None) -> None:
        """Kafka redelivers, or the till retries (same sale_id, new event_id), perhaps with
        another tender split: a charged sale keeps its first approval, a declined one is
        decided again."""
        if new_amount is not None:
            sale = replace(sale, amount=new_amount)
        self._authorize_and_check(sale)

    def _authorize_and_check(self, sale: Sale) -> None:
        before = {n: len(e) for n, e in self.entries.items()}
        expected = self._expected_decision(sale)

        outcome = self._authorize(sale)
        event(f"decision: {outcome.reason if isinstance(outcome, Declined) else 'approved'}")

        assert outcome == expected, f"{sale}: got {outcome}, the model says {expected}"
        if isinstance(expected, Approved) and sale.sale_id not in self.expected_charges:
            self.expected_charges[sale.sale_id] = (sale.account_number, sale.amount)
            self.expected[sale.account_number].balance += sale.amount
        else:
            after = {n: len(e) for n, e in self.entries.items()}
            assert after == before, f"{sale} was not charged, yet entries were posted"

    def _authorize(self, sale: Sale) -> Approved | Declined:
        """services/credit/handlers.py authorize_sale, without the unit of work."""
        book = self.books.get(sale.account_number)
        charge = self.charged.get(sale.sale_id)
        if charge is not None and book is not None:
            # A sale is charged at most once: the till gets its approval again, nothing posts.
            return Approved(charge.amount, book.account.over_limit)
        account = book.account if book is not None else None
        outcome = decide_authorization(account, sale.currency, sale.amount)
        if isinstance(outcome, Approved) and book is not None:
            posting = post_debit(
                book,
                entry_id=f"entry-charge-{sale.sale_id}",
                kind="charge",
                amount=sale.amount,
                reference=sale.sale_id,
                posted_at=self.now,
                due_date=due_date_of(book.account, self.now.astimezone(NZDT).date()),
            )
            self._record(posting)
            self.charged[sale.sale_id] = posting.entry
        return outcome

    def _expected_decision(self, sale: Sale) -> Approved | Declined:
        model = self.expected.get(sale.account_number)
        if model is None:
            return Declined("account_not_found")
        terms = TERMS[sale.account_number]
        if sale.sale_id in self.expected_charges:
            _, amount = self.expected_charges[sale.sale_id]
            return Approved(amount, model.balance > terms.credit_limit)
        if model.status in STATUS_DECLINES:
            return Declined(STATUS_DECLINES[model.status])
        if sale.currency != terms.currency:
            return Declined("currency_mismatch")
        over_limit = model.balance + sale.amount > terms.credit_limit
        if over_limit and terms.restrict_credit:
            return Declined("insufficient_credit")
        return Approved(sale.amount, over_limit)

    # Commands ----------------------------------------------------------------------------

    @rule(number=known_accounts, status=status_commands)
    def change_status(self, number: str, status: AccountStatus) -> None:
        """approve_account or reactivate_account (active), suspend_account, deactivate_account
        or terminate_account."""
        self._move(number, status)

    def _move(self, number: str, target: AccountStatus) -> None:
        model = self.expected[number]
        if model.status == "terminated":
            expected_refusal: type[CreditError] | None = AccountTerminated
        elif model.status not in REACHED_FROM[target]:
            expected_refusal = InvalidStatusTransition
        elif target == "terminated" and model.balance != 0:
            expected_refusal = BalanceNotZero
        else:
            expected_refusal = None

        refusal: CreditError | None = None
        try:
            transition(self.books[number].account, target)
        except CreditError as error:
            refusal = error

        assert (type(refusal) if refusal is not None else None) is expected_refusal, (
            f"{number} {model.status} -> {target}: got {refusal!r}, expected {expected_refusal}"
        )
        if refusal is None:
            model.status = target

    @rule(number=known_accounts, amount=signed_money)
    def post_journal(self, number: str, amount: Decimal) -> None:
        # A terminated account accepts nothing but payments (the handler refuses the journal).
        if self.expected[number].status == "terminated":
            return
        self._post_signed(number, "journal", amount, f"J-{len(self.entries[number])}")
        self.expected[number].balance += amount

    @rule(number=known_accounts, amount=money(40))
    def record_payment(self, number: str, amount: Decimal) -> None:
        self._record(
            post_credit(
                self.books[number],
                entry_id=f"entry-payment-{number}-{len(self.entries[number])}",
                kind="payment",
                amount=amount,
                reference=f"P-{len(self.entries[number])}",
                posted_at=self.now,
            )
        )
        self.expected[number].balance -= amount

    @rule(hours=st.integers(1, 24 * 20))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    def _post_signed(self, number: str, kind: EntryKind, amount: Decimal, reference: str) -> None:
        book = self.books[number]
        entry_id = f"entry-{kind}-{number}-{len(self.entries[number])}"
        if amount > 0:
            posting = post_debit(
                book,
                entry_id=entry_id,
                kind=kind,
                amount=amount,
                reference=reference,
                posted_at=self.now,
                due_date=due_date_of(book.account, self.now.astimezone(NZDT).date()),
            )
        else:
            posting = post_credit(
                book,
                entry_id=entry_id,
                kind=kind,
                amount=-amount,
                reference=reference,
                posted_at=self.now,
            )
        self._record(posting)

    def _record(self, posting: Posting) -> None:
        self.entries[posting.entry.account_number].append(posting.entry)

    # Invariants --------------------------------------------------------------------------

    @invariant()
    def balance_is_the_sum_of_the_entries(self) -> None:
        for number, book in self.books.items():
            total = sum((e.amount for e in self.entries[number]), ZERO)
            assert book.account.balance == total, f"{number}: {book.account.balance} != {total}"

    @invariant()
    def each_balance_after_is_the_running_sum(self) -> None:
        for number, entries in self.entries.items():
            running = ZERO
            for entry in entries:
                running += entry.amount
                assert entry.balance_after == running, f"{number} {entry.entry_id}"

    @invariant()
    def open_items_add_up_to_the_balance(self) -> None:
        for book in self.books.values():
            book.check()

    @invariant()
    def ledger_agrees_with_the_model(self) -> None:
        for number, model in self.expected.items():
            account = self.books[number].account
            assert (account.status, account.balance) == (model.status, model.balance), number

    @invariant()
    def no_charge_took_a_restricted_account_over_its_limit(self) -> None:
        for number, entries in self.entries.items():
            terms = TERMS[number]
            if not terms.restrict_credit:
                continue
            for entry in entries:
                if entry.kind == "charge":
                    assert entry.balance_after <= terms.credit_limit, (
                        f"charge {entry.reference} took {number} to {entry.balance_after}, "
                        f"over its limit {terms.credit_limit}"
                    )

    @invariant()
    def a_sale_is_charged_at_most_once(self) -> None:
        charges = Counter(
            e.reference for entries in self.entries.values() for e in entries if e.kind == "charge"
        )
        assert all(count == 1 for count in charges.values()), charges.most_common(3)
        assert set(charges) == set(self.charged) == set(self.expected_charges)
        for sale_id, (number, amount) in self.expected_charges.items():
            entry = self.charged[sale_id]
            assert (entry.account_number, entry.amount) == (number, amount)

    @invariant()
    def money_is_decimal_with_at_most_four_places(self) -> None:
        amounts = [b.account.balance for b in self.books.values()]
        for entries in self.entries.values():
            amounts += [v for e in entries for v in (e.amount, e.balance_after)]
        for amount in amounts:
            assert type(amount) is Decimal, f"{amount!r} is not a Decimal"
            exponent = amount.as_tuple().exponent
            assert isinstance(exponent, int) and exponent >= -4, f"{amount} has over 4 places"


def test_ledger_under_random_sales_and_commands_keeps_its_invariants() -> None:
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=150,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
