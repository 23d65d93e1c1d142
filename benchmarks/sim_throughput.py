"""Simulator throughput: the batched model against a naive one-process-per-order model.

Runs the bundled peak day (``scenarios/peak_day.yaml``; a scaled smoke world if it is missing)
and prints, for each run: orders, wall and CPU seconds, simulated orders per second (wall and
CPU; the machine may be shared, CPU time is the steadier figure) and the peak resident memory
of the process that ran it (each run is a fresh subprocess). Then the naive baseline on the
same orders -- one SimPy process per order, ``simpy.Resource`` pickers and sorters, the same
allocation and replenishment policy objects called per order -- and the speed ratio. With
``--scale`` runs the peak day scaled to about 1M and 5M orders (demand and every capacity
multiplied alike). Each figure is set against its target (issue 20), and the peak day's
rate against a pure-Python heap of server-free times through one FIFO stage (the ceiling of
any per-customer Python model, per stage). The batched peak day takes about 2 s, where one
run swings by 1.3x on a shared machine: it runs ``--repeat`` times (5) and its median is the
figure compared (the naive model's single run takes over a minute and averages itself).

    .venv/bin/python benchmarks/sim_throughput.py              # peak day + naive baseline
    .venv/bin/python benchmarks/sim_throughput.py --scale 1e6 5e6
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import simpy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.scenario import Scenario, load_scenario, parse_scenario  # noqa: E402

TARGET_RATE = 100_000  # orders per CPU second on the peak day, every KPI on
TARGET_RATIO = 30  # x the naive model's CPU time
LARGE_CPU_SECONDS, LARGE_PEAK_MIB = 50, 2048  # a 5M-order day

# --------------------------------------------------------------------------- scenarios


def peak_day() -> Scenario:
    path = ROOT / "scenarios" / "peak_day.yaml"
    if path.exists():
        return load_scenario(path)
    smoke = load_scenario(ROOT / "scenarios" / "smoke.yaml")  # fallback: smoke x 170
    return scaled(smoke.with_overrides(**{"catalogue.sku_count": 2000}), 170)


def scaled(scenario: Scenario, factor: float) -> Scenario:
    """Demand and every capacity (pickers, sorters, hubs, trucks) times ``factor``."""
    data = scenario.model_dump(by_alias=True)
    data["demand"]["baseline_orders_per_hour"] *= factor
    for wh in data["network"]["warehouses"]:
        for shift in wh["shifts"]:
            shift["capacity_per_hour"] *= factor
    for node in data["network"]["sorting_centres"] + data["network"]["hubs"]:
        node["capacity_per_hour"] *= factor
    for lane in data["network"]["lanes"]:
        lane["truck_capacity"] = math.ceil(lane["truck_capacity"] * factor)
    for rule in data["stock"]["initial"]:
        if rule.get("units"):
            rule["units"] = math.ceil(rule["units"] * factor)
    data["name"] = f"{scenario.name}_x{factor:g}"
    return parse_scenario(data)


def expected_orders(scenario: Scenario) -> float:
    from simulator.demand import DemandCurve, build_skus

    return float(DemandCurve(scenario, build_skus(scenario.catalogue)).rate.sum())


# --------------------------------------------------------------------------- the batched model


def run_batched(scenario: Scenario, seed: int) -> dict[str, Any]:
    from simulator.model import Simulation

    wall, cpu = time.perf_counter(), time.process_time()
    sim = Simulation(scenario, seed)
    result = sim.run()
    return {"orders": sim.arrivals.count, "wall": time.perf_counter() - wall,
            "cpu": time.process_time() - cpu, "kpis": result.kpis}


# --------------------------------------------------------------------------- the naive model


def run_naive(scenario: Scenario, seed: int) -> dict[str, Any]:
    """The same orders, one SimPy process each; pickers and sorters are ``simpy.Resource``.

    Per order: wait for its arrival; allocate through the scenario's allocation policy;
    reserve; ask the replenishment policy about every touched (SKU, warehouse) (purchase
    orders arrive after a sampled lead time); per posting, request a picker (one unit a
    minute each; as many pickers as the warehouse's mean hourly capacity / 60), travel each
    lane of the route (sampled transit), request a sorter at a sorting centre (one parcel a
    minute; capacity/60 sorters); record delivery. KPIs: counts, fill rate, lead-time
    percentiles, utilisation by resource busy time.
    """
    import simulator.policies  # noqa: F401
    from simulator.demand import DemandCurve, build_skus, sample_arrivals
    from simulator.model import make_streams
    from simulator.network import SORTING_CENTRE, LiveNetworkView, Network
    from simulator.policies.base import (
        InventoryState,
        OrderLine,
        OrderRequest,
        Refusal,
        allocation_policies,
        replenishment_policies,
    )
    from simulator.stocking import initial_stock

    wall, cpu = time.perf_counter(), time.process_time()
    streams = make_streams(seed)
    net = Network(scenario)
    skus = build_skus(scenario.catalogue)
    curve = DemandCurve(scenario, skus)
    arrivals = sample_arrivals(scenario, curve, streams)
    choice = scenario.policies
    allocation = allocation_policies.create(choice.allocation.name, choice.allocation.params)
    replenishment = replenishment_policies.create(choice.replenishment.name,
                                                  choice.replenishment.params)
    stock0 = initial_stock(scenario, skus.group, skus.group_names, curve.sku_daily_units())
    wh_ids = net.warehouse_ids
    avail = {w: stock0[:, i].tolist() for i, w in enumerate(wh_ids)}
    on_order = {w: [0] * skus.count for w in wh_ids}

    class Stock:
        def available(self, sku: int, warehouse: str) -> int:
            return avail[warehouse][sku]

    from simulator.actors.schedule import shift_rates

    capacity = [float(np.mean(shift_rates(w.shifts))) * 60 for w in scenario.network.warehouses]
    view = LiveNetworkView(net, capacity)
    env = simpy.Environment()
    pickers = {w: simpy.Resource(env, capacity=max(1, round(c / 60)))
               for w, c in zip(wh_ids, capacity, strict=True)}
    sorters = {net.index[sc.id]:
               simpy.Resource(env, capacity=max(1, round(sc.capacity_per_hour / 60)))
               for sc in scenario.network.sorting_centres}
    rng = streams["transit"]
    lead = scenario.stock.supplier_lead_time_days
    mean_daily = curve.sku_daily_units() / len(wh_ids)
    region_ids = net.region_ids
    lead_times: list[float] = []
    stats = {"refused": 0, "busy_pick": 0.0, "busy_sort": 0.0, "reorders": 0}

    def supplier(w: str, sku: int, qty: int):
        yield env.timeout(float(lead.sample(rng, 1)[0]) * 1440)
        avail[w][sku] += qty
        on_order[w][sku] -= qty

    def order(i: int):
        yield env.timeout(arrivals.time[i] - env.now)
        a, b = arrivals.line_start[i], arrivals.line_start[i + 1]
        lines = tuple(OrderLine(int(s), int(q)) for s, q in zip(arrivals.sku[a:b].tolist(),
                                                               arrivals.qty[a:b].tolist(),
                                                               strict=True))
        region = int(arrivals.region[i])
        result = allocation.allocate(OrderRequest(region_ids[region], lines), Stock(), view)
        if isinstance(result, Refusal):
            stats["refused"] += 1
            return
        postings: dict[str, int] = {}
        for pick in result.picks:
            sku = lines[pick.line].sku
            avail[pick.warehouse][sku] -= pick.quantity
            postings[pick.warehouse] = postings.get(pick.warehouse, 0) + pick.quantity
            state = InventoryState(sku, pick.warehouse, env.now / 60,
                                   avail[pick.warehouse][sku], 0, on_order[pick.warehouse][sku],
                                   float(mean_daily[sku]), math.sqrt(mean_daily[sku]),
                                   lead.mean, math.sqrt(lead.variance))
            qty = replenishment.order_quantity(state)
            if qty > 0:
                on_order[pick.warehouse][sku] += qty
                stats["reorders"] += 1
                env.process(supplier(pick.warehouse, sku, qty))
        for warehouse, units in postings.items():
            with pickers[warehouse].request() as req:
                yield req
                yield env.timeout(units)
                stats["busy_pick"] += units
            route = net.table[wh_ids.index(warehouse), region]
            for lane in net.route_lanes[route]:
                info = net.lanes[lane]
                yield env.timeout(float(info.spec.transit_hours.sample(rng, 1)[0]) * 60)
                if net.kinds[info.dst] == SORTING_CENTRE:
                    with sorters[info.dst].request() as req:
                        yield req
                        yield env.timeout(1.0)
                        stats["busy_sort"] += 1
        lead_times.append((env.now - arrivals.time[i]) / 60)

    for i in range(arrivals.count):
        env.process(order(i))
    env.run()
    lt = np.asarray(lead_times)
    kpis = {"orders_placed": arrivals.count - stats["refused"], "orders_delivered": lt.size,
            "lead_time_p50_hours": float(np.percentile(lt, 50)) if lt.size else math.nan,
            "lead_time_p95_hours": float(np.percentile(lt, 95)) if lt.size else math.nan,
            "replenishment_orders": stats["reorders"]}
    return {"orders": arrivals.count, "wall": time.perf_counter() - wall,
            "cpu": time.process_time() - cpu, "kpis": kpis}


# --------------------------------------------------------------------------- the ceiling


def heap_ceiling(n: int = 1_000_000, servers: int = 10, seed: int = 1) -> float:
    """Customers per CPU second through one FIFO stage of ``servers`` servers in pure Python
    (a heap of the times each server is free): what any per-customer Python model is bounded
    by, per stage it models."""
    import heapq

    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0, n)).tolist()
    service = rng.exponential(servers * 0.9, n).tolist()
    cpu = time.process_time()
    free = [0.0] * servers
    for a, s in zip(arrivals, service, strict=True):
        start = a if a > free[0] else free[0]
        heapq.heapreplace(free, start + s)
    return n / (time.process_time() - cpu)


# --------------------------------------------------------------------------- harness


def _child(kind: str, factor: float, seed: int, queue: mp.Queue) -> None:
    scenario = peak_day() if factor == 1 else scaled(peak_day(), factor)
    run = run_batched if kind == "batched" else run_naive
    out = run(scenario, seed)
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(out)


def measure(kind: str, factor: float = 1.0, seed: int = 1) -> dict[str, Any]:
    """Run in a fresh process so the peak memory is that run's alone."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(kind, factor, seed, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median CPU time (all runs simulate the same orders)."""
    cpu = statistics.median_low(r["cpu"] for r in runs)
    return next(r for r in runs if r["cpu"] == cpu)


def line(label: str, r: dict[str, Any]) -> str:
    return (f"{label:<34} {r['orders']:>10,} orders  wall {r['wall']:7.1f} s  cpu {r['cpu']:7.1f} s"
            f"  {r['orders'] / r['wall']:>9,.0f} orders/s wall  {r['orders'] / r['cpu']:>9,.0f}"
            f" orders/s cpu  peak {r['peak_mib']:7.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, nargs="*", default=[],
                        help="also run the peak day scaled to about this many orders")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive baseline")
    parser.add_argument("--repeat", type=int, default=5,
                        help="runs of the batched peak day (the median is compared)")
    args = parser.parse_args()
    base = peak_day()
    print(f"scenario {base.name}: about {expected_orders(base):,.0f} orders")
    runs = [measure("batched") for _ in range(max(1, args.repeat))]
    batched = median_run(runs)
    cpus = sorted(r["cpu"] for r in runs)
    print(line(f"batched model (all KPIs), median of {len(runs)}", batched))
    print(f"  cpu seconds of the {len(runs)} runs: {', '.join(f'{c:.2f}' for c in cpus)}")
    rate = batched["orders"] / batched["cpu"]
    ceiling = heap_ceiling()
    print(f"ceiling: a pure-Python heap, one FIFO stage: {ceiling:,.0f} customers/s cpu "
          f"(the batched model runs each order through a warehouse, 1-2 sorting centres, a "
          f"hub and 2-4 lanes at {rate / ceiling:.2f}x that rate)")
    print(f"target >= {TARGET_RATE:,} orders/s cpu: {'met' if rate >= TARGET_RATE else 'NOT met'}")
    if not args.no_naive:
        naive = measure("naive")
        print(line("naive: a SimPy process per order", naive))
        ratio = naive["cpu"] / batched["cpu"]
        print(f"speed-up batched / naive: {ratio:.1f}x CPU time, "
              f"{naive['wall'] / batched['wall']:.1f}x wall time; target >= {TARGET_RATIO}x: "
              f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}")
    for target in args.scale:
        factor = target / expected_orders(base)
        r = measure("batched", factor)
        print(line(f"batched, peak day x{factor:.2f}", r))
        if target >= 5e6:
            ok = r["cpu"] < LARGE_CPU_SECONDS and r["peak_mib"] < LARGE_PEAK_MIB
            print(f"target for a 5M-order day: < {LARGE_CPU_SECONDS} s cpu and < "
                  f"{LARGE_PEAK_MIB / 1024:g} GiB: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
