"""Loading and saving accounts, entries and sale charges: the only SQL of the credit service."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import orjson
from sqlalchemy import Select, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.bulk import Writes, any_of, is_postgresql
from services.common.inbox import Claims
from services.credit.domain.accounts import Account, Funding, OverrideRules, SettlementFrequency
from services.credit.domain.ledger import Entry
from services.credit.domain.open_items import OpenItem, Settlement
from services.credit.tables import accounts, entries, open_items, sale_charges, settlements
from shared.money import from_minor, to_minor


@dataclass(frozen=True)
class SaleCharge:
    sale_id: str
    account_number: str
    amount: Decimal
    entry_id: str
    request_event_id: str
    charged_at: datetime
    reversed: bool = False


def aware(moment: datetime) -> datetime:
    # SQLite keeps no offset; everything stored is UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _account(row: Row[tuple[object, ...]]) -> Account:
    return _account_of(row._mapping)


def _account_of(m: Mapping[Any, Any]) -> Account:
    return Account(
        number=m["account_number"],
        name=m["name"],
        currency=m["currency"],
        status=m["status"],
        credit_limit=from_minor(m["credit_limit"]),
        restrict_credit=m["restrict_credit"],
        credit_period_days=m["credit_period_days"],
        settlement=SettlementFrequency(
            m["settlement_every"], m["settlement_unit"], m["settlement_anchor"]
        ),
        statement_email=m["statement_email"],
        customer_id=m["customer_id"],
        credit_rating=m["credit_rating"],
        overdue_hold_days=m["overdue_hold_days"],
        opened_at=aware(m["opened_at"]),
        balance=from_minor(m["balance"]),
        override_rules=_rules_from(m["override_rules"]),
        parent_account_number=m["parent_account_number"],
        funding=_funding_from(m["funding"]),
    )


def _rules_from(stored: dict[str, Any] | None) -> OverrideRules | None:
    if stored is None:
        return None

    def names(key: str) -> frozenset[str] | None:
        return frozenset(stored[key]) if stored.get(key) is not None else None

    return OverrideRules(
        from_minor(stored["max_over_limit"]), names("stores"), names("terminals"), names("roles")
    )


def _rules_to(rules: OverrideRules | None) -> dict[str, Any] | None:
    if rules is None:
        return None

    def names(values: frozenset[str] | None) -> list[str] | None:
        return sorted(values) if values is not None else None

    return {
        "max_over_limit": to_minor(rules.max_over_limit),
        "stores": names(rules.stores),
        "terminals": names(rules.terminals),
        "roles": names(rules.roles),
    }


def _funding_from(stored: str | list[str] | None) -> Funding | None:
    if stored is None:
        return None
    if stored == "full":
        return "full"
    return frozenset(stored)


def _funding_to(funding: Funding | None) -> str | list[str] | None:
    if funding is None or funding == "full":
        return funding
    return sorted(funding)


def _account_values(account: Account) -> dict[str, object]:
    return {
        "name": account.name,
        "currency": account.currency,
        "status": account.status,
        "credit_limit": to_minor(account.credit_limit),
        "restrict_credit": account.restrict_credit,
        "credit_period_days": account.credit_period_days,
        "settlement_every": account.settlement.every,
        "settlement_unit": account.settlement.unit,
        "settlement_anchor": account.settlement.anchor,
        "statement_email": account.statement_email,
        "customer_id": account.customer_id,
        "credit_rating": account.credit_rating,
        "overdue_hold_days": account.overdue_hold_days,
        "balance": to_minor(account.balance),
        "opened_at": account.opened_at,
        "override_rules": _rules_to(account.override_rules),
        "parent_account_number": account.parent_account_number,
        "funding": _funding_to(account.funding),
    }


async def load_accounts(conn: AsyncConnection, numbers: Iterable[str]) -> dict[str, Account]:
    """Loads and locks the accounts, in key order so that two workers cannot deadlock."""
    wanted = sorted(set(numbers))
    if not wanted:
        return {}
    rows = await conn.execute(_locking_accounts(is_postgresql(conn)), {"numbers": wanted})
    return {row.account_number: _account(row) for row in rows}


@cache
def _locking_accounts(postgresql: bool) -> Select[Any]:
    return (
        select(accounts)
        .where(any_of(accounts.c.account_number, "numbers", postgresql=postgresql))
        .order_by(accounts.c.account_number)
        .with_for_update()
    )


async def insert_accounts(conn: AsyncConnection, new: Sequence[Account]) -> None:
    if new:
        await conn.execute(
            insert(accounts), [{"account_number": a.number, **_account_values(a)} for a in new]
        )


async def update_accounts(conn: AsyncConnection, changed: Sequence[Account]) -> None:
    if not changed:
        return
    values: dict[str, object] = {name: bindparam(name) for name in _account_values(changed[0])}
    values["version"] = accounts.c.version + 1
    statement = (
        update(accounts).where(accounts.c.account_number == bindparam("number")).values(values)
    )
    await conn.execute(statement, [{"number": a.number, **_account_values(a)} for a in changed])


def update_balances(
    writes: Writes, changed: Sequence[Account], versions: Sequence[int] | None = None
) -> None:
    """Writes the balance only (postings move nothing else) and adds one to the account's
    `version`. With `versions`, only if each account still holds the version read, else
    nothing in `writes` is written."""
    rows = [{"account_number": a.number, "balance": to_minor(a.balance)} for a in changed]
    if versions is None:
        writes.update(accounts, ["account_number"], rows, increments=["version"])
    else:
        writes.update_unchanged(
            accounts, ["account_number"], rows, versions, version_column="version"
        )


def expect_accounts_unchanged(
    writes: Writes, numbers: Sequence[str], versions: Sequence[int]
) -> None:
    """Nothing in `writes` is written unless these accounts, only read, are still as read."""
    rows = [{"account_number": n} for n in numbers]
    writes.expect_unchanged(accounts, ["account_number"], rows, versions, version_column="version")


def insert_entries(writes: Writes, posted: Sequence[Entry]) -> None:
    if posted:
        writes.insert(
            entries,
            [
                {
                    "entry_id": e.entry_id,
                    "account_number": e.account_number,
                    "kind": e.kind,
                    "amount": to_minor(e.amount),
                    "balance_after": to_minor(e.balance_after),
                    "reference": e.reference,
                    "due_date": e.due_date,
                    "posted_at": e.posted_at,
                    "forced": e.forced,
                    "override_code": e.override[0] if e.override else None,
                    "override_by": e.override[1] if e.override else None,
                    "member_account_number": e.member_account_number,
                }
                for e in posted
            ],
        )


async def load_sale_charges(
    conn: AsyncConnection, sale_ids: Iterable[str]
) -> dict[str, SaleCharge]:
    wanted = list(set(sale_ids))
    if not wanted:
        return {}
    rows = await conn.execute(_sale_charges(is_postgresql(conn)), {"sales": wanted})
    return {
        r.sale_id: SaleCharge(
            r.sale_id,
            r.account_number,
            from_minor(r.amount),
            r.entry_id,
            r.request_event_id,
            aware(r.charged_at),
            reversed=r.reversed_at is not None,
        )
        for r in rows
    }


def insert_sale_charges(writes: Writes, charges: Sequence[SaleCharge]) -> None:
    if charges:
        writes.insert(
            sale_charges,
            [
                {
                    "sale_id": c.sale_id,
                    "account_number": c.account_number,
                    "amount": to_minor(c.amount),
                    "entry_id": c.entry_id,
                    "request_event_id": c.request_event_id,
                    "charged_at": c.charged_at,
                    # A sale charged and voided in one batch is inserted already reversed.
                    "reversed_at": c.charged_at if c.reversed else None,
                }
                for c in charges
            ],
        )


@cache
def _sale_charges(postgresql: bool) -> Select[Any]:
    return select(sale_charges).where(
        any_of(sale_charges.c.sale_id, "sales", postgresql=postgresql)
    )


async def account_entries(conn: AsyncConnection, number: str) -> list[Entry]:
    """Every entry of an account in posting order (for look-ups, statements and tests)."""
    rows = await conn.execute(
        select(entries)
        .where(entries.c.account_number == number)
        .order_by(entries.c.posted_at, entries.c.balance_after)
    )
    return [
        Entry(
            entry_id=r.entry_id,
            account_number=r.account_number,
            kind=r.kind,
            amount=from_minor(r.amount),
            balance_after=from_minor(r.balance_after),
            reference=r.reference,
            due_date=r.due_date,
            posted_at=aware(r.posted_at),
            forced=r.forced,
            override=(r.override_code, r.override_by) if r.override_code else None,
            member_account_number=r.member_account_number,
        )
        for r in rows
    ]


async def find_account(conn: AsyncConnection, number: str) -> Account | None:
    row = (await conn.execute(select(accounts).where(accounts.c.account_number == number))).first()
    return _account(row) if row is not None else None


async def load_open_items(
    conn: AsyncConnection, numbers: Iterable[str], *, credits_only: bool = False
) -> dict[str, list[OpenItem]]:
    """The items still open on these accounts (already locked with their accounts), or only
    their unused credits (what a new debit settles against)."""
    if credits_only:
        return await load_books_items(conn, (), numbers)
    return await load_books_items(conn, numbers, ())


async def load_books_items(
    conn: AsyncConnection,
    every_item_of: Iterable[str],
    credits_of: Iterable[str],
    *,
    debits_of_sales: Iterable[str] = (),
) -> dict[str, list[OpenItem]]:
    """In one query: every open item of some accounts, and of others only the unused credits
    (what a new debit settles against) and the open debits of the sales named; all already
    locked with their accounts."""
    complete, partial, sales = list(every_item_of), list(credits_of), list(debits_of_sales)
    if not complete and not partial:
        return {}
    query = _books_items(
        is_postgresql(conn), bool(complete), bool(partial), bool(partial and sales)
    )
    rows = await conn.execute(query, {"complete": complete, "partial": partial, "sales": sales})
    found: dict[str, list[OpenItem]] = {}
    for r in rows:
        found.setdefault(r.account_number, []).append(
            OpenItem(
                r.item_id,
                r.account_number,
                r.reference,
                from_minor(r.amount),
                from_minor(r.open_amount),
                r.due_date,
                aware(r.posted_at),
            )
        )
    return found


@cache
def _books_items(postgresql: bool, complete: bool, partial: bool, sales: bool) -> Select[Any]:
    number, column = open_items.c.account_number, open_items.c.open_amount
    # Open amounts as two ranges, so each is answered by its partial index (0004).
    wanted = []
    if complete:
        every = any_of(number, "complete", postgresql=postgresql)
        wanted.append(and_(every, or_(column < 0, column > 0)))
    if partial:
        wanted.append(and_(any_of(number, "partial", postgresql=postgresql), column < 0))
    if sales:
        wanted.append(
            and_(
                any_of(number, "partial", postgresql=postgresql),
                column > 0,
                any_of(open_items.c.reference, "sales", postgresql=postgresql),
            )
        )
    return select(open_items).where(or_(*wanted))


async def oldest_debit_dues(
    conn: AsyncConnection, numbers: Iterable[str], *, but_of_sales: Iterable[str] = ()
) -> dict[str, date]:
    """The due date of the oldest open debit of each of these accounts that has one, leaving
    out the debits of the sales named (loaded as items, so their state is known exactly)."""
    wanted, sales = list(numbers), list(but_of_sales)
    if not wanted:
        return {}
    query = _oldest_debit_dues(is_postgresql(conn), bool(sales))
    rows = await conn.execute(query, {"numbers": wanted, "sales": sales})
    return {number: due for number, due in rows}


@cache
def _oldest_debit_dues(postgresql: bool, but_of_sales: bool) -> Select[Any]:
    number, reference = open_items.c.account_number, open_items.c.reference
    wanted = [any_of(number, "numbers", postgresql=postgresql), open_items.c.open_amount > 0]
    if but_of_sales:
        named = any_of(reference, "sales", postgresql=postgresql)
        wanted.append(or_(reference.is_(None), ~named))
    return select(number, func.min(open_items.c.due_date)).where(*wanted).group_by(number)


def _item_values(item: OpenItem) -> dict[str, object]:
    return {
        "item_id": item.item_id,
        "account_number": item.account_number,
        "reference": item.reference,
        "amount": to_minor(item.amount),
        "open_amount": to_minor(item.open_amount),
        "due_date": item.due_date,
        "posted_at": item.posted_at,
    }


def insert_open_items(writes: Writes, items: Sequence[OpenItem]) -> None:
    writes.insert(open_items, [_item_values(i) for i in items])


def update_open_items(writes: Writes, items: Sequence[OpenItem]) -> None:
    writes.update(
        open_items,
        ["item_id"],
        [{"item_id": i.item_id, "open_amount": to_minor(i.open_amount)} for i in items],
    )


def insert_settlements(writes: Writes, done: Sequence[Settlement]) -> None:
    if done:
        writes.insert(
            settlements,
            [
                {"credit_id": s.credit_id, "item_id": s.item_id, "amount": to_minor(s.amount)}
                for s in done
            ],
        )


async def existing_entries(conn: AsyncConnection, entry_ids: Iterable[str]) -> set[str]:
    wanted = list(set(entry_ids))
    if not wanted:
        return set()
    rows = await conn.execute(_existing_entries(is_postgresql(conn)), {"entries": wanted})
    return {r.entry_id for r in rows}


@cache
def _existing_entries(postgresql: bool) -> Select[Any]:
    return select(entries.c.entry_id).where(
        any_of(entries.c.entry_id, "entries", postgresql=postgresql)
    )


async def account_open_items(conn: AsyncConnection, number: str) -> list[OpenItem]:
    account = await find_account(conn, number)
    if account is None:
        return []
    return (await load_open_items(conn, [account.number])).get(number, [])


def mark_reversed(writes: Writes, sale_ids: Sequence[str], now: datetime) -> None:
    """Charges stored before this batch (one charged and voided in the batch is inserted
    already reversed)."""
    writes.update(sale_charges, ["sale_id"], [{"sale_id": s, "reversed_at": now} for s in sale_ids])


async def find_versioned(
    conn: AsyncConnection, numbers: Iterable[str]
) -> dict[str, tuple[Account, int]]:
    """Accounts for reading (no lock), each with its version (one more with every change)."""
    wanted = list(set(numbers))
    if not wanted:
        return {}
    rows = await conn.execute(select(accounts).where(accounts.c.account_number.in_(wanted)))
    return {row.account_number: (_account(row), row.version) for row in rows}


async def with_members(conn: AsyncConnection, numbers: Iterable[str]) -> set[str]:
    """Which of these accounts are the parent of some member."""
    wanted = list(set(numbers))
    if not wanted:
        return set()
    rows = await conn.execute(
        select(accounts.c.parent_account_number)
        .where(accounts.c.parent_account_number.in_(wanted))
        .distinct()
    )
    return {r.parent_account_number for r in rows}


async def dangling_references(conn: AsyncConnection) -> list[str]:
    """Ledger rows that name an account or an entry that does not exist (none should: the
    tables have no foreign keys, see tables.py, so this is how it is checked)."""
    account, entry = accounts.c.account_number, entries.c.entry_id
    checks = [
        ("entry", entries.c.entry_id, entries.c.account_number, "account", account),
        ("sale charge", sale_charges.c.sale_id, sale_charges.c.account_number, "account", account),
        ("sale charge", sale_charges.c.sale_id, sale_charges.c.entry_id, "entry", entry),
        ("open item", open_items.c.item_id, open_items.c.account_number, "account", account),
        ("open item", open_items.c.item_id, open_items.c.item_id, "entry", entry),
    ]
    found: list[str] = []
    for what, key, refers, named, target in checks:
        missing = ~select(target).where(target == refers).exists()
        rows = await conn.execute(select(key, refers).where(missing).order_by(key))
        found += [f"{what} {k} names a missing {named} {r}" for k, r in rows]
    return found


@dataclass(frozen=True)
class UnlockedRead:
    """What a run of sales reads without locks, in one statement (so from one snapshot)."""

    charges: dict[str, SaleCharge]
    accounts: dict[str, Account]
    # Each account's version as read: its writes are guarded by it.
    versions: dict[str, int]
    items: dict[str, list[OpenItem]]
    oldest_debit_dues: dict[str, date]
    # The claims found: each message id with its stored replies.
    claimed: list[tuple[str, bytes]]


async def read_unlocked(
    conn: AsyncConnection,
    account_numbers: Iterable[str],
    sale_ids: Iterable[str],
    debits_of_sales: Iterable[str],
    claims: Claims,
) -> UnlockedRead:
    """In one statement and round trip, without locks (PostgreSQL): the charges of the sales
    named; the accounts named, those the charges were made to, and their groups' parents, each
    with its version; of each, its unused credits and the open debits of `debits_of_sales`, and,
    if it has an overdue hold, the due date of its oldest other open debit; and the `claims`
    already made, with their stored replies (the inbox, in the same snapshot). The books are
    the partial ones of `CreditUnitOfWork.load(..., charges_only_but=Settling(whole_books=False))`.
    """
    result = await conn.exec_driver_sql(
        _unlocked_read(claims.table),
        (
            list(set(sale_ids)),
            sorted(set(account_numbers)),
            sorted(set(debits_of_sales)),
            claims.topic,
            claims.message_ids,
        ),
    )
    charges_json, accounts_json, items_json, dues_json, claimed_ids, replies = tuple(result.one())
    charges = {
        c["sale_id"]: SaleCharge(
            c["sale_id"],
            c["account_number"],
            from_minor(c["amount"]),
            c["entry_id"],
            c["request_event_id"],
            _moment(c["charged_at"]),
            reversed=c["reversed_at"] is not None,
        )
        for c in _rows(charges_json)
    }
    accounts_read: dict[str, Account] = {}
    versions: dict[str, int] = {}
    for a in _rows(accounts_json):
        a["settlement_anchor"] = date.fromisoformat(a["settlement_anchor"])
        a["opened_at"] = _moment(a["opened_at"])
        accounts_read[a["account_number"]] = _account_of(a)
        versions[a["account_number"]] = a["version"]
    items: dict[str, list[OpenItem]] = {}
    for i in _rows(items_json):
        items.setdefault(i["account_number"], []).append(
            OpenItem(
                i["item_id"],
                i["account_number"],
                i["reference"],
                from_minor(i["amount"]),
                from_minor(i["open_amount"]),
                date.fromisoformat(i["due_date"]),
                _moment(i["posted_at"]),
            )
        )
    dues = {d["account_number"]: date.fromisoformat(d["due"]) for d in _rows(dues_json)}
    claimed = list(zip(claimed_ids or [], replies or [], strict=True))
    return UnlockedRead(charges, accounts_read, versions, items, dues, claimed)


def _rows(found: str | None) -> list[dict[str, Any]]:
    return orjson.loads(found) if found is not None else []


def _moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(UTC)


@cache
def _unlocked_read(inbox: str) -> str:
    return _UNLOCKED_READ.replace("{inbox}", inbox)


# $1 every sale named, $2 the accounts named, $3 the sales whose open debits are wanted, $4 and
# $5 the claims' topic and message ids, looked up in the inbox table named for `{inbox}`. Open
# amounts as two ranges, each answered by its partial index (migration 0004).
_UNLOCKED_READ = """
WITH claimed AS (
    SELECT message_id, replies FROM {inbox}
    WHERE source = $4::varchar AND message_id = ANY($5::varchar[])
), charges AS (
    SELECT * FROM sale_charges WHERE sale_id = ANY($1::varchar[])
), named AS (
    SELECT * FROM accounts
    WHERE account_number = ANY($2::varchar[] || ARRAY(SELECT account_number FROM charges))
), found AS (
    SELECT * FROM named
    UNION ALL
    SELECT * FROM accounts
    WHERE account_number = ANY(ARRAY(
        SELECT parent_account_number FROM named WHERE parent_account_number IS NOT NULL
        EXCEPT SELECT account_number FROM named
    ))
), items AS (
    SELECT * FROM open_items
    WHERE account_number = ANY(ARRAY(SELECT account_number FROM found)) AND open_amount < 0
    UNION ALL
    SELECT * FROM open_items
    WHERE account_number = ANY(ARRAY(SELECT account_number FROM found)) AND open_amount > 0
        AND reference = ANY($3::varchar[])
), dues AS (
    SELECT account_number, min(due_date) AS due FROM open_items
    WHERE account_number = ANY(ARRAY(
            SELECT account_number FROM found WHERE overdue_hold_days IS NOT NULL
        ))
        AND open_amount > 0 AND (reference IS NULL OR NOT reference = ANY($3::varchar[]))
    GROUP BY account_number
)
SELECT
    (SELECT json_agg(charges) FROM charges)::text,
    (SELECT json_agg(found) FROM found)::text,
    (SELECT json_agg(items) FROM items)::text,
    (SELECT json_agg(dues) FROM dues)::text,
    (SELECT array_agg(message_id ORDER BY message_id) FROM claimed),
    (SELECT array_agg(replies ORDER BY message_id) FROM claimed)
"""
