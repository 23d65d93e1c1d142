"""A posting list's page (ids, versions) and count queries as SQL text, for the driver's cursor.

Building the filter as a SQLAlchemy ``Select`` and executing it (cache key, compiled-cache
lookup, parameter processing) cost more CPU than PostgreSQL spent answering it; a page of
postings is polled all day. :func:`ids_statement` and :func:`count_statement` write the same
``WHERE`` (:class:`.PostingFilter`) for the dialect's parameter style (a count is read from
the tallies the database keeps, migration 0010, when they answer it): PostgreSQL gets one
text per set of filters used (lists as ``= ANY(%s)`` arrays), SQLite ``IN (?, ...)``.
Parameters go through the columns' own bind processing (SQLite's text datetimes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column
from sqlalchemy.engine import Dialect

from reference_backend.tables import DeliveryMethod, Posting, PostingItem

if TYPE_CHECKING:
    from reference_backend.postings.service import PostingFilter

P = Posting.__table__.c
#: Scalar conditions: the filter's field, the column, the comparison.
_SCALARS: tuple[tuple[str, Column[Any], str], ...] = (
    ("since", P.in_process_at, ">="),
    ("to", P.in_process_at, "<="),
    ("order_id", P.order_id, "="),
    ("posting_number", P.posting_number, "="),
    ("changed_from", P.status_changed_at, ">="),
    ("changed_to", P.status_changed_at, "<="),
    ("cutoff_from", P.shipment_date, ">="),
    ("cutoff_to", P.shipment_date, "<="),
    ("delivering_from", P.delivering_date, ">="),
    ("delivering_to", P.delivering_date, "<="),
)
#: One-of conditions: the filter's field, the column.
_LISTS: tuple[tuple[str, Column[Any]], ...] = (
    ("statuses", P.status),
    ("warehouse_ids", P.warehouse_id),
    ("delivery_method_ids", P.delivery_method_id),
    ("order_numbers", P.order_number),
)


#: SQLite: a cutoff window chooses no index (unary ``+``): ``ix_postings_seller_status``
#: holds ``shipment_date`` for the tallies' probes (:func:`_covers`), and a page's ids read
#: from it would sort the whole window (34 ms for 200,000 open postings) where SQLite's plan
#: without it (rowid order) stops at the page.
_UNINDEXED = {P.shipment_date.name: f"+{P.shipment_date.name}"}


@dataclass(frozen=True)
class Statement:
    """SQL text and its positional parameters (the driver's parameter style)."""

    sql: str
    params: tuple[Any, ...]


_BINDS: dict[tuple[str, str, str, str], Any] = {}


def _bind(column: Column[Any], dialect: Dialect) -> Any:
    """The column's bind processor on ``dialect`` (None: values go as they are)."""
    key = (column.table.name, column.name, dialect.name, dialect.driver)  # type: ignore[attr-defined]
    try:
        return _BINDS[key]
    except KeyError:
        proc = _BINDS[key] = column.type.dialect_impl(dialect).bind_processor(dialect)
        return proc


class _Where:
    """A ``WHERE`` being written: its conditions and parameters."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.mark = "%s" if dialect.paramstyle in ("format", "pyformat") else "?"
        self.arrays = dialect.name == "postgresql"
        self.conds: list[str] = []
        self.params: list[Any] = []

    def value(self, column: Column[Any], value: Any) -> str:
        proc = _bind(column, self.dialect)
        self.params.append(proc(value) if proc else value)
        return self.mark

    def one_of(self, sql: str, column: Column[Any], values: Sequence[Any]) -> str:
        """``sql = ANY(array)`` (PostgreSQL) or ``sql IN (?, ...)``."""
        proc = _bind(column, self.dialect)
        values = [proc(v) for v in values] if proc else list(values)
        if self.arrays:
            self.params.append(values)
            return f"{sql} = ANY({self.mark})"
        self.params += values
        return f"{sql} IN ({', '.join([self.mark] * len(values))})"


def _providers(w: _Where, f: PostingFilter) -> None:
    if f.provider_ids:
        methods = w.one_of("provider_id", DeliveryMethod.__table__.c.provider_id, f.provider_ids)
        w.conds.append(f"delivery_method_id IN (SELECT id FROM delivery_methods WHERE {methods})")


def _where(dialect: Dialect, seller_id: int, f: PostingFilter) -> _Where:
    w = _Where(dialect)
    w.conds.append(f"seller_id = {w.value(P.seller_id, seller_id)}")
    unindexed = _UNINDEXED if dialect.name == "sqlite" else {}
    for name, column, op in _SCALARS:
        value = getattr(f, name)
        if value is not None:
            term = unindexed.get(column.name, column.name)
            w.conds.append(f"{term} {op} {w.value(column, value)}")
    for name, column in _LISTS:
        values = getattr(f, name)
        if values:
            w.conds.append(w.one_of(column.name, column, values))
    _providers(w, f)
    if f.offer_id is not None or f.sku is not None:
        items = []
        if f.offer_id is not None:
            items.append(f"offer_id = {w.value(PostingItem.__table__.c.offer_id, f.offer_id)}")
        if f.sku is not None:
            items.append(f"sku = {w.value(PostingItem.__table__.c.sku, f.sku)}")
        w.conds.append(f"id IN (SELECT posting_id FROM posting_items WHERE "
                       f"{' AND '.join(items)})")
    return w


def ids_statement(dialect: Dialect, seller_id: int, f: PostingFilter, *, desc: bool,
                  limit: int, offset: int = 0, after: int | None = None) -> Statement:
    """The ids, versions and creation times of a page: ``limit`` postings matching ``f``
    (after id ``after``, in the page's direction), skipping ``offset``, newest first when
    ``desc``."""
    w = _where(dialect, seller_id, f)
    _after(w, after, desc)
    order = "DESC" if desc else "ASC"

    def page(key: str) -> str:
        return (f"FROM postings WHERE {' AND '.join(w.conds)} ORDER BY {key} {order} "
                f"LIMIT {int(limit)}" + (f" OFFSET {int(offset)}" if offset else ""))

    if dialect.name != "sqlite":
        return Statement(f"SELECT id, version, created_at {page('id')}", tuple(w.params))
    if _pinned(f) or (not desc and _starts_late(f)):
        # ``+id``: by the filter's own indexes, never by walking all the seller's postings
        # in id order (SQLite's planner may, to save a sort)
        return _joined(f"SELECT id {page('+id')}", order, tuple(w.params))
    return _near_first(w, seller_id, after=after, desc=desc, limit=int(limit),
                       offset=int(offset))


def _near_first(w: _Where, seller_id: int, *, after: int | None, desc: bool, limit: int,
                offset: int) -> Statement:
    """SQLite: a page found first among the seller's postings nearest its start (a bounded
    range of :data:`SELLER_IDS`, walked in the page's order until the page is full: a page
    of rows, not a sort of every id of the filter's window, a day's postings), then by the
    filter's own indexes only when that range did not hold the whole page. When it did, that
    is the page: any other match is further by id."""
    b = _Where(w.dialect)
    b.conds.append(f"seller_id = {b.value(P.seller_id, seller_id)}")
    _after(b, after, desc)
    order, cmp, edge = ("DESC", ">=", -(2**63)) if desc else ("ASC", "<=", 2**63 - 1)
    where, skip = " AND ".join(w.conds), f" OFFSET {offset}" if offset else ""
    # bound: the far end of the range (none: the seller has no more postings past the cursor
    # and the range is all of them); near: the page in the range
    bound = (f"SELECT id FROM postings INDEXED BY {SELLER_IDS} WHERE {' AND '.join(b.conds)} "
             f"ORDER BY id {order} LIMIT 1 OFFSET {NEAR_ROWS * (offset + limit) - 1}")
    near = (f"SELECT id FROM postings INDEXED BY {SELLER_IDS} WHERE {where} AND id {cmp} "
            f"coalesce((SELECT id FROM bound), {edge}) ORDER BY id {order} LIMIT {limit}{skip}")
    # the filter's own indexes then (``+id``: not by walking the seller's postings in order);
    # a LIMIT of 0 skips the whole scan (a WHERE term would be tested on every row). Its page
    # holds the range's rows (the first of it), hence UNION.
    rest = (f"SELECT id FROM postings WHERE {where} ORDER BY +id {order} LIMIT CASE WHEN "
            f"EXISTS (SELECT 1 FROM bound) AND (SELECT count(*) FROM near) < {limit} THEN "
            f"{limit} ELSE 0 END{skip}")
    return _joined(f"WITH bound AS MATERIALIZED ({bound}), near AS MATERIALIZED ({near}) "
                   f"SELECT id FROM near UNION SELECT id FROM ({rest})", order,
                   (*b.params, *w.params, *w.params))


#: SQLite: a page's ids are looked for first among the seller's ``NEAR_ROWS * (offset +
#: limit)`` postings nearest its start (by id, in its direction, past its cursor).
NEAR_ROWS = 8
#: The seller's postings by id (SQLite; migration 0009).
SELLER_IDS = "ix_postings_seller_id_id"


def _after(w: _Where, after: int | None, desc: bool) -> None:
    """Past a cursor's id, in the page's direction."""
    if after is not None:
        w.conds.append(f"id {'<' if desc else '>'} {w.value(P.id, after)}")


def _starts_late(f: PostingFilter) -> bool:
    """Whether ``f`` has a lower bound in time: a page from the oldest then lies past the
    seller's oldest postings (a range of them would rarely hold it)."""
    return any(value is not None for value in (f.since, f.changed_from, f.cutoff_from,
                                               f.delivering_from))


def _pinned(f: PostingFilter) -> bool:
    """Whether ``f`` names its postings (an order, a number, a product): their own indexes
    find them at once."""
    return bool(f.order_id is not None or f.posting_number is not None or f.order_numbers
                or f.offer_id is not None or f.sku is not None)


def _joined(ids: str, order: str, params: tuple[Any, ...]) -> Statement:
    """The rows of the ids ``ids`` selects, in the page's ``order``: SQLite finds a page's
    ids from an index and reads only their rows (not the row of every posting it sorts)."""
    return Statement(f"SELECT p.id, p.version, p.created_at FROM postings AS p "
                     f"JOIN ({ids}) AS ids ON ids.id = p.id ORDER BY p.id {order}", params)


#: Filter fields the tallies cannot answer: what they count is not kept by these.
_UNTALLIED = ("since", "to", "order_id", "order_numbers", "posting_number", "offer_id", "sku",
              "changed_from", "changed_to", "delivering_from", "delivering_to")


def count_statement(dialect: Dialect, seller_id: int, f: PostingFilter) -> Statement:
    """How many postings match ``f``: a sum of the kept tallies (migration 0010; a few rows,
    however many postings) when ``f`` picks postings by status, warehouse, delivery method
    or provider only, or also by a cutoff window that holds the earliest and the latest
    ``shipment_date`` of the seller's postings in ``f``'s statuses (an index probe each,
    in the same statement); otherwise the matching postings counted."""
    counted = matching_count_statement(dialect, seller_id, f)
    if any(getattr(f, name) not in (None, ()) for name in _UNTALLIED):
        return counted
    if f.cutoff_from is None and f.cutoff_to is None:
        return _tallied(dialect, seller_id, f)
    if not f.statuses:
        return counted
    tallied, covers = _tallied(dialect, seller_id, f), _covers(dialect, seller_id, f)
    return Statement(f"SELECT CASE WHEN {covers.sql} THEN ({tallied.sql}) "
                     f"ELSE ({counted.sql}) END",
                     covers.params + tallied.params + counted.params)


def matching_count_statement(dialect: Dialect, seller_id: int, f: PostingFilter) -> Statement:
    """How many postings match ``f``, counted one by one."""
    w = _where(dialect, seller_id, f)
    return Statement(f"SELECT count(id) FROM postings WHERE {' AND '.join(w.conds)}",
                     tuple(w.params))


def _tallied(dialect: Dialect, seller_id: int, f: PostingFilter) -> Statement:
    """The sum of the tallies of ``f``'s statuses, warehouses and delivery methods."""
    w = _Where(dialect)
    w.conds.append(f"seller_id = {w.value(P.seller_id, seller_id)}")
    for name, column in _LISTS:
        values = getattr(f, name)
        if values:  # (order_numbers: untallied)
            w.conds.append(w.one_of(column.name, column, values))
    _providers(w, f)
    return Statement(f"SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM posting_tallies "
                     f"WHERE {' AND '.join(w.conds)}", tuple(w.params))


def _covers(dialect: Dialect, seller_id: int, f: PostingFilter) -> Statement:
    """Whether ``f``'s cutoff window holds every posting of ``f``'s statuses (a status
    without postings: yes): the earliest and the latest of each status, an index probe each
    (``ix_postings_seller_status``). (One ``NOT EXISTS`` per bound over all the statuses
    planned in half the time, but PostgreSQL may answer it by a sequential scan, which
    reads past every posting the window holds when it does not cover them.)"""
    w = _Where(dialect)
    for status in f.statuses:
        for bound, first, op in ((f.cutoff_from, "min", ">="), (f.cutoff_to, "max", "<=")):
            if bound is None:
                continue
            seller = w.value(P.seller_id, seller_id)
            of = w.value(P.status, status)
            edge = (f"(SELECT {first}(shipment_date) FROM postings "
                    f"WHERE seller_id = {seller} AND status = {of})")
            w.conds.append(f"coalesce({edge}, {w.value(P.shipment_date, bound)}) "
                           f"{op} {w.value(P.shipment_date, bound)}")
    return Statement(" AND ".join(w.conds), tuple(w.params))


def counted(ids: Statement, count: Statement) -> Statement:
    """``ids`` and ``count`` as one statement (one round trip, no pipeline): first the count
    as ``(count, NULL, NULL)``, then the page's rows (in no promised order)."""
    return Statement(f"SELECT ({count.sql}), NULL, NULL UNION ALL "
                     f"SELECT id, version, created_at FROM ({ids.sql}) AS page",
                     count.params + ids.params)
