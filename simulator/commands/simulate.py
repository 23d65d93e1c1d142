"""``peakline simulate``: one replication of a scenario, with a progress bar and a summary."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich import box
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from peakline.common import (
    JSON_OUT,
    MAX_MEMORY,
    MAX_TIME,
    QUIET,
    bad_input,
    complete_policies,
    duration_seconds,
    fits_or_exit,
    interrupt_says_what_was_written,
    memory_size,
    policy_help,
    print_json,
    scenario_or_exit,
    ui_console,
    unknown_name,
)
from simulator.metrics import KPI_DOC, RunResult, write_run_files
from simulator.outcomes import OUTCOMES
from simulator.scenario import PolicyChoice, Scenario
from simulator.sizing import Workload, estimate

#: KPIs of the summary table: (name, label, format).
SUMMARY = [
    ("orders_demanded", "orders demanded", "{:,.0f}"),
    ("orders_placed", "orders placed", "{:,.0f}"),
    ("orders_delivered", "delivered: on time / late", None),
    ("orders_cancelled", "cancelled", "{:,.0f}"),
    ("orders_not_accepted", "not accepted", "{:,.0f}"),
    ("orders_in_flight", "in flight at the end: late / not yet due", None),
    ("line_fill_rate", "line fill rate", "{:.2%}"),
    ("order_fill_rate", "order fill rate", "{:.2%}"),
    ("lost_sales_rub", "lost sales, RUB", "{:,.0f}"),
    ("cycle_time_p50_hours", "cycle time p50 / p95, h", None),
    ("lead_time_p50_hours", "lead time p50 / p95 / p99, h", None),
    ("on_time_rate", "on time (of the orders that were due)", "{:.2%}"),
    ("warehouse_wait_hours_mean", "mean wait: picking / sorting, h", None),
    ("avg_on_hand_units", "avg on hand, units", "{:,.0f}"),
    ("stockout_sku_hours", "stock-out SKU-hours", "{:,.0f}"),
    ("total_cost_rub", "total cost, RUB (hold / transport / returns / supply / stock-out)",
     None),
    ("picker_utilisation", "utilisation: pickers / sorting / trucks", None),
    ("returns_requested", "returns: requested / units restocked / in transit", None),
]


def _policy(kind: str, name: str | None, scenario: Scenario):
    """The policy object for ``--allocation``/``--replenishment`` (scenario params if same name)."""
    import simulator.policies  # noqa: F401  (registers the built-ins)
    from simulator.policies.base import (
        UnknownPolicy,
        allocation_policies,
        replenishment_policies,
    )

    chosen: PolicyChoice = getattr(scenario.policies, kind)
    registry = allocation_policies if kind == "allocation" else replenishment_policies
    name = name or chosen.name
    params = chosen.params if name == chosen.name else {}
    try:
        return registry.create(name, params)
    except UnknownPolicy as exc:
        raise unknown_name(f"{kind} policy", name, exc.known) from None
    except (TypeError, ValueError) as exc:
        raise bad_input(f"{kind} policy {name!r}: {exc}") from None


def summary_table(result: RunResult) -> Table:
    k = result.kpis
    table = Table(title=f"{result.scenario} · seed {result.seed} · allocation "
                  f"{result.allocation} · replenishment {result.replenishment}")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for name, label, fmt in SUMMARY:
        if name == "orders_delivered":
            value = (f"{k['orders_delivered_on_time']:,.0f} / {k['orders_delivered_late']:,.0f}")
        elif name == "orders_in_flight":
            value = f"{k['orders_in_flight_late']:,.0f} / {k['orders_not_yet_due']:,.0f}"
        elif name == "warehouse_wait_hours_mean":
            value = f"{k['warehouse_wait_hours_mean']:.3f} / {k['sorting_wait_hours_mean']:.3f}"
        elif name == "cycle_time_p50_hours":
            value = f"{k['cycle_time_p50_hours']:.1f} / {k['cycle_time_p95_hours']:.1f}"
        elif name == "lead_time_p50_hours":
            value = (f"{k['lead_time_p50_hours']:.1f} / {k['lead_time_p95_hours']:.1f} / "
                     f"{k['lead_time_p99_hours']:.1f}")
        elif name == "total_cost_rub":
            parts = ("holding", "transport", "return_transport", "supply", "stockout")
            value = (f"{k['total_cost_rub']:,.0f} ("
                     + " / ".join(f"{k.get(f'{p}_cost_rub', 0):,.0f}" for p in parts) + ")")
        elif name == "returns_requested":
            value = (f"{k['returns_requested']:,.0f} / {k['units_returned_to_stock']:,.0f} / "
                     f"{k['returns_in_transit_at_end']:,.0f}")
        elif name == "picker_utilisation":
            value = (f"{k['picker_utilisation']:.0%} / {k['sorting_utilisation']:.0%} / "
                     f"{k['truck_utilisation']:.0%}")
        else:
            value = fmt.format(k[name])
        table.add_row(label, value.replace("nan", "–"))
    return table


def write_run_meta(path: Path, *, wall_seconds: float, orders: int) -> Path:
    """``run_meta.json``: what varies between identical runs (wall time, host, versions), kept
    apart from the result files, which the seed alone determines."""
    import importlib.metadata
    import json
    import platform
    from datetime import UTC, datetime

    versions = {name: importlib.metadata.version(name)
                for name in ("peakline", "numpy", "simpy", "scipy")}
    meta = {"finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "wall_seconds": round(wall_seconds, 3),
            "orders_per_second": round(orders / max(wall_seconds, 1e-9), 1),
            "host": platform.node(), "python": platform.python_version(), "versions": versions}
    path.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return path


def region_table(result: RunResult) -> Table | None:
    """Delivery per buyer region: order outcomes, on-time rate and lead time."""
    rows = result.tables.get("regions") or []
    if not rows:
        return None
    caption = ("d: promise, days; on time / late: delivered; overdue: in flight past the "
               "promise (late); not due: in flight, promise still ahead (left out); refused: "
               "not accepted. On time = on time / (delivered + overdue + refused); lead time "
               "p50 / p95 counts overdue orders at their age at the end.")
    table = Table(title="delivery by region", box=box.SIMPLE_HEAD, padding=(0, 0, 0, 1),
                  caption=caption)
    for label in ("region", "d", "on time", "late", "overdue", "not due", "refused",
                  "on-time", "p50 h", "p95 h"):
        table.add_column(label, justify="left" if label == "region" else "right", no_wrap=True)
    for r in rows:
        cells = [f"{r['promised_days']:g}"]
        cells += [f"{r[f'orders_{k}']:,}" for k in ("delivered_on_time", "delivered_late",
                                                    "in_flight_late", "not_yet_due",
                                                    "not_accepted")]
        cells += [f"{r['on_time_rate']:.1%}", f"{r['lead_time_p50_hours']:.1f}",
                  f"{r['lead_time_p95_hours']:.1f}"]
        table.add_row(r["region"], *(c.replace("nan%", "–").replace("nan", "–") for c in cells))
    return table


def not_yet_due_warning(result: RunResult, share: float = 0.1) -> str:
    """Regions whose on-time rate leaves out more than ``share`` of their orders, in words."""
    rows = [r for r in result.tables.get("regions") or []
            if r["orders_not_yet_due"] > share * sum(r[f"orders_{k}"] for k in OUTCOMES)]
    if not rows:
        return ""
    names = ", ".join(f"{r['region']} ({r['orders_not_yet_due']:,})" for r in rows)
    return (f"Not yet due at the end, so not judged: {names}. Their on-time rate covers the "
            f"rest only; lengthen clock.drain_hours to see these orders arrive.")


def demand_sentence(result: RunResult) -> str:
    """How the demand that happened compared with the forecast stock was planned on."""
    ratio, orders = result.kpis["demand_vs_forecast"], result.kpis["orders_demanded"]
    if not ratio or not math.isfinite(ratio):  # no orders, or a forecast of none
        expected = "none" if orders else "some"
        return (f"realised demand: {orders:,.0f} orders where the forecast expected {expected} "
                "(stock and policy levels are planned on the forecast)")
    word = "bigger than" if ratio > 1.005 else "smaller than" if ratio < 0.995 else "as"
    return (f"realised demand {ratio:.2f}x forecast: {orders:,.0f} orders against "
            f"{orders / ratio:,.0f} forecast ({word} planned; stock and policy levels are "
            f"planned on the forecast)")


def replenishment_sentence(result: RunResult, share: float = 0.01) -> str:
    """What the replenishment policy did in this run, and whether it could matter, in words."""
    kpis = result.kpis
    filled = sum(row["filled_units"] for row in result.tables.get("sku_warehouse") or [])
    received = kpis["units_received"]
    text = (f"replenishment ({result.replenishment}): {kpis['replenishment_orders']:,.0f} "
            f"supplier orders for {kpis['replenishment_units']:,.0f} units, "
            f"{received:,.0f} units arrived before the end")
    if filled and received < share * filled:
        text += (f"; the initial stock served {1 - received / filled:.1%} of the "
                 f"{filled:,.0f} units sold, so another replenishment policy could barely "
                 f"change this run (lengthen the horizon or start with less stock to compare "
                 f"policies)")
    return text


def simulate(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    seed: int = typer.Option(1, "--seed", help="random seed of the replication"),
    allocation: str = typer.Option(None, "--allocation", help=policy_help(
        "allocation", "allocation policy (default: the scenario's)"),
        autocompletion=complete_policies("allocation")),
    replenishment: str = typer.Option(None, "--replenishment", help=policy_help(
        "replenishment", "replenishment policy (default: the scenario's)"),
        autocompletion=complete_policies("replenishment")),
    out: Path = typer.Option(None, "--out", help="output directory "
                             "(default out/NAME, NAME the scenario's name)"),
    report: bool = typer.Option(True, "--report/--no-report", help="also write report.html"),
    max_memory: str = MAX_MEMORY,
    max_time: str = MAX_TIME,
    quiet: bool = QUIET,
    json_out: bool = JSON_OUT,
) -> None:
    """Run one replication of SCENARIO and write its files.

    Writes result.json, CSV series and report.html to --out (identical for the same seed),
    and run_meta.json (wall time, host, versions).
    """
    from simulator.model import Simulation

    sc = scenario_or_exit(scenario)
    if seed < 0:
        raise bad_input("--seed must be >= 0")
    alloc = _policy("allocation", allocation, sc)
    repl = _policy("replenishment", replenishment, sc)
    ui = ui_console(quiet=quiet, json_out=json_out)
    fits_or_exit(sc.name, Workload.of([estimate(sc)], jobs=1), max_memory=memory_size(max_memory),
                 max_time=duration_seconds(max_time), ui=ui)
    out = out or Path("out") / sc.name
    columns = (TextColumn("[bold]{task.description}"), BarColumn(),
               TextColumn("{task.fields[sim]}"), TimeElapsedColumn())
    with interrupt_says_what_was_written(out):
        with Progress(*columns, console=ui, transient=False, disable=quiet) as bar:
            task = bar.add_task(f"simulate {sc.name}", total=1.0, sim="preparing")
            sim = Simulation(sc, seed, allocation=alloc, replenishment=repl)
            bar.update(task, sim=f"{sim.arrivals.count:,} orders")

            def progress(done: float, total: float) -> None:
                bar.update(task, completed=done / total,
                           sim=f"{done / 60:,.0f} / {total / 60:,.0f} h simulated")

            result = sim.run(progress)
        if not json_out:
            ui.print(summary_table(result))
            if (regions := region_table(result)) is not None:
                ui.print(regions)
            if warning := not_yet_due_warning(result):
                ui.print(f"[yellow]{warning}[/]")
            ui.print(demand_sentence(result), highlight=False)
            ui.print(replenishment_sentence(result), highlight=False)
        with ui.status(f"writing files to {out}/ ...") as status:
            files = write_run_files(result, out)
            if report:
                from reports.run_report import write_run_report

                status.update(f"writing {out / 'report.html'} ...")
                files.append(write_run_report(result, out / "report.html"))
            files.append(write_run_meta(out / "run_meta.json", wall_seconds=sim.wall_seconds,
                                        orders=sim.arrivals.count))
    rate = sim.arrivals.count / max(sim.wall_seconds, 1e-9)
    ui.print(f"{sim.arrivals.count:,} orders in {sim.wall_seconds:.1f} s "
             f"({rate:,.0f} orders/s); wrote {len(files)} files to {out}/ "
             f"(KPIs explained in kpis.csv; {len(KPI_DOC)} KPIs)")
    if report:
        ui.print(f"HTML report: [bold]{out / 'report.html'}[/]")
    if json_out:
        print_json({"scenario": result.scenario, "seed": result.seed,
                    "allocation": result.allocation, "replenishment": result.replenishment,
                    "kpis": result.kpis, "files": [str(f) for f in files]})


def register(app: typer.Typer) -> None:
    app.command()(simulate)
