"""The open model's generator: how many scheduled requests/s one process sends on time.

Runs ``loadtests.open_model.Dispatcher`` with the sender the open-model Locust user sends
through (``loadtests.open_sender.OrderSender``: keep-alive connections, pre-encoded requests,
answers read by I/O callbacks, Locust's request event and statistics, HDR histograms) in this
process against a canned HTTP server in another (answers ``{}`` at once, so the server is not
what is measured). Poisson arrivals at each ``--rate`` for ``--seconds``; prints per rate the
requests sent and answered, the send lag (how late the generator took a request up after its
scheduled time) p50/p99/max, late sends (> 10 ms), the latency from the scheduled time, the
CPU used (cores) and the CPU per request. The target: at least 3,000 requests/s with a send
lag p99 under 5 ms.

The baseline, measured in the same run on the same server (``--baseline-rate``): the sender
the open model had before, Locust's ``FastHttpSession`` (``catch_response``, the same body,
headers, statistics and histograms); the last line gives the ratio of their CPU per request,
the figure that does not depend on how loaded the machine is.

``--processes 1 2`` also splits each rate's stream across that many generator processes, as
``peakline loadtest --workers N`` splits the order stream across Locust workers (every N-th
request; one shared schedule on the system's monotonic clock), and reports their merged
figures: what one more process buys when one is CPU-bound.

    .venv/bin/python benchmarks/open_generator.py                  # 1000, 3000, 5000 /s
    .venv/bin/python benchmarks/open_generator.py --rate 3000 --seconds 20
    .venv/bin/python benchmarks/open_generator.py --rate 3000 --processes 1 2 3
    .venv/bin/python benchmarks/open_generator.py --rate 3000 --baseline-rate 0  # no baseline
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import multiprocessing as mp  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from locust.contrib.fasthttp import FastHttpSession  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.stats import RequestStats  # noqa: E402

from loadtests.arrivals import OrderStream  # noqa: E402
from loadtests.latency import Histograms, summary_ms  # noqa: E402
from loadtests.open_model import Dispatcher, send_report  # noqa: E402
from loadtests.open_sender import ORDER_NAME, ORDERS, OrderSender, connections  # noqa: E402

TARGET_RATE, TARGET_LAG_P99_MS = 3000, 5.0
HEADERS = {"Authorization": "Bearer k", "Content-Type": "application/json"}
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class _Canned(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:  # one answer per complete request (bodies carry Content-Length)
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            self.transport.write(ANSWER)  # type: ignore[attr-defined]


def _serve(port: mp.Value) -> None:  # type: ignore[valid-type]
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Canned, "127.0.0.1", 0)
        port.value = server.sockets[0].getsockname()[1]
        await server.serve_forever()

    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())


def _with_stats() -> Environment:
    """An environment whose request events go into Locust's statistics, as a runner's do."""
    env, stats = Environment(), RequestStats()

    def on_request(request_type: str, name: str, response_time: float, response_length: int,
                   exception: Exception | None = None, **_kw: object) -> None:
        stats.log_request(request_type, name, response_time, response_length)
        if exception:
            stats.log_error(request_type, name, exception)

    env.events.request.add_listener(on_request)
    return env


def _stream(send_s: np.ndarray) -> OrderStream:
    """One-line orders of SKU 1 to one region at ``send_s``."""
    n = len(send_s)
    ones = np.ones(n, dtype=np.int64)
    return OrderStream(send_s, send_s / 60, np.zeros(n, dtype=np.int64),
                       np.arange(n + 1, dtype=np.int64), ones, ones, ("R-MSK",), 1.0,
                       float(send_s[-1]) / 60 if n else 0.0)


def _fasthttp_sender(base_url: str, env: Environment, latency: Histograms,
                     counts: Counter[str]) -> Callable[[int, float], None]:
    """The open model's previous sender: Locust's FastHttpSession with ``catch_response``."""
    session = FastHttpSession(base_url, env.events.request, user=None, concurrency=1000,
                              network_timeout=30)
    body = {"client_id": "1", "region": "R-MSK", "lines": [{"sku": 1, "quantity": 1}]}

    def send(_i: int, due: float) -> None:
        headers = {**HEADERS, "Idempotency-Key": str(uuid.uuid4())}
        with session.post(ORDERS, json=body, name=ORDER_NAME, catch_response=True,
                          headers=headers) as resp:
            took = time.perf_counter() - due
            resp.request_meta["response_time"] = took * 1000
            if resp.status_code == 200:
                counts["answered"] += 1
            else:
                resp.failure(f"HTTP {resp.status_code}")
            latency.record(resp.request_meta["name"], took)

    return send


def _send_share(base_url: str, send_s: np.ndarray,
                start: Callable[[], float | None] = lambda: None,
                sender: str = "lean") -> dict[str, object]:
    """Send ``send_s`` (seconds after the origin on ``time.perf_counter`` that ``start()``
    gives once this process is ready; ``None``: now) with ``sender`` (``lean`` or
    ``fasthttp``); its histograms (encoded), counts and CPU seconds."""
    env = _with_stats()
    lag, latency, counts = Histograms(), Histograms(), Counter[str]()
    client = None
    if sender == "lean":
        client = connections(base_url, connections=1000, network_timeout_s=30)
        dispatcher = Dispatcher(send_s, submit=OrderSender(
            client, env.events, _stream(send_s), client_id="1", headers=HEADERS,
            latency=latency, outcomes=counts), lag=lag, counts=counts)
    else:
        dispatcher = Dispatcher(send_s, _fasthttp_sender(base_url, env, latency, counts),
                                lag=lag, counts=counts)
    origin = start()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    dispatcher.run(origin)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    if client is not None:
        client.close()
    if sender == "lean":  # answered with a 200 (OrderSender counts every answer)
        counts["answered"] = counts.pop("orders_created", 0)
    return {"lag": lag.encode(), "latency": latency.encode(), "counts": dict(counts),
            "cpu_s": cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime}


def _share_in_child(base_url: str, send_s: np.ndarray, origin: Any, sender: str,
                    results: mp.Queue) -> None:  # type: ignore[type-arg]
    """A generator process: says it is ready on ``results``, waits for the shared
    ``origin``, sends its share of the schedule and puts its figures on ``results``."""

    def start() -> float:
        results.put("ready")
        while not origin.value:
            time.sleep(0.005)
        return float(origin.value)

    results.put(_send_share(base_url, send_s, start, sender))


def measure(base_url: str, rate: float, seconds: float, seed: int = 0,
            processes: int = 1, sender: str = "lean") -> dict[str, object]:
    """Send Poisson arrivals at ``rate`` for ``seconds`` from ``processes`` processes (every
    ``processes``-th request each); the generator's figures, merged."""
    rng = np.random.default_rng(seed)
    send_s = np.cumsum(rng.exponential(1 / rate, int(rate * seconds)))
    if processes == 1:
        t0 = time.perf_counter()
        parts = [_send_share(base_url, send_s, sender=sender)]
    else:  # fresh interpreters (gevent and fork do not mix) on one schedule
        spawn = mp.get_context("spawn")
        results, origin = spawn.Queue(), spawn.Value("d", 0.0)
        children = [spawn.Process(target=_share_in_child,
                                  args=(base_url, send_s[k::processes], origin, sender,
                                        results))
                    for k in range(processes)]
        for child in children:
            child.start()
        for _ in children:  # all started up (imports, connections' sender built)
            results.get()
        t0 = origin.value = time.perf_counter() + 0.2
        parts = [results.get() for _ in children]
        for child in children:
            child.join()
    wall = time.perf_counter() - t0
    lag, latency, counts = Histograms(), Histograms(), Counter[str]()
    for part in parts:
        lag.merge_encoded(part["lag"])  # type: ignore[arg-type]
        latency.merge_encoded(part["latency"])  # type: ignore[arg-type]
        counts.update(part["counts"])  # type: ignore[arg-type]
    cpu_s = sum(float(part["cpu_s"]) for part in parts)  # type: ignore[arg-type]
    return {"rate": rate, "processes": processes, "sender": sender, "wall_s": wall,
            "cpu": cpu_s / wall,
            **send_report(lag, counts), "cpu_us_per_request": cpu_s / len(send_s) * 1e6,
            "answered": counts["answered"], "latency": summary_ms(latency.merged())}


def _row(r: dict[str, object]) -> str:
    lag, lat = r["lag"], r["latency"]
    return (f"{r['sender']:>8} {r['rate']:>7.0f} {r['processes']:>5} {r['sent']:>7} "
            f"{r['answered']:>8} {lag['p50_ms']:>6.2f}ms {lag['p99_ms']:>6.2f}ms "  # type: ignore[index]
            f"{lag['max_ms']:>6.1f}ms {r['late_sends']:>6} {lat['p99_ms']:>6.1f}ms "  # type: ignore[index]
            f"{r['cpu']:>5.2f} {r['cpu_us_per_request']:>6.0f}us")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, nargs="+", default=[1000, 3000, 5000])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--processes", type=int, nargs="+", default=[1],
                        help="generator processes sharing each rate's stream")
    parser.add_argument("--baseline-rate", type=float, default=1000.0,
                        help="rate at which the previous sender (FastHttpSession) and this "
                             "one are compared, in one process (0: no baseline)")
    args = parser.parse_args(argv)
    port = mp.Value("i", 0)
    server = mp.get_context("fork").Process(target=_serve, args=(port,), daemon=True)
    server.start()
    while not port.value:
        time.sleep(0.01)
    base = f"http://127.0.0.1:{port.value}"
    load = [os.getloadavg()[0]]
    for sender in ("lean", "fasthttp") if args.baseline_rate else ("lean",):
        measure(base, 500, 1.0, sender=sender)  # connections opened, code warm
    print(f"{'sender':>8} {'rate/s':>7} {'procs':>5} {'sent':>7} {'answered':>8} "
          f"{'lag p50':>8} {'lag p99':>8} {'lag max':>8} {'late':>6} {'lat p99':>8} "
          f"{'cpu':>5} {'cpu/req':>8}")
    verdicts: dict[int, bool] = {}
    for rate in args.rate:
        for processes in args.processes:
            r = measure(base, rate, args.seconds, processes=processes)
            print(_row(r), flush=True)
            lag = r["lag"]
            if rate >= TARGET_RATE and processes not in verdicts:
                verdicts[processes] = (lag["p99_ms"] < TARGET_LAG_P99_MS  # type: ignore[index]
                                       and r["answered"] == r["sent"])
    compared = {}
    if args.baseline_rate:
        for sender in ("lean", "fasthttp"):
            compared[sender] = measure(base, args.baseline_rate, args.seconds, sender=sender)
            print(_row(compared[sender]), flush=True)
    load.append(os.getloadavg()[0])
    server.terminate()
    for processes, held in verdicts.items():
        word = "holds" if held else "misses"
        print(("PASS" if held else "FAIL") + f": the generator {word} its schedule at "
              f"{TARGET_RATE} requests/s (send lag p99 < {TARGET_LAG_P99_MS:g} ms) in "
              f"{processes} process{'es' if processes > 1 else ''}")
    if compared:
        lean, old = (float(compared[k]["cpu_us_per_request"])  # type: ignore[arg-type]
                     for k in ("lean", "fasthttp"))
        print(f"CPU per request at {args.baseline_rate:.0f}/s: {lean:.0f} us with the lean "
              f"sender, {old:.0f} us with FastHttpSession (the previous sender): "
              f"{old / lean:.1f}x less")
    print(f"load average {load[0]:.1f} -> {load[1]:.1f} on {os.cpu_count()} cores while "
          "measuring")
    return 0  # a figure to read, not a gate (the machine may be shared)


if __name__ == "__main__":
    raise SystemExit(main())
