"""Open-model Locust file: the scenario's orders sent at their scheduled times.

``peakline loadtest --model open`` (the default with ``--shape curve``) runs this file. Each
Locust process runs one :class:`OpenBuyers` user that takes its share of the order stream
(``loadtests.arrivals``: the orders ``peakline simulate --seed N`` draws, compressed into the
test's duration; worker ``k`` of ``n`` takes every ``n``-th order from ``k``) and sends each
order at its time through :class:`loadtests.open_model.Dispatcher`. A request's response
time in Locust's statistics is counted from its scheduled send time, and every latency also
goes into an HDR histogram (``loadtests.latency``) that the master merges and writes to
``--peakline-latency`` with the send lag of the generator.

The options, the world (keys, scenario) and the outcome counters are those of
``loadtests/locustfile.py``.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from locust import FastHttpUser, LoadTestShape, events, task
from locust.runners import WorkerRunner

from loadtests import locustfile as closed_model  # options, world and outcome counters
from loadtests.arrivals import OrderStream, order_stream
from loadtests.latency import Histograms
from loadtests.open_model import Dispatcher
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


class OpenBuyers(FastHttpUser):
    """Sends this process's share of the scenario's orders on schedule, then idles."""

    concurrency = 1000  # connections: a slow backend makes requests queue, never wait to start
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
        Dispatcher(share.send_s, lambda i, due: self._order(world, share, i, due),
                   lag=SEND_LAG, counts=OUTCOMES).run()

    def _order(self, world: World, stream: OrderStream, i: int, due: float) -> None:
        sku_base = world.sku_base or 0
        body = {"client_id": world.seller_client_id,
                "region": stream.region_ids[int(stream.region[i])],
                "lines": [{"sku": sku_base + sku, "quantity": qty}
                          for sku, qty in stream.basket(i)]}
        headers = {**world.platform_headers, "Idempotency-Key": str(uuid.uuid4())}
        with self.client.post(closed_model.ORDERS, json=body, headers=headers,
                              name=f"POST {closed_model.ORDERS}", catch_response=True) as resp:
            latency = time.perf_counter() - due
            resp.request_meta["response_time"] = latency * 1000  # from the scheduled time
            if closed_model.throttled(resp):
                pass
            elif resp.status_code in (200, 201):
                OUTCOMES["orders_created"] += 1
            elif resp.status_code == 409 and "OUT_OF_STOCK" in (resp.text or ""):
                OUTCOMES["orders_out_of_stock"] += 1
                resp.success()
            else:
                resp.failure(f"HTTP {resp.status_code}: {(resp.text or '')[:200]}")
            OUTCOMES["answered"] += 1
            LATENCY.record(resp.request_meta["name"], latency)


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
