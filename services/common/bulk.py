"""Statements over many rows that cost one statement, not one per row.

On PostgreSQL an INSERT or UPDATE of N rows is one statement over N-element arrays (`unnest`),
whatever N: the SQL text does not change with N, so it is prepared once per connection, and
the server plans it once. A text column goes as one text joined by a separator that none of its
values holds, and PostgreSQL splits it again (`string_to_array`); a column where that would not
be exact (a value holding the separator) goes as an array, a second text of the
statement. The reason is the client's CPU: asyncpg checks every element of an array parameter
against two abstract base classes, 0.34 microseconds an element, against 0.05 joined and split.
An `IN` over N values is `= ANY(array)`, one parameter. SQLite (a file beside the worker, no
round trips) keeps plain executemany and `IN`.

`Writes` can also guard its statement (PostgreSQL only): an update that applies only to rows
still at the version read, and a check that rows only read are unchanged. If any row has
changed, the statement fails with a serialization failure (SQLSTATE 40001) and writes nothing.
A row's version is a column of its own that every writer of the table adds one to (the guarded
update does). The check calls `tabs_expect_rows`, which a service that guards its writes
creates in a migration (`EXPECT_ROWS_FUNCTION`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, String, Table, any_, bindparam, insert, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

Row = Mapping[str, object]
# A text column's values joined into one parameter: by the ASCII unit separator, which no id
# holds (ids are printable), with the record separator alone standing for NULL. A column where
# a value holds the separator, or is the NULL mark itself, goes as an array.
SEPARATOR = "\x1f"
NULL_MARK = "\x1e"
_SPLIT = "string_to_array(${n}::text, E'\\x1f', E'\\x1e')::{kind}"

# Raises a serialization failure unless the rows matched are the rows expected.
EXPECT_ROWS_FUNCTION = """
CREATE OR REPLACE FUNCTION tabs_expect_rows(matched bigint, expected bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF matched <> expected THEN
        RAISE EXCEPTION 'rows changed since they were read: % of % as read', matched, expected
            USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN matched;
END
$$
"""


def is_postgresql(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


@lru_cache(maxsize=256)
def _array_types(table: Table, columns: tuple[str, ...], dialect: Dialect) -> list[str]:
    return [f"{table.c[name].type.compile(dialect=dialect)}[]" for name in columns]


@lru_cache(maxsize=1024)
def _is_text(table: Table, column: str) -> bool:
    return isinstance(table.c[column].type, String)


def _joined(values: list[object]) -> str | None:
    """The values as one text PostgreSQL's `string_to_array` splits back into exactly them, or
    None if there is no such text (a value that is not text or None, holds the separator or is
    the NULL mark, or one empty text alone, which splits into no element at all)."""
    if NULL_MARK in values:
        return None
    try:
        joined = SEPARATOR.join(values)  # type: ignore[arg-type]
    except TypeError:
        try:
            joined = SEPARATOR.join([NULL_MARK if v is None else v for v in values])  # type: ignore[misc]
        except TypeError:
            return None
    if not joined or joined.count(SEPARATOR) != len(values) - 1:
        return None
    return joined


def _column_parameters(
    table: Table, columns: Sequence[str], rows: Sequence[Row]
) -> tuple[tuple[bool, ...], list[object]]:
    """Each column's values as a parameter, and which of them went joined into one text."""
    joined_flags = []
    parameters: list[object] = []
    for name in columns:
        values = [row[name] for row in rows]
        joined = _joined(values) if _is_text(table, name) else None
        joined_flags.append(joined is not None)
        parameters.append(values if joined is None else joined)
    return tuple(joined_flags), parameters


def _sources(
    table: Table, columns: tuple[str, ...], joined: tuple[bool, ...], dialect: Dialect, first: int
) -> list[str]:
    """The SQL of each column's array: its parameter, numbered from `first`, as an array."""
    return [
        _SPLIT.format(n=n, kind=kind) if split else f"${n}::{kind}"
        for n, (kind, split) in enumerate(
            zip(_array_types(table, columns, dialect), joined, strict=True), first
        )
    ]


@lru_cache(maxsize=256)
def _insert_sql(
    table: Table, columns: tuple[str, ...], joined: tuple[bool, ...], dialect: Dialect
) -> str:
    arrays = ", ".join(_sources(table, columns, joined, dialect, 1))
    return f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"


@lru_cache(maxsize=256)
def _update_sql(
    table: Table,
    keys: tuple[str, ...],
    columns: tuple[str, ...],
    joined: tuple[bool, ...],
    dialect: Dialect,
    increments: tuple[str, ...] = (),
) -> str:
    every = keys + columns
    arrays = ", ".join(_sources(table, every, joined, dialect, 1))
    assignments = ", ".join(
        [*(f"{name} = v.{name}" for name in columns), *(f"{c} = t.{c} + 1" for c in increments)]
    )
    matches = " AND ".join(f"t.{name} = v.{name}" for name in keys)
    return (
        f"UPDATE {table.name} AS t SET {assignments} "
        f"FROM unnest({arrays}) AS v({', '.join(every)}) WHERE {matches}"
    )


def _columns_of(rows: Sequence[Row]) -> tuple[str, ...]:
    columns = tuple(rows[0])
    for row in rows:
        if tuple(row) != columns:
            raise ValueError("every row of a bulk statement names the same columns in order")
    return columns


async def insert_many(conn: AsyncConnection, table: Table, rows: Sequence[Row]) -> None:
    """Inserts the rows in one statement (PostgreSQL) or one executemany (SQLite)."""
    if not rows:
        return
    columns = _columns_of(rows)
    if not is_postgresql(conn):
        await conn.execute(insert(table), [dict(row) for row in rows])
        return
    joined, parameters = _column_parameters(table, columns, rows)
    await conn.exec_driver_sql(_insert_sql(table, columns, joined, conn.dialect), tuple(parameters))


async def update_many(
    conn: AsyncConnection,
    table: Table,
    keys: Sequence[str],
    rows: Sequence[Row],
    *,
    increments: Sequence[str] = (),
) -> None:
    """Sets the other columns of each row on the row its `keys` name, and adds one to the
    `increments` columns, in one statement."""
    if not rows:
        return
    every = _columns_of(rows)
    columns = tuple(name for name in every if name not in keys)
    if not is_postgresql(conn):
        statement = update(table).values(
            {
                **{name: bindparam(f"v_{name}") for name in columns},
                **{name: table.c[name] + 1 for name in increments},
            }
        )
        for name in keys:
            statement = statement.where(table.c[name] == bindparam(f"k_{name}"))
        await conn.execute(
            statement,
            [
                {**{f"k_{n}": row[n] for n in keys}, **{f"v_{n}": row[n] for n in columns}}
                for row in rows
            ],
        )
        return
    ordered = tuple(keys) + columns
    joined, parameters = _column_parameters(table, ordered, rows)
    sql = _update_sql(table, tuple(keys), columns, joined, conn.dialect, tuple(increments))
    await conn.exec_driver_sql(sql, tuple(parameters))


def any_of(column: Any, name: str, *, postgresql: bool) -> ColumnElement[bool]:
    """`column IN :name` in a statement built once, and run with a list as `name`.

    On PostgreSQL `= ANY(one array parameter)`, so the SQL is the same whatever the number of
    values (prepared once per connection); on SQLite an expanding IN. Built once per dialect
    (functools.cache), a statement skips what constructing it costs on every batch: half the
    CPU of a small query (500 -> 250 us, measured against PostgreSQL)."""
    if postgresql:
        return column == any_(bindparam(name, type_=ARRAY(column.type)))  # type: ignore[no-any-return]
    return column.in_(bindparam(name, expanding=True))  # type: ignore[no-any-return]


class Writes:
    """The writes of one transaction, sent together at the end: on PostgreSQL one statement of
    data-modifying CTEs (each INSERT or UPDATE over arrays), so one round trip for all of them.

    The parts of one statement do not see each other's rows, so a part must not read what
    another writes; foreign keys are checked at the end of the statement, so a row may refer
    to one another part inserts.

    Guarded parts (`update_unchanged`, `expect_unchanged`) make the statement all or nothing
    on the versions read: one statement commits alone, so with them a batch can be written
    without a transaction around its reads.
    """

    _KEY = "tabs.writes"

    def __init__(self) -> None:
        self._parts: list[_Part] = []

    @classmethod
    def of(cls, conn: AsyncConnection) -> Writes | None:
        """The writes the pipeline collects for this connection's transaction, if it does."""
        found = conn.info.get(cls._KEY)
        return found if isinstance(found, Writes) else None

    def attach(self, conn: AsyncConnection) -> None:
        conn.info[self._KEY] = self

    def detach(self, conn: AsyncConnection) -> None:
        conn.info.pop(self._KEY, None)

    def insert(self, table: Table, rows: Sequence[Row]) -> None:
        if rows:
            self._parts.append(_Part("insert", table, (), rows))

    def update(
        self,
        table: Table,
        keys: Sequence[str],
        rows: Sequence[Row],
        *,
        increments: Sequence[str] = (),
    ) -> None:
        """Sets the other columns of each row its keys name, and adds one to `increments`."""
        if rows:
            self._parts.append(_Part("update", table, tuple(keys), rows, None, tuple(increments)))

    def update_unchanged(
        self,
        table: Table,
        keys: Sequence[str],
        rows: Sequence[Row],
        versions: Sequence[int],
        *,
        version_column: str,
    ) -> None:
        """Updates each row, adding one to its `version_column`, only if that column still
        holds the version read; if one does not, the whole statement fails (PostgreSQL only)."""
        if rows:
            self._parts.append(
                _Part(
                    "update",
                    table,
                    tuple(keys),
                    rows,
                    _versions(rows, versions),
                    (version_column,),
                    version_column,
                )
            )

    def expect_unchanged(
        self,
        table: Table,
        keys: Sequence[str],
        rows: Sequence[Row],
        versions: Sequence[int],
        *,
        version_column: str,
    ) -> None:
        """Fails the whole statement unless the rows the keys name still hold these versions in
        `version_column`, and holds them (FOR SHARE) until it commits (PostgreSQL only)."""
        if rows:
            self._parts.append(
                _Part(
                    "unchanged",
                    table,
                    tuple(keys),
                    rows,
                    _versions(rows, versions),
                    version_column=version_column,
                )
            )

    @property
    def guarded(self) -> bool:
        return any(part.versions is not None for part in self._parts)

    async def flush(self, conn: AsyncConnection) -> None:
        guarded = self.guarded
        parts, self._parts = self._parts, []
        if not parts:
            return
        if not is_postgresql(conn):
            if guarded:
                raise ValueError("guarded writes need PostgreSQL")
            for part in parts:
                await _write_alone(conn, part)
            return
        if len(parts) == 1 and not guarded:
            await _write_alone(conn, parts[0])
            return
        signature = []
        arrays: list[object] = []
        expected = 0
        for part in parts:
            columns = _columns_of(part.rows)
            ordered = part.keys + tuple(c for c in columns if c not in part.keys)
            joined, parameters = _column_parameters(part.table, ordered, part.rows)
            signature.append(
                (
                    part.kind,
                    part.table,
                    part.keys,
                    ordered,
                    joined,
                    part.version_column,
                    part.increments,
                )
            )
            arrays.extend(parameters)
            if part.versions is not None:
                arrays.append(part.versions)
                expected += len(part.rows)
        if guarded:
            arrays.append(expected)
        await conn.exec_driver_sql(_writes_sql(tuple(signature), conn.dialect), tuple(arrays))


@dataclass(frozen=True, slots=True)
class _Part:
    kind: str  # insert, update, unchanged
    table: Table
    keys: tuple[str, ...]
    rows: Sequence[Row]
    versions: list[int] | None = None  # the rows' versions as read (guarded parts)
    increments: tuple[str, ...] = ()  # columns an update adds one to
    version_column: str | None = None  # where a guarded part's rows keep their versions


async def _write_alone(conn: AsyncConnection, part: _Part) -> None:
    if part.kind == "insert":
        await insert_many(conn, part.table, part.rows)
    else:
        await update_many(conn, part.table, part.keys, part.rows, increments=part.increments)


def _versions(rows: Sequence[Row], versions: Sequence[int]) -> list[int]:
    if len(versions) != len(rows):
        raise ValueError(f"{len(rows)} rows but {len(versions)} versions")
    return list(versions)


@lru_cache(maxsize=256)
def _writes_sql(
    parts: tuple[
        tuple[
            str,
            Table,
            tuple[str, ...],
            tuple[str, ...],
            tuple[bool, ...],
            str | None,
            tuple[str, ...],
        ],
        ...,
    ],
    dialect: Dialect,
) -> str:
    ctes = []
    guards = []
    first = 1
    for n, (kind, table, keys, columns, joined, version_column, increments) in enumerate(parts):
        guarded = version_column is not None
        sources = _sources(table, columns, joined, dialect, first)
        names = list(columns)
        if version_column is not None:
            sources += _sources(table, (version_column,), (False,), dialect, first + len(sources))
            names.append("version_read")
        arrays = ", ".join(sources)
        first += len(sources)
        source = f"unnest({arrays}) AS v({', '.join(names)})"
        matches = " AND ".join(f"t.{c} = v.{c}" for c in keys)
        if version_column is not None:
            matches += f" AND t.{version_column} = v.version_read"
        if kind == "insert":
            body = f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        elif kind == "update":
            assignments = ", ".join(
                [
                    *(f"{c} = v.{c}" for c in columns if c not in keys),
                    *(f"{c} = t.{c} + 1" for c in increments),
                ]
            )
            body = f"UPDATE {table.name} AS t SET {assignments} FROM {source} WHERE {matches}"
            if guarded:
                body += " RETURNING 1"
        else:
            body = f"SELECT 1 FROM {table.name} AS t JOIN {source} ON {matches} FOR SHARE OF t"
        ctes.append(f"w{n} AS ({body})")
        if guarded:
            guards.append(f"(SELECT count(*) FROM w{n})")
    if not guards:
        return f"WITH {', '.join(ctes)} SELECT 1"
    return f"WITH {', '.join(ctes)} SELECT tabs_expect_rows({' + '.join(guards)}, ${first}::bigint)"
