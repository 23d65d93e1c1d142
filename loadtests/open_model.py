"""The open model: requests sent at their scheduled times, whether or not earlier ones returned.

A closed-loop user waits for an answer before it sends again, so a slow backend gets fewer
requests exactly when it is slow and its latency is under-reported (coordinated omission).
:class:`Dispatcher` instead takes each request up at its scheduled time in a greenlet of its
own; its latency is counted from the *scheduled* time, so any wait (for a connection, in the
backend's queue) shows as latency. How late the generator itself took a request up is its
*send lag*, kept in its own histogram: sends later than :data:`LATE_S` are counted as late,
so a generator that could not keep up is reported, never hidden.

The dispatcher wakes at most once a :data:`TICK_S` and takes up every request then due (a
wake-up per request costs a core's worth of CPU at a few thousand requests per second). It is
plain gevent, no Locust: ``loadtests/open_locustfile.py`` runs it inside a Locust user.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import gevent
import gevent.pool
import numpy as np

from loadtests.latency import Histograms, summary_ms

TICK_S = 0.001
#: a send taken up later than this after its scheduled time counts as a late send
LATE_S = 0.010

#: ``send(i, scheduled)``: send request ``i``; ``scheduled`` is its due time on ``clock``
Send = Callable[[int, float], None]


class Dispatcher:
    """Takes up request ``i`` at ``origin + send_s[i]`` (seconds on ``clock``) and sends it."""

    def __init__(self, send_s: np.ndarray, send: Send, *, lag: Histograms | None = None,
                 counts: Counter[str] | None = None, max_in_flight: int = 20_000,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.send_s = np.asarray(send_s, dtype=float)
        self.send = send
        self.clock = clock
        self.pool = gevent.pool.Pool(max_in_flight)
        self.lag = Histograms() if lag is None else lag  # under the name "send lag"
        self.counts: Counter[str] = Counter() if counts is None else counts

    def run(self, origin: float | None = None) -> None:
        """Send every request on schedule; return once all have been answered."""
        origin = self.clock() if origin is None else origin
        due = (origin + self.send_s).tolist()
        i, n = 0, len(due)
        while i < n:
            now = self.clock()
            while i < n and due[i] <= now:
                self.pool.spawn(self._take_up, i, due[i])
                i += 1
            if i < n:
                gevent.sleep(max(TICK_S, due[i] - self.clock()))
        self.pool.join()

    def _take_up(self, i: int, due: float) -> None:
        lag = self.clock() - due
        self.lag.record(SEND_LAG, lag)
        self.counts["sent"] += 1
        if lag > LATE_S:
            self.counts["late_sends"] += 1
        self.send(i, due)


SEND_LAG = "send lag"


def send_report(lag: Histograms, counts: Counter[str] | dict[str, int]) -> dict[str, object]:
    """Requests sent, late sends and the send lag's figures (ms), for the summary."""
    sent = int(counts.get("sent", 0))
    late = int(counts.get("late_sends", 0))
    return {"sent": sent, "late_sends": late, "late_after_ms": LATE_S * 1000,
            "late_share": late / sent if sent else 0.0,
            "lag": summary_ms(lag.merged([SEND_LAG]))}
