"""``peakline simulate``: one replication of a scenario, with a progress bar and a summary."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from simulator.commands.common import bad_input, console, scenario_or_exit
from simulator.metrics import KPI_DOC, RunResult, write_run_files
from simulator.scenario import PolicyChoice, Scenario

#: KPIs of the summary table: (name, label, format).
SUMMARY = [
    ("orders_demanded", "orders demanded", "{:,.0f}"),
    ("orders_placed", "orders placed", "{:,.0f}"),
    ("orders_delivered", "delivered", "{:,.0f}"),
    ("orders_cancelled", "cancelled", "{:,.0f}"),
    ("orders_not_accepted", "not accepted", "{:,.0f}"),
    ("orders_in_flight", "in flight at the end", "{:,.0f}"),
    ("line_fill_rate", "line fill rate", "{:.2%}"),
    ("order_fill_rate", "order fill rate", "{:.2%}"),
    ("lost_sales_rub", "lost sales, RUB", "{:,.0f}"),
    ("cycle_time_p50_hours", "cycle time p50 / p95, h", None),
    ("lead_time_p50_hours", "lead time p50 / p95 / p99, h", None),
    ("on_time_rate", "on time", "{:.2%}"),
    ("avg_on_hand_units", "avg on hand, units", "{:,.0f}"),
    ("stockout_sku_hours", "stock-out SKU-hours", "{:,.0f}"),
    ("total_cost_rub", "total cost, RUB (hold / transport / stock-out)", None),
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
        raise bad_input(str(exc)) from None
    except (TypeError, ValueError) as exc:
        raise bad_input(f"{kind} policy {name!r}: {exc}") from None


def summary_table(result: RunResult) -> Table:
    k = result.kpis
    table = Table(title=f"{result.scenario} · seed {result.seed} · allocation "
                  f"{result.allocation} · replenishment {result.replenishment}")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for name, label, fmt in SUMMARY:
        if name == "cycle_time_p50_hours":
            value = f"{k['cycle_time_p50_hours']:.1f} / {k['cycle_time_p95_hours']:.1f}"
        elif name == "lead_time_p50_hours":
            value = (f"{k['lead_time_p50_hours']:.1f} / {k['lead_time_p95_hours']:.1f} / "
                     f"{k['lead_time_p99_hours']:.1f}")
        elif name == "total_cost_rub":
            value = (f"{k['total_cost_rub']:,.0f} ({k['holding_cost_rub']:,.0f} / "
                     f"{k['transport_cost_rub']:,.0f} / {k['stockout_cost_rub']:,.0f})")
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


def simulate(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    seed: int = typer.Option(1, "--seed", help="random seed of the replication"),
    allocation: str = typer.Option(None, "--allocation", help="allocation policy name "
                                   "(default: the scenario's)"),
    replenishment: str = typer.Option(None, "--replenishment", help="replenishment policy "
                                      "name (default: the scenario's)"),
    out: Path = typer.Option(None, "--out", help="output directory (default out/<scenario>)"),
    report: bool = typer.Option(True, "--report/--no-report", help="also write report.html"),
) -> None:
    """Run one replication of SCENARIO; write result.json, CSV series and report.html to --out."""
    from simulator.model import Simulation

    sc = scenario_or_exit(scenario)
    if seed < 0:
        raise bad_input("--seed must be >= 0")
    alloc = _policy("allocation", allocation, sc)
    repl = _policy("replenishment", replenishment, sc)
    out = out or Path("out") / sc.name
    columns = (TextColumn("[bold]{task.description}"), BarColumn(),
               TextColumn("{task.fields[sim]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(f"simulate {sc.name}", total=1.0, sim="preparing")
        sim = Simulation(sc, seed, allocation=alloc, replenishment=repl)
        bar.update(task, sim=f"{sim.arrivals.count:,} orders")

        def progress(done: float, total: float) -> None:
            bar.update(task, completed=done / total,
                       sim=f"{done / 60:,.0f} / {total / 60:,.0f} h simulated")

        result = sim.run(progress)
    console.print(summary_table(result))
    files = write_run_files(result, out)
    rate = sim.arrivals.count / max(result.wall_seconds, 1e-9)
    console.print(f"{sim.arrivals.count:,} orders in {result.wall_seconds:.1f} s "
                  f"({rate:,.0f} orders/s); wrote {len(files)} files to {out}/ "
                  f"(KPIs explained in kpis.csv; {len(KPI_DOC)} KPIs)")
    if report:
        from reports.run_report import write_run_report

        path = write_run_report(result, out / "report.html")
        console.print(f"HTML report: [bold]{path}[/]")


def register(app: typer.Typer) -> None:
    app.command()(simulate)
