"""One load test end to end: backend up and seeded, Locust headless, results judged, all stopped.

:func:`run_loadtest` is what ``peakline loadtest`` calls. Without a host it seeds the reference
backend from the scenario (a temporary SQLite file unless a database URL is given) and serves
it on 127.0.0.1; it runs Locust as child processes (one, or a master and ``workers`` worker
processes in Locust's own distributed mode), waits for them within a bounded time, and stops
everything it started whatever happens. Thresholds are evaluated on the statistics Locust
recorded (``--json-file``), and the JSON summary and JUnit XML are written beside Locust's CSV
and HTML.
"""

from __future__ import annotations

import contextlib
import csv
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from loadtests import accounts, backend
from loadtests.latency import Histograms
from loadtests.open_model import send_report
from loadtests.processes import ManagedProcess, free_port, process_age_s
from loadtests.profile import ShapeKind, make_plan
from loadtests.results import (
    RunOutcome,
    load_locust_stats,
    read_failures_csv,
    stats_summary,
    write_junit,
    write_summary_json,
)
from loadtests.thresholds import Threshold, evaluate
from loadtests.watch import BackendWatch, connect_problem
from simulator.scenario import load_scenario

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
OPEN_LOCUSTFILE = Path(__file__).with_name("open_locustfile.py")
#: seconds allowed beyond the test duration for Locust to start, connect workers and stop
LOCUST_GRACE_S = 45.0
#: seconds Locust has to write its statistics once told to stop early
STOP_GRACE_S = 20.0


ModelKind = Literal["open", "closed"]


class HarnessError(RuntimeError):
    """The load test could not run (backend or Locust failed); the gate counts it as failed."""


@dataclass(frozen=True)
class LoadTestConfig:
    scenario_path: Path
    out_dir: Path
    thresholds: list[Threshold]
    duration_s: float = 60.0
    users: int = 50
    workers: int = 0
    shape: ShapeKind = "curve"
    #: open: the scenario's orders sent on schedule (latency from the scheduled time);
    #: closed: users with think time
    model: ModelKind = "closed"
    #: the seed of the open model's order stream (as ``peakline simulate --seed``)
    seed: int = 1  # as `peakline simulate`
    think_s: float = 1.0
    host: str | None = None
    credentials: Path | None = None
    db: str | None = None
    backend_workers: int = 1
    #: the started backend answers like Ozon over its rate limits (429s, per-item errors)
    ozon_rate_limits: bool = False
    #: workers started by hand on other hosts (``locust -f ... --worker --master-host``)
    remote_workers: int = 0
    #: where the master listens for remote workers
    master_bind: tuple[str, int] = ("0.0.0.0", 5557)
    #: the whole run (start-up included) ends within this; the load is shortened to fit
    time_budget_s: float | None = None
    extra_locust_args: list[str] = field(default_factory=list)
    #: open model: seconds after the load at most for the last answers (a request times out
    #: after 20 s, so 25 s leaves none unanswered)
    drain_s: float = 25.0
    #: the run stops early (could not run) once the backend refused connections this long
    unreachable_s: float = 5.0

    @property
    def locustfile(self) -> Path:
        return OPEN_LOCUSTFILE if self.model == "open" else LOCUSTFILE

    @property
    def locust_seconds(self) -> float:
        """How long Locust runs: the load, and the open model's drain for the last answers."""
        return self.duration_s + (self.drain_s if self.model == "open" else 0.0)


Progress = Callable[[float, dict[str, Any]], None]


def locust_argv(cfg: LoadTestConfig, host: str, credentials: Path, *,
                master_port: int | None = None) -> list[str]:
    """The Locust command (the master's, in distributed mode)."""
    out = cfg.out_dir
    argv = [
        sys.executable, "-m", "locust", "-f", str(cfg.locustfile), "--headless", "--host", host,
        "--peakline-scenario", str(cfg.scenario_path.resolve()),
        "--peakline-credentials", str(credentials.resolve()),
        "--peakline-shape", cfg.shape, "--peakline-duration", f"{cfg.duration_s:g}",
        "--peakline-users", str(cfg.users), "--peakline-think", f"{cfg.think_s:g}",
        "--peakline-outcomes", str((out / "outcomes.json").resolve()),
        "--csv", str(out / "locust"), "--html", str(out / "locust.html"),
        "--json-file", str(out / "locust_stats"),
        "--csv-full-history", "--stop-timeout", "2", "--exit-code-on-error", "0",
        "--only-summary",
        "--peakline-seed", str(cfg.seed),
        "--peakline-processes", str(max(1, cfg.workers + cfg.remote_workers)),
        "--peakline-latency", str((out / "latency_hdr.json").resolve()),
        "--peakline-drain", f"{cfg.drain_s:g}",
    ]
    if cfg.remote_workers > 0:
        bind_host, bind_port = cfg.master_bind
        argv += ["--master", "--master-bind-host", bind_host, "--master-bind-port",
                 str(bind_port), "--expect-workers", str(cfg.workers + cfg.remote_workers),
                 "--expect-workers-max-wait", "120"]
    elif cfg.workers > 0:
        argv += ["--master", "--master-bind-host", "127.0.0.1",
                 "--master-bind-port", str(master_port), "--expect-workers", str(cfg.workers),
                 "--expect-workers-max-wait", "30"]
    return argv + cfg.extra_locust_args


def worker_argv(cfg: LoadTestConfig, master_host: str, master_port: int) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(cfg.locustfile), "--worker",
            "--master-host", master_host, "--master-port", str(master_port)]


def _live_figures(history: Path) -> dict[str, Any]:
    """The latest row of Locust's stats history CSV (users, current rps, failures/s)."""
    try:
        with history.open(newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if r.get("Name") == "Aggregated"]
    except OSError:
        return {}
    if not rows:
        return {}
    last = rows[-1]
    try:
        return {"users": int(float(last["User Count"])), "rps": float(last["Requests/s"]),
                "failures_per_s": float(last["Failures/s"])}
    except (KeyError, ValueError):
        return {}


@dataclass(frozen=True)
class LocustRun:
    """How Locust ended: its exit code, and why the harness stopped it early (if it did)."""

    exit_code: int
    #: ``None``: it ran its course; otherwise what stopped it (Ctrl-C, the backend gone)
    stopped_early: str | None = None
    after_s: float = 0.0
    interrupted: bool = False


def run_locust(cfg: LoadTestConfig, host: str, credentials: Path,
               progress: Progress | None = None, *, grace_s: float = LOCUST_GRACE_S) -> LocustRun:
    """Run Locust (and its workers) to completion within a bound.

    Ctrl-C (or SIGTERM to this process) and a backend that stopped accepting connections for
    ``cfg.unreachable_s`` stop Locust early but in order, so it still writes what it
    measured; a second Ctrl-C while it stops abandons it."""
    log = cfg.out_dir / "locust.log"
    if cfg.remote_workers > 0:
        master_host, master_port = "127.0.0.1", cfg.master_bind[1]
        grace_s += 90  # remote workers may take a while to connect
    else:
        master_host, master_port = "127.0.0.1", (free_port() if cfg.workers > 0 else None)
    deadline = time.monotonic() + cfg.locust_seconds + grace_s
    watch = BackendWatch(host, give_up_s=cfg.unreachable_s)
    with ExitStack() as stack:
        master = stack.enter_context(
            ManagedProcess("locust", locust_argv(cfg, host, credentials, master_port=master_port),
                           log)
        )
        for i in range(cfg.workers):
            stack.enter_context(
                ManagedProcess(f"locust worker {i + 1}",
                               worker_argv(cfg, master_host, master_port or 0),
                               cfg.out_dir / f"locust_worker_{i + 1}.log")
            )
        started = time.monotonic()
        try:
            while master.poll() is None:
                if time.monotonic() > deadline:
                    master.stop()
                    raise HarnessError(
                        f"Locust did not finish within {cfg.duration_s + grace_s:g} s; "
                        f"stopped it. Last log lines:\n{master.tail()}"
                    )
                if watch.gone():
                    why = (f"the backend at {host} stopped accepting connections "
                           f"({watch.problem} for {cfg.unreachable_s:g} s)")
                    return _stop_in_order(master, why, time.monotonic() - started)
                if progress is not None:
                    progress(time.monotonic() - started,
                             _live_figures(cfg.out_dir / "locust_stats_history.csv"))
                time.sleep(0.5)
        except KeyboardInterrupt:
            return _stop_in_order(master, "interrupted (Ctrl-C)", time.monotonic() - started,
                                  interrupted=True)
        return LocustRun(master.wait())


def _stop_in_order(master: ManagedProcess, why: str, after_s: float, *,
                   interrupted: bool = False) -> LocustRun:
    """SIGINT to Locust's master alone: it stops its workers and writes its statistics (a
    shape test handles SIGINT only: Locust 2.47 installs its SIGTERM handler after the shape
    ends)."""
    assert master.proc is not None
    with contextlib.suppress(ProcessLookupError):
        master.proc.send_signal(signal.SIGINT)
    try:
        code = master.wait(STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        code = master.stop()
    return LocustRun(code if code is not None else -1, why, round(after_s, 1), interrupted)


def run_loadtest(cfg: LoadTestConfig, progress: Progress | None = None,
                 note: Callable[[str], None] = lambda _msg: None) -> RunOutcome:
    """Run one load test and judge it; :class:`HarnessError` if it cannot run."""
    started_wall = time.monotonic() - process_age_s()  # a time budget counts from our start
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    scenario = load_scenario(cfg.scenario_path)
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("locust_stats.json", "outcomes.json", "locust_stats_history.csv",
                  "latency_hdr.json"):
        (cfg.out_dir / stale).unlink(missing_ok=True)
    plan = make_plan(scenario, cfg.shape, cfg.duration_s, cfg.users)
    phases: dict[str, float] = {}
    extra: dict[str, Any] = {"plan": plan.to_dict(), "phases": phases}
    last = [time.monotonic()]

    def _lap() -> float:
        now = time.monotonic()
        lap, last[0] = round(now - last[0], 2), now
        return lap

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="peakline-loadtest-")))
        if cfg.host:
            host = cfg.host.rstrip("/")
            if cfg.credentials is None:
                raise HarnessError("--host needs --credentials (the JSON `peakline seed` wrote)")
            credentials = cfg.credentials
            extra["backend"] = {"started": False}
        else:
            db = cfg.db or backend.sqlite_url(tmp / "peakline.db")
            credentials = tmp / "credentials.json"
            # a database that is kept between runs gets a new seller each run
            seller = f"{scenario.name}-{started_at}" if cfg.db else None
            note(f"seeding the reference backend from {cfg.scenario_path} ...")
            try:
                backend.ensure_database(db)
                backend.seed(cfg.scenario_path, db, credentials, cfg.out_dir / "backend.log",
                             name=seller)
                phases["seed_s"] = _lap()
                note("starting the reference backend on 127.0.0.1 ...")
                host = stack.enter_context(
                    backend.serve(db, cfg.out_dir / "backend.log", workers=cfg.backend_workers,
                                  env={"PEAKLINE_OZON_RATE_LIMITS": "true"}
                                  if cfg.ozon_rate_limits else None)
                )
                phases["backend_start_s"] = _lap()
            except backend.BackendError as exc:
                raise HarnessError(str(exc)) from None
            extra["backend"] = {"started": True, "database": db.split(":", 1)[0],
                                "uvicorn_workers": cfg.backend_workers}
        if (down := connect_problem(host, timeout_s=5.0)) is not None:
            raise HarnessError(f"the backend at {host} did not answer ({down}); "
                               "nothing was sent")
        credentials, roles, problem = accounts.with_role_keys(host, credentials,
                                                              tmp / "credentials_roles.json")
        backend.warm_up(host, json.loads(credentials.read_text(encoding="utf-8")))
        phases["role_keys_and_warm_up_s"] = _lap()
        extra["role_keys"] = roles
        if problem:
            extra["role_keys_problem"] = problem
            note(f"the owner's key stands in for every role ({problem})")
        grace = LOCUST_GRACE_S
        if cfg.time_budget_s is not None:
            cfg, grace = _fit_budget(cfg, time.monotonic() - started_wall, extra, note)
            plan = make_plan(scenario, cfg.shape, cfg.duration_s, cfg.users)
            extra["plan"] = plan.to_dict()
        load = ("the scenario's orders on schedule (open model, seed "
                f"{cfg.seed})" if cfg.model == "open" else
                f"{cfg.shape} shape, {cfg.users} peak users")
        note(f"running Locust against {host} for {cfg.duration_s:g} s "
             f"({load}"
             f"{f', {cfg.workers} workers' if cfg.workers else ''}) ...")
        run = run_locust(cfg, host, credentials, progress, grace_s=grace)
        exit_code = run.exit_code
        phases["locust_s"] = _lap()
    phases["teardown_s"] = _lap()

    stats_path = cfg.out_dir / "locust_stats.json"
    if run.stopped_early:
        if not stats_path.exists():  # nothing measured: nothing to report
            if run.interrupted:
                raise KeyboardInterrupt
            raise HarnessError(f"{run.stopped_early}; nothing was measured")
        extra["stopped_early"] = {"why": run.stopped_early, "after_s": run.after_s,
                                  "of_s": cfg.duration_s, "interrupted": run.interrupted}
        note(f"{run.stopped_early} after {run.after_s:.0f} s: writing what was measured ...")
    elif not stats_path.exists():
        log = (cfg.out_dir / "locust.log").read_text(errors="replace").splitlines()[-25:]
        raise HarnessError(f"Locust exited with code {exit_code} and recorded no statistics:\n"
                           + "\n".join(log))
    stats = load_locust_stats(stats_path)
    outcomes_path = cfg.out_dir / "outcomes.json"
    if outcomes_path.exists():
        extra["outcomes"] = json.loads(outcomes_path.read_text(encoding="utf-8"))
    latency = None
    if cfg.model == "open" and not (run.stopped_early and
                                    not (cfg.out_dir / "latency_hdr.json").exists()):
        latency, extra["open_model"] = read_open_model(cfg.out_dir / "latency_hdr.json",
                                                       extra.get("outcomes", {}))
    results = evaluate(cfg.thresholds, stats, latency)
    summary = stats_summary(stats, latency)
    files = {
        "summary_json": "summary.json", "junit_xml": "junit.xml", "locust_html": "locust.html",
        "locust_csv": "locust_stats.csv", "locust_failures_csv": "locust_failures.csv",
        "locust_history_csv": "locust_stats_history.csv", "locust_json": "locust_stats.json",
        "locust_log": "locust.log",
    }
    outcome = RunOutcome(
        scenario=scenario.name, host=host, duration_s=cfg.duration_s, users=cfg.users,
        workers=cfg.workers, shape=cfg.shape, results=results, stats=summary,
        failures=read_failures_csv(cfg.out_dir / "locust_failures.csv"),
        files={k: str(cfg.out_dir / v) for k, v in files.items()},
        started_at=started_at, wall_seconds=round(time.monotonic() - started_wall, 2),
        locust_exit_code=exit_code, extra=extra,
    )
    write_summary_json(outcome, cfg.out_dir / "summary.json")
    total = summary["total"]
    write_junit(
        results, cfg.out_dir / "junit.xml", suite=f"peakline.loadtest.{scenario.name}",
        seconds=summary["seconds"],
        properties={"host": host, "requests": total["requests"], "failures": total["failures"],
                    "rps": f"{total['rps']:.1f}", "p95_ms": total["p95_ms"],
                    "users": cfg.users, "workers": cfg.workers, "shape": cfg.shape,
                    **({"stopped_early": run.stopped_early} if run.stopped_early else {})},
    )
    if (report := write_html_report(outcome, cfg.out_dir)) is not None:
        outcome.files["report_html"] = str(report)
    phases["reports_s"] = _lap()
    outcome.wall_seconds = round(time.monotonic() - started_wall, 2)
    write_summary_json(outcome, cfg.out_dir / "summary.json")
    return outcome


#: seconds a time budget keeps for Locust's start and stop and for the reports
BUDGET_RESERVE_S = 10.0
MIN_LOAD_S = 5.0
MIN_DRAIN_S = 3.0


def _fit_budget(cfg: LoadTestConfig, elapsed: float, extra: dict[str, Any],
                note: Callable[[str], None]) -> tuple[LoadTestConfig, float]:
    """Shorten the load so the run ends within ``time_budget_s``; the grace left for Locust."""
    assert cfg.time_budget_s is not None
    left = cfg.time_budget_s - elapsed
    if cfg.model == "open":  # the drain gives way first, down to MIN_DRAIN_S
        cfg = replace(cfg, drain_s=max(MIN_DRAIN_S, min(
            cfg.drain_s, left - BUDGET_RESERVE_S - cfg.duration_s)))
    load = min(cfg.duration_s, left - BUDGET_RESERVE_S - (cfg.locust_seconds - cfg.duration_s))
    if load < MIN_LOAD_S:
        raise HarnessError(f"start-up took {elapsed:.0f} s of the {cfg.time_budget_s:g} s "
                           "budget: no time left for the load")
    if load < cfg.duration_s:
        extra["duration_shortened_from_s"] = cfg.duration_s
        note(f"start-up took {elapsed:.0f} s: load shortened to {load:.0f} s to end within "
             f"the {cfg.time_budget_s:g} s budget")
        cfg = replace(cfg, duration_s=round(load, 1))
    return cfg, max(5.0, left - cfg.locust_seconds - 2.0)


def write_html_report(outcome: RunOutcome, out_dir: Path) -> Path | None:
    """The reports package's load-test page (verdict, thresholds, plots over time)."""
    try:
        from reports.loadtest_report import read_locust_csv, write_loadtest_report
    except ImportError:
        return None
    try:
        history_csv = out_dir / "locust_stats_history.csv"
        history = read_locust_csv(history_csv) if history_csv.exists() else []
        return write_loadtest_report(out_dir / "report.html", outcome.to_dict(), history)
    except (OSError, ValueError, KeyError) as exc:  # a report problem never changes the verdict
        (out_dir / "report_error.txt").write_text(f"report.html not written: {exc!r}\n")
        return None


def read_open_model(path: Path, outcomes: dict[str, int]) -> tuple[Histograms, dict[str, Any]]:
    """The open model's HDR latency histograms, and what its generator reports: requests
    scheduled, sent, answered, late sends and the send lag."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HarnessError(f"the open model wrote no latency histograms ({exc})") from None
    latency, lag = Histograms(), Histograms()
    latency.merge_encoded(data.get("latency", {}))
    lag.merge_encoded(data.get("send_lag", {}))
    report = send_report(lag, outcomes)
    report["scheduled"] = int(outcomes.get("scheduled", 0))
    report["unanswered"] = max(0, report["sent"] - int(outcomes.get("answered", 0)))
    return latency, report
