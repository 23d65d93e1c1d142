"""The rehearsal report: did the seller's integration keep up with the simulated peak?

One self-contained page from a rehearsal's summary (``loadtests.rehearsal.run``): the verdict
in words, the gate, postings waiting to be shipped over time beside the simulator's warehouse
backlog for the same orders, late shipments, the integration's request rate and 429s, the
measures, and the faults injected (when a fault profile was on).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reports.html import Cell, FigureBlock, TableBlock, fmt, write_page


def verdict(summary: Mapping[str, Any]) -> str:
    """One sentence a person reads first."""
    m = summary["measures"]
    if early := summary.get("stopped_early"):
        return (f"Partial: {early['why']} after {early['after_s']:.0f} s of "
                f"{early['of_s']:.0f} s; {m['shipped']} of {m['postings']} postings shipped, "
                f"{m['late_count']} late so far; thresholds on what was measured: "
                + ("all held" if summary["passed"] else ", ".join(summary["breaches"])))
    if summary["passed"]:
        return (f"PASS: the integration shipped {m['shipped']} of {m['postings']} postings, "
                f"{m['late_count']} late; every threshold held")
    return (f"FAIL: {', '.join(summary['breaches'])}; {m['late_count']} of {m['postings']} "
            f"postings shipped late or not at all")


def backlog_figure(summary: Mapping[str, Any]) -> go.Figure:
    s, sim = summary["series"], summary["simulated_backlog"]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_scatter(x=s["t"], y=s["waiting"], mode="lines", name="postings waiting to ship "
                    "(rehearsal)", line={"color": "#0b3d91", "width": 2})
    fig.add_scatter(x=sim["t"], y=sim["backlog"], mode="lines", name="warehouse backlog "
                    "(simulator)", line={"color": "#868e96", "dash": "dot"}, secondary_y=True)
    fig.update_xaxes(title_text="seconds of rehearsal")
    fig.update_yaxes(title_text="postings waiting", secondary_y=False)
    fig.update_yaxes(title_text="simulated backlog", secondary_y=True)
    fig.update_layout(height=400)
    return fig


def late_figure(summary: Mapping[str, Any]) -> go.Figure:
    s = summary["series"]
    fig = go.Figure()
    fig.add_scatter(x=s["t"], y=s["late"], mode="lines", name="late shipments (cumulative)",
                    line={"color": "#b42318", "width": 2})
    fig.update_layout(xaxis_title="seconds of rehearsal", yaxis_title="postings", height=320)
    return fig


def requests_figure(summary: Mapping[str, Any]) -> go.Figure:
    s = summary["series"]
    fig = go.Figure()
    fig.add_bar(x=s["t"], y=s["requests"], name="requests/s", marker_color="#0b3d91")
    fig.add_bar(x=s["t"], y=s["throttled"], name="429s/s", marker_color="#e8590c")
    fig.update_layout(xaxis_title="seconds of rehearsal", yaxis_title="per second",
                      barmode="overlay", height=320)
    return fig


def _gate(summary: Mapping[str, Any]) -> TableBlock:
    rows = [[Cell(t["threshold"], "text"), Cell(t["measured_text"]),
             Cell("pass" if t["passed"] else "FAIL", "pass" if t["passed"] else "fail")]
            for t in summary["thresholds"]]
    return TableBlock("gate-table", "Gate", ["threshold", "measured", "result"], rows)


def _measures(summary: Mapping[str, Any]) -> TableBlock:
    rows = [[Cell(k, "text"), Cell(fmt(v) if v is not None else "-")]
            for k, v in summary["measures"].items()]
    return TableBlock("measures-table", "Measures", ["measure", "value"], rows,
                      note="times in seconds of rehearsal; shares as fractions")


def _faults(summary: Mapping[str, Any]) -> TableBlock | None:
    faults = summary.get("faults")
    if not faults:
        return None
    rows = [[Cell(name, "text"), Cell(f"{f['rate']:.1%}"), Cell(fmt(f["injected"])),
             Cell(f"{fmt(f['of'])} {f.get('of_what', 'requests')}"), Cell(f"{f['share']:.1%}")]
            for name, f in faults.get("kinds", {}).items()]
    return TableBlock("faults-table", f"Faults injected ({faults.get('profile', '')})",
                      ["fault", "stated rate", "injected", "of", "share"], rows,
                      note="Shares of the integration's requests (push faults: of the distinct "
                           "push notifications); bursts make short runs uneven, and "
                           "import_fails_later only hits import-info answers.")


def _pushes(summary: Mapping[str, Any]) -> TableBlock | None:
    pushes = summary.get("pushes")
    if not pushes:
        return None
    rows = [[Cell(kind, "text"), Cell(fmt(n))] for kind, n in pushes["by_type"].items()]
    rows += [[Cell(answer if answer == "no answer" else f"answered {answer}", "text"),
              Cell(fmt(n))]
             for answer, n in pushes["answers"].items()]
    return TableBlock("pushes-table", "Push notifications passed on to the integration",
                      ["", "pushes"], rows,
                      note=f"{pushes['sent']} sent, {pushes['distinct']} distinct "
                           "(copies of doubled pushes included in the counts by type)")


def write_rehearsal_report(summary: Mapping[str, Any], path: Path | str) -> Path:
    blocks: list[Any] = [
        _gate(summary),
        FigureBlock("plot-backlog", "Postings waiting to be shipped, beside the simulated "
                    "warehouse backlog", backlog_figure(summary)),
        FigureBlock("plot-late", "Late shipments", late_figure(summary)),
        FigureBlock("plot-requests", "The integration's requests and 429s",
                    requests_figure(summary)),
        _measures(summary),
    ]
    if (faults := _faults(summary)) is not None:
        blocks.insert(1, faults)
    if (pushes := _pushes(summary)) is not None:
        blocks.append(pushes)
    meta = [("scenario", str(summary["scenario"])), ("seed", str(summary["seed"])),
            ("speed", f"{summary['speed']:g}x"),
            ("shipment deadline", f"{summary.get('deadline_s', 0):.0f} s")]
    return write_page(path, kind="rehearsal", title=f"Rehearsal — {summary['scenario']}",
                      subtitle=verdict(summary), meta=meta, blocks=blocks)
