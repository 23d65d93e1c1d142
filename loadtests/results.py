"""Load-test results: Locust's recorded statistics read back, the summary JSON and JUnit XML.

Locust writes its final per-endpoint statistics with ``--json-file`` (each entry's full
response-time histogram, request and failure counts); :func:`load_locust_stats` rebuilds a
:class:`locust.stats.RequestStats` from that file, so thresholds are computed by Locust's own
code on exactly what it recorded. The writers here only format results.
"""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loadtests.latency import Histograms, summary_ms
from loadtests.locust_stats import stats_module
from loadtests.thresholds import ThresholdResult, histogram_names, run_seconds

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram
    from locust.stats import RequestStats, StatsEntry

_INT_KEYED = ("response_times", "num_reqs_per_sec", "num_fail_per_sec")


def load_locust_stats(path: Path) -> RequestStats:
    """Rebuild ``RequestStats`` (entries and the aggregated total) from Locust's ``--json-file``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list):
        raise ValueError(f"{path}: not a Locust stats JSON list")
    locust_stats = stats_module()
    stats = locust_stats.RequestStats(use_response_times_cache=False)
    for raw in data:
        item = dict(raw)
        for key in _INT_KEYED:
            item[key] = {int(float(k)): v for k, v in (item.get(key) or {}).items()}
        entry = locust_stats.StatsEntry.unserialize(item, stats)
        stats.entries[(entry.name, entry.method)] = entry
        stats.total.extend(entry)
    if not data:
        stats.total.start_time = 0.0
    return stats


def read_failures_csv(path: Path, limit: int = 20) -> list[dict[str, Any]]:
    """The most frequent failures from Locust's ``*_failures.csv`` (empty when absent)."""
    try:
        with Path(path).open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError:
        return []
    out = [
        {"method": r.get("Method", ""), "name": r.get("Name", ""), "error": r.get("Error", ""),
         "occurrences": int(r.get("Occurrences") or 0)}
        for r in rows
    ]
    out.sort(key=lambda r: -r["occurrences"])
    return out[:limit]


def entry_summary(entry: StatsEntry, seconds: float,
                  hist: HdrHistogram | None = None) -> dict[str, Any]:
    """One endpoint's (or the total's) figures, in milliseconds and requests per second;
    latency from ``hist`` (an HDR histogram of the same requests) when given."""
    pct = entry.get_response_time_percentile
    exact = {k: v for k, v in summary_ms(hist).items() if k != "count"} if hist else {}
    return {
        "name": entry.name,
        "requests": entry.num_requests,
        "failures": entry.num_failures,
        "error_rate": entry.fail_ratio,
        "rps": entry.num_requests / seconds if seconds else 0.0,
        "avg_ms": entry.avg_response_time,
        "min_ms": entry.min_response_time or 0,
        "max_ms": entry.max_response_time,
        "p50_ms": pct(0.5) if entry.num_requests else None,
        "p95_ms": pct(0.95) if entry.num_requests else None,
        "p99_ms": pct(0.99) if entry.num_requests else None,
    } | exact


def per_second_rps(entry: StatsEntry) -> dict[str, float]:
    """Throughput second by second (Locust's per-second counts), first and last second dropped.

    ``median`` is the typical rate over the run; ``best_10s`` the highest rate sustained for
    ten consecutive seconds (what a capacity test reads).
    """
    counts = entry.num_reqs_per_sec
    if len(counts) < 3:
        return {"median": 0.0, "best_10s": 0.0}
    first, last = min(counts), max(counts)
    series = [counts.get(t, 0) for t in range(first + 1, last)]
    ordered = sorted(series)
    median = float(ordered[len(ordered) // 2])
    window = min(10, len(series))
    best = max(sum(series[i:i + window]) for i in range(len(series) - window + 1)) / window
    return {"median": median, "best_10s": best}


def stats_summary(stats: RequestStats, histograms: Histograms | None = None) -> dict[str, Any]:
    """Totals and per-endpoint figures of a run (latency from ``histograms`` when given)."""
    seconds = run_seconds(stats)
    entries = sorted(
        (e for e in stats.entries.values() if e.num_requests), key=lambda e: -e.num_requests
    )

    def hist(entry: StatsEntry) -> HdrHistogram | None:
        if histograms is None:
            return None
        return histograms.merged(histogram_names(entry, stats, histograms))

    return {
        "seconds": seconds,
        "latency_source": "hdr" if histograms is not None else "locust",
        "total": entry_summary(stats.total, seconds, hist(stats.total)),
        "rps_per_second": per_second_rps(stats.total),
        "endpoints": [entry_summary(e, seconds, hist(e)) for e in entries],
    }


@dataclass
class RunOutcome:
    """Everything a finished load test reports: figures, threshold results, files."""

    scenario: str
    host: str
    duration_s: float
    users: int
    workers: int
    shape: str
    results: list[ThresholdResult]
    stats: dict[str, Any]
    failures: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    started_at: str = ""
    wall_seconds: float = 0.0
    locust_exit_code: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def stopped_early(self) -> dict[str, Any] | None:
        """Why and when the run was stopped before its end (its figures are partial)."""
        return self.extra.get("stopped_early")

    @property
    def breaches(self) -> list[ThresholdResult]:
        return [r for r in self.results if not r.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "host": self.host,
            "passed": self.passed,
            "started_at": self.started_at,
            "wall_seconds": self.wall_seconds,
            "duration_s": self.duration_s,
            "users": self.users,
            "workers": self.workers,
            "shape": self.shape,
            "thresholds": [r.to_dict() for r in self.results],
            "breaches": [r.threshold.label for r in self.breaches],
            "stats": self.stats,
            "failures": self.failures,
            "files": self.files,
            "locust_exit_code": self.locust_exit_code,
            **self.extra,
        }


def write_summary_json(outcome: RunOutcome, path: Path) -> Path:
    path.write_text(json.dumps(outcome.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def junit_xml(
    results: Sequence[ThresholdResult], *, suite: str, seconds: float,
    properties: dict[str, Any] | None = None,
) -> ET.ElementTree:
    """A JUnit document: one ``testcase`` per threshold, a ``failure`` for each breach."""
    failures = sum(not r.passed for r in results)
    root = ET.Element("testsuites", name="peakline loadtest", tests=str(len(results)),
                      failures=str(failures), errors="0", time=f"{seconds:.3f}")
    ts = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)),
                       failures=str(failures), errors="0", skipped="0", time=f"{seconds:.3f}")
    if properties:
        props = ET.SubElement(ts, "properties")
        for key, value in properties.items():
            ET.SubElement(props, "property", name=str(key), value=str(value))
    for r in results:
        t = r.threshold
        case = ET.SubElement(ts, "testcase", classname=f"{suite}.{t.endpoint or 'overall'}",
                             name=t.label, time="0")
        out = ET.SubElement(case, "system-out")
        out.text = f"measured {r.measured_text} ({t.source} threshold {t.label})"
        if not r.passed:
            why = f"{t.label} breached: measured {r.measured_text}"
            if r.note:
                why += f" ({r.note})"
            fail = ET.SubElement(case, "failure", message=why, type="ThresholdBreached")
            fail.text = why
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(results: Sequence[ThresholdResult], path: Path, *, suite: str, seconds: float,
                properties: dict[str, Any] | None = None) -> Path:
    junit_xml(results, suite=suite, seconds=seconds, properties=properties).write(
        path, encoding="utf-8", xml_declaration=True
    )
    return path
