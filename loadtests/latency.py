"""Exact latency percentiles: HDR histograms by request name, mergeable across Locust workers.

Locust keeps response times rounded to two significant digits; the open-model load test
records every latency here as well (microseconds, three significant digits, up to an hour),
so its percentiles are exact to 0.1 % and a p99 is never above the max. Each worker sends its
histograms to the master with its stats reports (:meth:`Histograms.encode`, compressed
HdrHistogram text) and the master adds them up (:meth:`Histograms.merge_encoded`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from hdrh.histogram import HdrHistogram

LOWEST_US, HIGHEST_US, DIGITS = 1, 3_600_000_000, 3


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, DIGITS)


class Histograms:
    """One HDR histogram of latencies per request name."""

    def __init__(self) -> None:
        self.by_name: dict[str, HdrHistogram] = {}

    def record(self, name: str, seconds: float) -> None:
        hist = self.by_name.get(name)
        if hist is None:
            hist = self.by_name[name] = new_histogram()
        hist.record_value(min(HIGHEST_US, max(LOWEST_US, round(seconds * 1e6))))

    def encode(self) -> dict[str, str]:
        return {name: h.encode().decode("ascii") for name, h in self.by_name.items()
                if h.get_total_count()}

    def merge_encoded(self, encoded: dict[str, str]) -> None:
        for name, text in encoded.items():
            hist = self.by_name.get(name)
            if hist is None:
                hist = self.by_name[name] = new_histogram()
            hist.decode_and_add(text.encode("ascii"))

    def reset(self) -> None:
        self.by_name.clear()

    def merged(self, names: Iterable[str] | None = None) -> HdrHistogram:
        """One histogram of the named requests (all of them by default)."""
        out = new_histogram()
        for name in self.by_name if names is None else names:
            if name in self.by_name:
                out.add(self.by_name[name])
        return out

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(self.encode(), indent=1) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> Histograms:
        out = cls()
        out.merge_encoded(json.loads(Path(path).read_text(encoding="utf-8")))
        return out


def summary_ms(hist: HdrHistogram) -> dict[str, float | int | None]:
    """Count and latency figures of one histogram, in milliseconds."""
    n = hist.get_total_count()
    if not n:
        return {"count": 0, "min_ms": None, "avg_ms": None, "p50_ms": None, "p95_ms": None,
                "p99_ms": None, "max_ms": None}
    return {"count": n, "min_ms": hist.get_min_value() / 1000,
            "avg_ms": hist.get_mean_value() / 1000, **{
                f"p{q}_ms": hist.get_value_at_percentile(q) / 1000 for q in (50, 95, 99)},
            "max_ms": hist.get_max_value() / 1000}


def metric_ms(hist: HdrHistogram, metric: str) -> float | None:
    """A threshold's latency metric (``p95``, ``p99.9``, ``avg``, ``min``, ``max``) in ms."""
    if not hist.get_total_count():
        return None
    if metric == "avg":
        return hist.get_mean_value() / 1000
    if metric == "min":
        return hist.get_min_value() / 1000
    if metric == "max":
        return hist.get_max_value() / 1000
    return hist.get_value_at_percentile(float(metric[1:])) / 1000
