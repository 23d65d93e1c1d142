"""Open-model Locust file: the scenario's orders sent at their scheduled times.

``peakline loadtest --model open`` (the default with ``--shape curve``) runs this file. Each
Locust process runs one :class:`OpenBuyers` user that takes its share of the order stream
(``loadtests.arrivals``: the orders ``peakline simulate --seed N`` draws, compressed into the
test's duration; worker ``k`` of ``n`` takes every ``n``-th order from ``k``) and sends each
order at its time through :class:`loadtests.open_model.Dispatcher` and the lean sender of
``loadtests/open_sender.py``. A request's response
time in Locust's statistics is counted from its scheduled send time, and every latency also
goes into an HDR histogram (``loadtests.latency``) that the master merges and writes to
``--peakline-latency`` with the send lag of the generator.

The options, the world (keys, scenario) and the outcome counters are those of
``loadtests/locustfile.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from locust import LoadTestShape, User, events, task
from locust.runners import WorkerRunner

from loadtests import locustfile as _closed_model  # noqa: F401  (options, world, outcomes)
from loadtests.arrivals import order_stream
from loadtests.latency import Histograms
from loadtests.open_model import Dispatcher
from loadtests.open_sender import OrderSender, connections
from loadtests.world import OUTCOMES, World

LATENCY = Histograms()
SEND_LAG = Histograms()


class OpenShape(LoadTestShape):
    """One dispatching user per Locust process, until every order of the stream is answered
    (or timed out) after the test's duration, at most ``--peakline-drain`` seconds longer."""

    orders: int | None = None

    def tick(self) -> tuple[int, float] | None:
        opts = self.runner.environment.parsed_options
        if self.orders is None:
            world = World.from_option(opts.peakline_world)
            self.orders = len(order_stream(world.scenario, int(opts.peakline_seed),
                                           duration_s=float(opts.peakline_duration)))
        run_time, duration = self.get_run_time(), float(opts.peakline_duration)
        if run_time >= duration + float(opts.peakline_drain) or (
                run_time >= duration and OUTCOMES["answered"] >= self.orders):
            return None
        processes = int(opts.peakline_processes)
        return processes, float(processes)


class OpenBuyers(User):
    """Sends this process's share of the scenario's orders on schedule, then idles.

    Through the sender of ``loadtests/open_sender.py`` (keep-alive connections, requests
    pre-encoded, answers read by I/O callbacks, Locust's statistics fed through its request
    event), not ``FastHttpUser``'s session: a fraction of the CPU a request, so one process
    keeps a schedule of thousands a second (``benchmarks/open_generator.py``)."""

    connections = 1000  # a slow backend makes requests queue, never wait to start
    network_timeout = 20.0  # a request unanswered by then fails (the drain waits longer)
    done = False

    def wait_time(self) -> float:
        return 1.0

    @task
    def dispatch(self) -> None:
        if self.done:
            return
        self.done = True
        opts = self.environment.parsed_options
        world = World.from_option(opts.peakline_world)
        stream = order_stream(world.scenario, int(opts.peakline_seed),
                              duration_s=float(opts.peakline_duration))
        processes = max(1, int(opts.peakline_processes))
        index = max(0, self.environment.runner.worker_index) % processes
        share = stream.share(index, processes)
        OUTCOMES["scheduled"] += len(share)
        client = connections(self.host, connections=self.connections,
                             network_timeout_s=self.network_timeout)
        orders = OrderSender(client, self.environment.events, share,
                             client_id=world.seller_client_id, headers=world.platform_headers,
                             sku_base=world.sku_base or 0, latency=LATENCY, outcomes=OUTCOMES)
        try:
            Dispatcher(share.send_s, submit=orders, lag=SEND_LAG, counts=OUTCOMES).run()
        finally:
            client.close()


@events.report_to_master.add_listener
def _report(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    data["peakline_latency"] = LATENCY.encode()
    data["peakline_send_lag"] = SEND_LAG.encode()
    LATENCY.reset()
    SEND_LAG.reset()


@events.worker_report.add_listener
def _collect(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    LATENCY.merge_encoded(data.get("peakline_latency", {}))
    SEND_LAG.merge_encoded(data.get("peakline_send_lag", {}))


@events.quitting.add_listener
def _write_histograms(environment: Any, **_kw: Any) -> None:
    opts = environment.parsed_options
    if isinstance(environment.runner, WorkerRunner) or not opts or not opts.peakline_latency:
        return
    Path(opts.peakline_latency).write_text(json.dumps(
        {"latency": LATENCY.encode(), "send_lag": SEND_LAG.encode()}, indent=1) + "\n",
        encoding="utf-8")
