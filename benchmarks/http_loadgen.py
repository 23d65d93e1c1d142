"""A small, fast HTTP/1.1 load generator: closed loop (max rate) and open loop (fixed rate).

Raw asyncio protocols over keep-alive connections (uvloop when installed), no HTTP
library on the hot path, so one process sustains well over 10,000 requests/s and the
generator is not what limits a measurement. Requests are whole byte strings made by a
*request factory*: ``factory(i) -> bytes`` (each call may differ, e.g. a unique
Idempotency-Key); it is built in the worker process from a picklable ``make_factory``.

* :func:`closed_loop` -- ``connections`` clients, each sends the next request as soon as the
  previous answer arrives; gives the maximum throughput (and latencies that hide queueing).
* :func:`open_loop` -- requests are *scheduled* at ``rate``/s regardless of answers; a request
  goes out on an idle connection of a fixed pool (else it queues in the client) and its
  latency is measured from its scheduled send time, so a slow server shows up as latency
  instead of as a lower request rate (no coordinated omission). The generator wakes at most
  once a millisecond and sends what is due then (a wake-up per request cost it 0.49 of a
  core at 2,150 requests/s, against 0.14: CPU the server on the same cores was short of).

Both run in ``processes`` worker processes and merge their results (:class:`LoadResult`).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: the open loop wakes at most this often (each wake-up sends every request then due)
TICK_S = 0.001
Factory = Callable[[int], bytes]
MakeFactory = Callable[[int], Factory]  # worker index -> factory (picklable, module level)


@dataclass
class LoadResult:
    """Requests completed in the measured window, their latencies (s) and statuses."""

    duration_s: float
    latencies: np.ndarray  # seconds, measured requests only (inf = no answer in time)
    statuses: Counter[int] = field(default_factory=Counter)
    scheduled: int = 0  # open loop: requests scheduled in the window
    #: CPU seconds the load processes used per second of the run, per process (0..1)
    client_cpu: float = 0.0
    #: open loop: how late the generator took up each scheduled request (its own lag;
    #: waiting for a free connection is server time and counts in the latency)
    send_lag: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def completed(self) -> int:
        return int(np.isfinite(self.latencies).sum())

    @property
    def rate(self) -> float:
        return self.completed / self.duration_s if self.duration_s else 0.0

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def errors(self) -> int:
        return sum(self.statuses.values()) - self.ok + int((~np.isfinite(self.latencies)).sum())

    def percentile_ms(self, q: float) -> float:
        if not len(self.latencies):
            return float("nan")
        return float(np.percentile(self.latencies, q, method="higher")) * 1000

    def lag_ms(self, q: float) -> float:
        if not len(self.send_lag):
            return 0.0
        return float(np.percentile(self.send_lag, q, method="higher")) * 1000

    @staticmethod
    def merge(parts: list[LoadResult]) -> LoadResult:
        statuses: Counter[int] = Counter()
        for part in parts:
            statuses.update(part.statuses)
        return LoadResult(
            duration_s=max(p.duration_s for p in parts),
            latencies=np.concatenate([p.latencies for p in parts]),
            statuses=statuses, scheduled=sum(p.scheduled for p in parts),
            send_lag=np.concatenate([p.send_lag for p in parts]),
            client_cpu=max(p.client_cpu for p in parts),
        )


class ProtocolError(RuntimeError):
    pass


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight.

    Completion is a plain callback ``on_done(conn, status)`` (no future or task per
    request: that keeps the generator's cost per request to a few microseconds).
    """

    def __init__(self, on_done: Callable[[_Connection, int], None]) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.on_done = on_done
        self.need = -1  # bytes of the whole response once the head is parsed
        self.busy = False
        self.closed = False
        self.sent_at = 0.0  # perf_counter of the send (closed loop)
        self.scheduled = 0.0  # scheduled send time (open loop)
        self.measured = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.busy:
            self.busy = False
            self.on_done(self, 599)

    def send(self, data: bytes) -> None:
        self.busy = True
        self.need = -1
        assert self.transport is not None
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if self.need < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).lower()
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            if at < 0:
                raise ProtocolError("response without Content-Length")
            stop = head.find(b"\r\n", at + 2)
            length = int(head[at + 17:stop if stop >= 0 else len(head)])
            self.need = end + 4 + length
        if len(buf) >= self.need:
            if len(buf) > self.need:  # one request in flight: nothing may follow
                raise ProtocolError("unexpected bytes after a response")
            del buf[:]
            self.need = -1
            self.busy = False
            self.on_done(self, self.status)


async def _connect(host: str, port: int, on_done: Callable[[_Connection, int], None]
                   ) -> _Connection:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(lambda: _Connection(on_done), host, port)
    return conn


def _use_uvloop() -> None:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - plain asyncio still works, a bit slower
        pass


# --------------------------------------------------------------------------- closed loop


async def _closed(host: str, port: int, factory: Factory, connections: int, warmup_s: float,
                  duration_s: float, worker: int) -> LoadResult:
    loop = asyncio.get_running_loop()
    finished = loop.create_future()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    counter = iter(range(worker, 1 << 62, 1 << 8))
    active = connections
    clock = time.perf_counter
    measure_from = stop_at = float("inf")

    def send(conn: _Connection) -> None:
        nonlocal active
        now = clock()
        if now >= stop_at or conn.closed:
            conn.transport.close()  # type: ignore[union-attr]
            active -= 1
            if not active and not finished.done():
                finished.set_result(None)
            return
        conn.sent_at = now
        conn.send(factory(next(counter)))

    def on_done(conn: _Connection, status: int) -> None:
        if conn.sent_at >= measure_from:
            latencies.append(clock() - conn.sent_at)
            statuses[status] += 1
        send(conn)

    conns = [await _connect(host, port, on_done) for _ in range(connections)]
    start = clock()
    measure_from, stop_at = start + warmup_s, start + warmup_s + duration_s
    for conn in conns:
        send(conn)
    await finished
    return LoadResult(duration_s, np.asarray(latencies), statuses)


# --------------------------------------------------------------------------- open loop


async def _open(host: str, port: int, factory: Factory, rate: float, warmup_s: float,
                duration_s: float, worker: int, preopen: int, max_connections: int,
                drain_s: float) -> LoadResult:
    loop = asyncio.get_running_loop()
    clock = time.perf_counter
    idle: deque[_Connection] = deque()
    queue: deque[tuple[float, bytes, bool]] = deque()  # waiting for a connection
    latencies: list[float] = []
    lags: list[float] = []
    statuses: Counter[int] = Counter()
    pending_opens: set[asyncio.Task[None]] = set()

    def dispatch(conn: _Connection, scheduled: float, data: bytes, measured: bool) -> None:
        conn.scheduled, conn.measured = scheduled, measured
        conn.send(data)

    def on_done(conn: _Connection, status: int) -> None:
        if conn.measured:
            latencies.append(clock() - conn.scheduled)
            statuses[status] += 1
        if conn.closed:
            return
        if queue:  # the oldest waiting request takes the connection at once
            dispatch(conn, *queue.popleft())
        else:
            idle.append(conn)

    async def open_one() -> None:
        conn = await _connect(host, port, on_done)
        on_done_idle(conn)

    def on_done_idle(conn: _Connection) -> None:
        if queue:
            dispatch(conn, *queue.popleft())
        else:
            idle.append(conn)

    for _ in range(preopen):
        idle.append(await _connect(host, port, on_done))
    opened = preopen
    interval = 1.0 / rate
    start = clock() + 0.05
    measure_from = start + warmup_s
    stop_at = measure_from + duration_s
    scheduled_measured = 0
    i = 0
    while True:
        scheduled = start + i * interval
        if scheduled >= stop_at:
            break
        now = clock()
        if scheduled > now:
            await asyncio.sleep(max(scheduled - now, TICK_S))
            now = clock()
        # send everything that is due (a late wake-up sends a burst, each on its schedule time)
        while scheduled <= now and scheduled < stop_at:
            measured = scheduled >= measure_from
            scheduled_measured += measured
            if measured:  # the generator's own lateness (not the wait for a connection)
                lags.append(clock() - scheduled)
            data = factory(worker + (i << 8))
            while idle and idle[0].closed:
                idle.popleft()
            if idle:  # the longest-idle connection: requests rotate over the whole pool
                dispatch(idle.popleft(), scheduled, data, measured)
            else:
                queue.append((scheduled, data, measured))
                if opened < max_connections:
                    opened += 1
                    task = loop.create_task(open_one())
                    pending_opens.add(task)
                    task.add_done_callback(pending_opens.discard)
            i += 1
            scheduled = start + i * interval
    deadline = clock() + drain_s
    while (queue or len(latencies) < scheduled_measured) and clock() < deadline:
        await asyncio.sleep(0.01)
    unanswered = scheduled_measured - len(latencies)
    for task in list(pending_opens):
        task.cancel()
    for conn in idle:
        if conn.transport is not None:
            conn.transport.close()
    lat = np.asarray(latencies + [np.inf] * max(0, unanswered))
    return LoadResult(duration_s, lat, statuses, scheduled_measured, send_lag=np.asarray(lags))


# --------------------------------------------------------------------------- processes


def _worker(conn: Any, kind: str, make_factory: MakeFactory, worker: int,
            kwargs: dict[str, Any]) -> None:
    _use_uvloop()
    factory = make_factory(worker)
    try:
        coro = (_closed if kind == "closed" else _open)(factory=factory, worker=worker, **kwargs)
        cpu, wall = time.process_time(), time.perf_counter()
        result = asyncio.run(coro)
        result.client_cpu = (time.process_time() - cpu) / (time.perf_counter() - wall)
        conn.send(("ok", result))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        conn.send(("error", repr(exc)))
    finally:
        conn.close()


def _run(kind: str, make_factory: MakeFactory, processes: int,
         per_process: list[dict[str, Any]]) -> LoadResult:
    ctx = mp.get_context("fork")
    jobs = []
    for worker in range(processes):
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker, args=(child, kind, make_factory, worker,
                                                 per_process[worker]), daemon=True)
        proc.start()
        child.close()
        jobs.append((proc, parent))
    parts, problems = [], []
    for proc, parent in jobs:
        try:
            state, value = parent.recv()
        except EOFError:
            state, value = "error", f"load worker {proc.pid} died"
        (parts if state == "ok" else problems).append(value)
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    if problems:
        raise RuntimeError("load generator failed: " + "; ".join(problems))
    return LoadResult.merge(parts)


def closed_loop(host: str, port: int, make_factory: MakeFactory, *, connections: int = 64,
                processes: int = 1, warmup_s: float = 1.0, duration_s: float = 4.0) -> LoadResult:
    """Max throughput: ``connections`` back-to-back clients spread over ``processes``."""
    per = [dict(host=host, port=port, warmup_s=warmup_s, duration_s=duration_s,
                connections=max(1, connections // processes + (w < connections % processes)))
           for w in range(processes)]
    return _run("closed", make_factory, processes, per)


def open_loop(host: str, port: int, make_factory: MakeFactory, *, rate: float,
              processes: int = 1, warmup_s: float = 1.0, duration_s: float = 5.0,
              connections: int = 64, drain_s: float = 5.0) -> LoadResult:
    """``rate`` requests/s on a fixed schedule (latency from the scheduled send time).

    A fixed pool of ``connections`` keep-alive connections (opened up front, like a proxy's
    upstream pool): a request due while all are busy waits in the client and that wait counts
    in its latency. (Opening more connections under load would add connection set-up work to
    the server just when it is behind.)
    """
    n = max(1, connections // processes)
    per = [dict(host=host, port=port, rate=rate / processes, warmup_s=warmup_s,
                duration_s=duration_s, preopen=n, max_connections=n,
                drain_s=drain_s) for _ in range(processes)]
    return _run("open", make_factory, processes, per)
