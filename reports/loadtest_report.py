"""The HTML report of a load test, built from Locust's CSV output as plain rows.

Call::

    write_loadtest_report(
        path,
        history,           # rows of Locust's <prefix>_stats_history.csv (dicts of str|float)
        stats=stats_rows,  # optional rows of <prefix>_stats.csv (per endpoint + "Aggregated")
        thresholds={"p95_ms": 300, "p99_ms": 1000, "max_error_rate": 0.001, "min_rps": 50},
        checks=[{"check": "p95 latency", "value": 212.0, "limit": 300.0, "passed": True}],
        title="Load test — peak_day", meta=[("target", "http://127.0.0.1:8000")],
    ) -> Path

``read_locust_csv(path)`` reads either CSV into such rows ("N/A" becomes NaN). Only the
"Aggregated" history rows drive the time plots unless ``--csv-full-history`` rows per
endpoint are present, which add per-endpoint p95 lines. Plots (div ids): ``plot-latency``
percentiles over time with thresholds, ``plot-throughput`` requests/s, failures/s and users,
``plot-errors`` error rate (interval and cumulative) against the limit.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reports.html import Cell, FigureBlock, TableBlock, empty_figure, fmt, write_page

LOADTEST_PLOTS = ("plot-latency", "plot-throughput", "plot-errors")
AGGREGATED = "Aggregated"


def read_locust_csv(path: Path | str) -> list[dict[str, Any]]:
    """Rows of a Locust stats / stats_history CSV with numbers parsed (``N/A`` -> NaN)."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def _number(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if value.strip().upper() in {"N/A", "NAN", ""}:
        return math.nan
    try:
        return float(value)
    except ValueError:
        return value


def _f(row: Mapping[str, Any], key: str) -> float:
    value = _number(row.get(key, math.nan))
    return float(value) if isinstance(value, int | float) else math.nan


def _series(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [_f(r, key) for r in rows]


def _split(history: Iterable[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]],
                                                         dict[str, list[Mapping[str, Any]]]]:
    total: list[Mapping[str, Any]] = []
    endpoints: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in history:
        name = str(row.get("Name", AGGREGATED))
        if name == AGGREGATED:
            total.append(row)
        else:
            endpoints[f"{row.get('Type', '')} {name}".strip()].append(row)
    total.sort(key=lambda r: _f(r, "Timestamp"))
    return total, endpoints


def _elapsed(rows: Sequence[Mapping[str, Any]], t0: float) -> list[float]:
    return [_f(r, "Timestamp") - t0 for r in rows]


def latency_figure(history: Sequence[Mapping[str, Any]],
                   thresholds: Mapping[str, float]) -> go.Figure:
    total, endpoints = _split(history)
    if not total:
        return empty_figure("no aggregated rows in the stats history")
    t0 = _f(total[0], "Timestamp")
    x = _elapsed(total, t0)
    fig = go.Figure()
    for key, name, dash in (("50%", "p50", "dot"), ("95%", "p95", "solid"), ("99%", "p99", "dash")):
        fig.add_scatter(x=x, y=_series(total, key), mode="lines", name=f"{name} (all requests)",
                        line={"dash": dash, "width": 2})
    for name, rows in sorted(endpoints.items()):
        rows = sorted(rows, key=lambda r: _f(r, "Timestamp"))
        fig.add_scatter(x=_elapsed(rows, t0), y=_series(rows, "95%"), mode="lines",
                        name=f"p95 {name}", line={"width": 1}, visible="legendonly")
    for key, label, color in (("p95_ms", "p95 limit", "#e8590c"), ("p99_ms", "p99 limit",
                                                                    "#b42318")):
        if thresholds.get(key) is not None:
            fig.add_hline(y=float(thresholds[key]), line_dash="dash", line_color=color,
                          annotation_text=f"{label} {fmt(float(thresholds[key]))} ms")
    fig.update_layout(xaxis_title="seconds since start", yaxis_title="response time, ms",
                      height=420)
    return fig


def throughput_figure(history: Sequence[Mapping[str, Any]],
                      thresholds: Mapping[str, float]) -> go.Figure:
    total, _ = _split(history)
    if not total:
        return empty_figure("no aggregated rows in the stats history")
    x = _elapsed(total, _f(total[0], "Timestamp"))
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_scatter(x=x, y=_series(total, "Requests/s"), mode="lines", name="requests/s",
                    line={"color": "#0b3d91", "width": 2})
    fig.add_scatter(x=x, y=_series(total, "Failures/s"), mode="lines", name="failures/s",
                    line={"color": "#b42318"})
    fig.add_scatter(x=x, y=_series(total, "User Count"), mode="lines", name="users",
                    line={"color": "#868e96", "dash": "dot"}, secondary_y=True)
    if thresholds.get("min_rps"):
        fig.add_hline(y=float(thresholds["min_rps"]), line_dash="dash", line_color="#2b8a3e",
                      annotation_text=f"min {fmt(float(thresholds['min_rps']))} req/s")
    fig.update_xaxes(title_text="seconds since start")
    fig.update_yaxes(title_text="per second", secondary_y=False)
    fig.update_yaxes(title_text="users", secondary_y=True)
    fig.update_layout(height=420)
    return fig


def errors_figure(history: Sequence[Mapping[str, Any]],
                  thresholds: Mapping[str, float]) -> go.Figure:
    total, _ = _split(history)
    if not total:
        return empty_figure("no aggregated rows in the stats history")
    x = _elapsed(total, _f(total[0], "Timestamp"))
    interval = [f / r if r and r > 0 else math.nan
                for f, r in zip(_series(total, "Failures/s"), _series(total, "Requests/s"),
                                strict=True)]
    cumulative = [f / n if n and n > 0 else math.nan
                  for f, n in zip(_series(total, "Total Failure Count"),
                                  _series(total, "Total Request Count"), strict=True)]
    fig = go.Figure()
    fig.add_scatter(x=x, y=interval, mode="lines", name="error rate (current)",
                    line={"color": "#e8590c"})
    fig.add_scatter(x=x, y=cumulative, mode="lines", name="error rate (cumulative)",
                    line={"color": "#b42318", "width": 2.5})
    if thresholds.get("max_error_rate") is not None:
        limit = float(thresholds["max_error_rate"])
        fig.add_hline(y=limit, line_dash="dash", line_color="#1f2933",
                      annotation_text=f"limit {limit:.2%}")
    fig.update_layout(xaxis_title="seconds since start", yaxis_title="failed / all requests",
                      yaxis_tickformat=".2%", height=380)
    return fig


def _stats_table(stats: Sequence[Mapping[str, Any]],
                 thresholds: Mapping[str, float]) -> TableBlock:
    rows = []
    for r in stats:
        n, fails = _f(r, "Request Count"), _f(r, "Failure Count")
        rate = fails / n if n else math.nan
        p95, p99 = _f(r, "95%"), _f(r, "99%")
        within = []
        if thresholds.get("p95_ms") is not None:
            within.append(p95 <= thresholds["p95_ms"])
        if thresholds.get("p99_ms") is not None:
            within.append(p99 <= thresholds["p99_ms"])
        if thresholds.get("max_error_rate") is not None:
            within.append(rate <= thresholds["max_error_rate"])
        verdict = ("pass" if all(within) else "fail") if within else ""
        rows.append([Cell(f"{r.get('Type', '')} {r.get('Name', '')}".strip(), "text"),
                     Cell(fmt(n)), Cell(fmt(fails)), Cell(f"{rate:.3%}" if n else "–"),
                     Cell(fmt(_f(r, "50%"))), Cell(fmt(p95)), Cell(fmt(p99)),
                     Cell(fmt(_f(r, "Requests/s"))), Cell(verdict, verdict)])
    return TableBlock("endpoint-table", "Requests by endpoint",
                      ["endpoint", "requests", "failures", "error rate", "p50 ms", "p95 ms",
                       "p99 ms", "req/s", "vs thresholds"], rows)


def _checks_table(checks: Sequence[Mapping[str, Any]]) -> TableBlock:
    rows = []
    for c in checks:
        ok = bool(c.get("passed"))
        rows.append([Cell(str(c.get("check", "")), "text"), Cell(fmt(c.get("value"))),
                     Cell(fmt(c.get("limit"))), Cell("pass" if ok else "FAIL",
                                                     "pass" if ok else "fail")])
    return TableBlock("gate-table", "Gate", ["check", "value", "limit", "result"], rows)


def write_loadtest_report(
    path: Path | str,
    history: Iterable[Mapping[str, Any]],
    *,
    stats: Iterable[Mapping[str, Any]] = (),
    thresholds: Mapping[str, float | None] | None = None,
    checks: Sequence[Mapping[str, Any]] = (),
    title: str = "Peakline load test",
    meta: Sequence[tuple[str, str]] = (),
) -> Path:
    """Write the load-test report (see the module docstring); returns the path."""
    rows = list(history)
    limits = {k: float(v) for k, v in (thresholds or {}).items() if v is not None}
    blocks: list[Any] = []
    if checks:
        blocks.append(_checks_table(checks))
    blocks += [
        FigureBlock("plot-latency", "Response-time percentiles over time",
                    latency_figure(rows, limits)),
        FigureBlock("plot-throughput", "Requests per second and users",
                    throughput_figure(rows, limits)),
        FigureBlock("plot-errors", "Errors", errors_figure(rows, limits)),
    ]
    stats_rows = list(stats)
    if stats_rows:
        blocks.append(_stats_table(stats_rows, limits))
    verdict = ""
    if checks:
        verdict = "gate passed" if all(c.get("passed") for c in checks) else "gate FAILED"
    return write_page(path, kind="loadtest", title=title, subtitle=verdict,
                      meta=[*meta, *((k, fmt(v)) for k, v in limits.items())], blocks=blocks)
