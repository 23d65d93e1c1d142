"""Load-test thresholds: k6-like expressions, parsed and checked against Locust's statistics.

An expression is ``[ENDPOINT:] METRIC OP VALUE[UNIT]``, for example::

    p95<200ms        p99<0.5s        avg<=80ms       max<2s
    errors<0.1%      errors<=0.001   rps>=500        requests>=1000
    POST /marketplace/v1/orders: p95<150ms

Metrics: latency ``p50``..``p99.9`` (any ``pNN``), ``med``, ``avg``, ``min``, ``max`` in
milliseconds (``ms`` default, ``s`` accepted); ``errors`` as a fraction of requests (``%`` or a
plain fraction <= 1); ``rps`` in requests per second over the whole run; ``requests`` and
``failures`` as counts. Operators: ``<``, ``<=``, ``>``, ``>=``.

The endpoint is a request name as the locustfile reports it (``"METHOD /path"``); a bare path
(``/marketplace/v1/orders``) covers every method on it and a path suffix at a segment boundary
(``POST /orders``) is accepted when it names exactly one endpoint. Percentiles come from
Locust's own histogram (two significant digits), so they match its CSV and HTML reports.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loadtests.latency import Histograms, metric_ms
from loadtests.locust_stats import stats_module
from simulator.scenario import Slo

if TYPE_CHECKING:
    from locust.stats import RequestStats, StatsEntry


class ThresholdError(ValueError):
    """A threshold expression that cannot be parsed; the message says what is wrong."""


_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

EXPRESSION = re.compile(
    r"""^\s*(?:(?P<endpoint>[^:]*\S)\s*:\s*)?
        (?P<metric>[A-Za-z_][A-Za-z0-9_.()]*)\s*
        (?P<op><=|>=|==|!=|=|<|>)\s*
        (?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*
        (?P<unit>[A-Za-z%/]*)\s*$""",
    re.VERBOSE,
)
_PERCENTILE = re.compile(r"^p\(?(\d{1,3}(?:\.\d+)?)\)?$")
_LATENCY_NAMES = {"avg": "avg", "mean": "avg", "min": "min", "max": "max", "med": "p50",
                  "median": "p50"}
_ERROR_NAMES = {"errors", "error_rate", "fail_ratio", "failures_rate", "http_req_failed"}
_RPS_NAMES = {"rps", "throughput", "reqs_per_sec"}
_COUNT_NAMES = {"requests", "failures"}
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Threshold:
    """One pass/fail condition: ``metric op limit`` overall or for one endpoint.

    ``limit`` is in the metric's canonical unit: milliseconds for latency, a fraction for
    ``errors``, requests per second for ``rps``, a count for ``requests``/``failures``.
    """

    metric: str  # "p95", "p99.9", "avg", "min", "max", "errors", "rps", "requests", "failures"
    op: str
    limit: float
    endpoint: str | None = None
    source: str = "cli"  # "cli" or "scenario"

    @property
    def key(self) -> tuple[str | None, str]:
        """Thresholds with the same key are the same check (the command line overrides)."""
        return (self.endpoint, self.metric)

    @property
    def kind(self) -> str:
        if self.metric in ("errors",):
            return "errors"
        if self.metric == "rps":
            return "rps"
        if self.metric in _COUNT_NAMES:
            return "count"
        return "latency"

    def format_value(self, value: float | None) -> str:
        """``value`` in this threshold's unit, for tables and reports."""
        if value is None:
            return "n/a"
        if self.kind == "errors":
            return f"{value * 100:.3g}%"
        if self.kind == "rps":
            return f"{value:.1f} req/s"
        if self.kind == "count":
            return f"{value:.0f}"
        return f"{value:.4g} ms"

    @property
    def label(self) -> str:
        """A canonical expression, e.g. ``POST /marketplace/v1/orders: p95<150ms``."""
        if self.kind == "errors":
            limit = f"{_g(self.limit * 100)}%"
        elif self.kind == "latency":
            limit = f"{_g(self.limit)}ms"
        else:
            limit = _g(self.limit)
        body = f"{self.metric}{self.op}{limit}"
        return f"{self.endpoint}: {body}" if self.endpoint else body

    def check(self, measured: float) -> bool:
        return _OPS[self.op](measured, self.limit)


def _g(value: float) -> str:
    return f"{value:.10g}"


def parse_threshold(text: str, source: str = "cli") -> Threshold:
    """Parse one expression; raise :class:`ThresholdError` naming the problem."""
    match = EXPRESSION.match(text or "")
    if not match:
        raise ThresholdError(
            f"threshold {text!r} is not of the form [ENDPOINT:] METRIC OP VALUE[UNIT], "
            "e.g. 'p95<200ms', 'errors<0.1%', 'rps>=500', 'POST /marketplace/v1/orders: p99<500ms'"
        )
    endpoint = _endpoint(match["endpoint"], text)
    op = match["op"]
    if op not in _OPS:
        raise ThresholdError(f"threshold {text!r}: operator {op!r} is not one of < <= > >=")
    metric_raw = match["metric"].lower()
    value = float(match["value"])
    unit = match["unit"].lower()
    if not math.isfinite(value):
        raise ThresholdError(f"threshold {text!r}: the limit must be a finite number")

    if (pct := _PERCENTILE.match(metric_raw)) is not None:
        q = float(pct[1])
        if not 0 < q < 100:
            raise ThresholdError(f"threshold {text!r}: a percentile must be between 0 and 100")
        metric = f"p{_g(q)}"
        limit = _latency(value, unit, text)
    elif metric_raw in _LATENCY_NAMES:
        metric = _LATENCY_NAMES[metric_raw]
        limit = _latency(value, unit, text)
    elif metric_raw in _ERROR_NAMES:
        metric = "errors"
        if unit == "%":
            limit = value / 100
        elif unit == "":
            if value > 1:
                raise ThresholdError(
                    f"threshold {text!r}: give errors as a percentage ('errors<0.1%') "
                    "or as a fraction of at most 1 ('errors<0.001')"
                )
            limit = value
        else:
            raise ThresholdError(f"threshold {text!r}: errors take '%' or no unit, not {unit!r}")
        if not 0 <= limit <= 1:
            raise ThresholdError(f"threshold {text!r}: an error rate lies between 0% and 100%")
    elif metric_raw in _RPS_NAMES:
        metric = "rps"
        if unit not in ("", "/s", "rps", "req/s"):
            raise ThresholdError(f"threshold {text!r}: rps takes no unit (or '/s'), not {unit!r}")
        limit = value
    elif metric_raw in _COUNT_NAMES:
        metric = metric_raw
        if unit:
            raise ThresholdError(f"threshold {text!r}: {metric_raw} is a count and takes no unit")
        limit = value
    else:
        raise ThresholdError(
            f"threshold {text!r}: unknown metric {match['metric']!r}; use p50..p99.9, med, avg, "
            "min, max, errors, rps, requests or failures"
        )
    if limit < 0:
        raise ThresholdError(f"threshold {text!r}: the limit must not be negative")
    return Threshold(metric=metric, op=op, limit=limit, endpoint=endpoint, source=source)


def _endpoint(raw: str | None, text: str) -> str | None:
    if raw is None:
        return None
    raw = " ".join(raw.split())
    parts = raw.split(" ")
    if len(parts) == 2 and parts[0].upper() in _METHODS and parts[1].startswith("/"):
        return f"{parts[0].upper()} {parts[1]}"
    if len(parts) == 1 and parts[0].startswith("/"):
        return parts[0]
    raise ThresholdError(
        f"threshold {text!r}: endpoint {raw!r} should be 'METHOD /path' (as the load test names "
        "requests, e.g. 'POST /marketplace/v1/orders') or a bare '/path'"
    )


def _latency(value: float, unit: str, text: str) -> float:
    if unit in ("", "ms"):
        return value
    if unit == "s":
        return value * 1000
    if unit in ("us", "µs"):
        return value / 1000
    raise ThresholdError(f"threshold {text!r}: latency takes 'ms' or 's', not {unit!r}")


def parse_thresholds(texts: Iterable[str], source: str = "cli") -> list[Threshold]:
    return [parse_threshold(text, source) for text in texts]


def slo_thresholds(slo: Slo) -> list[Threshold]:
    """The thresholds a scenario's ``slo`` block asks for."""
    out = [
        Threshold("p95", "<=", slo.p95_ms, source="scenario"),
        Threshold("p99", "<=", slo.p99_ms, source="scenario"),
        Threshold("errors", "<=", slo.max_error_rate, source="scenario"),
    ]
    if slo.min_rps > 0:
        out.append(Threshold("rps", ">=", slo.min_rps, source="scenario"))
    for ep in slo.endpoints:
        endpoint = _endpoint(ep.endpoint, ep.endpoint)
        if ep.p95_ms is not None:
            out.append(Threshold("p95", "<=", ep.p95_ms, endpoint, "scenario"))
        if ep.p99_ms is not None:
            out.append(Threshold("p99", "<=", ep.p99_ms, endpoint, "scenario"))
        if ep.max_error_rate is not None:
            out.append(Threshold("errors", "<=", ep.max_error_rate, endpoint, "scenario"))
    return out


def merge_thresholds(scenario: list[Threshold], cli: list[Threshold]) -> list[Threshold]:
    """Scenario thresholds, each replaced by a command-line one on the same endpoint and metric."""
    cli_keys = {t.key for t in cli}
    return [t for t in scenario if t.key not in cli_keys] + list(cli)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class ThresholdResult:
    threshold: Threshold
    measured: float | None
    passed: bool
    note: str = ""

    @property
    def measured_text(self) -> str:
        return self.threshold.format_value(self.measured)

    def to_dict(self) -> dict[str, object]:
        t = self.threshold
        return {
            "threshold": t.label,
            "endpoint": t.endpoint,
            "metric": t.metric,
            "op": t.op,
            "limit": t.limit,
            "source": t.source,
            "measured": self.measured,
            "measured_text": self.measured_text,
            "passed": self.passed,
            "note": self.note,
        }


def run_seconds(stats: RequestStats) -> float:
    """Seconds from the first to the last recorded request (at least 1 s, as Locust does)."""
    total = stats.total
    if not total.last_request_timestamp or not total.start_time:
        return 0.0
    return max(total.last_request_timestamp - total.start_time, 1.0)


def measure(entry: StatsEntry, metric: str, seconds: float) -> float | None:
    """The value of ``metric`` for one stats entry (``None`` when it has no requests)."""
    if entry.num_requests == 0:
        return None
    if metric == "errors":
        return entry.fail_ratio
    if metric == "rps":
        return entry.num_requests / seconds if seconds > 0 else 0.0
    if metric == "requests":
        return float(entry.num_requests)
    if metric == "failures":
        return float(entry.num_failures)
    if metric == "avg":
        return entry.avg_response_time
    if metric == "min":
        return float(entry.min_response_time or 0)
    if metric == "max":
        return float(entry.max_response_time)
    if metric.startswith("p"):
        return float(entry.get_response_time_percentile(float(metric[1:]) / 100))
    raise ValueError(f"unknown metric {metric!r}")  # parse_threshold never builds one


def find_entry(stats: RequestStats, endpoint: str) -> tuple[StatsEntry | None, str]:
    """The stats entry an endpoint names, or ``(None, why)``; see the module docstring."""
    entries = [e for e in stats.entries.values() if e.num_requests or e.num_failures]
    exact = [e for e in entries if e.name == endpoint]
    if exact:
        return exact[0], ""
    method, _, path = endpoint.rpartition(" ")

    def path_of(e: StatsEntry) -> tuple[str, str]:
        m, _, p = e.name.rpartition(" ")
        return m, p

    if not method:
        same_path = [e for e in entries if path_of(e)[1] == path]
        if same_path:
            return _combined(stats, endpoint, same_path), ""
    suffix = [
        e for e in entries
        if (not method or path_of(e)[0] == method)
        and (path_of(e)[1] == path or path_of(e)[1].endswith("/" + path.lstrip("/")))
    ]
    if len(suffix) == 1:
        return suffix[0], f"matched {suffix[0].name}"
    if len(suffix) > 1:
        names = ", ".join(sorted(e.name for e in suffix))
        return None, f"ambiguous: matches {names}"
    return None, "no requests recorded for this endpoint"


def _combined(stats: RequestStats, name: str, entries: list[StatsEntry]) -> StatsEntry:
    combined = stats_module().StatsEntry(stats, name, "", use_response_times_cache=False)
    for entry in entries:
        combined.extend(entry)
    return combined


def histogram_names(entry: StatsEntry, stats: RequestStats,
                    histograms: Histograms) -> list[str] | None:
    """The request names whose HDR histograms make up ``entry`` (``None``: all of them)."""
    if entry is stats.total:
        return None
    if entry.name in histograms.by_name:
        return [entry.name]
    return [n for n in histograms.by_name if n.rpartition(" ")[2] == entry.name]


def evaluate(thresholds: Iterable[Threshold], stats: RequestStats,
             histograms: Histograms | None = None) -> list[ThresholdResult]:
    """Check every threshold against recorded statistics; a missing endpoint fails its checks.

    With ``histograms`` (the open model's HDR histograms) latency comes from them, exactly,
    instead of from Locust's two-digit buckets."""
    seconds = run_seconds(stats)
    results = []
    for threshold in thresholds:
        note = ""
        if threshold.endpoint is None:
            entry: StatsEntry | None = stats.total
        else:
            entry, note = find_entry(stats, threshold.endpoint)
        measured = None if entry is None else measure(entry, threshold.metric, seconds)
        if histograms is not None and entry is not None and threshold.kind == "latency":
            names = histogram_names(entry, stats, histograms)
            measured = metric_ms(histograms.merged(names), threshold.metric)
        if measured is None:
            results.append(ThresholdResult(threshold, None, False, note or "no requests recorded"))
            continue
        results.append(ThresholdResult(threshold, measured, threshold.check(measured), note))
    return results
