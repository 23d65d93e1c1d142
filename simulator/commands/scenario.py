"""``peakline validate``: check a scenario file and summarise it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from peakline.common import console, scenario_or_exit
from simulator.scenario import Scenario
from simulator.sizing import available_memory, estimate, human_bytes, human_seconds
from simulator.zones import offset_minutes


def validate(scenario: Path = typer.Argument(..., help="scenario YAML file")) -> None:
    """Validate SCENARIO, print what it describes and how big a run is (exit 2 when broken)."""
    sc = scenario_or_exit(scenario)
    net = sc.network
    table = Table(title=f"scenario {sc.name}", show_header=False)
    table.add_row("horizon", f"{sc.clock.horizon_hours:g} h from {sc.clock.start} "
                  f"({sc.clock.time_zone})")
    table.add_row("clocks", _clocks(sc))
    table.add_row("baseline demand", f"{sc.demand.baseline_orders_per_hour:g} orders/h")
    table.add_row("peaks", escape(", ".join(p.name for p in sc.demand.peaks)) or "none")
    catalogue = sc.catalogue
    table.add_row("catalogue", f"{catalogue.sku_count} SKUs in {len(catalogue.groups)} groups")
    table.add_row(
        "network",
        f"{len(net.regions)} regions, {len(net.warehouses)} warehouses, "
        f"{len(net.sorting_centres)} sorting centres, {len(net.hubs)} hubs, {len(net.lanes)} lanes",
    )
    table.add_row(
        "policies",
        f"allocation {sc.policies.allocation.name}, replenishment {sc.policies.replenishment.name}",
    )
    table.add_row("faults", escape(", ".join(f.name for f in sc.faults)) or "none")
    size = estimate(sc)
    table.add_row("expected run", f"{size.orders:,.0f} orders ({size.lines:,.0f} lines) over "
                  f"{size.run_hours:,g} h; {size.events:,.0f} scheduled events")
    memory = f"about {human_bytes(size.memory_bytes)}"
    if (available := available_memory()) is not None:
        fits = size.memory_bytes <= available
        verdict = "fits" if fits else "[bold red]too big: simulate refuses it[/]"
        memory += f" ({human_bytes(available)} available now: {verdict})"
    table.add_row("memory", memory)
    table.add_row("time", f"about {human_seconds(size.cpu_seconds)} of CPU a replication "
                  f"(simulate, compare and plan-stock refuse runs over --max-time, 1 h unless "
                  f"given)")
    console.print(table)


def _clocks(sc: Scenario) -> str:
    """``"3 zones; nodes by local time vs the platform's: 30 at +0 h, 12 at +2 h, ..."``"""
    net, clock = sc.network, sc.clock
    nodes = (*net.regions, *net.warehouses, *net.sorting_centres, *net.hubs)
    zones = {n.time_zone or clock.time_zone for n in nodes}
    if zones == {clock.time_zone}:
        return "every node on the platform's clock"
    count: dict[int, int] = {}
    for node in nodes:
        offset = offset_minutes(node.time_zone, clock.time_zone, clock.start)
        count[offset] = count.get(offset, 0) + 1
    spread = ", ".join(f"{n} at {m / 60:+g} h" for m, n in sorted(count.items()))
    return f"{len(zones)} zones; nodes by local time vs the platform's: {spread}"


def register(app: typer.Typer) -> None:
    app.command()(validate)
