"""``peakline loadtest``: Locust traffic shaped by a scenario, judged by thresholds.

Exit codes: 0 every threshold passed; 1 a threshold was breached; 2 bad input (scenario,
threshold expression, option); 3 the test could not run (backend or Locust failed).
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from loadtests.results import RunOutcome
from loadtests.runner import HarnessError, LoadTestConfig, run_loadtest
from loadtests.thresholds import (
    ThresholdError,
    merge_thresholds,
    parse_thresholds,
    slo_thresholds,
)
from peakline.common import bad_input, console, err_console, scenario_or_exit

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """``"90"``, ``"90s"``, ``"5m"``, ``"1m30s"``, ``"1h"`` -> seconds; ``ValueError`` otherwise."""
    match = _DURATION.match(text.strip().lower())
    if not text.strip() or not match or not any(match.groups()):
        raise ValueError(f"duration {text!r} is not like 90s, 5m or 1m30s")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"duration {text!r} must be longer than zero")
    return total


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def print_outcome(outcome: RunOutcome) -> None:
    """The per-endpoint figures and the threshold table (threshold / measured / PASS|FAIL)."""
    # CI logs are not terminals (rich assumes 80 columns): keep endpoint names whole there
    out = console if console.is_terminal else Console(width=max(console.width, 140))
    stats = outcome.stats
    table = Table(title=f"load test {outcome.scenario}: {stats['seconds']:.1f} s against "
                        f"{outcome.host}")
    for col in ("endpoint", "requests", "fails", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="left" if col == "endpoint" else "right")
    rows = [*stats["endpoints"], {**stats["total"], "name": "all requests"}]
    for i, row in enumerate(rows):
        table.add_row(
            row["name"], str(row["requests"]), str(row["failures"]), f"{row['rps']:.1f}",
            _fmt_ms(row["p50_ms"]), _fmt_ms(row["p95_ms"]), _fmt_ms(row["p99_ms"]),
            _fmt_ms(row["max_ms"]), style="bold" if i == len(rows) - 1 else None,
            end_section=i == len(rows) - 2,
        )
    out.print(table)
    if early := outcome.stopped_early:
        out.print(partial_line(early), highlight=False)
    if outcome.failures:
        out.print("most frequent failures:")
        for f in outcome.failures[:5]:
            out.print(f"  {f['occurrences']:>6} x {f['name']}: {f['error'][:120]}",
                          markup=False, highlight=False)
    verdicts = Table(title="thresholds")
    for col in ("threshold", "source", "measured", "result"):
        verdicts.add_column(col)
    for r in outcome.results:
        result = "[green]PASS[/]" if r.passed else "[bold red]FAIL[/]"
        measured = r.measured_text + (f" ({r.note})" if r.note else "")
        verdicts.add_row(r.threshold.label, r.threshold.source, measured, result)
    out.print(verdicts)
    if per_s := stats.get("rps_per_second"):
        out.print(f"throughput: {per_s['median']:.0f} req/s in a typical second, "
                  f"{per_s['best_10s']:.1f} req/s over the best 10 s", highlight=False)
    if sent := outcome.extra.get("open_model"):
        lag = sent["lag"]
        verdict = ("[green]the generator kept to its schedule[/]" if sent["late_share"] <= 0.01
                   else f"[bold yellow]the generator fell behind ({sent['late_share']:.1%} of "
                   "sends late): latency still counts from the scheduled times, but the load "
                   "came later than the scenario says[/]")
        out.print(f"open model: {sent['sent']} of {sent['scheduled']} orders sent on schedule, "
                  f"{sent['late_sends']} late (> {sent['late_after_ms']:g} ms), send lag p99 "
                  f"{_fmt_ms(lag['p99_ms'])} ms, max {_fmt_ms(lag['max_ms'])} ms, "
                  f"{sent['unanswered']} unanswered at the end; {verdict}", highlight=False)
    if counts := outcome.extra.get("outcomes"):
        out.print("outcomes: " + ", ".join(f"{k} {v}" for k, v in counts.items()),
                  highlight=False)
    partial = " (on partial results)" if outcome.stopped_early else ""
    if outcome.passed:
        out.print(f"[bold green]PASS[/]: all {len(outcome.results)} thresholds held{partial}")
    else:
        names = "; ".join(r.threshold.label for r in outcome.breaches)
        out.print(f"[bold red]FAIL[/]: {len(outcome.breaches)} threshold(s) breached{partial}: "
                  f"{names}", highlight=False)
    report = ", report.html" if "report_html" in outcome.files else ""
    out.print(f"results in {Path(outcome.files['summary_json']).parent}: summary.json, "
              f"junit.xml, locust.html{report}, locust_stats.csv", highlight=False)


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds the run so every child process is stopped


@contextmanager
def harness_exits(what: str) -> Iterator[None]:
    """Run a harness (load test, rehearsal): SIGTERM and Ctrl-C stop everything it started
    (exit 130); a run that could not happen exits 3, naming ``what`` and why."""
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)
    try:
        yield
    except HarnessError as exc:
        err_console.print(f"[bold red]FAIL[/]: the {what} could not run: {exc}",
                          highlight=False)
        raise typer.Exit(code=3) from None
    except KeyboardInterrupt:
        err_console.print("interrupted; everything started was stopped")
        raise typer.Exit(code=130) from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def loadtest(
    scenario: Path = typer.Argument(..., help="scenario YAML file (demand curve, SLO block)"),
    host: str = typer.Option(None, help="backend base URL; without it the reference backend "
                             "is seeded and started on 127.0.0.1"),
    duration: str = typer.Option("60s", help="test length (the scenario horizon is replayed "
                                 "in it)"),
    users: int = typer.Option(50, min=1, help="simulated users at the curve's highest rate"),
    workers: int = typer.Option(0, min=0, help="Locust worker processes (master/worker mode)"),
    threshold: list[str] = typer.Option(
        [], "--threshold", "-T",
        help="e.g. 'p95<200ms', 'errors<0.1%', 'rps>=500', 'POST /marketplace/v1/orders: "
             "p99<500ms' (repeatable; replaces the scenario SLO on the same endpoint and metric)"),
    db: str = typer.Option(None, help="database URL for the backend this command starts "
                           "(default: a temporary SQLite file)"),
    out: Path = typer.Option(Path("out/loadtest"), help="directory for results"),
    credentials: Path = typer.Option(None, help="with --host: the JSON `peakline seed` wrote"),
    shape: str = typer.Option("curve", help="curve (the scenario's demand curve) or flat "
                              "(ramp and hold: capacity tests)"),
    model: str = typer.Option(None, help="open (the scenario's orders sent at their times, "
                              "latency from the scheduled time; default with --shape curve) or "
                              "closed (users with think time; default with --shape flat)"),
    seed: int = typer.Option(1, help="open model: the seed of the order stream (the orders "
                             "`peakline simulate --seed` draws)"),
    think: float = typer.Option(1.0, min=0, help="mean think time between a user's requests, s"),
    backend_workers: int = typer.Option(1, min=1, help="uvicorn workers of the started backend"),
    ozon_rate_limits: bool = typer.Option(
        False, help="the started backend throttles like Ozon (429s and per-item "
        "TOO_MANY_REQUESTS, counted as 'throttled', not as errors)"),
    scenario_slo: bool = typer.Option(True, help="include the scenario's slo block"),
    remote_workers: int = typer.Option(0, min=0, help="Locust workers started by hand on other "
                                       "hosts (needs --host): the master waits for them"),
    master_bind: str = typer.Option("0.0.0.0:5557", help="HOST:PORT the master listens on for "
                                    "remote workers"),
    time_budget: str = typer.Option(None, help="end the whole run (start-up included) within "
                                    "this, shortening the load if start-up was slow (CI)"),
) -> None:
    """Load-test a seller backend with traffic shaped by SCENARIO.

    Exit 0 when every threshold holds, 1 on a breach, 2 on bad input, 3 when the test could
    not run.
    """
    sc = scenario_or_exit(scenario)
    try:
        seconds = parse_duration(duration)
        budget = parse_duration(time_budget) if time_budget is not None else None
        cli = parse_thresholds(threshold)
    except (ValueError, ThresholdError) as exc:
        raise bad_input(str(exc)) from None
    if shape not in ("curve", "flat"):
        raise bad_input(f"--shape must be curve or flat, not {shape!r}")
    model = model or ("open" if shape == "curve" else "closed")
    if model not in ("open", "closed"):
        raise bad_input(f"--model must be open or closed, not {model!r}")
    if model == "open" and shape != "curve":
        raise bad_input("--model open sends the scenario's orders at their times: it goes "
                        "with --shape curve")
    if host is not None:
        if not re.match(r"^https?://[^/\s]+", host):
            raise bad_input(f"--host {host!r} is not an http(s) URL")
        if db is not None:
            raise bad_input("--db configures the backend this command starts; it does not go "
                            "with --host")
        if ozon_rate_limits:
            raise bad_input("--ozon-rate-limits sets up the backend this command starts; with "
                            "--host, start yours with PEAKLINE_OZON_RATE_LIMITS=true")
        if credentials is None or not credentials.is_file():
            raise bad_input("--host needs --credentials FILE (the JSON `peakline seed "
                            "--credentials-out FILE` wrote for that backend)")
    if remote_workers and host is None:
        raise bad_input("--remote-workers needs --host: the backend this command starts "
                        "listens on 127.0.0.1 only, out of the remote workers' reach")
    bind_host, _, bind_port = master_bind.rpartition(":")
    if not bind_host or not bind_port.isdigit() or not 0 < int(bind_port) < 65536:
        raise bad_input(f"--master-bind {master_bind!r} is not HOST:PORT")
    thresholds = merge_thresholds(slo_thresholds(sc.slo) if scenario_slo else [], cli)
    if not thresholds:
        raise bad_input("no thresholds: give --threshold or keep the scenario's slo block")
    cfg = LoadTestConfig(
        scenario_path=scenario, out_dir=out, thresholds=thresholds, duration_s=seconds,
        users=users, workers=workers, shape=shape, model=model, seed=seed,  # type: ignore[arg-type]
        think_s=think, host=host,
        credentials=credentials, db=db, backend_workers=backend_workers, time_budget_s=budget,
        ozon_rate_limits=ozon_rate_limits,
        remote_workers=remote_workers, master_bind=(bind_host, int(bind_port)),
    )
    with harness_exits("load test"), Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
            console=err_console, transient=True) as bar:
        task = bar.add_task("load test", total=seconds)

        def progress(elapsed: float, live: dict) -> None:
            text = "load test"
            if live:
                text += f"  users {live['users']}  {live['rps']:.0f} req/s"
            bar.update(task, completed=min(elapsed, seconds), description=text)

        outcome = run_loadtest(cfg, progress, note=lambda m: err_console.print(m))
    print_outcome(outcome)
    raise typer.Exit(code=exit_code(outcome.stopped_early, outcome.passed, "load test"))


def partial_line(stopped_early: dict[str, Any]) -> str:
    """What a person reads above the figures of a run that was stopped early."""
    return (f"[bold yellow]PARTIAL[/]: {stopped_early['why']} after "
            f"{stopped_early['after_s']:.0f} s of {stopped_early['of_s']:.0f} s; the figures "
            "cover what was measured until then")


def exit_code(stopped_early: dict[str, Any] | None, passed: bool, what: str) -> int:
    """0 pass, 1 breach; a run stopped early: 130 (Ctrl-C), 3 (could not run), said why."""
    if not stopped_early:
        return 0 if passed else 1
    if stopped_early["interrupted"]:
        err_console.print(f"interrupted: the partial results above were written; "
                          f"everything the {what} started was stopped")
        return 130
    err_console.print(f"[bold red]FAIL[/]: the {what} could not run: {stopped_early['why']} "
                      f"{stopped_early['after_s']:.0f} s into it; stopped early (partial "
                      "results above)", highlight=False)
    return 3


def register(app: typer.Typer) -> None:
    app.command()(loadtest)
