"""Reads on the driver's own cursor, for hot read paths: rows of a table by a key column.

SQLAlchemy's per-execute work (statement cache key, parameter and result wrapping) cost
more than the database on a page of postings: 1.98 ms for its 50 posting rows, against
1.07 ms for the same statement on the psycopg cursor. :class:`RowsByKey` builds its
statement once per table, key and dialect, and gives each value the result processing
SQLAlchemy's own would give it (SQLite's text datetimes become datetimes, and so on), so
its rows equal SQLAlchemy's rows field by field.
"""

from __future__ import annotations

import contextlib
from collections import namedtuple
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError


@contextmanager
def driver_cursor(conn: Connection) -> Iterator[Any]:
    """The DBAPI cursor of ``conn``'s transaction; driver errors become SQLAlchemy's."""
    error = conn.dialect.loaded_dbapi.Error
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cur
    except error as exc:
        raise DBAPIError.instance(None, None, exc, error) from exc
    finally:
        cur.close()


@dataclass(frozen=True)
class Joined:
    """Columns of another table on each row, by a foreign key (``LEFT JOIN``: ``None`` when it
    finds no row); named ``<prefix><column>``."""

    table: Table
    on: str  # the column of the main table
    key: str  # the column of ``table`` it refers to
    columns: Sequence[str]
    prefix: str


class RowsByKey:
    """``SELECT columns FROM table [LEFT JOIN ...] WHERE key IN (...) [ORDER BY ...]`` as
    named tuples (``intern``: up to that many rows kept, see :attr:`interned`)."""

    def __init__(self, table: Table, key: str, dialect: Dialect, *,
                 columns: Sequence[str] = (), order_by: str | None = None,
                 joined: Sequence[Joined] = (), intern: int = 0) -> None:
        cols = [table.c[name] for name in columns] if columns else list(table.columns)
        quote = dialect.identifier_preparer.quote
        names = [c.name for c in cols]
        selected = [f"t.{quote(c.name)}" for c in cols]
        joins = []
        for i, j in enumerate(joined):
            extra = [j.table.c[name] for name in j.columns]
            cols += extra
            names += [j.prefix + c.name for c in extra]
            selected += [f"j{i}.{quote(c.name)}" for c in extra]
            joins.append(f" LEFT JOIN {quote(j.table.name)} j{i} "
                         f"ON j{i}.{quote(j.key)} = t.{quote(j.on)}")
        self.row = namedtuple(f"{table.name}_row", names)  # type: ignore[misc]
        self.types = [c.type.dialect_impl(dialect) for c in cols]
        self.dialect = dialect
        #: (column index, processor), made from the first answer's column types
        self.procs: list[tuple[int, Any]] | None = None
        self.head = (f"SELECT {', '.join(selected)} FROM {quote(table.name)} t"
                     f"{''.join(joins)} WHERE t.{quote(key)} ")
        self.tail = f" ORDER BY t.{quote(order_by)}" if order_by else ""
        self.any_array = dialect.name == "postgresql"  # one statement text, prepared once
        #: ``intern``: the last rows made, by the values the driver gave (oldest first): a
        #: row read again is the same tuple, not processed again, its values' hashes kept
        self.interned: dict[Any, Any] | None = {} if intern else None
        self.intern_size = intern

    def _statement(self, keys: Collection[Any]) -> tuple[str, tuple[Any, ...]]:
        if self.any_array:
            return self.head + "= ANY(%s)" + self.tail, (list(keys),)
        return self.head + f"IN ({', '.join('?' * len(keys))})" + self.tail, tuple(keys)

    def _made(self, rows: list[Any], description: Any) -> list[Any]:
        if self.procs is None:  # as SQLAlchemy does: by the type the database answers with
            self.procs = [
                (i, proc) for i, (kind, column) in enumerate(zip(
                    self.types, description, strict=True))
                if (proc := kind.result_processor(self.dialect, column[1]))]
        if self.interned is None:
            return [self._one(r) for r in rows]
        made = []
        for raw in rows:
            try:
                row = self.interned.get(raw)
            except TypeError:  # (a value that cannot be a key)
                made.append(self._one(raw))
                continue
            if row is None:
                if len(self.interned) >= self.intern_size:
                    with contextlib.suppress(KeyError, RuntimeError):  # (worker threads race)
                        del self.interned[next(iter(self.interned))]
                row = self.interned[raw] = self._one(raw)
            made.append(row)
        return made

    def _one(self, raw: Any) -> Any:
        if not self.procs:
            return self.row._make(raw)
        values = list(raw)
        for i, proc in self.procs:
            values[i] = proc(values[i])
        return self.row._make(values)

    def fetch(self, conn: Connection, keys: Collection[Any]) -> list[Any]:
        if not keys:
            return []
        sql, params = self._statement(keys)
        with driver_cursor(conn) as cur:
            cur.execute(sql, params)
            return self._made(cur.fetchall(), cur.description)


async def afetch_together(conn: Any, *reads: tuple[RowsByKey, Collection[Any]]) -> list[list[Any]]:
    """Rows of several readers on a psycopg ``AsyncConnection``, in one round trip (a
    pipeline; never prepared: see :func:`reference_backend.db.make_engine`)."""
    wanted = [(reader, keys) for reader, keys in reads if keys]
    cursors = []
    try:
        async with conn.pipeline():
            for reader, keys in wanted:
                sql, params = reader._statement(keys)
                cursors.append(cur := conn.cursor())
                await cur.execute(sql, params, prepare=False)
        made = iter([reader._made(await cur.fetchall(), cur.description)
                     for (reader, _), cur in zip(wanted, cursors, strict=True)])
    finally:
        for cur in cursors:
            await cur.close()
    return [next(made) if keys else [] for _, keys in reads]
