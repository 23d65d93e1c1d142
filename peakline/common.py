"""CLI helpers every part shares: loading a scenario or exiting 2 with a clear message."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from simulator.scenario import Scenario, ScenarioError, load_scenario

console = Console()
err_console = Console(stderr=True)


def scenario_or_exit(path: Path) -> Scenario:
    """Load ``path``; on a broken file print every problem (file, field, what) and exit 2."""
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        err_console.print(f"[bold red]error:[/] invalid scenario {exc.path}", highlight=False)
        for field, message in exc.problems:
            err_console.print(f"  {exc.path}: {field}: {message}", highlight=False, markup=False)
        raise typer.Exit(code=2) from None


def bad_input(message: str) -> typer.Exit:
    """Print ``message`` as an error and return the exit-2 exception to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code=2)
