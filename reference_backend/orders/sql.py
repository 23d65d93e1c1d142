"""The order hot path on the driver's own cursor: few statements, no per-statement ORM work.

:func:`place_order <reference_backend.orders.service.place_order>` runs inside an
SQLAlchemy transaction (``Database.connection``: pool, ``BEGIN IMMEDIATE`` on SQLite,
commit/rollback) but sends its statements straight to the DBAPI cursor of that transaction
(psycopg 3 or sqlite3): SQLAlchemy's per-execute work (cache keys, parameter processing,
result wrapping) cost more than the database itself here. Column lists, Python-side column
defaults and bind processing are taken from the table definitions (``tables.py``), so a new
column with a default needs no change here; ``tests/test_backend_orders_fastpath.py`` checks
that the rows equal those the portable SQLAlchemy writer makes.

PostgreSQL, one round trip each: (1) the idempotency key, the order row and the candidate
stock rows (one statement); (2) postings, items, outbox events, the key's answer and the
guarded stock ``UPDATE`` (one statement: JSON recordsets and arrays, so its text is fixed
and psycopg prepares it); commit. SQLite: the same steps
as plain statements (they are in-process calls there).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect

from reference_backend.orders.plan import Candidate, OrderPlan
from reference_backend.promotions.pricing import ACTION_NOW_SQL, LEFT_NOW_SQL, PRICE_NOW_SQL
from reference_backend.tables import IdempotencyKey, Order, OutboxEvent, Posting, PostingItem

_ORDERS, _POSTINGS, _ITEMS = Order.__table__, Posting.__table__, PostingItem.__table__
_EVENTS, _KEYS = OutboxEvent.__table__, IdempotencyKey.__table__


class _Columns:
    """Non-key columns of a table: names, Python-side defaults and bind processors."""

    def __init__(self, table: Table, dialect: Dialect, *, skip: tuple[str, ...] = ()) -> None:
        cols = [c for c in table.columns if not c.primary_key and c.name not in skip]
        for c in cols:
            assert c.server_default is None, f"{table.name}.{c.name}: server default"
        self.table = table
        self.names = [c.name for c in cols]
        self.quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in self.names)
        #: every column: None, or its scalar Python-side default
        self.static: dict[str, Any] = {c.name: None for c in cols}
        #: columns whose default is a function (e.g. ``utcnow``), called per row
        self.dynamic: list[tuple[str, Callable[[Any], Any]]] = []
        for c in cols:
            d = c.default
            if d is not None and getattr(d, "is_scalar", False):
                self.static[c.name] = d.arg
            elif d is not None and getattr(d, "is_callable", False):
                self.dynamic.append((c.name, d.arg))  # SQLAlchemy's wrapper takes a context
        self.procs = [c.type.dialect_impl(dialect).bind_processor(dialect) for c in cols]
        self.types = [c.type.dialect_impl(dialect).compile(dialect=dialect) for c in cols]

    def full(self, row: dict[str, Any]) -> dict[str, Any]:
        """Every column of the row, defaults filled in (not yet bind-processed)."""
        out = {**self.static, **row}
        for name, make in self.dynamic:
            if name not in row:
                out[name] = make(None)
        return out

    def bound(self, row: dict[str, Any]) -> tuple[Any, ...]:
        """The row in column order, bind-processed for the driver."""
        full = self.full(row)
        return tuple(v if p is None or v is None else p(v)
                     for v, p in zip([full[n] for n in self.names], self.procs, strict=True))

    def recordset(self, alias: str = "r") -> str:
        """``json_to_recordset(%s) AS r(col type, ...)`` (PostgreSQL)."""
        cols = ", ".join(f'"{n}" {t}' for n, t in zip(self.names, self.types, strict=True))
        return f"json_to_recordset(%s) AS {alias}({cols})"


class FastOrders:
    """The hot-path statements of one dialect (built once per process and dialect)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.orders = _Columns(_ORDERS, dialect)
        self.postings = _Columns(_POSTINGS, dialect)
        self.items = _Columns(_ITEMS, dialect)
        self.events = _Columns(_EVENTS, dialect)
        self.keys = _Columns(_KEYS, dialect)

    # Each dialect implements these two.
    def open_order(self, cur: Any, order: dict[str, Any], key: dict[str, Any] | None,
                   skus: list[int]) -> tuple[int, int | None, list[Candidate]]:
        """Insert the key (first) and the order; the seller's stock rows of ``skus``.

        Returns the order id, the key row id and the candidate rows (none: unknown SKUs).
        """
        raise NotImplementedError

    def write(self, cur: Any, plan: OrderPlan, key_id: int | None, now: datetime) -> bool:
        """Postings, items, events, the key's answer and, last, the guarded reservations.

        False: a reservation found too few units (stock moved since the read): roll back.
        """
        raise NotImplementedError


def _sorted_moves(moves: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Merged per (warehouse, sku) (one update per stock row), in (warehouse, sku) order."""
    merged: dict[tuple[int, int], int] = {}
    for sku, wh, q in moves:
        if q > 0:
            merged[(wh, sku)] = merged.get((wh, sku), 0) + q
    return [(sku, wh, q) for (wh, sku), q in sorted(merged.items())]


_CANDIDATE_COLUMNS = (
    "s.sku, s.warehouse_id, s.present - s.reserved, p.product_id, p.offer_id, p.name, "
    f"{PRICE_NOW_SQL}, p.currency_code, {ACTION_NOW_SQL}, p.price, {LEFT_NOW_SQL} "
    "FROM stock s JOIN products p ON p.product_id = s.product_id "
    "WHERE s.seller_id = {ph} AND s.sku {skus}"
)
_RESERVE = ("UPDATE stock SET reserved = reserved + ?, updated_at = ? "
            "WHERE sku = ? AND warehouse_id = ? AND present - reserved >= ?")
#: units sold at a limited action's price (guarded like the reservations)
_SELL_AT_ACTION = ("UPDATE action_products SET sold = sold + ? WHERE action_id = ? "
                   "AND product_id = ? AND sold + ? <= stock")


class _Postgres(FastOrders):
    """psycopg 3: two statements and a commit per order (the sync path)."""

    def __init__(self, dialect: Dialect) -> None:
        super().__init__(dialect)
        o, k = self.orders, self.keys
        values_o = ", ".join(["%s"] * len(o.names))
        values_k = ", ".join(["%s"] * len(k.names))
        candidates = _CANDIDATE_COLUMNS.format(ph="%s", skus="= ANY(%s::bigint[])")
        # one statement: key (first: a twin waits or conflicts here), order, stock rows
        self.sql_open = (
            f"WITH o AS (INSERT INTO orders ({o.quoted}) VALUES ({values_o}) RETURNING id) "
            f"SELECT o.id, NULL, {candidates.replace('FROM stock', 'FROM o, stock')}")
        casts_o = ", ".join(f"%s::{t}" for t in o.types)  # a SELECT list infers no types
        self.sql_open_key = (
            f"WITH k AS (INSERT INTO idempotency_keys ({k.quoted}) VALUES ({values_k}) "
            f"RETURNING id), o AS (INSERT INTO orders ({o.quoted}) SELECT {casts_o} FROM k "
            f"RETURNING id) SELECT o.id, k.id, "
            f"{candidates.replace('FROM stock', 'FROM o, k, stock')}")
        counts = (" SELECT (SELECT count(*) FROM p), (SELECT count(*) FROM r), "
                  "(SELECT count(*) FROM a)")
        self.sql_write = f"WITH {self.write_ctes(guarded=True)}{counts}"
        self.sql_write_key = (
            f"WITH {self.write_ctes(guarded=True)}, k AS (UPDATE idempotency_keys SET "
            "status_code = 201, response = %s::json WHERE id = %s)" + counts)

    def write_ctes(self, *, guarded: bool) -> str:
        """Postings, items, events, reservations and units sold at action prices: the CTEs
        ``p, i, e, r, a`` of a statement.

        Unguarded, the reservations rely on the ``reserved_within_present`` check (and the
        action units on ``sold_within_stock``): an oversell aborts the statement (for
        callers that let the database refuse it).
        """
        p, i, e = self.postings, self.items, self.events
        item_cols = ", ".join(f'i."{n}"' for n in i.names if n != "posting_id")
        item_names = ", ".join(f'"{n}"' for n in i.names if n != "posting_id")
        return (
            f"p AS (INSERT INTO postings ({p.quoted}) SELECT {p.quoted} "
            f"FROM {p.recordset()} RETURNING id, posting_number), "
            f"i AS (INSERT INTO posting_items (posting_id, {item_names}) "
            f"SELECT p.id, {item_cols} FROM {self._items_recordset()} "
            f"JOIN p ON p.posting_number = i.posting_number), "
            f"e AS (INSERT INTO outbox_events ({e.quoted}) SELECT {e.quoted} "
            f"FROM {e.recordset()}), "
            # the reservations, one row per (sku, warehouse), their rows locked in (warehouse,
            # sku) order whatever the join plan (a hash join would lock them in heap order):
            # concurrent writers then queue on a row instead of deadlocking (which costs a
            # deadlock_timeout, 1 s, before PostgreSQL breaks it)
            "l AS MATERIALIZED (SELECT s.id, m.q FROM stock s "
            "JOIN json_to_recordset(%s) AS m(sku bigint, wh bigint, q integer) "
            "ON s.sku = m.sku AND s.warehouse_id = m.wh "
            "ORDER BY s.warehouse_id, s.sku FOR UPDATE OF s), "
            "r AS (UPDATE stock s SET reserved = s.reserved + l.q, updated_at = %s "
            "FROM l WHERE s.id = l.id"
            + (" AND s.present - s.reserved >= l.q" if guarded else "") + " RETURNING 1), "
            "a AS (UPDATE action_products ap SET sold = ap.sold + m.q "
            "FROM json_to_recordset(%s) AS m(action_id bigint, product_id bigint, q integer) "
            "WHERE ap.action_id = m.action_id AND ap.product_id = m.product_id"
            + (" AND ap.sold + m.q <= ap.stock" if guarded else "") + " RETURNING 1)")

    def _items_recordset(self) -> str:
        i = self.items
        cols = [f'"{n}" {t}' for n, t in zip(i.names, i.types, strict=True) if n != "posting_id"]
        return f"json_to_recordset(%s) AS i(posting_number text, {', '.join(cols)})"

    def open_order(self, cur: Any, order: dict[str, Any], key: dict[str, Any] | None,
                   skus: list[int]) -> tuple[int, int | None, list[Candidate]]:
        if key is None:
            cur.execute(self.sql_open, (*self.orders.bound(order), order["seller_id"], skus))
        else:
            cur.execute(self.sql_open_key, (*self.keys.bound(key), *self.orders.bound(order),
                                            order["seller_id"], skus))
        rows = cur.fetchall()
        if not rows:
            return 0, None, []
        return rows[0][0], rows[0][1], [r[2:] for r in rows]

    def write_rows(self, plan: OrderPlan, now: datetime) -> tuple[Any, ...]:
        """The parameters of :meth:`write_ctes`: postings, items, events, moves, stamp and
        action units."""
        moves = _sorted_moves(plan.moves)
        return (
            _json_rows(self.postings, plan.postings),
            _json_rows(self.items, plan.items),  # extra key posting_number: the join
            _json_rows(self.events, plan.events),
            json_text([{"sku": sku, "wh": wh, "q": q} for sku, wh, q in moves]), now,
            json_text([{"action_id": a, "product_id": p, "q": q}
                       for a, p, q in plan.action_moves]))

    def write(self, cur: Any, plan: OrderPlan, key_id: int | None, now: datetime) -> bool:
        rows = self.write_rows(plan, now)
        if key_id is None:
            cur.execute(self.sql_write, rows)
        else:
            cur.execute(self.sql_write_key, (*rows, json_text(plan.body), key_id))
        postings, reserved, sold = cur.fetchone()
        if postings != len(plan.postings):
            raise RuntimeError("posting insert count mismatch")
        return reserved == len(_sorted_moves(plan.moves)) and sold == len(plan.action_moves)


def json_text(value: Any) -> str:
    """JSON text for a ``json`` parameter (orjson: datetimes as ISO 8601, like isoformat)."""
    return orjson.dumps(value).decode()


def _json_rows(cols: _Columns, rows: list[dict[str, Any]]) -> str:
    return json_text([cols.full(r) for r in rows])


class _Sqlite(FastOrders):
    """sqlite3: plain statements (in-process calls), bind-processed like SQLAlchemy does."""

    def __init__(self, dialect: Dialect) -> None:
        super().__init__(dialect)

        def insert(cols: _Columns, table: str) -> str:
            marks = ", ".join("?" * len(cols.names))
            return f"INSERT INTO {table} ({cols.quoted}) VALUES ({marks})"

        self.sql_order = insert(self.orders, "orders")
        self.sql_key = insert(self.keys, "idempotency_keys")
        self.sql_posting = insert(self.postings, "postings")
        self.sql_item = insert(self.items, "posting_items")
        self.sql_event = insert(self.events, "outbox_events")
        self.sql_answer = "UPDATE idempotency_keys SET status_code = 201, response = ? WHERE id = ?"
        self.json_proc = self.keys.procs[self.keys.names.index("response")]
        self.dt_proc = self.orders.procs[self.orders.names.index("created_at")]
        self.sql_reserve = _RESERVE

    def open_order(self, cur: Any, order: dict[str, Any], key: dict[str, Any] | None,
                   skus: list[int]) -> tuple[int, int | None, list[Candidate]]:
        key_id = None
        if key is not None:
            cur.execute(self.sql_key, self.keys.bound(key))
            key_id = cur.lastrowid
        cur.execute(self.sql_order, self.orders.bound(order))
        order_id = cur.lastrowid
        sql = "SELECT " + _CANDIDATE_COLUMNS.format(
            ph="?", skus=f"IN ({', '.join('?' * len(skus))})")
        cur.execute(sql, (order["seller_id"], *skus))
        return order_id, key_id, cur.fetchall()

    def write(self, cur: Any, plan: OrderPlan, key_id: int | None, now: datetime) -> bool:
        posting_ids = {}
        for row in plan.postings:
            cur.execute(self.sql_posting, self.postings.bound(row))
            posting_ids[row["posting_number"]] = cur.lastrowid
        cur.executemany(self.sql_item, [
            self.items.bound({**row, "posting_id": posting_ids[row["posting_number"]]})
            for row in plan.items])
        cur.executemany(self.sql_event, [self.events.bound(row) for row in plan.events])
        if key_id is not None:
            cur.execute(self.sql_answer, (self.json_proc(plan.body), key_id))
        # reserve last (one writer at a time on SQLite, but the same order as PostgreSQL)
        params = [(q, self.dt_proc(now), sku, wh, q) for sku, wh, q in _sorted_moves(plan.moves)]
        cur.executemany(self.sql_reserve, params)
        if cur.rowcount != len(params):
            return False
        if plan.action_moves:
            cur.executemany(_SELL_AT_ACTION, [(q, a, p, q) for a, p, q in plan.action_moves])
            return cur.rowcount == len(plan.action_moves)
        return True


_BUILT: dict[tuple[str, str], FastOrders] = {}


def postgres_orders(dialect: Dialect) -> _Postgres:
    """The PostgreSQL statements (for the batches, which use no SQLAlchemy connection)."""
    key = (dialect.name, dialect.driver)
    built = _BUILT.get(key)
    if built is None:
        built = _BUILT[key] = _Postgres(dialect)
    assert isinstance(built, _Postgres)
    return built


def fast_orders(conn: Connection) -> FastOrders | None:
    """The hot-path statements for ``conn``'s dialect (None: use the portable path)."""
    dialect = conn.dialect
    key = (dialect.name, dialect.driver)
    built = _BUILT.get(key)
    if built is None:
        if key == ("postgresql", "psycopg"):
            built = _Postgres(dialect)
        elif key == ("sqlite", "pysqlite"):
            built = _Sqlite(dialect)
        else:
            return None
        _BUILT[key] = built
    return built
