"""``peakline validate``: check a scenario file and summarise it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from peakline.common import console, scenario_or_exit


def validate(scenario: Path = typer.Argument(..., help="scenario YAML file")) -> None:
    """Validate SCENARIO and print what it describes (exit 2 when it is broken)."""
    sc = scenario_or_exit(scenario)
    net = sc.network
    table = Table(title=f"scenario {sc.name}", show_header=False)
    table.add_row("horizon", f"{sc.clock.horizon_hours:g} h from {sc.clock.start}")
    table.add_row("baseline demand", f"{sc.demand.baseline_orders_per_hour:g} orders/h")
    table.add_row("peaks", ", ".join(p.name for p in sc.demand.peaks) or "none")
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
    table.add_row("faults", ", ".join(f.name for f in sc.faults) or "none")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(validate)
