"""One rehearsal end to end: backend up, integration up, the peak replayed, the gate judged.

:func:`run_rehearsal` seeds the reference backend from the scenario (a temporary SQLite file
unless a database URL is given) and serves it with Ozon's rate limits on and shipment
deadlines compressed by the speed; starts the recording proxy and the integration (a shell
command with ``OZON_API_URL`` pointing at the proxy, ``OZON_CLIENT_ID``, ``OZON_API_KEY``);
waits for the integration's first request; sends the scenario's orders on schedule while
carriers pick up what was shipped; after the last order waits until every posting is
shipped and labelled, or past its deadline, then for the push notifications still due (so
late pushes are counted too); stops everything it started; and writes
``summary.json``, ``junit.xml`` and ``report.html`` into the output folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from loadtests import backend
from loadtests.arrivals import OrderStream, order_stream
from loadtests.processes import free_port
from loadtests.rehearsal.gate import RehearsalThreshold, evaluate
from loadtests.rehearsal.integration import Integration, RunningIntegration, StartedIntegration
from loadtests.rehearsal.ledger import Ledger
from loadtests.rehearsal.proxy import PUSH_PATH, RecordingProxy
from loadtests.rehearsal.traffic import Buyers, Carriers
from loadtests.results import write_junit
from loadtests.runner import HarnessError  # the rehearsal could not run: exit 3
from loadtests.thresholds import ThresholdResult
from reference_backend.faults import PUSH_KINDS, FaultProfile
from reference_backend.settings import Settings
from simulator.model import run as simulate
from simulator.scenario import Scenario, load_scenario

#: seconds the integration has to send its first request
STARTUP_S = 60.0
#: the connection the integration needs, as ``KEY=value`` lines, in the output folder
CONNECTION_FILE = "ozon.env"
#: after the last order, pushes still due are waited for this long beyond their lateness
PUSH_MARGIN_S = 5.0
#: the backend's push queue depth (``/metrics``)
OUTBOX_PENDING = "peakline_outbox_pending_events"


@dataclass(frozen=True)
class RehearsalConfig:
    scenario_path: Path
    out_dir: Path
    thresholds: list[RehearsalThreshold]
    integration: str | None  # a shell command (or None: ``integration_url``)
    speed: float  # scenario seconds per second of rehearsal
    seed: int = 1  # as `peakline simulate`
    #: only the orders from ``start`` to ``end`` (scenario minutes), e.g. the evening peak
    window: tuple[float, float] | None = None
    db: str | None = None
    rate_limits: bool = True
    #: Ozon's bad moments injected by the backend (``reference_backend.faults``)
    faults: FaultProfile | None = None
    #: the health URL of an integration already running (instead of ``integration``)
    integration_url: str | None = None
    #: where the integration receives Ozon's push notifications (registered as the seller's)
    push_url: str | None = None
    #: where the Seller API the integration calls listens (port 0: a free one)
    listen: tuple[str, int] = ("127.0.0.1", 0)
    #: a seller seeded before in ``db`` (``peakline seed --credentials-out``): no new seed
    credentials: Path | None = None
    #: after the last order, wait at most this long for the last shipments (default: the
    #: compressed shipment deadline)
    drain_s: float | None = None


@dataclass
class RehearsalOutcome:
    scenario: str
    seed: int
    speed: float
    measures: dict[str, Any]
    results: list[ThresholdResult]
    series: dict[str, list[float]]
    simulated_backlog: dict[str, list[float]]
    extra: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "seed": self.seed, "speed": self.speed,
                "passed": self.passed, "measures": self.measures,
                "thresholds": [r.to_dict() for r in self.results],
                "breaches": [r.threshold.label for r in self.results if not r.passed],
                "series": self.series, "simulated_backlog": self.simulated_backlog,
                "files": self.files, **self.extra}


def deadline_hours() -> float:
    """The backend's hours from order to ``shipment_date`` (Ozon's 24 by default)."""
    return float(Settings.model_fields["shipment_deadline_hours"].default)


def simulated_backlog(scenario: Scenario, seed: int, speed: float,
                      window: tuple[float, float] | None) -> dict[str, list[float]]:
    """The simulator's warehouse backlog (postings, all warehouses) on the rehearsal's clock."""
    start, end = window or (0.0, float(scenario.clock.horizon_minutes))
    result = simulate(scenario, seed)
    backlog = result.series["backlog_warehouse"]
    total = backlog.sum(axis=1) if backlog.ndim == 2 else backlog
    minutes = result.series_time * 60
    keep = (minutes >= start) & (minutes <= end)
    return {"t": ((minutes[keep] - start) * 60 / speed).tolist(),
            "backlog": total[keep].tolist()}


def run_rehearsal(cfg: RehearsalConfig, note: Callable[[str], None] = lambda _m: None
                  ) -> RehearsalOutcome:
    """Run one rehearsal and judge it; :class:`HarnessError` if it cannot run."""
    scenario = load_scenario(cfg.scenario_path)
    stream = order_stream(scenario, cfg.seed, speed=cfg.speed, window=cfg.window)
    deadline_s = deadline_hours() * 3600 / cfg.speed
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("summary.json", "junit.xml", "report.html", "integration.log", "backend.log",
                  CONNECTION_FILE):
        (cfg.out_dir / stale).unlink(missing_ok=True)
    env = {"PEAKLINE_SHIPMENT_DEADLINE_HOURS": f"{deadline_hours() / cfg.speed:.9g}",
           "PEAKLINE_OZON_RATE_LIMITS": "true" if cfg.rate_limits else "false"}
    if cfg.faults is not None:
        env["PEAKLINE_OZON_FAULTS"] = cfg.faults.model_dump_json()
    if cfg.push_url:  # pushes go to the recording proxy on 127.0.0.1, which passes them on
        env["PEAKLINE_PUSH_ALLOW_PRIVATE_TARGETS"] = "true"
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="peakline-rehearse-")))
        db = cfg.db or backend.sqlite_url(tmp / "peakline.db")
        log = cfg.out_dir / "backend.log"
        note(f"seeding and starting the reference backend from {cfg.scenario_path} ...")
        try:
            backend.ensure_database(db)
            credentials = (json.loads(cfg.credentials.read_text(encoding="utf-8"))
                           if cfg.credentials else
                           backend.seed(cfg.scenario_path, db, tmp / "credentials.json", log,
                                        name=f"rehearsal-{os.getpid()}" if cfg.db else None))
            base = stack.enter_context(backend.serve(db, log, env=env))
        except backend.BackendError as exc:
            raise HarnessError(str(exc)) from None
        note(f"replaying {len(stream)} orders in {stream.duration_s:.0f} s "
             f"({cfg.speed:g}x; shipment deadline {deadline_s:.0f} s) ...")
        ledger, extra = asyncio.run(_rehearse(cfg, base, credentials, stream, deadline_s, note))
    measures = ledger.measures()
    results = evaluate(cfg.thresholds, measures)
    outcome = RehearsalOutcome(
        scenario=scenario.name, seed=cfg.seed, speed=cfg.speed, measures=measures,
        results=results, series=ledger.series(),
        simulated_backlog=simulated_backlog(scenario, cfg.seed, cfg.speed, cfg.window),
        extra={**extra, "deadline_s": deadline_s, "orders_scheduled": len(stream),
               "window_minutes": list(cfg.window) if cfg.window else None,
               "failures": dict(ledger.errors.most_common(10)),
               "faults": fault_report(cfg.faults, ledger),
               "pushes": ledger.push_report() if cfg.push_url else None,
               "requests_by_path": dict(ledger.by_path.most_common())})
    write_outputs(outcome, cfg.out_dir)
    return outcome


async def _rehearse(cfg: RehearsalConfig, base: str, credentials: dict[str, Any],
                    stream: OrderStream, deadline_s: float, note: Callable[[str], None]
                    ) -> tuple[Ledger, dict[str, Any]]:
    ledger = Ledger()
    proxy = RecordingProxy(base, ledger, push_target=cfg.push_url)
    host, port = cfg.listen[0], cfg.listen[1] or free_port(cfg.listen[0])
    server = uvicorn.Server(uvicorn.Config(proxy, host=host, port=port,
                                           log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    connection = connection_env(cfg.listen[0], port, credentials)
    env_file = write_connection(connection, cfg.out_dir / CONNECTION_FILE)
    integration: Integration = (
        RunningIntegration(cfg.integration_url) if cfg.integration_url else
        StartedIntegration(cfg.integration or "", cfg.out_dir / "integration.log"))
    if cfg.integration_url:
        note("the integration connects with:\n" + "".join(
            f"  {k}={v}\n" for k, v in connection.items()) + f"(also in {env_file})")
    stop, interrupted = asyncio.Event(), asyncio.Event()
    try:
        with _interrupts_set(interrupted):
            while not server.started:  # the integration may call at once
                await asyncio.sleep(0.02)
            if cfg.push_url:
                await register_push(base, credentials, f"http://127.0.0.1:{port}{PUSH_PATH}")
                note(f"Ozon push notifications go to {cfg.push_url}")
            try:
                await integration.start(connection, STARTUP_S)
            except RuntimeError as exc:
                raise HarnessError(f"{integration.description} did not come up: {exc}") from None
            await _first_request(ledger, integration, interrupted)
            ledger.origin = time.monotonic()  # the rehearsal's clock starts now
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                buyers = Buyers(client, stream, credentials, ledger, deadline_s=deadline_s)
                carriers = Carriers(client, credentials, ledger, seed=cfg.seed,
                                    return_probability=_return_probability(cfg.scenario_path))
                picking = asyncio.create_task(carriers.run(stop))
                drain = cfg.drain_s if cfg.drain_s is not None else deadline_s + 2
                if not await _while_alive(buyers.run(), integration, interrupted):
                    await _while_alive(_drained(ledger, drain), integration, interrupted)
                ledger.ended_at = ledger.now()
                stop.set()
                await picking
                if cfg.push_url and not interrupted.is_set():  # count the pushes still due
                    await _while_alive(_pushes_delivered(client, ledger,
                                                         push_wait_s(cfg.faults)),
                                       integration, interrupted)
                ledger.pushes_closed = True
        extra: dict[str, Any] = {"carriers": carriers.counts,
                                 "integration_gone": integration.problem()}
        if interrupted.is_set():
            extra["stopped_early"] = {"why": "interrupted (Ctrl-C)", "interrupted": True,
                                      "after_s": round(ledger.ended_at, 1),
                                      "of_s": round(stream.duration_s + drain, 1)}
        return ledger, extra
    finally:
        stop.set()
        integration.stop()
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 10)
        await proxy.close()


def connection_env(listen_host: str, port: int, credentials: dict[str, Any]) -> dict[str, str]:
    """What the integration connects with; a wildcard address is named by this host's name."""
    host = socket.gethostname() if listen_host in ("0.0.0.0", "::", "") else listen_host
    return {"OZON_API_URL": f"http://{host}:{port}",
            "OZON_CLIENT_ID": str(credentials["client_id"]),
            "OZON_API_KEY": str(credentials["api_key"])}


def write_connection(connection: dict[str, str], path: Path) -> Path:
    """``KEY=value`` lines (``docker run --env-file``, ``set -a; . FILE``), owner-only."""
    path.write_text("".join(f"{k}={v}\n" for k, v in connection.items()), encoding="utf-8")
    path.chmod(0o600)
    return path


async def register_push(base: str, credentials: dict[str, Any], url: str) -> None:
    """Subscribe ``url`` to every push type, as a seller does (``/v1/notification/set``)."""
    headers = {"Client-Id": str(credentials["client_id"]), "Api-Key": credentials["api_key"]}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        answer = await client.post("/v1/notification/set", json={"url": url, "types": []})
    if answer.status_code != 200:
        raise HarnessError(f"registering the push URL failed: HTTP {answer.status_code} "
                           f"{answer.text[:300]}")


def fault_report(profile: FaultProfile | None, ledger: Ledger) -> dict[str, Any] | None:
    """Each fault kind's stated rate beside how often it was injected: of the integration's
    requests, or of the distinct pushes for push faults."""
    if profile is None:
        return None
    requests, pushes = ledger.integration["requests"], len(ledger.push_events)
    kinds = {}
    for kind, f in profile.kinds().items():
        of = pushes if kind in PUSH_KINDS else requests
        kinds[kind] = {"rate": f.rate, "injected": ledger.faults[kind], "of": of,
                       "of_what": "pushes" if kind in PUSH_KINDS else "requests",
                       "share": ledger.faults[kind] / of if of else 0.0}
    return {"profile": profile.name, "kinds": kinds}


def _return_probability(path: Path) -> float:
    return float(load_scenario(path).demand.return_probability)


@contextlib.contextmanager
def _interrupts_set(event: asyncio.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM set ``event`` instead of unwinding, so what was measured is kept."""
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        loop.add_signal_handler(sig, event.set)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)


async def _first_request(ledger: Ledger, integration: Integration,
                         interrupted: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_S
    while not ledger.integration["requests"]:
        if interrupted.is_set():
            raise KeyboardInterrupt  # nothing measured yet
        if (gone := integration.problem()) is not None:
            raise HarnessError(f"{integration.description} was gone before its first request: "
                               f"{gone}\n{integration.tail()}".rstrip())
        if loop.time() > deadline:
            hint = ("" if isinstance(integration, StartedIntegration) else
                    f"; it must connect with what {CONNECTION_FILE} in the output folder says")
            raise HarnessError(f"{integration.description} sent no request within "
                               f"{STARTUP_S:g} s{hint}\n{integration.tail()}".rstrip())
        await asyncio.sleep(0.05)


async def _while_alive(work: Any, integration: Integration,
                      interrupted: asyncio.Event) -> bool:
    """Await ``work``; :class:`HarnessError` as soon as the integration dies; ``True`` if
    ``interrupted`` was set first (``work`` is then cancelled)."""
    task = asyncio.ensure_future(work)
    while not task.done():
        if interrupted.is_set():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return True
        if (gone := integration.problem()) is not None:
            task.cancel()
            raise HarnessError(f"{integration.description} died during the rehearsal: {gone}"
                               f"\n{integration.tail()}".rstrip())
        await asyncio.wait([task], timeout=0.2)
    task.result()
    return False


async def _drained(ledger: Ledger, at_most_s: float) -> None:
    """Until every posting is shipped and labelled, or ``at_most_s`` has passed."""
    loop = asyncio.get_running_loop()
    until = loop.time() + at_most_s
    while ledger.unfinished and loop.time() < until:
        await asyncio.sleep(0.2)


def push_wait_s(faults: FaultProfile | None) -> float:
    """How long pushes still due may take after the rehearsal: a late push's lateness, plus
    :data:`PUSH_MARGIN_S` for the outbox worker's poll and the integration's answer."""
    late_s = faults.push_late.delay_ms / 1000 if faults is not None and faults.push_late else 0.0
    return late_s + PUSH_MARGIN_S


async def outbox_pending(client: httpx.AsyncClient) -> float | None:
    """Push notifications the backend has not delivered yet (``None``: unknown)."""
    try:
        answer = await client.get("/metrics")
    except httpx.HTTPError:
        return None
    for line in answer.text.splitlines():
        if line.startswith(OUTBOX_PENDING + " "):
            with contextlib.suppress(ValueError):
                return float(line.split()[1])
    return None


async def _pushes_delivered(client: httpx.AsyncClient, ledger: Ledger,
                            at_most_s: float) -> None:
    """Until the backend's outbox is empty (every push counted, late ones included), or
    ``at_most_s`` has passed (pushes the integration keeps refusing are retried for hours);
    the pushes still pending then go into the ledger."""
    loop = asyncio.get_running_loop()
    until = loop.time() + at_most_s
    while (pending := await outbox_pending(client)) != 0 and loop.time() < until:
        await asyncio.sleep(0.2)
    ledger.pushes_pending = None if pending is None else int(pending)


def write_outputs(outcome: RehearsalOutcome, out_dir: Path) -> None:
    """summary.json, junit.xml and report.html (a report problem never changes the verdict)."""
    files = {"summary_json": out_dir / "summary.json", "junit_xml": out_dir / "junit.xml"}
    for key, name in (("integration_log", "integration.log"), ("connection", CONNECTION_FILE)):
        if (out_dir / name).exists():
            files[key] = out_dir / name
    write_junit(outcome.results, files["junit_xml"], suite=f"peakline.rehearse.{outcome.scenario}",
                seconds=float(outcome.series["t"][-1]) if outcome.series["t"] else 0.0,
                properties={k: outcome.measures[k] for k in ("orders", "postings", "shipped",
                                                             "late_count", "requests")})
    try:
        from reports.rehearsal_report import write_rehearsal_report

        files["report_html"] = write_rehearsal_report(outcome.to_dict(), out_dir / "report.html")
    except (ImportError, OSError, ValueError, KeyError) as exc:
        (out_dir / "report_error.txt").write_text(f"report.html not written: {exc!r}\n")
    outcome.files = {k: str(v) for k, v in files.items()}
    files["summary_json"].write_text(json.dumps(outcome.to_dict(), indent=2) + "\n",
                                     encoding="utf-8")
