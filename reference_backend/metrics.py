"""``/metrics`` for one worker or several.

With one worker, the app's own registry is exposed. ``peakline serve --workers N`` sets
``PROMETHEUS_MULTIPROC_DIR`` to a fresh directory: each worker then keeps its counters and
histograms in files there (prometheus_client's multiprocess mode), and any worker answers a
scrape with the sum over all of them, so a scrape sees all traffic, not that of whichever
worker took the connection.

Gauges read when scraped (the push queue depth comes from the database) would be in those
files only as the 0 each worker started with; they are :class:`ScrapeTimeGauge` collectors
instead, added to the merged answer as they are.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
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
