"""``/metrics`` for one worker or several.

With one worker, the app's own registry is exposed. ``peakline serve --workers N`` sets
``PROMETHEUS_MULTIPROC_DIR`` to a fresh directory: each worker then keeps its counters and
histograms in files there (prometheus_client's multiprocess mode), and any worker answers a
scrape with the sum over all of them, so a scrape sees all traffic, not that of whichever
worker took the connection.

Gauges read when scraped (the push queue depth comes from the database) would be in those
files only as the 0 each worker started with; they are :class:`ScrapeTimeGauge` collectors
instead, added to the merged answer as they are.

:class:`HttpMetrics` holds the request metrics every request updates (the names, labels and
buckets of ``prometheus_fastapi_instrumentator``'s defaults, which the dashboard and the
alerts query), with their labelled children bound once per method, route and status.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    Summary,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class ScrapeTimeGauge(Collector):
    """A gauge whose value ``read()`` gives when it is scraped."""

    def __init__(self, name: str, documentation: str, read: Callable[[], float],
                 registry: CollectorRegistry | None) -> None:
        self.name, self.documentation, self.read = name, documentation, read
        if registry is not None:
            registry.register(self)

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(self.name, self.documentation, value=self.read())


#: Buckets of ``http_request_duration_highr_seconds`` (no labels: for precise percentiles).
HIGHR_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5,
                 5, 7.5, 10, 30, 60)
#: Buckets of ``http_request_duration_seconds`` (labelled by method and route: kept few).
LOWR_BUCKETS = (0.1, 0.5, 1)


class HttpMetrics:
    """Per-request metrics, observed through children bound once per (method, route, status).

    ``prometheus_client``'s ``.labels(...)`` hashes and looks up its label values on every
    call; a request here costs one dictionary lookup (:meth:`observe`).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.total = Counter("http_requests_total",
                             "Total number of requests by method, status and handler.",
                             ("method", "status", "handler"), registry=registry)
        self.in_size = Summary(
            "http_request_size_bytes",
            "Content length of incoming requests by handler. Only value of header is "
            "respected. Otherwise ignored. No percentile calculated. ",
            ("handler",), registry=registry)
        self.out_size = Summary(
            "http_response_size_bytes",
            "Content length of outgoing responses by handler. Only value of header is "
            "respected. Otherwise ignored. No percentile calculated. ",
            ("handler",), registry=registry)
        self.latency_highr = Histogram(
            "http_request_duration_highr_seconds",
            "Latency with many buckets but no API specific labels. Made for more accurate "
            "percentile calculations. ", buckets=HIGHR_BUCKETS, registry=registry)
        self.latency_lowr = Histogram(
            "http_request_duration_seconds",
            "Latency with only few buckets by handler. Made to be only used if aggregation "
            "by handler is important. ", ("method", "handler"), buckets=LOWR_BUCKETS,
            registry=registry)
        self._bound: dict[tuple[str, str, int], tuple[Any, Any, Any, Any]] = {}

    def observe(self, method: str, handler: str, status: int, request_bytes: int,
                response_bytes: int, seconds: float) -> None:
        """One finished request (``handler``: its route template, or ``none``)."""
        bound = self._bound.get((method, handler, status))
        if bound is None:
            bound = self._bound[(method, handler, status)] = (
                self.total.labels(method, str(status), handler),
                self.in_size.labels(handler), self.out_size.labels(handler),
                self.latency_lowr.labels(method, handler))
        total, in_size, out_size, lowr = bound
        total.inc()
        in_size.observe(request_bytes)
        out_size.observe(response_bytes)
        self.latency_highr.observe(seconds)
        lowr.observe(seconds)


def exposed_registry(registry: CollectorRegistry,
                     scrape_time: Iterable[Collector]) -> CollectorRegistry:
    """What a scrape answers: ``registry``, or under multiprocess mode every worker's files
    merged, with the ``scrape_time`` gauges of this worker."""
    if MULTIPROCESS_DIR not in os.environ:
        return registry
    merged = CollectorRegistry()
    MultiProcessCollector(merged)
    for collector in scrape_time:
        merged.register(collector)
    return merged


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics`` in Prometheus' text format."""
    state = request.app.state
    registry = exposed_registry(state.metrics_registry, state.scrape_time_gauges)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
