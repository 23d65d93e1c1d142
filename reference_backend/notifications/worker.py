"""The outbox delivery worker: sends seller notifications at least once, in order per posting.

One cycle (a *pass*): read up to ``batch_size`` due heads (the oldest undelivered event of
each posting), find each one's webhook targets, POST every (event, target) pair
concurrently (signed, ``concurrency`` in flight), then record all outcomes in one short
transaction — delivered on 2xx, otherwise retried after a capped exponential backoff. The
next event of a posting becomes a head only when its predecessor is delivered everywhere.

Crash safety is the outbox's: events are committed with their change and marked
delivered only after a 2xx, so a crash between send and mark re-sends (receivers
deduplicate by the ``X-Peakline-Event-Id`` header). Only one process per database
delivers (:mod:`leader`); the others stand by. The worker never holds a transaction
open while waiting on the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from datetime import datetime, timedelta

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram

from reference_backend.db import Database
from reference_backend.faults import PushFaults
from reference_backend.metrics import ScrapeTimeGauge
from reference_backend.notifications import outbox
from reference_backend.notifications.config import PushSettings
from reference_backend.notifications.delivery import encode_payload, send
from reference_backend.notifications.leader import LeaderLock, leader_lock_for
from reference_backend.tables import utcnow

log = logging.getLogger("peakline.push")
#: marks a push a fault profile made late or doubled (``reference_backend.faults``)
FAULT_HEADER = "X-Peakline-Fault"



class PushMetrics:
    """The worker's Prometheus metrics, registered in the app's registry."""

    def __init__(self, registry: CollectorRegistry | None, db: Database) -> None:
        self.db = db
        self.attempts = Counter(
            "peakline_push_attempts", "Webhook delivery attempts by outcome", ["outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "peakline_push_delivery_latency_seconds",
            "Time from an event's commit to its delivery to every target",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600),
            registry=registry,
        )
        self.queue_depth = ScrapeTimeGauge(
            "peakline_outbox_pending_events",
            "Notifications in the outbox not yet delivered (the push queue depth)",
            self._depth, registry,
        )

    def _depth(self) -> float:
        try:
            with self.db.read_session() as session:
                return float(outbox.pending_count(session))
        except Exception:  # a scrape must not fail because the database is busy
            return float("nan")


class OutboxWorker:
    """Delivers the outbox of one database; start with :meth:`start`, end with :meth:`stop`."""

    def __init__(
        self,
        db: Database,
        settings: PushSettings | None = None,
        *,
        lock: LeaderLock | None = None,
        registry: CollectorRegistry | None = None,
        faults: PushFaults | None = None,
    ) -> None:
        self.db = db
        #: late and duplicated pushes on purpose (``reference_backend.faults``), or none
        self.faults = faults
        self.metrics = PushMetrics(registry, db)
        self.settings = settings or PushSettings()
        self.policy = self.settings.retry_policy()
        self.lock = lock or leader_lock_for(db.engine)
        self.rng = random.Random()
        self.is_leader = False
        self.stats = {"passes": 0, "attempts": 0, "delivered": 0, "failed": 0}
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_purge = 0.0

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Run in the background of the current event loop (the app's lifespan)."""
        self._task = asyncio.get_running_loop().create_task(self.run(), name="outbox-worker")
        return self._task

    def wake(self) -> None:
        """Look at the outbox now instead of at the next poll."""
        self._wake.set()

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Finish the pass in progress (bounded by ``timeout_s``) and release the lock."""
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, timeout_s)
        self.lock.release()
        self.is_leader = False

    async def run(self) -> None:
        limits = httpx.Limits(max_connections=self.settings.concurrency)
        async with httpx.AsyncClient(limits=limits, follow_redirects=False) as client:
            while not self._stop.is_set():
                try:
                    if not await asyncio.to_thread(self.lock.try_acquire):
                        self.is_leader = False
                        await self._sleep(self.settings.leader_retry_s)
                        continue
                    if not self.is_leader:
                        log.info("outbox worker is delivering")
                    self.is_leader = True
                    worked = await self.run_once(client)
                    await asyncio.to_thread(self._maybe_purge)
                except Exception:
                    log.exception("outbox pass failed; retrying")
                    worked = 0
                    await self._sleep(min(5.0, self.settings.poll_interval_s * 10))
                if not worked:
                    await self._sleep(self.settings.poll_interval_s)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    # --- one pass ----------------------------------------------------------------------------

    async def run_once(self, client: httpx.AsyncClient) -> int:
        """One pass; returns the number of delivery attempts made (0 = sleep until the poll).

        Events nobody is to be told about do not count: closing them leaves nothing to do at
        once, and under a stream of orders for sellers without webhooks an immediate next pass
        would spin (a few transactions each time, on the server and the database).
        """
        await asyncio.to_thread(self._close_untargeted)
        events, targets = await asyncio.to_thread(self._load)
        if self.faults is not None:
            events = await self._hold_back_late(events, targets)
        if not events:
            return 0
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def attempt(ev: outbox.PendingEvent, target: outbox.Target) -> outbox.AttemptResult:
            body = encode_payload(ev.wire_payload())
            mark = self.faults.mark(ev.id) if self.faults is not None else None
            twice = self.faults is not None and ev.id in self.faults.doubled
            async with gate:
                outcome = await send(
                    client, url=target.url, secret=target.secret, event_id=str(ev.id),
                    body=body, timeout_s=self.policy.request_timeout_s,
                    extra_headers={FAULT_HEADER: mark} if mark else None,
                )
                if outcome.delivered and twice:  # the same push again
                    await send(client, url=target.url, secret=target.secret,
                               event_id=str(ev.id), body=body,
                               timeout_s=self.policy.request_timeout_s,
                               extra_headers={FAULT_HEADER: "push_duplicate"})
            return outbox.AttemptResult(ev.id, target.webhook_id, outcome)

        results = await asyncio.gather(
            *(attempt(ev, t) for ev in events for t in targets.get(ev.id, []))
        )
        delivered = await asyncio.to_thread(self._record, events, targets, list(results))
        now = time.time()
        for ev in delivered:
            self.metrics.latency.observe(max(0.0, now - ev.created_at.timestamp()))
        ok = sum(r.outcome.delivered for r in results)
        self.metrics.attempts.labels("delivered").inc(ok)
        self.metrics.attempts.labels("failed").inc(len(results) - ok)
        self.stats["passes"] += 1
        self.stats["attempts"] += len(results)
        self.stats["delivered"] += ok
        self.stats["failed"] += len(results) - ok
        return len(results)

    async def _hold_back_late(self, events: list[outbox.PendingEvent],
                              targets: dict[int, list[outbox.Target]]
                              ) -> list[outbox.PendingEvent]:
        """The events to send now; those a late-push fault holds back are postponed."""
        assert self.faults is not None
        now = utcnow()
        held = {ev.id: now + timedelta(seconds=late) for ev in events
                if targets.get(ev.id) and (late := self.faults.draw(ev.id)) > 0}
        if held:
            await asyncio.to_thread(self._postpone, held)
        return [ev for ev in events if ev.id not in held]

    def _postpone(self, until: dict[int, datetime]) -> None:
        with self.db.session() as session:
            outbox.postpone(session, until=until)

    def _close_untargeted(self) -> int:
        with self.db.read_session() as session:  # cheap check first: no write lock when idle
            if not outbox.has_untargeted(session):
                return 0
        with self.db.session() as session:
            return outbox.close_untargeted(session, now=utcnow())

    def _load(self) -> tuple[list[outbox.PendingEvent], dict[int, list[outbox.Target]]]:
        with self.db.read_session() as session:
            events = outbox.due_heads(session, now=utcnow(), limit=self.settings.batch_size)
            return events, outbox.targets_for(session, events)

    def _record(
        self,
        events: list[outbox.PendingEvent],
        targets: dict[int, list[outbox.Target]],
        results: list[outbox.AttemptResult],
    ) -> list[outbox.PendingEvent]:
        with self.db.session() as session:
            return outbox.record_attempts(
                session, events=events, targets=targets, results=results, now=utcnow(),
                policy=self.policy, rng=self.rng,
            )

    def _maybe_purge(self) -> None:
        hours = self.settings.retention_hours
        if not hours or time.monotonic() - self._last_purge < 60:
            return
        self._last_purge = time.monotonic()
        with self.db.session() as session:
            outbox.purge_delivered(session, before=utcnow() - timedelta(hours=hours))
