"""A page's ids on SQLite (:func:`.queries.ids_statement`): found first among the seller's
nearest postings, by the filter's own indexes when those do not hold the page. The page is
the plain query's, whatever the data and the paging, and a poll of the newest page costs a
page whatever the window's size."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, delete, insert, text

from reference_backend.db import Database
from reference_backend.postings import queries
from reference_backend.postings import service as q
from reference_backend.tables import Order, Posting
from tests.backend_support import seed_smoke, sqlite_url

START = datetime(2026, 1, 1, tzinfo=UTC)
STATUSES = ("awaiting_packaging", "awaiting_deliver", "delivering", "delivered", "cancelled")
BASE = 1_000_000  # ids of the postings (and orders) made here


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, list[int]]]:
    """A SQLite database with two sellers (and their warehouses)."""
    url = sqlite_url(tmp_path_factory.mktemp("page-ids"))
    sellers = [seed_smoke(url)["seller_id"], seed_smoke(url, name="second")["seller_id"]]
    database = Database(url)
    yield database, sellers
    database.dispose()


def _fill(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """The postings ``rows`` (and an order each), in place of the ones made before."""
    conn.execute(delete(Posting).where(Posting.id >= BASE))
    conn.execute(delete(Order).where(Order.id >= BASE))
    if not rows:
        return
    homes = dict(conn.execute(text("SELECT seller_id, min(warehouse_id) FROM warehouses "
                                   "GROUP BY seller_id")).all())
    conn.execute(insert(Order), [{"id": r["id"], "seller_id": r["seller_id"], "region": "R",
                                  "created_at": r["at"]} for r in rows])
    conn.execute(insert(Posting), [{
        "id": r["id"], "posting_number": f"T{r['id']}-1", "seller_id": r["seller_id"],
        "order_id": r["id"], "order_number": f"T{r['id']}", "status": r["status"],
        "warehouse_id": homes[r["seller_id"]], "in_process_at": r["at"],
        "shipment_date": r["at"] + timedelta(days=1), "status_changed_at": r["at"],
        "created_at": r["at"]} for r in rows])


@st.composite
def postings(draw: st.DrawFn, sellers: list[int]) -> list[dict[str, Any]]:
    """Postings of both sellers interleaved by id (gaps too), their times mostly rising with
    their ids but not always, their statuses mostly closed for the old ones."""
    n = draw(st.integers(0, 150))
    ids = list(itertools.accumulate(draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)),
                                    initial=BASE))[1:]
    rows = []
    for k, pid in enumerate(ids):
        hours = draw(st.one_of(st.just(k), st.integers(0, 130)))
        old = hours < 100
        status = draw(st.sampled_from(STATUSES[3:] if old else STATUSES)
                      if draw(st.booleans()) else st.sampled_from(STATUSES))
        rows.append({"id": pid, "seller_id": draw(st.sampled_from(sellers)), "status": status,
                     "at": START + timedelta(hours=hours)})
    return rows


def filters() -> st.SearchStrategy[q.PostingFilter]:
    hours = st.integers(-5, 140).map(lambda h: START + timedelta(hours=h))
    return st.builds(
        q.PostingFilter, since=st.none() | hours, to=st.none() | hours,
        statuses=st.sampled_from([(), ("awaiting_packaging",), q.DEFAULT_UNFULFILLED,
                                  ("delivered", "cancelled")]))


def _reference(conn: Connection, seller_id: int, f: q.PostingFilter) -> list[int]:
    """Every id ``f`` matches, ascending (a plain query, no index)."""
    conds, params = ["seller_id = ?"], [seller_id]
    column = Posting.__table__.c.in_process_at
    stored = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    for value, cond in ((f.since, "in_process_at >= ?"), (f.to, "in_process_at <= ?")):
        if value is not None:
            conds.append(cond)
            params.append(stored(value))
    if f.statuses:
        conds.append(f"status IN ({', '.join('?' * len(f.statuses))})")
        params += f.statuses
    sql = f"SELECT id FROM postings NOT INDEXED WHERE {' AND '.join(conds)} ORDER BY id"
    return [row[0] for row in conn.exec_driver_sql(sql, tuple(params))]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_page_is_the_plain_querys_page(db, data) -> None:
    database, sellers = db
    rows = data.draw(postings(sellers))
    seller = data.draw(st.sampled_from(sellers))
    f, desc = data.draw(filters()), data.draw(st.booleans())
    limit, offset = data.draw(st.integers(1, 25)), data.draw(st.integers(0, 30))
    after = data.draw(st.none() | st.sampled_from([r["id"] for r in rows] or [BASE])
                      | st.integers(BASE - 1, BASE + 451))
    near_rows = data.draw(st.sampled_from([1, 2, queries.NEAR_ROWS]))
    with database.engine.begin() as conn:
        _fill(conn, rows)
        expected = _reference(conn, seller, f)[::-1 if desc else 1]
        if after is not None:
            expected = [i for i in expected if (i < after if desc else i > after)]
        expected = expected[offset:offset + limit]
        old, queries.NEAR_ROWS = queries.NEAR_ROWS, near_rows
        try:
            page = queries.ids_statement(conn.dialect, seller, f, desc=desc, limit=limit,
                                         offset=offset, after=after)
        finally:
            queries.NEAR_ROWS = old
        found = conn.exec_driver_sql(page.sql, page.params).all()
        versions = dict(conn.execute(text("SELECT id, version FROM postings")).all())
    assert [row[0] for row in found] == expected
    assert [row[1] for row in found] == [versions[i] for i in expected]


def _day(n: int, seller_id: int, other: int, now: datetime) -> list[dict[str, Any]]:
    """``n`` postings of ``seller_id`` in the day before ``now`` (the last twelfth open),
    each followed by one of ``other``'s."""
    rows = []
    for k in range(2 * n):
        at = now - timedelta(days=1) * (2 * n - k) / (2 * n + 1)
        rows.append({"id": BASE + k, "seller_id": seller_id if k % 2 == 0 else other,
                     "at": at, "status": "awaiting_packaging"
                     if at > now - timedelta(hours=2) else "delivered"})
    return rows


def _steps(conn: Connection, statement: queries.Statement) -> int:
    """SQLite's virtual machine steps for ``statement`` (in hundreds)."""
    raw = conn.connection.driver_connection
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    raw.set_progress_handler(step, 100)
    try:
        raw.execute(statement.sql, statement.params).fetchall()
    finally:
        raw.set_progress_handler(None, 100)
    return steps[0]


@pytest.mark.timeout(300)
def test_the_newest_page_costs_a_page_whatever_the_window(db) -> None:
    database, (seller, other) = db
    now = datetime.now(UTC)
    day = q.PostingFilter(since=now - timedelta(days=1), to=now + timedelta(days=1))
    asks = {"day": day, "open": q.PostingFilter(statuses=q.DEFAULT_UNFULFILLED)}
    costs: dict[str, list[int]] = {name: [] for name in asks}
    for n in (1_000, 10_000):
        with database.engine.begin() as conn:
            _fill(conn, _day(n, seller, other, now))
            conn.execute(text("ANALYZE"))
            for name, f in asks.items():
                costs[name].append(_steps(conn, queries.ids_statement(
                    conn.dialect, seller, f, desc=True, limit=51)))
    # 10x the window: the same steps, give or take (a sort of the window's ids was ~10x)
    assert all(big <= 1.5 * small + 5 for small, big in costs.values()), costs
    with database.engine.begin() as conn:  # a page far in the past: the filter's indexes
        past = q.PostingFilter(since=now - timedelta(hours=23), to=now - timedelta(hours=22))
        st_ = queries.ids_statement(conn.dialect, seller, past, desc=True, limit=51)
        assert len(conn.exec_driver_sql(st_.sql, st_.params).all()) == 51
