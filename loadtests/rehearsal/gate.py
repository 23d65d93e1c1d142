"""Rehearsal thresholds: ``METRIC OP VALUE[UNIT]`` (the grammar of ``peakline loadtest -T``).

Metrics are the rehearsal's measures (``Ledger.measures``)::

    late_shipments<0.5%    throttled<1%    errors<1%    refused_for_stock<2%
    labels_missing<=0%     first_seen_p95<60s    ship_p99<2m    unshipped<=0

Shares take ``%`` or a fraction of at most 1; times take ``ms``, ``s`` (default), ``m`` or
``h`` and are seconds of the rehearsal (wall clock, as the integration lives them); counts
take no unit. Results are ``loadtests.thresholds.ThresholdResult``s, so the JUnit writer and
the tables of the load test serve the rehearsal as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from loadtests.thresholds import EXPRESSION, Threshold, ThresholdError, ThresholdResult

SHARES = {"late_shipments", "throttled", "errors", "refused_for_stock", "labels_missing"}
TIMES = {f"{m}_{q}" for m in ("first_seen", "ship") for q in ("p50", "p95", "p99", "max")}
COUNTS = {"unshipped", "never_seen", "stock_updates", "requests", "order_failures",
          "late_count", "throttled_count", "error_count", "postings", "shipped"}
_SECONDS = {"": 1.0, "s": 1.0, "ms": 0.001, "m": 60.0, "min": 60.0, "h": 3600.0}

#: what ``peakline rehearse`` checks when no -T is given
DEFAULTS = ("late_shipments<0.5%", "first_seen_p95<60s", "throttled<1%", "errors<1%")


@dataclass(frozen=True)
class RehearsalThreshold(Threshold):
    """A threshold on a rehearsal measure; ``limit`` in seconds, a fraction or a count."""

    @property
    def kind(self) -> str:
        return "share" if self.metric in SHARES else "time" if self.metric in TIMES else "count"

    def format_value(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        if self.kind == "share":
            return f"{value * 100:.3g}%"
        if self.kind == "time":
            return f"{value:.3g} s"
        return f"{value:.0f}"

    @property
    def label(self) -> str:
        unit = {"share": "%", "time": "s", "count": ""}[self.kind]
        limit = self.limit * 100 if self.kind == "share" else self.limit
        return f"{self.metric}{self.op}{limit:.10g}{unit}"


def parse(text: str, source: str = "cli") -> RehearsalThreshold:
    """One expression; :class:`ThresholdError` naming the problem."""
    match = EXPRESSION.match(text or "")
    if not match or match["endpoint"]:
        raise ThresholdError(f"threshold {text!r} is not of the form METRIC OP VALUE[UNIT], "
                             "e.g. 'late_shipments<0.5%', 'first_seen_p95<60s', 'throttled<1%'")
    metric, op, unit = match["metric"].lower(), match["op"], match["unit"].lower()
    value = float(match["value"])
    if op not in ("<", "<=", ">", ">="):
        raise ThresholdError(f"threshold {text!r}: operator {op!r} is not one of < <= > >=")
    if metric in SHARES:
        if unit == "%":
            value /= 100
        elif unit or value > 1:
            raise ThresholdError(f"threshold {text!r}: give {metric} as a percentage "
                                 f"('{metric}<1%') or a fraction of at most 1")
    elif metric in TIMES:
        if unit not in _SECONDS:
            raise ThresholdError(f"threshold {text!r}: {metric} takes ms, s, m or h")
        value *= _SECONDS[unit]
    elif metric in COUNTS:
        if unit:
            raise ThresholdError(f"threshold {text!r}: {metric} is a count and takes no unit")
    else:
        known = ", ".join(sorted(SHARES | TIMES | COUNTS))
        raise ThresholdError(f"threshold {text!r}: unknown measure {metric!r}; use one of "
                             f"{known}")
    if value < 0:
        raise ThresholdError(f"threshold {text!r}: the limit must not be negative")
    return RehearsalThreshold(metric=metric, op=op, limit=value, source=source)


def evaluate(thresholds: Iterable[RehearsalThreshold],
             measures: Mapping[str, Any]) -> list[ThresholdResult]:
    """Each threshold against the measures; a measure with no value (nothing shipped) fails."""
    out = []
    for t in thresholds:
        value = measures.get(t.metric)
        if value is None:
            out.append(ThresholdResult(t, None, False, "nothing measured"))
        else:
            out.append(ThresholdResult(t, float(value), t.check(float(value))))
    return out
