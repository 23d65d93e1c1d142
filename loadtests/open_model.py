"""The open model: requests sent at their scheduled times, whether or not earlier ones returned.

A closed-loop user waits for an answer before it sends again, so a slow backend gets fewer
requests exactly when it is slow and its latency is under-reported (coordinated omission).
:class:`Dispatcher` instead takes each request up at its scheduled time in a greenlet of its
own; its latency is counted from the *scheduled* time, so any wait (for a connection, in the
backend's queue) shows as latency. How late the generator itself took a request up is its
*send lag*, kept in its own histogram: sends later than :data:`LATE_S` are counted as late,
so a generator that could not keep up is reported, never hidden.

The dispatcher wakes at most once a :data:`TICK_S` and takes up every request then due (a
wake-up per request costs a core's worth of CPU at a few thousand requests per second), each
in a raw greenlet (no ``Greenlet`` object, pool or links: a few µs each). It is plain gevent,
no Locust: ``loadtests/open_locustfile.py`` runs it inside a Locust user with the sender of
``loadtests/open_sender.py``, which takes requests up without a greenlet of their own.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import gevent
import gevent.event
import numpy as np

from loadtests.latency import Histograms, summary_ms

TICK_S = 0.001
#: a send taken up later than this after its scheduled time counts as a late send
LATE_S = 0.010

#: ``send(i, scheduled)``: send request ``i``; ``scheduled`` is its due time on ``clock``
Send = Callable[[int, float], None]
#: ``submit(i, scheduled, finished)``: start request ``i`` without blocking and call
#: ``finished()`` once it is over (``loadtests.open_sender.OrderSender``)
Submit = Callable[[int, float, Callable[[], None]], None]


class Dispatcher:
    """Takes up request ``i`` at ``origin + send_s[i]`` (seconds on ``clock``) and sends it:
    with ``send`` in a greenlet of its own, or with ``submit`` from the scheduling greenlet
    (no greenlet a request: the sender reads the answers from I/O callbacks)."""

    def __init__(self, send_s: np.ndarray, send: Send | None = None, *,
                 submit: Submit | None = None, lag: Histograms | None = None,
                 counts: Counter[str] | None = None, max_in_flight: int = 20_000,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        if (send is None) == (submit is None):
            raise ValueError("give exactly one of send and submit")
        self.send_s = np.asarray(send_s, dtype=float)
        self.send, self.submit = send, submit
        self.clock = clock
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self._room = gevent.event.Event()  # set when a request ends: in flight went down
        self.lag = Histograms() if lag is None else lag  # under the name "send lag"
        self.counts: Counter[str] = Counter() if counts is None else counts

    def run(self, origin: float | None = None) -> None:
        """Send every request on schedule; return once all have been answered."""
        origin = self.clock() if origin is None else origin
        due = (origin + self.send_s).tolist()
        i, n, clock, spawn, submit = 0, len(due), self.clock, gevent.spawn_raw, self.submit
        while i < n:
            now = clock()
            while i < n and due[i] <= now:
                while self.in_flight >= self.max_in_flight:
                    self._wait_for_room()
                self.in_flight += 1
                if submit is None:
                    spawn(self._take_up, i, due[i])
                else:
                    self._taken_up(due[i])
                    submit(i, due[i], self._finished)
                i += 1
            if i < n:
                gevent.sleep(max(TICK_S, due[i] - clock()))
        while self.in_flight:
            self._wait_for_room()

    def _wait_for_room(self) -> None:
        self._room.clear()
        self._room.wait()

    def _taken_up(self, due: float) -> None:
        lag = self.clock() - due
        self.lag.record(SEND_LAG, lag)
        self.counts["sent"] += 1
        if lag > LATE_S:
            self.counts["late_sends"] += 1

    def _take_up(self, i: int, due: float) -> None:
        try:
            self._taken_up(due)
            assert self.send is not None
            self.send(i, due)
        finally:
            self._finished()

    def _finished(self) -> None:
        self.in_flight -= 1
        self._room.set()


SEND_LAG = "send lag"


def send_report(lag: Histograms, counts: Counter[str] | dict[str, int]) -> dict[str, object]:
    """Requests sent, late sends and the send lag's figures (ms), for the summary."""
    sent = int(counts.get("sent", 0))
    late = int(counts.get("late_sends", 0))
    return {"sent": sent, "late_sends": late, "late_after_ms": LATE_S * 1000,
            "late_share": late / sent if sent else 0.0,
            "lag": summary_ms(lag.merged([SEND_LAG]))}
