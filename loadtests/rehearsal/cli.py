"""``peakline rehearse``: a seller's integration against the scenario's peak, gated.

Exit codes: 0 every threshold held; 1 a threshold was breached; 2 bad input (scenario,
threshold, option, fault profile); 3 the rehearsal could not run (backend, integration).
"""

from __future__ import annotations

import re
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from loadtests.cli import exit_code, harness_exits, parse_duration, partial_line
from loadtests.rehearsal.faults import load_fault_profile
from loadtests.rehearsal.gate import DEFAULTS, parse
from loadtests.rehearsal.run import (
    RehearsalConfig,
    RehearsalOutcome,
    run_rehearsal,
)
from loadtests.thresholds import ThresholdError
from peakline.common import bad_input, console, err_console, scenario_or_exit

#: measures printed in the summary table, with what they mean
SHOWN = (("orders", "orders sent by buyers"), ("refused_for_stock", "orders refused: no stock"),
         ("postings", "postings created"), ("shipped", "postings shipped"),
         ("late_shipments", "shipped after the deadline (or never)"),
         ("first_seen_p95", "order to first seen, p95"), ("ship_p95", "order to shipped, p95"),
         ("labels_missing", "shipped without a label fetched"),
         ("stock_updates", "stock items updated"), ("requests", "integration requests"),
         ("throttled", "answered 429"), ("errors", "answered 4xx/5xx, or not at all"))


def _value(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    if key in ("refused_for_stock", "late_shipments", "labels_missing", "throttled", "errors"):
        return f"{value:.2%}"
    if key.endswith(("_p95", "_p50", "_p99", "_max")):
        return f"{value:.1f} s"
    return f"{value:.0f}"


def print_outcome(outcome: RehearsalOutcome) -> None:
    out = console if console.is_terminal else Console(width=max(console.width, 120))
    table = Table(title=f"rehearsal {outcome.scenario}: seed {outcome.seed}, "
                        f"{outcome.speed:g}x")
    for col in ("measure", "value", "meaning"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for key, meaning in SHOWN:
        table.add_row(key, _value(key, outcome.measures.get(key)), meaning)
    out.print(table)
    early = outcome.extra.get("stopped_early")
    if early:
        out.print(partial_line(early), highlight=False)
    if faults := outcome.extra.get("faults"):
        out.print("faults injected: " + ", ".join(
            f"{name} {f['injected']} of {f['of']} {f.get('of_what', 'requests')} "
            f"(stated {f['rate']:.1%})"
            for name, f in faults["kinds"].items()), highlight=False)
    if pushes := outcome.extra.get("pushes"):
        out.print(f"push notifications: {pushes['sent']} passed on to the integration "
                  f"({pushes['distinct']} distinct; "
                  + ", ".join(f"{k} {v}" for k, v in pushes["by_type"].items())
                  + "); its answers: "
                  + ", ".join(f"{k} {v}" for k, v in pushes["answers"].items())
                  + (f"; {pushes['pending_at_end']} not delivered when counted"
                     if pushes.get("pending_at_end") else ""),
                  highlight=False)
    verdicts = Table(title="thresholds")
    for col in ("threshold", "measured", "result"):
        verdicts.add_column(col)
    for r in outcome.results:
        verdicts.add_row(r.threshold.label, r.measured_text + (f" ({r.note})" if r.note else ""),
                         "[green]PASS[/]" if r.passed else "[bold red]FAIL[/]")
    out.print(verdicts)
    partial = " (on partial results)" if early else ""
    if outcome.passed:
        out.print(f"[bold green]PASS[/]: all {len(outcome.results)} thresholds held{partial}")
    else:
        names = "; ".join(r.threshold.label for r in outcome.results if not r.passed)
        out.print(f"[bold red]FAIL[/]: threshold(s) breached{partial}: {names}",
                  highlight=False)
    names = ", ".join(Path(f).name for f in outcome.files.values())
    out.print(f"results in {Path(outcome.files['summary_json']).parent}: {names}",
              highlight=False)


def rehearse(
    scenario: Path = typer.Argument(..., help="scenario YAML file"),
    integration: str = typer.Option(None, help="shell command that starts the integration "
                                    "(gets OZON_API_URL, OZON_CLIENT_ID, OZON_API_KEY)"),
    integration_url: str = typer.Option(
        None, help="instead of --integration: the health URL of an integration already "
        "running (a container, another host); it reads its connection from ozon.env in the "
        "output folder (printed too), and the rehearsal starts once the URL answers and the "
        "integration's first request arrives"),
    push_url: str = typer.Option(None, help="where the integration receives Ozon push "
                                 "notifications: registered as the seller's push URL, so "
                                 "TYPE_NEW_POSTING and the rest reach it"),
    listen: str = typer.Option("127.0.0.1:0", help="HOST:PORT the Seller API the integration "
                               "calls listens on (0.0.0.0:PORT for a container or another "
                               "host; port 0: a free one)"),
    credentials: Path = typer.Option(None, help="with --db: the JSON `peakline seed "
                                     "--credentials-out` wrote for a seller seeded before, so "
                                     "an integration configured once keeps its keys"),
    duration: str = typer.Option(None, help="rehearsal length: the scenario's horizon is "
                                 "compressed into it (e.g. 10m)"),
    speed: float = typer.Option(None, help="scenario seconds per second instead of "
                                "--duration (48: a day in 30 minutes)"),
    seed: int = typer.Option(1, help="the seed of the order stream (as `peakline simulate`)"),
    window: str = typer.Option(None, help="only the orders of this part of the scenario "
                               "clock, e.g. 18h-22h (the evening peak)"),
    threshold: list[str] = typer.Option(
        [], "--threshold", "-T", help="e.g. 'late_shipments<0.5%', 'first_seen_p95<60s', "
        "'throttled<1%' (repeatable; default: " + ", ".join(DEFAULTS) + ")"),
    out: Path = typer.Option(Path("out/rehearsal"), help="directory for results"),
    db: str = typer.Option(None, help="database URL for the backend (default: a temporary "
                           "SQLite file)"),
    ozon_rate_limits: bool = typer.Option(True, help="the backend throttles like Ozon"),
    ozon_faults: str = typer.Option(None, help="Ozon's bad moments: flaky, black-friday or a "
                                    "YAML fault profile (slow answers, 5xx bursts, 429 storms, "
                                    "imports that fail later, late and duplicated pushes)"),
) -> None:
    """Rehearse a seller's Ozon integration against SCENARIO's peak, and gate on the result.

    Exit 0 when every threshold holds, 1 on a breach, 2 on bad input, 3 when the rehearsal
    could not run.
    """
    sc = scenario_or_exit(scenario)
    if bool(integration and integration.strip()) == bool(integration_url):
        raise bad_input("give one of --integration \"COMMAND\" (the command that starts it) "
                        "and --integration-url URL (the health URL of one already running)")
    for option, url in (("--integration-url", integration_url), ("--push-url", push_url)):
        if url is not None and not re.match(r"^https?://[^/\s]+", url):
            raise bad_input(f"{option} {url!r} is not an http(s) URL")
    listen_host, _, listen_port = listen.rpartition(":")
    if not listen_host or not listen_port.isdigit() or not 0 <= int(listen_port) < 65536:
        raise bad_input(f"--listen {listen!r} is not HOST:PORT")
    if credentials is not None and (db is None or not credentials.is_file()):
        raise bad_input("--credentials FILE needs --db URL (the database that seller was "
                        "seeded in) and an existing file")
    if (duration is None) == (speed is None):
        raise bad_input("give one of --duration (e.g. 10m) and --speed (e.g. 48)")
    try:
        span = parse_window(window, sc.clock.horizon_minutes) if window else None
        horizon_s = (span[1] - span[0] if span else sc.clock.horizon_minutes) * 60
        factor = horizon_s / parse_duration(duration) if duration is not None else speed
        thresholds = [parse(t) for t in (threshold or DEFAULTS)]
        faults = load_fault_profile(ozon_faults) if ozon_faults else None
    except (ValueError, ThresholdError) as exc:
        raise bad_input(str(exc)) from None
    if factor is None or factor <= 0:
        raise bad_input("--speed must be greater than zero")
    cfg = RehearsalConfig(scenario_path=scenario, out_dir=out, thresholds=thresholds,
                          integration=integration, speed=float(factor), seed=seed,
                          window=span, db=db, faults=faults,
                          rate_limits=ozon_rate_limits, integration_url=integration_url,
                          push_url=push_url, listen=(listen_host, int(listen_port)),
                          credentials=credentials)
    with harness_exits("rehearsal"):
        outcome = run_rehearsal(cfg, note=lambda m: err_console.print(m, highlight=False))
    print_outcome(outcome)
    raise typer.Exit(code=exit_code(outcome.extra.get("stopped_early"), outcome.passed,
                                    "rehearsal"))


def parse_window(text: str, horizon_minutes: float) -> tuple[float, float]:
    """``"18h-22h"`` -> ``(1080.0, 1320.0)`` minutes of the scenario clock."""
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"--window {text!r} is not like 18h-22h")
    lo = parse_duration(start) / 60 if start.strip() not in ("0", "0h") else 0.0
    hi = parse_duration(end) / 60
    if not 0 <= lo < hi <= horizon_minutes:
        raise ValueError(f"--window {text!r} must lie within the scenario's "
                         f"{horizon_minutes / 60:g} hours, start before end")
    return lo, hi


def register(app: typer.Typer) -> None:
    app.command()(rehearse)
