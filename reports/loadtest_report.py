"""The HTML report of a load test: the verdict in words first, then the thresholds as a person
writes them, the failures, the plots over time and the figures per endpoint.

Call::

    write_loadtest_report(path, summary, history) -> Path

``summary`` is what ``summary.json`` holds (:meth:`loadtests.results.RunOutcome.to_dict`);
``history`` the rows of Locust's ``<prefix>_stats_history.csv`` read by :func:`read_locust_csv`
("N/A" becomes NaN). Its "Aggregated" rows drive the plots; the per-endpoint rows of
``--csv-full-history`` add p95 lines. Plots (div ids): ``plot-latency`` percentiles over time
with the limits, ``plot-throughput`` requests/s, failures/s and users, ``plot-errors`` the error
rate against its limit.

One unit a column: milliseconds for response times, percent for error rates, requests per
second for throughput. An endpoint's row is judged only by the thresholds set for it.
"""

from __future__ import annotations

import csv
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reports.html import Cell, FigureBlock, TableBlock, Verdict, empty_figure, write_page

LOADTEST_PLOTS = ("plot-latency", "plot-throughput", "plot-errors")
AGGREGATED = "Aggregated"
ALL_REQUESTS = "all requests"
NO_RESPONSE = "no response (connection refused, reset or timed out)"

_OPS = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}
_LATENCY_NAMES = {"avg": "mean response time", "min": "fastest response",
                  "max": "slowest response", "p50": "median response time"}
_OTHER_NAMES = {"errors": "error rate", "rps": "throughput", "requests": "requests",
                "failures": "failed requests"}


# --- reading Locust's CSV ----------------------------------------------------------------------


def read_locust_csv(path: Path | str) -> list[dict[str, Any]]:
    """Rows of a Locust stats / stats_history CSV with numbers parsed (``N/A`` -> NaN)."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def _number(value: Any) -> Any:
    if not isinstance(value, str) or not value.strip():
        return value
    if value.strip().upper() in {"N/A", "NAN"}:
        return math.nan
    try:
        return float(value)
    except ValueError:
        return value


def _f(row: Mapping[str, Any], key: str) -> float:
    value = _number(row.get(key, math.nan))
    return float(value) if isinstance(value, int | float) else math.nan


# --- words and units -----------------------------------------------------------------------


def ms(value: float | None) -> str:
    """A response time in milliseconds, without the unit (the column says it)."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"


def percent(fraction: float | None) -> str:
    """An error rate as a percentage with two decimals (``0.00``, ``3.25``, ``100.00``)."""
    if fraction is None or not math.isfinite(fraction):
        return "–"
    return f"{fraction * 100:.2f}"


def _g(value: float) -> str:
    return f"{value:,.10g}"


def metric_words(metric: str) -> str:
    """``p95`` -> ``p95 response time``, ``errors`` -> ``error rate``."""
    if metric in _LATENCY_NAMES:
        return _LATENCY_NAMES[metric]
    if metric in _OTHER_NAMES:
        return _OTHER_NAMES[metric]
    return f"{metric} response time"


def with_unit(metric: str, value: float | None) -> str:
    """A threshold's limit or measurement in its metric's unit."""
    if value is None:
        return "not measured"
    if metric == "errors":
        return f"{_g(round(value * 100, 4))} %"
    if metric == "rps":
        return f"{value:,.1f} req/s"
    if metric in ("requests", "failures"):
        return f"{value:,.0f}"
    return f"{ms(value)} ms"


def threshold_words(t: Mapping[str, Any]) -> str:
    """``p95 response time ≤ 200 ms`` (the endpoint is said apart)."""
    limit = with_unit(t["metric"], t["limit"])
    return f"{metric_words(t['metric'])} {_OPS.get(t['op'], t['op'])} {limit}"


def judged(t: Mapping[str, Any]) -> str:
    """``p95 response time ≤ 200 ms: 143 ms, pass`` (with its endpoint when it has one)."""
    where = f"{t['endpoint']}: " if t.get("endpoint") else ""
    result = "pass" if t["passed"] else "FAIL"
    note = f" ({t['note']})" if t.get("note") else ""
    return f"{where}{threshold_words(t)}: {with_unit(t['metric'], t['measured'])}{note}, {result}"


def error_words(error: str) -> str:
    """Locust's error text for a person: ``CatchResponseError('HTTP 409: ...')`` -> ``HTTP 409:
    ...``; a request with no HTTP answer (status 0) says so."""
    text = re.sub(r"^CatchResponseError\((['\"])(.*)\1\)$", r"\2", error.strip())
    if re.match(r"^HTTP 0\b:?\s*$", text):
        return NO_RESPONSE
    return text


def applies_to(t: Mapping[str, Any], endpoint: str) -> bool:
    """Whether threshold ``t`` was judged on ``endpoint`` (``METHOD /path``): its own name, a
    bare path covering every method, or the one endpoint a suffix matched."""
    target = t.get("endpoint")
    if not target:
        return False
    return (target == endpoint or endpoint.rpartition(" ")[2] == target
            or t.get("note") == f"matched {endpoint}")


# --- the verdict ---------------------------------------------------------------------------


def verdict(summary: Mapping[str, Any]) -> Verdict:
    """What the run says, in words: passed or failed and why; a backend that did not answer."""
    thresholds = summary.get("thresholds", [])
    total = summary.get("stats", {}).get("total", {})
    n, failed = int(total.get("requests") or 0), int(total.get("failures") or 0)
    seconds = float(summary.get("stats", {}).get("seconds") or 0)
    no_answer = sum(f["occurrences"] for f in summary.get("failures", [])
                    if error_words(f["error"]) == NO_RESPONSE)
    host = summary.get("host", "the backend")
    lines = []
    if n == 0:
        headline = f"Failed: no request was recorded against {host}."
    elif failed == n and no_answer:
        headline = f"Failed: the backend at {host} did not answer."
        lines.append(f"All {n:,} requests failed; {no_answer:,} of them got no HTTP response "
                     "at all (connection refused, reset or timed out). The response times "
                     "below are those of the failed attempts, not of the backend.")
    else:
        breached = [t for t in thresholds if not t["passed"]]
        headline = (f"Failed: {len(breached)} of {len(thresholds)} thresholds breached."
                    if breached else f"Passed: all {len(thresholds)} thresholds held."
                    if thresholds else "Passed: no threshold was set.")
        if no_answer:
            lines.append(f"{no_answer:,} requests got no HTTP response from {host}.")
    if n:
        answered = "" if failed == n else (f"; p95 {ms(total.get('p95_ms'))} ms, "
                                           f"p99 {ms(total.get('p99_ms'))} ms")
        lines.insert(0, f"{n:,} requests in {seconds:,.0f} s ({n / max(seconds, 1):,.1f} req/s); "
                        f"{failed:,} failed ({percent(failed / n)} %){answered}.")
    if early := summary.get("stopped_early"):
        headline = f"Partial: {early['why']} after {early['after_s']:.0f} s. {headline}"
        lines.insert(0, f"The run was stopped {early['after_s']:.0f} s into its "
                        f"{early['of_s']:.0f} s; every figure covers only what was measured "
                        "until then.")
    if problem := summary.get("role_keys_problem"):
        lines.append(f"Before the load, creating the staff's sub-accounts failed: {problem}.")
    lines += [judged(t) for t in thresholds if not t["passed"]]
    passed = bool(summary.get("passed")) and n > 0
    return Verdict(headline, lines, "pass" if passed else "fail")


# --- plots -----------------------------------------------------------------------------------


def _endpoint_name(row: Mapping[str, Any]) -> str:
    """The request's name: the locustfile already puts the method in it (``POST /path``)."""
    name, method = str(row.get("Name", "")), row.get("Type")
    method = method if isinstance(method, str) else ""
    return name if not method or name.startswith(f"{method} ") else f"{method} {name}"


def _split(history: Iterable[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]],
                                                         dict[str, list[Mapping[str, Any]]]]:
    total: list[Mapping[str, Any]] = []
    endpoints: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in history:
        if row.get("Name", AGGREGATED) == AGGREGATED:
            total.append(row)
        else:
            endpoints[_endpoint_name(row)].append(row)
    total.sort(key=lambda r: _f(r, "Timestamp"))
    return total, endpoints


def _series(rows: Sequence[Mapping[str, Any]], key: str) -> list[float]:
    return [_f(r, key) for r in rows]


def _elapsed(rows: Sequence[Mapping[str, Any]], t0: float) -> list[float]:
    return [_f(r, "Timestamp") - t0 for r in rows]


def overall_limits(summary: Mapping[str, Any]) -> dict[str, float]:
    """The limits that apply to all requests, by metric (``p95``, ``errors``, ``rps`` ...)."""
    return {t["metric"]: float(t["limit"]) for t in summary.get("thresholds", [])
            if not t.get("endpoint")}


def latency_figure(history: Sequence[Mapping[str, Any]], limits: Mapping[str, float]
                   ) -> go.Figure:
    total, endpoints = _split(history)
    if not total:
        return empty_figure("no aggregated rows in the stats history")
    t0 = _f(total[0], "Timestamp")
    fig = go.Figure()
    for key, name, dash in (("50%", "p50", "dot"), ("95%", "p95", "solid"), ("99%", "p99", "dash")):
        fig.add_scatter(x=_elapsed(total, t0), y=_series(total, key), mode="lines",
                        name=f"{name} ({ALL_REQUESTS})", line={"dash": dash, "width": 2})
    for name, rows in sorted(endpoints.items()):
        rows = sorted(rows, key=lambda r: _f(r, "Timestamp"))
        fig.add_scatter(x=_elapsed(rows, t0), y=_series(rows, "95%"), mode="lines",
                        name=f"p95 {name}", line={"width": 1}, visible="legendonly")
    for metric, color in (("p95", "#e8590c"), ("p99", "#b42318")):
        if metric in limits:
            fig.add_hline(y=limits[metric], line_dash="dash", line_color=color,
                          annotation_text=f"{metric} limit {ms(limits[metric])} ms")
    fig.update_layout(xaxis_title="seconds since start", yaxis_title="response time, ms",
                      height=420)
    return fig


def throughput_figure(history: Sequence[Mapping[str, Any]], limits: Mapping[str, float]
                      ) -> go.Figure:
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
    if "rps" in limits:
        fig.add_hline(y=limits["rps"], line_dash="dash", line_color="#2b8a3e",
                      annotation_text=f"at least {limits['rps']:,.1f} req/s over the run")
    fig.update_xaxes(title_text="seconds since start")
    fig.update_yaxes(title_text="requests per second", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(title_text="users", rangemode="tozero", tickformat=",d", secondary_y=True)
    fig.update_layout(height=420)
    return fig


def errors_figure(history: Sequence[Mapping[str, Any]], limits: Mapping[str, float]
                  ) -> go.Figure:
    total, _ = _split(history)
    if not total:
        return empty_figure("no aggregated rows in the stats history")
    x = _elapsed(total, _f(total[0], "Timestamp"))

    def ratio(part: list[float], whole: list[float]) -> list[float]:
        return [100 * p / w if w and w > 0 else math.nan for p, w in zip(part, whole,
                                                                         strict=True)]

    fig = go.Figure()
    fig.add_scatter(x=x, y=ratio(_series(total, "Failures/s"), _series(total, "Requests/s")),
                    mode="lines", name="error rate (current)", line={"color": "#e8590c"})
    fig.add_scatter(x=x, y=ratio(_series(total, "Total Failure Count"),
                                 _series(total, "Total Request Count")),
                    mode="lines", name="error rate (since start)",
                    line={"color": "#b42318", "width": 2.5})
    if "errors" in limits:
        fig.add_hline(y=100 * limits["errors"], line_dash="dash", line_color="#1f2933",
                      annotation_text=f"limit {_g(100 * limits['errors'])} %")
    fig.update_layout(xaxis_title="seconds since start", yaxis_title="failed requests, %",
                      height=380)
    return fig


# --- tables ----------------------------------------------------------------------------------


def _result(passed: bool) -> Cell:
    return Cell("pass", "pass") if passed else Cell("FAIL", "fail")


def thresholds_table(summary: Mapping[str, Any]) -> TableBlock:
    sources = {"cli": "command line", "scenario": "scenario"}
    rows = [[Cell(threshold_words(t), "text"), Cell(t.get("endpoint") or ALL_REQUESTS, "text"),
             Cell(with_unit(t["metric"], t["measured"])), _result(t["passed"]),
             Cell(sources.get(t.get("source", ""), t.get("source", "")), "text", t.get("note", ""))]
            for t in summary.get("thresholds", [])]
    return TableBlock("gate-table", "Thresholds",
                      ["threshold", "applies to", "measured", "result", "set by"], rows,
                      note="The gate passes (exit code 0) when every threshold holds.")


def failures_table(summary: Mapping[str, Any]) -> TableBlock:
    rows = [[Cell(f["name"], "text"), Cell(error_words(f["error"]), "text"),
             Cell(f"{f['occurrences']:,}")] for f in summary.get("failures", [])]
    return TableBlock("failures-table", "Failures", ["endpoint", "error", "times"], rows,
                      note="The most frequent failures, as Locust recorded them.")


def _figures(row: Mapping[str, Any]) -> list[Cell]:
    n, failed = int(row.get("requests") or 0), int(row.get("failures") or 0)
    return [Cell(f"{n:,}"), Cell(f"{failed:,}"), Cell(percent(failed / n if n else None)),
            Cell(ms(row.get("p50_ms"))), Cell(ms(row.get("p95_ms"))),
            Cell(ms(row.get("p99_ms"))), Cell(ms(row.get("max_ms"))),
            Cell(f"{row.get('rps', 0):,.1f}")]


def _judgement(thresholds: Sequence[Mapping[str, Any]]) -> Cell:
    """``pass (2)``, or ``FAIL:`` and the breached thresholds; ``–`` when none applies."""
    if not thresholds:
        return Cell("–", "text", "no threshold is set for this endpoint")
    tip = "; ".join(judged({**t, "endpoint": None}) for t in thresholds)
    breached = [t for t in thresholds if not t["passed"]]
    if not breached:
        return Cell(f"pass ({len(thresholds)})", "text pass", tip)
    said = (f"{threshold_words(t)} ({with_unit(t['metric'], t['measured'])})" for t in breached)
    return Cell("FAIL: " + "; ".join(said), "text fail", tip)


def endpoints_table(summary: Mapping[str, Any]) -> TableBlock:
    stats = summary.get("stats", {})
    per_endpoint = [t for t in summary.get("thresholds", []) if t.get("endpoint")]
    rows = [[Cell(row["name"], "text"), *_figures(row),
             _judgement([t for t in per_endpoint if applies_to(t, row["name"])])]
            for row in stats.get("endpoints", [])]
    overall = [t for t in summary.get("thresholds", []) if not t.get("endpoint")]
    rows.append([Cell(ALL_REQUESTS, "text"), *_figures(stats.get("total", {})),
                 _judgement(overall)])
    return TableBlock("endpoint-table", "Requests by endpoint",
                      ["endpoint", "requests", "failed", "error rate, %", "p50, ms", "p95, ms",
                       "p99, ms", "max, ms", "req/s", "thresholds for it"], rows,
                      note="Response times in milliseconds. An endpoint is judged only by the "
                           "thresholds set for it; the last row by those for all requests.")


def outcomes_table(summary: Mapping[str, Any]) -> TableBlock:
    rows = [[Cell(key.replace("_", " "), "text"), Cell(f"{value:,}")]
            for key, value in sorted(summary.get("outcomes", {}).items())]
    return TableBlock("outcomes-table", "What the simulated users did", ["outcome", "count"], rows,
                      note="Business outcomes the locustfile counted (refusals such as out of "
                           "stock are answers, not failures).")


def _details(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    backend = summary.get("backend", {})
    started = (f"started by the test ({backend.get('database')}, "
               f"{backend.get('uvicorn_workers', 1)} uvicorn worker(s))"
               if backend.get("started") else "already running")
    load = (f"{summary.get('duration_s', 0):g} s, {summary.get('shape')} shape, "
            f"{summary.get('users')} peak users, {summary.get('workers') or 'no'} Locust workers")
    if sent := summary.get("open_model"):  # the open model: orders on schedule, no users
        load = (f"{summary.get('duration_s', 0):g} s, open model: {sent['sent']:,} of "
                f"{sent['scheduled']:,} orders sent on schedule, {sent['late_sends']:,} late "
                f"(send lag p99 {sent['lag']['p99_ms'] or 0:.0f} ms), "
                f"{summary.get('workers') or 'no'} Locust workers")
    return [("target", str(summary.get("host", ""))), ("backend", started), ("load", load),
            ("started at", str(summary.get("started_at", ""))),
            ("wall time", f"{summary.get('wall_seconds', 0):,.0f} s")]


def write_loadtest_report(path: Path | str, summary: Mapping[str, Any],
                          history: Iterable[Mapping[str, Any]]) -> Path:
    """Write the load-test report (see the module docstring); returns the path."""
    rows = list(history)
    limits = overall_limits(summary)
    blocks: list[Any] = [thresholds_table(summary)]
    if summary.get("failures"):
        blocks.append(failures_table(summary))
    blocks += [
        FigureBlock("plot-latency", "Response times over time", latency_figure(rows, limits),
                    note="Percentiles over all requests; click an endpoint in the legend to "
                         "add its p95."),
        FigureBlock("plot-throughput", "Requests per second and users",
                    throughput_figure(rows, limits)),
        FigureBlock("plot-errors", "Error rate", errors_figure(rows, limits)),
        endpoints_table(summary),
    ]
    if summary.get("outcomes"):
        blocks.append(outcomes_table(summary))
    return write_page(path, kind="loadtest", title=f"Load test — {summary.get('scenario', '')}",
                      subtitle=str(summary.get("host", "")), verdict=verdict(summary),
                      meta=_details(summary), blocks=blocks)
