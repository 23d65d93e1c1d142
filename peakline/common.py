"""CLI helpers every part shares: loading a scenario or exiting 2 with a clear message,
run-size checks, "did you mean" for names, policy names for help texts, and Ctrl-C that says
what was written."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape

from simulator.scenario import Scenario, ScenarioError, load_scenario

if TYPE_CHECKING:
    from simulator.sizing import Workload

console = Console()
err_console = Console(stderr=True)

#: Exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)


def scenario_or_exit(path: Path) -> Scenario:
    """Load ``path``; on a broken file print every problem (file, field, what) and exit 2.

    What is allowed but probably not meant (see ``Scenario.warnings``) is printed as warnings.
    """
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        err_console.print(f"[bold red]error:[/] invalid scenario {escape(str(exc.path))}",
                          highlight=False, soft_wrap=True)
        for field, message in exc.problems:  # one line each, whatever the terminal's width
            err_console.print(f"  {exc.path}: {field}: {message}", highlight=False, markup=False,
                              soft_wrap=True)
        raise typer.Exit(code=2) from None
    for field, message in scenario.warnings():
        err_console.print(f"[yellow]warning:[/] {escape(f'{path}: {field}: {message}')}",
                          highlight=False, soft_wrap=True)
    return scenario


def bad_input(message: str) -> typer.Exit:
    """Print ``message`` (plain text, not markup) as an error; return the exit-2 exception."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False,
                      soft_wrap=True)
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


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
MAX_MEMORY = typer.Option(None, "--max-memory", help="refuse runs expected to need more "
                          "memory than this, e.g. 8GB (default: what is available now)")
MAX_TIME = typer.Option("1h", "--max-time", help="refuse runs expected to take longer than "
                        "this, e.g. 90m or 3h (estimated from their size)")


def duration_seconds(text: str) -> float:
    """``--max-time`` as seconds: ``"90m"``, ``"2h"``, ``"45 s"`` or plain seconds."""
    match = _DURATION.match(text)
    if not match:
        raise typer.BadParameter(f"{text!r} is not a duration such as 90m or 2h")
    number, unit = match.groups()
    return float(number) * _SECONDS[(unit or "s").lower()]


def fits_or_exit(name: str, work: Workload, *, max_memory: int | None, max_time: float,
                 ui: Console | None = None) -> None:
    """Exit 2 when ``work`` (the runs of scenario ``name``) would need more memory than
    ``max_memory`` (default: what this machine has available now) or more time than
    ``max_time`` seconds. Its size is said on ``ui`` (default standard error)."""
    from simulator.sizing import available_memory, human_bytes, human_seconds

    one = len(work.runs) == 1
    (ui or err_console).print(f"[dim]run size: {work.runs[0].summary() if one else work.summary()}"
                              "[/]", highlight=False)
    limit = max_memory if max_memory is not None else available_memory()
    if limit is not None and work.memory_bytes > limit:
        size = work.runs[0]
        where = "the limit" if max_memory is not None else "this machine has available"
        need = human_bytes(work.memory_bytes * 1.1).replace(" ", "")
        what = (f"({size.orders:,.0f} orders, {size.pairs:,} SKU-warehouse pairs, "
                f"{size.run_hours:,g} h)" if one else
                f"({work.at_once} runs at once on --jobs processes, up to "
                f"{human_bytes(max(r.memory_bytes for r in work.runs))} each)")
        smaller = "make the run smaller (horizon, demand, catalogue)" if one else \
            "lower --jobs or make the runs smaller (horizon, demand, catalogue)"
        raise bad_input(
            f"scenario {name} needs about {human_bytes(work.memory_bytes)} of memory {what} "
            f"but {where} is {human_bytes(limit)}; {smaller} or pass --max-memory {need} to run "
            "it anyway")
    if work.wall_seconds > max_time:
        need = human_seconds(work.wall_seconds * 1.2).replace(" ", "").replace(".0", "")
        what = ("" if one else f" ({len(work.runs):,} runs, {human_seconds(work.cpu_seconds)} of "
                f"CPU in all, {work.at_once} at once)")
        smaller = ("make the run smaller (horizon, demand)" if one else
                   "fewer replications or variants, more --jobs, or smaller runs")
        raise bad_input(
            f"scenario {name} would take about {human_seconds(work.wall_seconds)}{what}, "
            f"longer than the limit of {human_seconds(max_time)}; {smaller}, or pass "
            f"--max-time {need} to run it anyway")


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known`` to a mistyped ``name``, or ``""``."""
    def likeness(candidate: str) -> float:  # whole name, or its start ("nearset" ~ "nearest_")
        candidate = candidate.lower()
        return max(difflib.SequenceMatcher(None, name.lower(), text).ratio()
                   for text in (candidate, candidate[:len(name) + 1]))

    best = max(known, key=likeness, default=None)
    return f" (did you mean {best!r}?)" if best is not None and likeness(best) >= 0.75 else ""


def unknown_name(what: str, name: str, known: Iterable[str]) -> typer.Exit:
    """The exit-2 error for a name not among ``known``: the closest match and the valid ones."""
    known = sorted(known)
    return bad_input(f"unknown {what} {name!r}{did_you_mean(name, known)}; "
                     f"known: {', '.join(known)}")


def policy_names(kind: str) -> list[str]:
    """Registered ``allocation`` / ``replenishment`` policies: built-ins and plugins."""
    import simulator.policies  # noqa: F401  (registers the built-ins)
    from simulator.policies.base import allocation_policies, replenishment_policies

    return (allocation_policies if kind == "allocation" else replenishment_policies).names()


def policy_help(kind: str, text: str) -> str:
    """``text`` followed by the valid policy names, for an option's help."""
    return f"{text}; one of: {', '.join(policy_names(kind))}"


@contextmanager
def interrupt_says_what_was_written(out: Path | None) -> Iterator[None]:
    """On Ctrl-C: name the files written under ``out`` since entering (or say that nothing
    was), and exit 130 without a traceback."""
    before = _files(out)
    try:
        yield
    except KeyboardInterrupt:
        written = sorted(path for path, stamp in _files(out).items() if before.get(path) != stamp)
        if written and out is not None:
            names = ", ".join(str(path.relative_to(out)) for path in written)
            err_console.print(f"interrupted: wrote {len(written)} file(s) to {out}/ before "
                              f"stopping ({names}); they may be incomplete", highlight=False,
                              soft_wrap=True, markup=False)
        else:
            err_console.print("interrupted: nothing written", highlight=False)
        raise typer.Exit(code=INTERRUPTED) from None


def _files(folder: Path | None) -> dict[Path, int]:
    """Files under ``folder`` with their modification times (ns)."""
    if folder is None or not folder.is_dir():
        return {}
    return {path: path.stat().st_mtime_ns for path in folder.rglob("*") if path.is_file()}


QUIET = typer.Option(False, "--quiet", "-q", help="Print nothing but errors (no progress).")
JSON_OUT = typer.Option(False, "--json", help="Print the result as JSON on standard output "
                        "(progress and messages go to standard error).")


def ui_console(*, quiet: bool, json_out: bool) -> Console:
    """Where a command's progress and tables go: stdout, stderr beside ``--json``, or
    nowhere with ``--quiet``."""
    return Console(stderr=json_out, quiet=quiet)


def print_json(data: object) -> None:
    """``data`` as one JSON document on standard output (NaN and infinities as null)."""
    import json
    import math

    def clean(value: object) -> object:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    def plain(value: object) -> object:  # numpy scalars and arrays
        return value.tolist() if hasattr(value, "tolist") else str(value)

    typer.echo(json.dumps(clean(data), default=plain))


def complete_policies(kind: str) -> Callable[[str], list[str]]:
    """Shell completion of policy names (after the last comma of a list)."""

    def complete(incomplete: str) -> list[str]:
        head, comma, tail = incomplete.rpartition(",")
        return [head + comma + name for name in policy_names(kind) if name.startswith(tail)]

    return complete
