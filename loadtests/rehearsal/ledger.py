"""What a rehearsal saw: each posting's life, the integration's requests, the buyers' orders.

Times are seconds since the rehearsal's first order was due (test time). A posting's
deadline is its ``shipment_date`` as the backend set it, compressed like the rest of the
scenario (the backend runs with ``PEAKLINE_SHIPMENT_DEADLINE_HOURS`` divided by the speed).
:meth:`Ledger.measures` turns the record into the figures the gate judges, and
:meth:`Ledger.series` into per-second time series for the report.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class PostingTrack:
    """One posting: when it was ordered, due, first seen, shipped and labelled (test s)."""

    ordered_at: float
    deadline_at: float
    first_seen_at: float | None = None
    shipped_at: float | None = None
    label_at: float | None = None

    def late(self, now: float) -> bool:
        """Shipped after its deadline, or not shipped and the deadline has passed."""
        if self.shipped_at is not None:
            return self.shipped_at > self.deadline_at
        return now > self.deadline_at


@dataclass
class Ledger:
    """The record of one rehearsal (filled by the proxy, the buyers and the carriers)."""

    origin: float = field(default_factory=time.monotonic)
    postings: dict[str, PostingTrack] = field(default_factory=dict)
    orders: Counter[str] = field(default_factory=Counter)  # placed, refused_for_stock, failed
    integration: Counter[str] = field(default_factory=Counter)  # requests, throttled, errors
    by_path: Counter[str] = field(default_factory=Counter)
    stock_updates: int = 0
    requests_per_s: Counter[int] = field(default_factory=Counter)
    throttled_per_s: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)  # "path: status" of failures
    faults: Counter[str] = field(default_factory=Counter)  # injected, by kind
    pushes: Counter[str] = field(default_factory=Counter)  # by message type
    push_events: set[str] = field(default_factory=set)  # distinct pushes (event ids)
    push_answers: Counter[str] = field(default_factory=Counter)  # the integration's statuses
    push_faults: set[tuple[str, str]] = field(default_factory=set)  # (event id, fault)
    ended_at: float | None = None
    #: pushes are counted until then: after the rehearsal's end, those still due are waited for
    pushes_closed: bool = False
    pushes_pending: int | None = None  # not delivered when counting (None: unknown)

    def now(self) -> float:
        return time.monotonic() - self.origin

    # ------------------------------------------------------------------ recording

    def ordered(self, number: str, deadline_in_s: float) -> None:
        now = self.now()
        self.postings[number] = PostingTrack(now, now + max(0.0, deadline_in_s))

    def request(self, path: str, status: int) -> None:
        """One request of the integration and its answer (status 0: no answer)."""
        second = int(self.now())
        self.integration["requests"] += 1
        self.by_path[path] += 1
        self.requests_per_s[second] += 1
        if status == 429:
            self.integration["throttled"] += 1
            self.throttled_per_s[second] += 1
        elif status == 0 or status >= 400:
            self.integration["errors"] += 1
            self.errors[f"{path}: {status or 'no answer'}"] += 1

    def seen(self, numbers: set[str]) -> None:
        now = self.now()
        for number in numbers:
            track = self.postings.get(number)
            if track is not None and track.first_seen_at is None:
                track.first_seen_at = now

    def pushed(self, payload: dict[str, Any], event_id: str, status: int,
               fault: str | None) -> None:
        """A push notification passed on to the integration, and how it answered; counted
        until :attr:`pushes_closed` (a push after the rehearsal's end no longer marks its
        posting seen)."""
        if self.pushes_closed:
            return
        self.pushes[str(payload.get("message_type", "?"))] += 1
        if event_id:
            self.push_events.add(event_id)
        self.push_answers["2xx" if 200 <= status < 300 else str(status or "no answer")] += 1
        if fault and (event_id, fault) not in self.push_faults:  # once, however often retried
            self.push_faults.add((event_id, fault))
            self.faults[fault] += 1
        if self.ended_at is None and isinstance(number := payload.get("posting_number"), str):
            self.seen({number})

    def push_report(self) -> dict[str, Any]:
        """Pushes passed on (copies included), distinct ones, by type and by answer, and
        those the backend had not delivered when they were counted."""
        return {"sent": sum(self.pushes.values()), "distinct": len(self.push_events),
                "pending_at_end": self.pushes_pending,
                "by_type": dict(self.pushes.most_common()),
                "answers": dict(self.push_answers.most_common())}

    def shipped(self, number: str) -> None:
        track = self.postings.get(number)
        if track is not None and track.shipped_at is None:
            track.shipped_at = self.now()
            if track.first_seen_at is None:
                track.first_seen_at = track.shipped_at

    def labelled(self, numbers: list[str]) -> None:
        now = self.now()
        for number in numbers:
            track = self.postings.get(number)
            if track is not None and track.label_at is None:
                track.label_at = now

    @property
    def unfinished(self) -> int:
        """Postings not shipped yet, or shipped without a label fetched."""
        return sum(t.shipped_at is None or t.label_at is None for t in self.postings.values())

    # ------------------------------------------------------------------ results

    def measures(self) -> dict[str, Any]:
        """The figures the gate judges (see ``loadtests.rehearsal.gate.MEASURES``)."""
        end = self.ended_at if self.ended_at is not None else self.now()
        tracks = list(self.postings.values())
        due = [t for t in tracks if t.deadline_at <= end or t.shipped_at is not None]
        late = sum(t.late(end) for t in due)
        seen = np.array([t.first_seen_at - t.ordered_at for t in tracks
                         if t.first_seen_at is not None])
        ship = np.array([t.shipped_at - t.ordered_at for t in tracks if t.shipped_at is not None])
        shipped = [t for t in tracks if t.shipped_at is not None]
        orders = sum(self.orders[k] for k in ("placed", "refused_for_stock", "failed"))
        requests = self.integration["requests"]
        return {
            "orders": orders,
            "orders_placed": self.orders["placed"],
            "refused_for_stock": _share(self.orders["refused_for_stock"], orders),
            "order_failures": self.orders["failed"],
            "postings": len(tracks),
            "shipped": len(shipped),
            "unshipped": len(tracks) - len(shipped),
            "late_shipments": _share(late, len(due)),
            "late_count": late,
            "never_seen": sum(t.first_seen_at is None for t in tracks),
            **_percentiles("first_seen", seen),
            **_percentiles("ship", ship),
            "labels_missing": _share(sum(t.label_at is None for t in shipped), len(shipped)),
            "stock_updates": self.stock_updates,
            "requests": requests,
            "throttled": _share(self.integration["throttled"], requests),
            "throttled_count": self.integration["throttled"],
            "errors": _share(self.integration["errors"], requests),
            "error_count": self.integration["errors"],
        }

    def series(self) -> dict[str, list[float]]:
        """Per second: postings waiting to be shipped, late shipments so far, the
        integration's requests and 429s."""
        end = self.ended_at if self.ended_at is not None else self.now()
        seconds = np.arange(math.ceil(end) + 1, dtype=float)
        tracks = list(self.postings.values())
        ordered = np.array([t.ordered_at for t in tracks])
        shipped = np.array([t.shipped_at if t.shipped_at is not None else math.inf
                            for t in tracks])
        deadline = np.array([t.deadline_at for t in tracks])
        if not tracks:
            ordered = shipped = deadline = np.zeros(0)
        waiting = [int(((ordered <= s) & (shipped > s)).sum()) for s in seconds]
        late = [int(((np.minimum(shipped, s) > deadline) & (deadline <= s)).sum())
                for s in seconds]
        return {"t": seconds.tolist(), "waiting": waiting, "late": late,
                "requests": [self.requests_per_s[int(s)] for s in seconds],
                "throttled": [self.throttled_per_s[int(s)] for s in seconds]}


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _percentiles(name: str, values: np.ndarray) -> dict[str, float | None]:
    if not values.size:
        return {f"{name}_p50": None, f"{name}_p95": None, f"{name}_p99": None,
                f"{name}_max": None}
    p50, p95, p99 = np.percentile(values, [50, 95, 99]).tolist()
    return {f"{name}_p50": p50, f"{name}_p95": p95, f"{name}_p99": p99,
            f"{name}_max": float(values.max())}
