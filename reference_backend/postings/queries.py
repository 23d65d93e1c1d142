"""A posting list's page (ids, versions) and count queries as SQL text, for the driver's cursor.

Building the filter as a SQLAlchemy ``Select`` and executing it (cache key, compiled-cache
lookup, parameter processing) cost more CPU than PostgreSQL spent answering it; a page of
postings is polled all day. :func:`ids_statement` and :func:`count_statement` write the same
``WHERE`` (:class:`.PostingFilter`) for the dialect's parameter style: PostgreSQL gets one
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


def _where(dialect: Dialect, seller_id: int, f: PostingFilter) -> _Where:
    w = _Where(dialect)
    w.conds.append(f"seller_id = {w.value(P.seller_id, seller_id)}")
    for name, column, op in _SCALARS:
        value = getattr(f, name)
        if value is not None:
            w.conds.append(f"{column.name} {op} {w.value(column, value)}")
    for name, column in _LISTS:
        values = getattr(f, name)
        if values:
            w.conds.append(w.one_of(column.name, column, values))
    if f.provider_ids:
        methods = w.one_of("provider_id", DeliveryMethod.__table__.c.provider_id, f.provider_ids)
        w.conds.append(f"delivery_method_id IN (SELECT id FROM delivery_methods WHERE {methods})")
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
    if after is not None:
        w.conds.append(f"id {'<' if desc else '>'} {w.value(P.id, after)}")
    order = "DESC" if desc else "ASC"
    page = (f"FROM postings WHERE {' AND '.join(w.conds)} ORDER BY id {order} "
            f"LIMIT {int(limit)}" + (f" OFFSET {int(offset)}" if offset else ""))
    if dialect.name != "sqlite":
        return Statement(f"SELECT id, version, created_at {page}", tuple(w.params))
    # the page's ids first, from the filter's covering index, then their rows: SQLite would
    # otherwise read the row of every posting the filter matches (a day's postings for a page
    # of 50) before sorting them
    return Statement(f"SELECT p.id, p.version, p.created_at FROM postings AS p "
                     f"JOIN (SELECT id {page}) AS ids ON ids.id = p.id ORDER BY p.id {order}",
                     tuple(w.params))


def count_statement(dialect: Dialect, seller_id: int, f: PostingFilter) -> Statement:
    """How many postings match ``f``."""
    w = _where(dialect, seller_id, f)
    return Statement(f"SELECT count(id) FROM postings WHERE {' AND '.join(w.conds)}",
                     tuple(w.params))


def counted(ids: Statement, count: Statement) -> Statement:
    """``ids`` and ``count`` as one statement (one round trip, no pipeline): first the count
    as ``(count, NULL, NULL)``, then the page's rows (in no promised order)."""
    return Statement(f"SELECT ({count.sql}), NULL, NULL UNION ALL "
                     f"SELECT id, version, created_at FROM ({ids.sql}) AS page",
                     count.params + ids.params)
