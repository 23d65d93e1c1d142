"""Whole posting-list pages kept as the bytes of their answers.

Integrations poll the same pages all day. A page's answer is determined by the route's shape,
the ``with`` flags, its postings (ids and versions: the database changes a posting's version
on every write to it, its lines, its warehouse's name or its delivery method; migration 0008)
and its paging values (``has_next``, the cursor, the count). A list request reads only the ids
and versions of its page (and the count), and a page already written is answered from here
with no other read. Nothing is invalidated and nothing stale is served: a changed posting is
another key. Pages are kept least recently used first out, within a memory bound.
"""

from __future__ import annotations

import functools
import itertools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextlib import nullcontext
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

from reference_backend import pagination
from reference_backend.db import Database
from reference_backend.postings import queries
from reference_backend.postings import schemas as S
from reference_backend.postings.service import (
    PG_ASYNC,
    PostingBundle,
    PostingFilter,
    apage_bundles,
    page_bundles,
    wire_postings,
)
from reference_backend.raw_rows import driver_cursor

#: Bytes of page answers a process keeps (a page of 50 postings with analytics and financial
#: data is ~100 KiB).
PAGE_CACHE_BYTES = 32 * 1024 * 1024


class PageCache:
    """Answers by key, least recently used dropped first once over ``max_bytes`` (thread-safe:
    SQLite pages are read in worker threads)."""

    def __init__(self, max_bytes: int = PAGE_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._pages: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pages)

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            body = self._pages.get(key)
            if body is not None:
                self._pages.move_to_end(key)
            return body

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()
            self.nbytes = 0

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            old = self._pages.pop(key, None)
            if old is not None:
                self.nbytes -= len(old)
            self._pages[key] = body
            self.nbytes += len(body)
            while self.nbytes > self.max_bytes:
                _, dropped = self._pages.popitem(last=False)
                self.nbytes -= len(dropped)


#: The process's pages.
PAGES = PageCache()


_first = itemgetter(0)

#: A list's answer around its postings' JSON: ``(postings, has_next, cursor, count)`` -> data.
Envelope = Callable[[list[orjson.Fragment], bool, str, int], dict[str, Any]]


@dataclass(frozen=True)
class PageAsk:
    """A list request: whose postings, which (the filter), which page and how it is written."""

    seller_id: int
    flt: PostingFilter
    limit: int
    desc: bool
    with_: S.With
    shape: Callable[[PostingBundle, S.With], dict[str, Any]]  # :func:`.to_v3`, :func:`.to_v4`
    envelope: Envelope
    offset: int = 0
    cursor: str | None = None  # v4 (cursor paging); None: offset paging
    counted: bool = False

    def statement(self, dialect: Dialect) -> queries.Statement:
        """The page's ids and versions (``limit + 1`` rows: ``has_next``), and the count."""
        return _statement(dialect, self.seller_id, self.flt, self.desc, self.limit,
                          self.offset, pagination.decode_cursor(self.cursor), self.counted)

    def found(self, answer: list[Any]) -> Found:
        """The page this statement's ``answer`` makes."""
        total = 0
        if self.counted:
            total = int(next(row[0] for row in answer if row[2] is None) or 0)
            answer = sorted((row for row in answer if row[2] is not None), key=_first,
                            reverse=self.desc)
        rows = [tuple(row) for row in answer]
        if self.cursor is None:
            page = pagination.offset_page(rows, self.limit)
            return Found(self, tuple(page.items), page.has_next, "", total)
        keyset = pagination.cursor_page(rows, self.limit, lambda row: row[0],
                                        pagination.decode_cursor(self.cursor))
        return Found(self, tuple(keyset.items), keyset.has_next, keyset.cursor, total)


@dataclass(frozen=True)
class Found:
    """A page's postings and paging values: its answer's key."""

    ask: PageAsk
    #: ``(id, version, created_at)``: a posting id SQLite gives again after a delete is
    #: another key
    rows: tuple[tuple[Any, ...], ...]
    has_next: bool
    cursor: str
    total: int

    @property
    def ids(self) -> list[int]:
        return [row[0] for row in self.rows]

    def key(self, source: int) -> Hashable:
        """The answer's key in the pages of database ``source`` (:func:`source_of`)."""
        a = self.ask
        return (source, a.envelope, a.shape, *vars(a.with_).values(), a.seller_id, self.rows,
                self.has_next, self.cursor, self.total)

    def written(self, bundles: list[PostingBundle], source: int) -> bytes:
        """The answer from the postings read (kept when they are the versions found)."""
        a = self.ask
        body = orjson.dumps(a.envelope(wire_postings(bundles, a.with_, a.shape), self.has_next,
                                       self.cursor, self.total))
        if [(b.posting.id, b.posting.version) for b in bundles] == [r[:2] for r in self.rows]:
            PAGES.put(self.key(source), body)
        return body


_SOURCES: weakref.WeakKeyDictionary[Database, int] = weakref.WeakKeyDictionary()
_SERIALS = itertools.count(1)


def source_of(db: Database) -> int:
    """A number of ``db`` never given to another :class:`.Database` of this process (pages of
    two databases, tests' copies of one template, never meet)."""
    source = _SOURCES.get(db)
    if source is None:
        source = _SOURCES[db] = next(_SERIALS)
    return source


@functools.lru_cache(maxsize=4096)  # (integrations poll the same pages all day)
def _statement(dialect: Dialect, seller_id: int, flt: PostingFilter, desc: bool, limit: int,
               offset: int, after: int | None, counted: bool) -> queries.Statement:
    ids = queries.ids_statement(dialect, seller_id, flt, desc=desc, limit=limit + 1,
                                offset=offset, after=after)
    if not counted:
        return ids
    return queries.counted(ids, queries.count_statement(dialect, seller_id, flt))


def read_page(conn: Connection, ask: PageAsk, source: int = 0) -> bytes:
    """``ask``'s answer (SQLite, or any database in a worker thread). On a connection not
    begun (:meth:`.Database.reading`), a kept page costs one statement on its own, no
    ``BEGIN``/``ROLLBACK``; a page not kept is read again in one transaction, its ids and
    postings in one snapshot."""
    statement = ask.statement(conn.dialect)
    found = _found(conn, ask, statement)
    body = PAGES.get(found.key(source))
    if body is not None:
        return body
    with nullcontext() if conn.in_transaction() else conn.begin():
        found = _found(conn, ask, statement)
        body = PAGES.get(found.key(source))
        return body if body is not None else found.written(page_bundles(conn, found.ids),
                                                           source)


def _found(conn: Connection, ask: PageAsk, statement: queries.Statement) -> Found:
    with driver_cursor(conn) as cur:
        cur.execute(statement.sql, statement.params)
        return ask.found(cur.fetchall())


async def aread_page(conn: Any, ask: PageAsk, source: int = 0) -> bytes:
    """``ask``'s answer on a psycopg ``AsyncConnection``: one round trip when it is kept, two
    otherwise."""
    statement = ask.statement(PG_ASYNC)
    async with conn.cursor() as cur:
        await cur.execute(statement.sql, statement.params, prepare=False)
        found = ask.found(await cur.fetchall())
    body = PAGES.get(found.key(source))
    return body if body is not None else found.written(await apage_bundles(conn, found.ids),
                                                       source)


async def list_page(db: Database, ask: PageAsk) -> bytes:
    """``ask``'s answer: on PostgreSQL read on the event loop; on SQLite a kept page found
    on the event loop (its ids and versions, one bounded statement: :meth:`.Database.peek`),
    any other in a worker thread (:meth:`.Database.reading`)."""
    source = source_of(db)
    if db.is_sqlite:
        statement = ask.statement(db.engine.dialect)
        rows = db.peek(statement.sql, statement.params)
        body = None if rows is None else PAGES.get(ask.found(rows).key(source))
        if body is not None:
            return body
    return await db.reading(lambda conn: read_page(conn, ask, source),
                            lambda conn: aread_page(conn, ask, source))
