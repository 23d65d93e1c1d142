"""The HTML report of one simulation run: ``write_run_report(result, path) -> Path``.

Plots (div ids): ``plot-orders`` orders per hour against the demand curve,
``plot-backlog`` backlog per warehouse and sorting centre, ``plot-fill`` fill rate and
stock-outs, ``plot-lead-time`` delivery lead-time distribution, ``plot-utilisation``
utilisation heat map, ``plot-network`` the network map with flows. A figure whose data is
missing from the result stays in the page with a "no data" note.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reports.html import FigureBlock, TableBlock, cell, empty_figure, fmt, write_page
from simulator.metrics import KPI_DOC, RunResult

#: div id -> section title, in page order
RUN_PLOTS: dict[str, str] = {
    "plot-orders": "Orders per hour against the demand curve",
    "plot-backlog": "Backlog per warehouse and sorting centre",
    "plot-fill": "Fill rate and stock-outs",
    "plot-lead-time": "Delivery lead-time distribution",
    "plot-utilisation": "Utilisation heat map",
    "plot-network": "Network map with flows",
}

_NODE_STYLE = {
    "warehouse": ("square", "#0b3d91", 11),
    "sorting_centre": ("diamond", "#d9480f", 11),
    "hub": ("triangle-up", "#5f3dc4", 9),
    "region": ("circle", "#2b8a3e", 8),
}


def _hours_per_bin(result: RunResult) -> float:
    return result.resolution_minutes / 60


def orders_figure(result: RunResult) -> go.Figure:
    s, t = result.series, result.series_time
    if "orders_placed" not in s or t.size == 0:
        return empty_figure("no order series in this result")
    per_hour = 1 / _hours_per_bin(result)
    fig = go.Figure()
    fig.add_bar(x=t, y=np.asarray(s["orders_placed"]) * per_hour, name="orders placed",
                marker_color="#4c6ef5", opacity=0.75)
    if "demand_expected" in s:
        fig.add_scatter(x=t, y=np.asarray(s["demand_expected"]) * per_hour, mode="lines",
                        name="demand curve (expected)", line={"color": "#e8590c", "width": 2.5})
    if "orders_delivered" in s:
        fig.add_scatter(x=t, y=np.asarray(s["orders_delivered"]) * per_hour, mode="lines",
                        name="orders delivered", line={"color": "#2b8a3e", "dash": "dot"})
    fig.update_layout(xaxis_title="hours from scenario start", yaxis_title="orders per hour",
                      bargap=0.05, height=420)
    return fig


def _lines(fig: go.Figure, result: RunResult, name: str, prefix: str, row: int) -> bool:
    data = result.series.get(name)
    if data is None or np.ndim(data) != 2:
        return False
    columns = result.series_columns.get(name) or [str(i) for i in range(np.shape(data)[1])]
    for j, col in enumerate(columns):
        fig.add_scatter(x=result.series_time, y=np.asarray(data)[:, j], mode="lines",
                        name=f"{prefix} {col}", legendgroup=prefix, row=row, col=1)
    return True


def backlog_figure(result: RunResult) -> go.Figure:
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("warehouses (units awaiting picking)",
                                        "sorting centres (parcels queued)"))
    found = _lines(fig, result, "backlog_warehouse", "warehouse", 1)
    found |= _lines(fig, result, "backlog_sorting", "sorting centre", 2)
    if not found:
        return empty_figure("no backlog series in this result")
    fig.update_xaxes(title_text="hours from scenario start", row=2, col=1)
    fig.update_layout(height=560)
    return fig


def fill_figure(result: RunResult) -> go.Figure:
    rows = result.tables.get("sku_warehouse") or []
    stockouts = result.series.get("stockouts_warehouse")
    if not rows and stockouts is None:
        return empty_figure("no fill-rate table or stock-out series in this result")
    fig = make_subplots(rows=1, cols=2, column_widths=[0.35, 0.65],
                        subplot_titles=("unit fill rate per warehouse",
                                        "SKUs out of stock over time"))
    if rows:
        demand: dict[str, float] = defaultdict(float)
        filled: dict[str, float] = defaultdict(float)
        for r in rows:
            demand[r["warehouse"]] += float(r["demand_units"])
            filled[r["warehouse"]] += float(r["filled_units"])
        whs = sorted(demand)
        rate = [filled[w] / demand[w] if demand[w] else np.nan for w in whs]
        fig.add_bar(x=whs, y=rate, name="fill rate", marker_color="#2b8a3e",
                    text=[f"{r:.1%}" for r in rate], textposition="outside", row=1, col=1)
        line = result.kpis.get("line_fill_rate")
        if line is not None:
            fig.add_scatter(x=whs, y=[line] * len(whs), mode="lines", name="line fill rate (all)",
                            line={"dash": "dash", "color": "#495057"}, row=1, col=1)
        fig.update_yaxes(range=[min(0.0, *(r for r in rate if r == r)), 1.08],
                         tickformat=".0%", row=1, col=1)
    if stockouts is not None and np.ndim(stockouts) == 2:
        cols = result.series_columns.get("stockouts_warehouse") or []
        for j in range(np.shape(stockouts)[1]):
            label = cols[j] if j < len(cols) else str(j)
            fig.add_scatter(x=result.series_time, y=np.asarray(stockouts)[:, j], mode="lines",
                            name=f"stock-outs {label}", row=1, col=2)
        fig.update_xaxes(title_text="hours from scenario start", row=1, col=2)
        fig.update_yaxes(title_text="SKUs at zero", row=1, col=2)
    fig.update_layout(height=420)
    return fig


def _histogram(values: np.ndarray, bins: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Pre-binned counts (the HTML stays small however many orders the run had)."""
    counts, edges = np.histogram(values, bins=bins)
    return (edges[:-1] + edges[1:]) / 2, counts


def lead_time_figure(result: RunResult) -> go.Figure:
    lead = np.asarray(result.samples.get("lead_time_hours", []), dtype=float)
    cycle = np.asarray(result.samples.get("cycle_time_hours", []), dtype=float)
    lead, cycle = lead[np.isfinite(lead)], cycle[np.isfinite(cycle)]
    if lead.size == 0 and cycle.size == 0:
        return empty_figure("no delivered orders (no lead-time samples)")
    fig = go.Figure()
    for values, name, color in ((lead, "delivery lead time", "#4c6ef5"),
                                (cycle, "order cycle time", "#e8590c")):
        if values.size:
            x, counts = _histogram(values)
            fig.add_bar(x=x, y=counts / values.size, name=name, marker_color=color, opacity=0.6)
    if lead.size:
        for q, dash in ((50, "dot"), (95, "dash"), (99, "longdash")):
            v = float(np.percentile(lead, q))
            fig.add_vline(x=v, line_dash=dash, line_color="#1f2933",
                          annotation_text=f"p{q} {v:.1f} h", annotation_position="top")
    fig.update_layout(barmode="overlay", xaxis_title="hours", yaxis_title="share of orders",
                      yaxis_tickformat=".0%", height=420)
    return fig


def utilisation_figure(result: RunResult) -> go.Figure:
    labels, rows = [], []
    for name, prefix in (("utilisation_warehouse", "warehouse"),
                         ("utilisation_sorting", "sorting")):
        data = result.series.get(name)
        if data is None or np.ndim(data) != 2:
            continue
        cols = result.series_columns.get(name) or [str(i) for i in range(np.shape(data)[1])]
        for j, col in enumerate(cols):
            labels.append(f"{prefix} {col}")
            rows.append(np.asarray(data, dtype=float)[:, j])
    if not rows:
        return empty_figure("no utilisation series in this result")
    fig = go.Figure(go.Heatmap(z=np.vstack(rows), x=result.series_time, y=labels,
                               colorscale="YlOrRd", zmin=0, zmax=max(1.0, float(np.nanmax(rows))),
                               colorbar={"title": "utilisation", "tickformat": ".0%"},
                               name="utilisation"))
    fig.update_layout(xaxis_title="hours from scenario start",
                      height=max(260, 40 + 26 * len(labels)))
    return fig


def network_figure(result: RunResult) -> go.Figure:
    nodes = result.tables.get("nodes") or []
    if not nodes:
        return empty_figure("no node table in this result")
    where = {n["id"]: (float(n["lat"]), float(n["lon"])) for n in nodes}
    fig = go.Figure()
    flows = [f for f in result.tables.get("flows") or []
             if f["from"] in where and f["to"] in where and f["parcels"] > 0]
    if flows:
        parcels = np.array([f["parcels"] for f in flows], dtype=float)
        edges = np.unique(np.quantile(parcels, [0, 0.5, 0.8, 0.95, 1.0]))
        top = max(len(edges) - 2, 0)
        klass = np.clip(np.searchsorted(edges, parcels, side="right") - 1, 0, top)
        for k in sorted(set(klass.tolist())):
            lat: list[float | None] = []
            lon: list[float | None] = []
            chosen = [f for f, c in zip(flows, klass, strict=True) if c == k]
            for f in chosen:
                (a_lat, a_lon), (b_lat, b_lon) = where[f["from"]], where[f["to"]]
                lat += [a_lat, b_lat, None]
                lon += [a_lon, b_lon, None]
            low = min(f["parcels"] for f in chosen)
            high = max(f["parcels"] for f in chosen)
            fig.add_trace(go.Scattergeo(
                lat=lat, lon=lon, mode="lines", name=f"flows {fmt(low)}–{fmt(high)} parcels",
                line={"width": 1 + 2 * k, "color": "rgba(11,61,145,0.55)"}, hoverinfo="skip",
            ))
        mid_lat = [(where[f["from"]][0] + where[f["to"]][0]) / 2 for f in flows]
        mid_lon = [(where[f["from"]][1] + where[f["to"]][1]) / 2 for f in flows]
        fig.add_trace(go.Scattergeo(
            lat=mid_lat, lon=mid_lon, mode="markers", name="flow volume",
            marker={"size": 4, "color": "rgba(11,61,145,0.3)"},
            text=[f"{f['from']} → {f['to']}: {f['parcels']:,} parcels" for f in flows],
            hoverinfo="text", showlegend=False,
        ))
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for n in nodes:
        by_kind[n.get("kind", "node")].append(n)
    for kind, members in by_kind.items():
        symbol, color, size = _NODE_STYLE.get(kind, ("circle", "#868e96", 8))
        fig.add_trace(go.Scattergeo(
            lat=[n["lat"] for n in members], lon=[n["lon"] for n in members],
            mode="markers+text" if kind in ("warehouse", "sorting_centre") else "markers",
            name=kind.replace("_", " "),
            textposition="top center", textfont={"size": 10, "color": color},
            marker={"symbol": symbol, "color": color, "size": size,
                    "line": {"width": 0.5, "color": "#fff"}},
            text=[n["id"] for n in members],
            hovertext=[f"{n['id']} {n.get('name', '')} ({n.get('city', '')})" for n in members],
            hoverinfo="text",
        ))
    lats = [v[0] for v in where.values()]
    lons = [v[1] for v in where.values()]
    pad = 3
    fig.update_geos(
        projection_type="mercator", showcountries=True, showland=True, landcolor="#f1f3f5",
        lataxis_range=[min(lats) - pad, max(lats) + pad],
        lonaxis_range=[min(lons) - pad, max(lons) + pad],
    )
    fig.update_layout(height=560)
    return fig


_FIGURES = {
    "plot-orders": orders_figure,
    "plot-backlog": backlog_figure,
    "plot-fill": fill_figure,
    "plot-lead-time": lead_time_figure,
    "plot-utilisation": utilisation_figure,
    "plot-network": network_figure,
}


def _kpi_table(result: RunResult) -> TableBlock:
    rows = [[cell(name), cell(float(value)), cell(KPI_DOC.get(name, ""), "text")]
            for name, value in result.kpis.items()]
    return TableBlock("kpis", "Key figures", ["KPI", "value", "meaning"], rows)


def _stockout_table(result: RunResult, top: int = 15) -> TableBlock | None:
    rows = result.tables.get("sku_warehouse") or []
    worst = sorted(rows, key=lambda r: (-float(r.get("lost_units", 0)),
                                        -float(r.get("stockout_hours", 0))))[:top]
    worst = [r for r in worst if float(r.get("lost_units", 0)) > 0
             or float(r.get("stockout_hours", 0)) > 0]
    if not worst:
        return None
    cols = ["sku", "offer_id", "warehouse", "demand_units", "filled_units", "lost_units",
            "avg_on_hand", "stockout_hours"]
    return TableBlock("stockouts", f"Worst {len(worst)} (SKU, warehouse) pairs by lost units",
                      cols, [[cell(str(r.get(c)) if c == "sku" else r.get(c)) for c in cols]
                             for r in worst])


def _delivery_verdict(k: dict[str, float]) -> str:
    """On time in words, with what was left out."""
    due = sum(k.get(f"orders_{name}", 0) for name in ("delivered", "in_flight_late",
                                                       "not_accepted"))
    if "on_time_rate" not in k:
        return "no on-time figure in this result"
    if not due:
        return "no order was due by the end of the run"
    late, ahead = int(k.get("orders_in_flight_late", 0)), int(k.get("orders_not_yet_due", 0))
    return (f"{k['on_time_rate']:.1%} on time of {int(due):,} orders that were due ({late:,} "
            f"still in flight past the promise count as late); {ahead:,} in flight not yet due "
            f"at the end, left out")


def _region_table(result: RunResult) -> TableBlock | None:
    rows = result.tables.get("regions") or []
    if not rows:
        return None
    cols = {"region": "region", "promised_days": "promise, d",
            "orders_delivered_on_time": "on time", "orders_delivered_late": "late",
            "orders_in_flight_late": "overdue", "orders_not_yet_due": "not yet due",
            "orders_cancelled": "cancelled", "orders_not_accepted": "refused",
            "on_time_rate": "on-time rate", "lead_time_p50_hours": "lead p50, h",
            "lead_time_p95_hours": "lead p95, h"}
    note = ("On time = delivered within the promise / orders that were due (delivered; "
            "overdue: in flight past the promise; refused: not accepted). Orders still in flight "
            "whose promise lies beyond the end of the run are not yet due and left out; lead "
            "time counts overdue orders at their age at the end (a lower bound).")
    body = [[cell(f"{r[c]:.1%}" if c == "on_time_rate" and r[c] == r[c] else r[c]) for c in cols]
            for r in rows]
    return TableBlock("regions", "Delivery by region", list(cols.values()), body, note=note)


def write_run_report(result: RunResult, path: Path | str) -> Path:
    """Write one self-contained HTML report of ``result`` to ``path``; returns the path."""
    blocks: list[Any] = [_kpi_table(result)]
    if (regions := _region_table(result)) is not None:
        blocks.append(regions)
    for div_id, title in RUN_PLOTS.items():
        geo = div_id == "plot-network" and bool(result.tables.get("nodes"))
        note = ("Base map from plotly's CDN when online; offline, nodes and flows are drawn "
                "without it." if geo else "")
        blocks.append(FigureBlock(div_id, title, _FIGURES[div_id](result), note=note, geo=geo))
    if (table := _stockout_table(result)) is not None:
        blocks.append(table)
    k = result.kpis
    meta = [
        ("scenario", result.scenario),
        ("seed", str(result.seed)),
        ("policies", f"allocation {result.allocation}, replenishment {result.replenishment}"),
        ("horizon", f"{result.horizon_hours:g} h, series every {result.resolution_minutes} min"),
        ("orders", f"{fmt(k.get('orders_placed'))} placed, {fmt(k.get('orders_delivered'))} "
                   f"delivered"),
        ("delivery", _delivery_verdict(k)),
    ]
    return write_page(path, kind="run", title=f"Peakline run — {result.scenario}",
                      subtitle=f"seed {result.seed} · {result.allocation} / {result.replenishment}",
                      meta=meta, blocks=blocks)
