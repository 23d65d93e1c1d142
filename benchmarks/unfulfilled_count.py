"""CPU of an unfulfilled list's ``count``: kept tallies (migration 0010) against ``count(*)``,
and what the tallies' triggers add to a buyer order.

For each database (a SQLite file; PostgreSQL when ``--pg`` is given) and each number of open
postings of one seller (``--open 20000 200000``), on a fresh database seeded from the smoke
scenario: the statement an unfulfilled list runs (a page of 50 ids and the count, one
statement) with the count summed from the tallies (``after``) and counted
(``before``, :func:`~reference_backend.postings.queries.matching_count_statement`), for a
filter without a window and with a cutoff window that covers every open posting (as
integrations send one), and one that does not (counted both ways). CPU per statement is this
process's plus the PostgreSQL backend's that answered it (``/proc/<pid>/stat``), so it does
not depend on what else the machine runs. Then buyer orders placed one by one through the
app (in process), with the tallies' insert trigger and without it (dropped for the run, then
created again, in turns), as orders per CPU second (this process and every
PostgreSQL backend of the database).

    .venv/bin/python benchmarks/unfulfilled_count.py --pg postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Connection, select, text, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from backend_throughput import fresh_postgres  # noqa: E402

from reference_backend.app import create_app  # noqa: E402
from reference_backend.db import Database  # noqa: E402
from reference_backend.migrations import upgrade  # noqa: E402
from reference_backend.postings import queries  # noqa: E402
from reference_backend.postings.service import DEFAULT_UNFULFILLED, PostingFilter  # noqa: E402
from reference_backend.sellers.service import seed_scenario  # noqa: E402
from reference_backend.settings import Settings  # noqa: E402
from reference_backend.tables import Posting  # noqa: E402
from simulator.scenario import load_scenario  # noqa: E402

SMOKE = ROOT / "scenarios" / "smoke.yaml"
_SPEC = importlib.util.spec_from_file_location(
    "m0010", ROOT / "reference_backend/migrations/versions/0010_posting_tallies.py")
m0010 = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(m0010)
TICK = os.sysconf("SC_CLK_TCK")
COPIED = ", ".join(c.name for c in Posting.__table__.columns
                   if c.name not in ("id", "posting_number", "status"))


def _backend_cpu(pids: list[int]) -> float:
    """CPU seconds the processes ``pids`` used so far (those gone count 0)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


class Cpu:
    """CPU of this process and of PostgreSQL backends (``pids()``) between two reads."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self.pids = pids

    @contextlib.contextmanager
    def measure(self, into: list[float]) -> Iterator[None]:
        pids = self.pids()
        start = time.process_time() + _backend_cpu(pids)
        yield
        into.append(time.process_time() + _backend_cpu(sorted(set(pids) | set(self.pids())))
                    - start)


@contextlib.contextmanager
def fresh_database(kind: str, pg: str | None) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/peakline.db"
        return
    assert pg is not None
    with fresh_postgres(pg) as url:
        yield url


def seed(url: str, open_postings: int) -> tuple[dict, datetime, datetime]:
    """A seller with ``open_postings`` open postings (statuses in turn); their cutoff span."""
    upgrade(url)
    settings = Settings(database_url=url)
    db = Database(url, settings)
    with db.session() as session:
        creds = seed_scenario(session, scenario=load_scenario(SMOKE), settings=settings,
                              name=None).to_dict()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE stock SET present = present + 1000000"))
    with TestClient(create_app(settings)) as client:
        _order(client, creds, 0)
    numbers = ("generate_series(1, :n) AS g(x)" if not db.is_sqlite else
               "(WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < :n)"
               " SELECT x FROM s) AS g")
    statuses = "CASE g.x % 3 WHEN 0 THEN 'awaiting_packaging' WHEN 1 THEN 'awaiting_deliver' " \
               "ELSE 'arbitration' END"
    with db.engine.begin() as conn:
        conn.execute(text(
            f"INSERT INTO postings (posting_number, status, {COPIED}) SELECT 'B-' || g.x, "
            f"{statuses}, {COPIED} FROM postings, {numbers} WHERE postings.id = "
            f"(SELECT min(id) FROM postings)"), {"n": open_postings - 1})
        low = conn.execute(select(Posting.shipment_date).order_by(Posting.id).limit(1)).scalar()
        high = low + timedelta(days=1)  # (half of them a day later)
        conn.execute(update(Posting).where(Posting.id % 2 == 0).values(shipment_date=high))
        conn.exec_driver_sql("ANALYZE")
    db.dispose()
    return creds, low, high


def _order(client: TestClient, creds: dict, i: int) -> None:
    answer = client.post("/marketplace/v1/orders", json={
        "client_id": creds["client_id"], "region": "R-MSK",
        "lines": [{"sku": creds["sku_base"] + i % 4, "quantity": 1}]},
        headers={"Authorization": f"Bearer {creds['platform_key']}",
                 "Idempotency-Key": uuid.uuid4().hex})
    assert answer.status_code == 201, answer.text


def _statement(conn: Connection, seller_id: int, flt: PostingFilter, tallied: bool
               ) -> queries.Statement:
    ids = queries.ids_statement(conn.dialect, seller_id, flt, desc=True, limit=51)
    count = (queries.count_statement if tallied else queries.matching_count_statement)(
        conn.dialect, seller_id, flt)
    return queries.counted(ids, count)


def per_statement(conn: Connection, cpu: Cpu, statement: queries.Statement,
                  min_s: float = 1.0) -> tuple[float, int]:
    """CPU ms per run of ``statement`` (run for ``min_s`` of CPU at least), and its count."""
    cur = conn.connection.driver_connection.cursor()
    cur.execute(statement.sql, statement.params)
    answer = cur.fetchall()
    count = next(int(row[0]) for row in answer if row[2] is None)
    runs, used = 0, []
    start = time.perf_counter()
    while not used or (sum(used) < min_s and time.perf_counter() - start < 20):
        with cpu.measure(used):
            for _ in range(10):
                cur.execute(statement.sql, statement.params)
                cur.fetchall()
        runs += 10
    cur.close()
    return 1000 * sum(used) / runs, count


def counts(url: str, creds: dict, low: datetime, high: datetime) -> list[str]:
    db = Database(url)
    lines = []
    with db.engine.connect() as conn:
        pid = None if db.is_sqlite else conn.execute(text("SELECT pg_backend_pid()")).scalar()
        cpu = Cpu(lambda: [pid] if pid else [])
        filters = {
            "no window": PostingFilter(statuses=DEFAULT_UNFULFILLED),
            "cutoff window covering all": PostingFilter(
                statuses=DEFAULT_UNFULFILLED, cutoff_from=low.replace(year=low.year - 1),
                cutoff_to=high.replace(year=high.year + 1)),
            "cutoff window, half of them": PostingFilter(
                statuses=DEFAULT_UNFULFILLED, cutoff_from=low, cutoff_to=low + timedelta(hours=1)),
        }
        for name, flt in filters.items():
            before, n_before = per_statement(conn, cpu, _statement(conn, creds["seller_id"],
                                                                   flt, False))
            after, n_after = per_statement(conn, cpu, _statement(conn, creds["seller_id"],
                                                                 flt, True))
            assert n_before == n_after, (name, n_before, n_after)
            lines.append(f"  {name:28s} count {n_after:>7,}  CPU/statement before "
                         f"{before:8.3f} ms  after {after:7.3f} ms  ({before / after:6.1f}x)")
    db.dispose()
    return lines


def orders(url: str, creds: dict, rounds: int, repeats: int = 3) -> list[str]:
    """Orders per CPU second with the tallies' insert trigger and without it, in turns
    (``repeats`` runs of ``rounds`` orders each; the medians)."""
    db = Database(url)
    sqlite = db.is_sqlite
    watcher = None if sqlite else db.engine.connect()

    def pids() -> list[int]:
        if watcher is None:
            return []
        return list(watcher.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")).scalars())

    cpu = Cpu(pids)
    create = next(s for s in (m0010.SQLITE if sqlite else m0010.POSTGRESQL)
                  if "posting_tallies_inserted AFTER INSERT" in s)
    drop = "DROP TRIGGER posting_tallies_inserted" + ("" if sqlite else " ON postings")
    rates: dict[str, list[float]] = {"with the trigger": [], "without": []}
    with TestClient(create_app(Settings(database_url=url))) as client:
        for i in range(20):  # (connections open, caches warm)
            _order(client, creds, i)
        for _ in range(repeats):
            for label, change in (("without", drop), ("with the trigger", create)):
                with db.engine.begin() as conn:
                    conn.exec_driver_sql(change)
                used: list[float] = []
                with cpu.measure(used):
                    for i in range(rounds):
                        _order(client, creds, i)
                rates[label].append(rounds / used[0])
    if watcher is not None:
        watcher.close()
    db.dispose()
    median = {label: statistics.median(runs) for label, runs in rates.items()}
    return [f"  orders {label:16s} {median[label]:6.0f} per CPU second (runs: "
            f"{', '.join(f'{r:.0f}' for r in runs)})" for label, runs in rates.items()] + [
        f"  orders with/without the trigger: {median['with the trigger'] / median['without']:.3f}"]


def inserts(url: str, rows: int = 50, statements: int = 200, repeats: int = 3) -> list[str]:
    """CPU per INSERT of ``rows`` postings (an order batch's), with the trigger and without,
    in turns (medians): what the trigger costs the database itself."""
    db = Database(url)
    sqlite = db.is_sqlite
    create = next(s for s in (m0010.SQLITE if sqlite else m0010.POSTGRESQL)
                  if "posting_tallies_inserted AFTER INSERT" in s)
    drop = "DROP TRIGGER posting_tallies_inserted" + ("" if sqlite else " ON postings")
    numbers = ("generate_series(1, :n) AS g(x)" if not sqlite else
               "(WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < :n)"
               " SELECT x FROM s) AS g")
    insert = text(f"INSERT INTO postings (posting_number, status, {COPIED}) SELECT "
                  f":prefix || g.x, 'awaiting_packaging', {COPIED} FROM postings, {numbers} "
                  f"WHERE postings.id = (SELECT min(id) FROM postings)")
    costs: dict[str, list[float]] = {"with the trigger": [], "without": []}
    with db.engine.connect() as conn:
        pid = None if sqlite else conn.execute(text("SELECT pg_backend_pid()")).scalar()
        conn.commit()
        cpu = Cpu(lambda: [pid] if pid else [])
        for r in range(repeats):
            for label, change in (("without", drop), ("with the trigger", create)):
                with conn.begin():
                    conn.exec_driver_sql(change)
                used: list[float] = []
                with cpu.measure(used):
                    for k in range(statements):
                        with conn.begin():
                            conn.execute(insert, {"n": rows,
                                                  "prefix": f"I{r}-{len(label)}-{k}-"})
                costs[label].append(1000 * used[0] / statements)
    db.dispose()
    median = {label: statistics.median(runs) for label, runs in costs.items()}
    added = 1000 * (median["with the trigger"] - median["without"]) / rows
    return [f"  INSERT of {rows} postings, one transaction, {label:16s} {median[label]:.3f} ms "
            f"CPU" for label in costs] + [f"  per posting the trigger adds {added:.1f} us"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", help="a PostgreSQL server URL (a database is made and dropped)")
    parser.add_argument("--db", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--open", nargs="+", type=int, default=[20_000, 200_000])
    parser.add_argument("--orders", type=int, default=300)
    args = parser.parse_args()
    for kind in args.db:
        if kind == "postgresql" and not args.pg:
            continue
        for n in args.open:
            with fresh_database(kind, args.pg) as url:
                creds, low, high = seed(url, n)
                print(f"{kind}, {n:,} open postings of one seller:", flush=True)
                print("\n".join(counts(url, creds, low, high)), flush=True)
                if n == args.open[0]:
                    print("\n".join(orders(url, creds, args.orders)), flush=True)
                    print("\n".join(inserts(url)), flush=True)


if __name__ == "__main__":
    main()
