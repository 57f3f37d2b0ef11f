"""Replies built without validation are exactly what the validated contract models give."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.credit.domain.decisions import Approved, Declined
from services.credit.domain.ledger import Entry
from services.credit.messages import decision_reply, entry_posted
from shared.account_events import EntryPosted
from shared.decisions import CreditDecision
from shared.sales import SaleEvent
from tests.credit.domain.examples import an_account
from tests.support.credit import authorize

money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.9999"), places=4)
signed = st.decimals(min_value=Decimal("-99999.9999"), max_value=Decimal("99999.9999"), places=4)
offsets = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


def _revalidated(model: type[CreditDecision] | type[EntryPosted], value: bytes) -> bytes:
    return model.model_validate_json(value).model_dump_json(by_alias=True).encode()


@settings(max_examples=100, deadline=None)
@given(
    amount=money,
    balance=signed,
    limit=money,
    approved=st.booleans(),
    offset=offsets,
    member=st.booleans(),
)
def test_a_decision_reply_is_the_validated_decision(
    amount: Decimal,
    balance: Decimal,
    limit: Decimal,
    approved: bool,
    offset: timezone,
    member: bool,
) -> None:
    raw = authorize("ACC-1", format(amount, "f"), occurred_at="2026-11-22T10:15:00+13:00")
    sale = SaleEvent.model_validate(raw)
    account = an_account(balance=format(balance, "f"), credit_limit=format(limit, "f"))
    now = datetime(2026, 11, 22, 9, 0, 1, 123456, tzinfo=UTC).astimezone(offset)
    if approved:
        reply = decision_reply(sale, Approved(amount, account.over_limit), account, now)
    elif member:
        reply = decision_reply(sale, Declined("insufficient_credit"), account, now)
    else:
        reply = decision_reply(sale, Declined("account_not_found"), None, now)
    assert reply.value == _revalidated(CreditDecision, reply.value)


@settings(max_examples=100, deadline=None)
@given(
    amount=money,
    charge=st.booleans(),
    balance=signed,
    override=st.booleans(),
    member=st.booleans(),
    forced=st.booleans(),
    offset=offsets,
    micros=st.integers(0, 999_999),
)
def test_an_entry_posted_is_the_validated_event(
    amount: Decimal,
    charge: bool,
    balance: Decimal,
    override: bool,
    member: bool,
    forced: bool,
    offset: timezone,
    micros: int,
) -> None:
    posted_at = datetime(2026, 11, 22, 9, 0, 0, micros, tzinfo=UTC).astimezone(offset)
    account = an_account(balance=format(balance, "f"))
    entry = Entry(
        entry_id="entry-1",
        account_number=account.number,
        kind="charge" if charge else "payment",
        amount=amount if charge else -amount,
        balance_after=balance,
        reference="S-1",
        due_date=date(2026, 12, 22),
        posted_at=posted_at,
        # Only a charge is forced, has an override or is for a member.
        forced=forced and charge,
        override=("MGR-1", "Kim") if override and charge else None,
        member_account_number="ACC-2" if member and charge else None,
    )
    event = entry_posted(entry, account, posted_at, "c-1" if forced else None)
    assert event.value == _revalidated(EntryPosted, event.value)
