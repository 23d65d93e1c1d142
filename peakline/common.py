"""CLI helpers every part shares: loading a scenario or exiting 2 with a clear message,
run-size checks."""

from __future__ import annotations

import re
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from simulator.scenario import Scenario, ScenarioError, load_scenario

console = Console()
err_console = Console(stderr=True)

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)


def scenario_or_exit(path: Path) -> Scenario:
    """Load ``path``; on a broken file print every problem (file, field, what) and exit 2.

    What is allowed but probably not meant (see ``Scenario.warnings``) is printed as warnings.
    """
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        err_console.print(f"[bold red]error:[/] invalid scenario {escape(str(exc.path))}",
                          highlight=False)
        for field, message in exc.problems:
            err_console.print(f"  {exc.path}: {field}: {message}", highlight=False, markup=False)
        raise typer.Exit(code=2) from None
    for field, message in scenario.warnings():
        err_console.print(f"[yellow]warning:[/] {escape(f'{path}: {field}: {message}')}",
                          highlight=False)
    return scenario


def bad_input(message: str) -> typer.Exit:
    """Print ``message`` (plain text, not markup) as an error; return the exit-2 exception."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code=2)


def memory_size(text: str | None) -> int | None:
    """``--max-memory`` as bytes: ``"8GB"``, ``"512 MB"``, ``"1.5G"`` or a plain byte count."""
    if text is None:
        return None
    match = _SIZE.match(text)
    if not match:
        raise typer.BadParameter(f"{text!r} is not a size such as 8GB or 512MB")
    number, unit = match.groups()
    return int(float(number) * 1024 ** "BKMGT".index(unit.upper() or "B"))


def fits_or_exit(scenario: Scenario, max_memory: int | None) -> None:
    """Exit 2 when a run of ``scenario`` would need more memory than ``max_memory``.

    Without ``max_memory`` the limit is what this machine has available now.
    """
    from simulator.sizing import available_memory, estimate, human_bytes

    size = estimate(scenario)
    limit = max_memory if max_memory is not None else available_memory()
    console.print(f"[dim]run size: {size.summary()}[/]", highlight=False)
    if limit is None or size.memory_bytes <= limit:
        return
    where = "the limit" if max_memory is not None else "this machine has available"
    need = human_bytes(size.memory_bytes * 1.1)
    raise bad_input(
        f"scenario {scenario.name} needs about {human_bytes(size.memory_bytes)} of memory "
        f"({size.orders:,.0f} orders, {size.pairs:,} SKU-warehouse pairs, {size.run_hours:,g} h) "
        f"but {where} is {human_bytes(limit)}; make the run smaller (horizon, demand, "
        f"catalogue) or pass --max-memory {need.replace(' ', '')} to run it anyway")
