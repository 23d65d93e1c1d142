"""History seeding: how fast ``peakline seed --history-days N`` replays a simulated past.

Seeds a fresh SQLite database from ``smoke.yaml`` at 8 orders an hour (returns on, ample
stock), simulates N days (default 7) and replays them (``reference_backend.sellers.history``),
timing the simulation and the replay apart, in CPU seconds of this process and wall seconds.
The baseline, in the same process and database kind: the same orders placed alone (no
cancellations, packing, hand-overs, deliveries or returns), so the ratio says what the rest
of the lifecycle costs whatever the machine's load.

    .venv/bin/python benchmarks/history_seeding.py [--days 7]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import yaml

from reference_backend.db import Database
from reference_backend.migrations import upgrade
from reference_backend.sellers.history import replay_history
from reference_backend.sellers.service import seed_scenario
from reference_backend.settings import Settings
from simulator.calibration.history import History
from simulator.calibration.simulated_history import simulate_history
from simulator.scenario import parse_scenario

SMOKE = Path(__file__).resolve().parent.parent / "scenarios" / "smoke.yaml"


def _scenario(days: int):  # type: ignore[no-untyped-def]
    data = yaml.safe_load(SMOKE.read_text())
    data["demand"].update(baseline_orders_per_hour=8, return_probability=0.06, peaks=[])
    data["stock"]["initial"] = [{"warehouse": "*", "days_of_cover": 4 * days}]
    data["faults"] = []
    return parse_scenario(data)


def _timed(step):  # type: ignore[no-untyped-def]
    cpu, wall = time.process_time(), time.perf_counter()
    result = step()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def _seed(folder: Path, name: str, scenario, days: int, orders_only: bool):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{folder / name}.db"
    upgrade(url)
    settings = Settings(database_url=url)
    database = Database(url, settings)
    try:
        with database.session() as session:
            creds = seed_scenario(session, scenario=scenario, settings=settings)
            ids = [creds.warehouses[w.id] for w in scenario.network.warehouses]
            history, sim_cpu, sim_wall = _timed(lambda: simulate_history(
                scenario, days=days, end=datetime.now(UTC), seed=1,
                sku_id=lambda k: creds.sku_base + k, warehouse_id=lambda w: ids[w]))
            if orders_only:
                history = History(history.since, history.to, history.source, [
                    replace(p, status="awaiting_packaging", cancelled_at=None, packed_at=None,
                            delivering_date=None, delivered_at=None)
                    for p in history.postings], receipts=history.receipts)
            report, cpu, wall = _timed(lambda: replay_history(
                session, seller_id=creds.seller_id, history=history))
    finally:
        database.dispose()
    return report, sim_cpu, sim_wall, cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    scenario = _scenario(args.days)
    with tempfile.TemporaryDirectory(prefix="peakline-history-bench-") as folder:
        base, *_, base_cpu, base_wall = _seed(Path(folder), "orders", scenario, args.days, True)
        report, sim_cpu, sim_wall, cpu, wall = _seed(Path(folder), "history", scenario,
                                                     args.days, False)
    print(f"{args.days} days of smoke at 8 orders/h, SQLite; {report.summary()}")
    print(f"simulation: {sim_cpu:.1f} s CPU ({sim_wall:.1f} s wall)")
    print(f"replay:     {cpu:.1f} s CPU ({wall:.1f} s wall): {report.orders / cpu:,.0f} orders/s "
          f"of CPU ({report.orders / wall:,.0f}/s wall)")
    ratio = (cpu / report.orders) / (base_cpu / base.orders)
    print(f"baseline, the orders alone: {base.orders / base_cpu:,.0f} orders/s of CPU "
          f"({base_cpu:.1f} s); the whole lifecycle costs x{ratio:.2f} an order")


if __name__ == "__main__":
    main()
