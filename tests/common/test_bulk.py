"""Bulk statements store and find exactly what row-at-a-time statements would (PostgreSQL, where
they are single statements over arrays, and SQLite)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    LargeBinary,
    MetaData,
    String,
    Table,
    event,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import bulk
from services.common.bulk import (
    EXPECT_ROWS_FUNCTION,
    NULL_MARK,
    SEPARATOR,
    Writes,
    any_of,
    insert_many,
    is_postgresql,
    update_many,
)
from services.common.database import create_engine
from tests.conftest import create_postgres_database

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("shelf", String(20), primary_key=True),
    Column("slot", BigInteger, primary_key=True),
    Column("label", String(200), nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("fragile", Boolean, nullable=False),
    Column("due", Date, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("blob", LargeBinary, nullable=True),
)

AT = datetime(2026, 11, 24, 9, 30, 15, 123456, tzinfo=UTC)


def a_thing(n: int) -> dict[str, object]:
    return {
        "shelf": f"S{n % 3}",
        "slot": n,
        "label": None if n % 4 == 0 else f"thing {n} 'quoted' \\ ünïcode",
        "amount": -(10**17) + n if n % 2 else 10**17 + n,
        "fragile": n % 2 == 0,
        "due": None if n % 5 == 0 else date(2026, 12, 1) + timedelta(days=n),
        "at": AT + timedelta(seconds=n),
        "blob": None if n % 6 == 0 else bytes([n % 256, 0, 255]),
    }


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield engine
    finally:
        await engine.dispose()


async def stored(engine: AsyncEngine) -> list[dict[str, object]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(things).order_by(things.c.slot))
        found = [dict(row._mapping) for row in rows]
    for row in found:
        # SQLite keeps no offset: everything stored is UTC.
        moment = row["at"]
        assert isinstance(moment, datetime)
        row["at"] = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return found


async def test_insert_many_stores_every_row_exactly(engine: AsyncEngine) -> None:
    rows = [a_thing(n) for n in range(1, 301)]
    async with engine.begin() as conn:
        await insert_many(conn, things, rows)
        await insert_many(conn, things, [])
    assert await stored(engine) == rows


async def test_update_many_sets_the_other_columns_of_the_rows_its_keys_name(
    engine: AsyncEngine,
) -> None:
    rows = [a_thing(n) for n in range(1, 41)]
    async with engine.begin() as conn:
        await insert_many(conn, things, rows)
        changes = [
            {"shelf": r["shelf"], "slot": r["slot"], "amount": n, "label": None}
            for n, r in enumerate(rows)
            if n % 2
        ]
        await update_many(conn, things, ["shelf", "slot"], changes)
        # A key that names no row changes nothing.
        await update_many(
            conn, things, ["shelf", "slot"], [{"shelf": "S9", "slot": 1, "amount": 0, "label": "x"}]
        )
    expected = [{**r, "amount": n, "label": None} if n % 2 else r for n, r in enumerate(rows)]
    assert await stored(engine) == expected


async def test_any_of_finds_the_rows_of_the_values_given(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await insert_many(conn, things, [a_thing(n) for n in range(1, 51)])
    async with engine.connect() as conn:
        postgresql = is_postgresql(conn)
        # Built once, run with any number of values.
        by_slot = select(things.c.slot).where(any_of(things.c.slot, "s", postgresql=postgresql))
        for wanted in ([7], [3, 9, 27, 1000], list(range(0, 60, 2))):
            rows = await conn.execute(by_slot, {"s": wanted})
            assert sorted(r.slot for r in rows) == [w for w in sorted(wanted) if 1 <= w <= 50]
        by_shelf = select(things.c.slot).where(any_of(things.c.shelf, "s", postgresql=postgresql))
        labels = await conn.execute(by_shelf, {"s": ["S1"]})
        assert sorted(r.slot for r in labels) == [n for n in range(1, 51) if n % 3 == 1]


# Text columns go joined into one parameter where that is exact ---------------------------

TRICKY_LABELS = [
    ["only"],
    [""],  # one empty text alone would split into no element at all
    ["", ""],
    ["a", "", "b", ""],
    [f"x{SEPARATOR}y", "z"],  # holds the separator
    [SEPARATOR],
    ["a", None, "c"],
    [None],
    [None, ""],
    [NULL_MARK, None],  # the NULL mark itself
    [f"a{NULL_MARK}", f"{NULL_MARK}{NULL_MARK}"],  # holds it, but is not it
    ["ünïcode ✓", "tab\there", "line\nbreak", "'quoted' \\ e'\\x1f'"],
]


@pytest.mark.parametrize("labels", TRICKY_LABELS, ids=range(len(TRICKY_LABELS)))
async def test_text_columns_store_exactly_what_was_given(
    engine: AsyncEngine, labels: list[str | None]
) -> None:
    rows = [{**a_thing(n), "label": label} for n, label in enumerate(labels, 1)]
    async with engine.begin() as conn:
        writes = Writes()
        writes.insert(things, rows)
        writes.insert(shelves, [{"shelf": f"L{len(labels)}", "count": 0}])
        await writes.flush(conn)
    assert await stored(engine) == rows
    changed = [{"shelf": r["shelf"], "slot": r["slot"], "label": r["label"]} for r in rows[::-1]]
    async with engine.begin() as conn:
        await update_many(conn, things, ["shelf", "slot"], [{**c, "label": "-"} for c in changed])
        await update_many(conn, things, ["shelf", "slot"], changed)
    assert await stored(engine) == rows


async def test_text_columns_without_the_separator_go_as_one_text(postgres_server: str) -> None:
    # PostgreSQL only: SQLite keeps plain executemany.
    engine = create_engine(await create_postgres_database(postgres_server))
    statements: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await insert_many(conn, things, [a_thing(n) for n in range(1, 9)])
    finally:
        await engine.dispose()
    (insert,) = [s for s in statements if s.startswith("INSERT INTO things")]
    # shelf and label, the text columns; label holds NULLs (things 4 and 8).
    assert insert.count("string_to_array") == 2
    assert "string_to_array($1::text" in insert


@given(
    st.lists(
        st.none() | st.text(alphabet=st.sampled_from(["a", "é", " ", SEPARATOR, NULL_MARK])),
        min_size=1,
    )
)
def test_a_joined_column_splits_back_into_its_values(values: list[str | None]) -> None:
    joined = bulk._joined(list(values))
    if joined is not None:
        # PostgreSQL's string_to_array splits a non-empty text as str.split does, and reads a
        # field that is the NULL mark alone as NULL.
        assert joined
        assert [None if v == NULL_MARK else v for v in joined.split(SEPARATOR)] == values
    else:
        assert NULL_MARK in values or any(SEPARATOR in v for v in values if v) or values == [""]


async def test_rows_naming_different_columns_are_refused(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        with pytest.raises(ValueError, match="same columns"):
            await insert_many(conn, things, [a_thing(1), {"shelf": "S1", "slot": 2}])


shelves = Table(
    "shelves",
    metadata,
    Column("shelf", String(20), primary_key=True),
    Column("count", BigInteger, nullable=False),
    # One more with every write of the row: what guarded writes compare.
    Column("version", BigInteger, nullable=False, server_default=text("0")),
)
labels = Table(
    "labels",
    metadata,
    Column("slot", BigInteger, primary_key=True),
    Column("shelf", String(20), ForeignKey("shelves.shelf"), nullable=False),
)


async def test_writes_go_together_and_a_row_may_refer_to_one_written_with_it(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await insert_many(conn, shelves, [{"shelf": "S0", "count": 0}])
        writes = Writes()
        writes.insert(shelves, [{"shelf": f"S{n}", "count": n} for n in (1, 2)])
        # Labels on shelves inserted by the same statement: checked at its end.
        writes.insert(labels, [{"slot": n, "shelf": f"S{n % 3}"} for n in range(1, 7)])
        writes.update(shelves, ["shelf"], [{"shelf": "S0", "count": 7}])
        writes.insert(things, [])
        await writes.flush(conn)
        await writes.flush(conn)  # nothing left: a no-op
    async with engine.connect() as conn:
        counted = {r.shelf: r.count for r in await conn.execute(select(shelves))}
        placed = {r.slot: r.shelf for r in await conn.execute(select(labels))}
    assert counted == {"S0": 7, "S1": 1, "S2": 2}
    assert placed == {n: f"S{n % 3}" for n in range(1, 7)}


async def test_writes_break_no_foreign_key_silently(engine: AsyncEngine) -> None:
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            writes = Writes()
            writes.insert(shelves, [{"shelf": "S1", "count": 1}])
            writes.insert(labels, [{"slot": 1, "shelf": "nowhere"}])
            await writes.flush(conn)
    async with engine.connect() as conn:
        assert list(await conn.execute(select(shelves))) == []


# Guarded writes (PostgreSQL): all or nothing on the versions read -----------------------


@pytest.fixture
async def guarded(postgres_server: str) -> AsyncIterator[AsyncEngine]:
    """A PostgreSQL database with the shelves, in autocommit: each flush commits alone."""
    engine = create_engine(await create_postgres_database(postgres_server))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.exec_driver_sql(EXPECT_ROWS_FUNCTION)
        await insert_many(conn, shelves, [{"shelf": f"S{n}", "count": n} for n in range(3)])
    try:
        yield engine.execution_options(isolation_level="AUTOCOMMIT")
    finally:
        await engine.dispose()


async def versions(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(shelves.c.shelf, shelves.c.version))
        return {shelf: int(version) for shelf, version in rows}


async def counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {r.shelf: r.count for r in await conn.execute(select(shelves))}


def guarded_writes(read: dict[str, int]) -> Writes:
    """Count 10 on S0 if it is as read, S1 as read, and a new shelf S9."""
    writes = Writes()
    writes.insert(shelves, [{"shelf": "S9", "count": 9}])
    rows = [{"shelf": "S0", "count": 10}]
    writes.update_unchanged(shelves, ["shelf"], rows, [read["S0"]], version_column="version")
    writes.expect_unchanged(
        shelves, ["shelf"], [{"shelf": "S1"}], [read["S1"]], version_column="version"
    )
    return writes


async def test_guarded_writes_apply_when_nothing_changed_since_the_read(
    guarded: AsyncEngine,
) -> None:
    read = await versions(guarded)
    async with guarded.connect() as conn:
        writes = guarded_writes(read)
        assert writes.guarded
        await writes.flush(conn)
    assert await counts(guarded) == {"S0": 10, "S1": 1, "S2": 2, "S9": 9}
    after = await versions(guarded)
    assert (after["S0"], after["S1"]) == (read["S0"] + 1, read["S1"])


@pytest.mark.parametrize("changed", ["S0", "S1"])
async def test_guarded_writes_write_nothing_if_a_row_read_changed(
    guarded: AsyncEngine, changed: str
) -> None:
    read = await versions(guarded)
    async with guarded.connect() as conn:
        # Another writer, after the read: the same value, but a new version of the row.
        await conn.execute(
            update(shelves)
            .where(shelves.c.shelf == changed)
            .values(count=shelves.c.count, version=shelves.c.version + 1)
        )
        with pytest.raises(DBAPIError) as failed:
            await guarded_writes(read).flush(conn)
    assert getattr(failed.value.orig, "sqlstate", None) == "40001"
    assert "rows changed since they were read: 1 of 2" in str(failed.value)
    assert await counts(guarded) == {"S0": 0, "S1": 1, "S2": 2}


@pytest.mark.parametrize("changed", ["S0", "S1"])
async def test_guarded_writes_wait_for_a_concurrent_writer_and_fail_if_it_commits(
    guarded: AsyncEngine, changed: str
) -> None:
    read = await versions(guarded)
    async with guarded.connect() as other, guarded.connect() as conn:
        await other.exec_driver_sql("BEGIN")
        await other.execute(
            update(shelves)
            .where(shelves.c.shelf == changed)
            .values(count=5, version=shelves.c.version + 1)
        )
        writing = asyncio.ensure_future(guarded_writes(read).flush(conn))
        await asyncio.sleep(0.3)
        assert not writing.done(), "the guarded statement waits for the row's lock"
        await other.exec_driver_sql("COMMIT")
        with pytest.raises(DBAPIError) as failed:
            await writing
    assert getattr(failed.value.orig, "sqlstate", None) == "40001"
    assert "S9" not in await counts(guarded)


async def test_guarded_writes_go_ahead_if_a_concurrent_writer_rolls_back(
    guarded: AsyncEngine,
) -> None:
    read = await versions(guarded)
    async with guarded.connect() as other, guarded.connect() as conn:
        await other.exec_driver_sql("BEGIN")
        await other.execute(
            update(shelves)
            .where(shelves.c.shelf == "S0")
            .values(count=5, version=shelves.c.version + 1)
        )
        writing = asyncio.ensure_future(guarded_writes(read).flush(conn))
        await asyncio.sleep(0.3)
        await other.exec_driver_sql("ROLLBACK")
        await writing
    assert await counts(guarded) == {"S0": 10, "S1": 1, "S2": 2, "S9": 9}


async def test_guarded_writes_refuse_versions_that_do_not_match_the_rows() -> None:
    with pytest.raises(ValueError, match="2 rows but 1 versions"):
        Writes().update_unchanged(
            shelves, ["shelf"], [{"shelf": "a"}, {"shelf": "b"}], [1], version_column="version"
        )


async def test_an_update_adds_one_to_its_increments(engine: AsyncEngine) -> None:
    """Alone (one statement) and with other writes (one statement of several parts)."""
    async with engine.begin() as conn:
        await insert_many(conn, shelves, [{"shelf": f"S{n}", "count": n} for n in range(2)])
        await update_many(
            conn, shelves, ["shelf"], [{"shelf": "S0", "count": 5}], increments=["version"]
        )
        writes = Writes()
        writes.update(shelves, ["shelf"], [{"shelf": "S1", "count": 6}], increments=["version"])
        writes.update(shelves, ["shelf"], [{"shelf": "S0", "count": 7}])
        await writes.flush(conn)
    async with engine.connect() as conn:
        rows = await conn.execute(select(shelves).order_by(shelves.c.shelf))
        assert [(r.shelf, r.count, r.version) for r in rows] == [("S0", 7, 1), ("S1", 6, 1)]
