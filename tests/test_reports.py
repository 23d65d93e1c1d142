"""HTML reports: self-contained, parse, hold every plot (ids and trace names), render in Chromium.

Results here are built by hand with the documented RunResult names (``fake_run``) so the
reports are tested apart from the model; ``test_experiment_model.py`` renders a real run.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from reports.comparison_report import COMPARISON_PLOTS, write_comparison_report
from reports.loadtest_report import LOADTEST_PLOTS, read_locust_csv, write_loadtest_report
from reports.network_map import Label, Projection, _overlap, network_figure, place_labels
from reports.run_report import (
    RUN_PLOTS,
    backlog_figure,
    backlog_peaks,
    fill_axis_range,
    fill_figure,
    lead_time_figure,
    orders_figure,
    when,
    write_run_report,
)
from reports.verdicts import verdict_headline, verdict_sentences
from simulator.experiment import Comparison, PolicySpec, Variant
from simulator.metrics import RunResult

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists()
                                        else None)


def fake_run(seed: int = 1, hours: int = 48) -> RunResult:
    """A RunResult with every documented series, sample and table filled with plausible data."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours, dtype=float)
    expected = 60 * (1 + 0.5 * np.sin(t / 24 * 2 * np.pi))
    placed = rng.poisson(expected)
    whs, scs = ["WH-MSK", "WH-SPB"], ["SC-MSK"]
    nodes = [
        {"id": "WH-MSK", "kind": "warehouse", "name": "Khorugvino", "city": "Solnechnogorsk",
         "lat": 56.15, "lon": 36.98},
        {"id": "WH-SPB", "kind": "warehouse", "name": "Shushary", "city": "Saint Petersburg",
         "lat": 59.81, "lon": 30.40},
        {"id": "SC-MSK", "kind": "sorting_centre", "name": "Moscow SC", "city": "Moscow",
         "lat": 55.65, "lon": 37.65},
        {"id": "H-MSK", "kind": "hub", "name": "Moscow last mile", "city": "Moscow",
         "lat": 55.75, "lon": 37.61},
        {"id": "R-MSK", "kind": "region", "name": "Moscow", "city": "Moscow",
         "lat": 55.75, "lon": 37.61},
        {"id": "R-SPB", "kind": "region", "name": "Saint Petersburg", "city": "Saint Petersburg",
         "lat": 59.93, "lon": 30.33},
    ]
    flows = [{"from": "WH-MSK", "to": "SC-MSK", "parcels": 1000},
             {"from": "SC-MSK", "to": "H-MSK", "parcels": 950},
             {"from": "H-MSK", "to": "R-MSK", "parcels": 940},
             {"from": "WH-SPB", "to": "R-SPB", "parcels": 300}]
    sku_wh = [{"sku": s, "warehouse": w, "demand_units": 10 + s, "filled_units": 10 + s - s % 3,
               "lost_units": s % 3, "avg_on_hand": 5.0, "stockout_hours": float(s % 3)}
              for s in range(10) for w in whs]
    lead = rng.gamma(4, 6, 2000)
    two = {"backlog_warehouse": whs, "backlog_sorting": scs, "on_hand_warehouse": whs,
           "utilisation_warehouse": whs, "utilisation_sorting": scs, "stockouts_warehouse": whs}
    return RunResult(
        scenario="fake", seed=seed, allocation="nearest_with_stock", replenishment="s_S",
        horizon_hours=hours, resolution_minutes=60,
        kpis={"orders_placed": float(placed.sum()), "orders_delivered": float(placed.sum()) * 0.9,
              "line_fill_rate": 0.97, "lead_time_p95_hours": float(np.percentile(lead, 95)),
              "total_cost_rub": 1.0e6 + seed},
        series_time=t,
        series={"orders_placed": placed, "demand_expected": expected,
                "orders_delivered": placed * 0.9,
                "backlog_warehouse": rng.poisson(20, (hours, 2)),
                "backlog_sorting": rng.poisson(50, (hours, 1)),
                "on_hand_warehouse": rng.poisson(500, (hours, 2)),
                "utilisation_warehouse": rng.uniform(0, 1, (hours, 2)),
                "utilisation_sorting": rng.uniform(0, 1, (hours, 1)),
                "stockouts_warehouse": rng.poisson(2, (hours, 2))},
        series_columns=two,
        samples={"lead_time_hours": lead, "cycle_time_hours": lead * 0.3},
        tables={"nodes": nodes, "flows": flows, "sku_warehouse": sku_wh,
                "peaks": [{"name": "flash sale", "start_hour": 20.0, "end_hour": 22.0,
                           "multiplier": 3.0}],
                "regions": [{"region": region, "promised_days": days,
                             "orders_delivered_on_time": 900, "orders_delivered_late": 80,
                             "orders_in_flight_late": 5, "orders_not_yet_due": 10,
                             "orders_cancelled": 20, "orders_not_accepted": 1,
                             "on_time_rate": 900 / 986, "lead_time_p50_hours": 20.0,
                             "lead_time_p95_hours": 40.0}
                            for region, days in (("R-MSK", 1), ("R-SPB", 2))]},
        clock_start="2026-11-27T00:00",
    )


class _Page(HTMLParser):
    """Collects element ids, inline/external scripts and table cells."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.script_src: list[str] = []
        self.scripts: list[str] = []
        self.cells: list[str] = []
        self._in_script = self._in_cell = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "script":
            self._in_script = True
            self.scripts.append("")
            if a.get("src"):
                self.script_src.append(a["src"])
        self._in_cell = tag in {"td", "th"}
        if self._in_cell:
            self.cells.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False
        if tag in {"td", "th"}:
            self._in_cell = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        elif self._in_cell:
            self.cells[-1] += data


def parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def trace_names(page: _Page, div_id: str) -> set[str]:
    """Names of the traces plotted into ``div_id`` (from the Plotly.newPlot data)."""
    for script in page.scripts:
        if f'"{div_id}"' in script and "Plotly.newPlot" in script:
            names = re.findall(r'"name":\s*"((?:[^"\\]|\\.)*)"', script)
            return {json.loads(f'"{n}"') for n in names}  # plotly escapes "/" as \u002f
    raise AssertionError(f"no plot script for {div_id}")


def assert_self_contained(page: _Page) -> None:
    assert page.script_src == []  # nothing loaded from elsewhere
    bundles = [s for s in page.scripts if "plotly.js v" in s[:2000]]
    assert len(bundles) == 1  # plotly.js inlined exactly once


def test_run_report_holds_every_plot(tmp_path):
    path = write_run_report(fake_run(), tmp_path / "run.html")
    page = parse(path)
    assert_self_contained(page)
    for div_id in RUN_PLOTS:
        assert page.ids.count(div_id) == 1
    assert {"orders placed", "demand curve (expected)", "orders delivered"} <= trace_names(
        page, "plot-orders")
    assert {"warehouse WH-MSK", "warehouse WH-SPB", "sorting centre SC-MSK"} <= trace_names(
        page, "plot-backlog")
    assert {"fill rate", "stock-outs WH-MSK"} <= trace_names(page, "plot-fill")
    assert {"delivery lead time", "order cycle time"} <= trace_names(page, "plot-lead-time")
    assert "utilisation" in trace_names(page, "plot-utilisation")
    network = trace_names(page, "plot-network")
    assert {"warehouse", "sorting centre", "hub", "region", "Russia (outline)"} <= network
    assert any(name.startswith("flows ") for name in network)
    assert "line_fill_rate" in page.cells and "0.970" in page.cells
    assert page.ids.index("headline") < page.ids.index("plot-orders")  # headline first


def test_run_report_without_data_keeps_every_plot_id(tmp_path):
    bare = RunResult(scenario="empty", seed=0, allocation="a", replenishment="r",
                     horizon_hours=1, resolution_minutes=60)
    page = parse(write_run_report(bare, tmp_path / "deep" / "empty.html"))
    assert_self_contained(page)
    assert all(div_id in page.ids for div_id in RUN_PLOTS)


def _comparison() -> Comparison:
    runs = []
    for v in range(3):
        arm = []
        for i in range(6):
            r = fake_run(i)
            noise = np.random.default_rng(i).normal(0, 0.01)
            r.kpis = {k: x * (1 + 0.05 * v) + noise for k, x in r.kpis.items()}
            arm.append(r)
        runs.append(arm)
    variants = [Variant("nearest / s_S"), Variant("least_cost / s_S"), Variant("balanced / s_S")]
    return Comparison("fake", variants, list(range(6)), runs)


def test_comparison_report_marks_significant_differences(tmp_path):
    cmp = _comparison()
    page = parse(write_comparison_report(cmp, tmp_path / "cmp.html"))
    assert_self_contained(page)
    for div_id in COMPARISON_PLOTS:
        assert page.ids.count(div_id) == 1
    assert set(cmp.labels) <= trace_names(page, "plot-kpi-intervals")
    assert {"least_cost / s_S", "balanced / s_S"} <= trace_names(page, "plot-differences")
    assert "kpi-table" in page.ids
    # total cost is 5 % higher per step with tiny noise: significant and worse
    assert cmp.verdict(1, "total_cost_rub") == "worse"
    assert any(c.strip().endswith("*") for c in page.cells)
    assert "▼ worse" in page.cells and "▲ better" in page.cells  # in words, not colour alone
    assert "verdict" in page.ids and "seed-table" in page.ids
    assert {str(seed) for seed in cmp.seeds} <= set(page.cells)


LOCUST_HISTORY_HEADER = [
    "Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s", "50%", "66%", "75%",
    "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%", "Total Request Count",
    "Total Failure Count", "Total Median Response Time", "Total Average Response Time",
    "Total Min Response Time", "Total Max Response Time", "Total Average Content Size",
]


def _history_csv(path: Path, seconds: int = 20) -> Path:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(LOCUST_HISTORY_HEADER)
        total = fails = 0
        for i in range(seconds):
            rps = 40 + i
            total += rps
            fails += i % 5 == 0
            for typ, name, scale in (("", "Aggregated", 1.0), ("POST", "/v3/posting/fbs/list",
                                                                 0.5)):
                pct = ["N/A"] * 11 if i == 0 else [round(scale * (30 + i + k * 20)) for k in
                                                   range(11)]
                out.writerow([1_700_000_000 + i, 5 + i, typ, name, rps * scale,
                              (i % 5 == 0) * scale, *pct, int(total * scale), fails, 35, 41.2,
                              3, 900, 512])
    return path


def test_loadtest_report_from_locust_csv(tmp_path):
    rows = read_locust_csv(_history_csv(tmp_path / "run_stats_history.csv"))
    assert rows[2]["Name"] == "Aggregated" and rows[2]["95%"] == pytest.approx(31 + 5 * 20)
    assert rows[0]["50%"] != rows[0]["50%"]  # "N/A" -> NaN
    p95 = {"threshold": "p95<=300ms", "endpoint": None, "metric": "p95", "op": "<=",
           "limit": 300.0, "source": "scenario", "measured": 350.0, "passed": False, "note": ""}
    total = {"name": "Aggregated", "requests": 1000, "failures": 4, "rps": 50.0, "p50_ms": 40,
             "p95_ms": 350, "p99_ms": 800, "max_ms": 900}
    summary = {"scenario": "smoke", "host": "http://127.0.0.1:8000", "passed": False,
               "thresholds": [p95], "failures": [],
               "stats": {"seconds": 20.0, "total": total,
                         "endpoints": [{**total, "name": "POST /v3/posting/fbs/list"}]}}
    path = write_loadtest_report(tmp_path / "lt.html", summary, rows)
    page = parse(path)
    assert_self_contained(page)
    for div_id in LOADTEST_PLOTS:
        assert page.ids.count(div_id) == 1
    assert {"p50 (all requests)", "p95 (all requests)", "p99 (all requests)",
            "p95 POST /v3/posting/fbs/list"} <= trace_names(page, "plot-latency")
    assert {"requests/s", "failures/s", "users"} <= trace_names(page, "plot-throughput")
    assert {"error rate (current)", "error rate (since start)"} <= trace_names(page,
                                                                              "plot-errors")
    assert "FAIL" in page.cells and "gate-table" in page.ids and "endpoint-table" in page.ids
    script = next(s for s in page.scripts if '"plot-latency"' in s)
    assert "p95 limit 300 ms" in script  # threshold line annotated


def _rendered(path: Path) -> str:
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
         "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_reports_render_in_headless_chromium(tmp_path):
    """After plotly.js ran offline every plot div holds an SVG, the map included."""
    run_dom = _rendered(write_run_report(fake_run(), tmp_path / "run.html"))
    for div_id in RUN_PLOTS:
        start = run_dom.index(f'<div id="{div_id}"')
        assert "js-plotly-plot" in run_dom[start:start + 200], div_id
    network = run_dom[run_dom.index('<div id="plot-network"'):]
    assert 'class="point"' in network and "Saint Petersburg" in network  # nodes and labels
    cmp_dom = _rendered(write_comparison_report(_comparison(), tmp_path / "cmp.html"))
    assert all(f'<div id="{d}" class="plotly-graph-div js-plotly-plot' in cmp_dom
               for d in COMPARISON_PLOTS)


def test_reports_do_not_need_the_network(tmp_path):
    """No URL a browser would fetch at load time (plotly's CDN base map is optional)."""
    text = write_run_report(fake_run(), tmp_path / "run.html").read_text()
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', text)
    payload = json.dumps(fake_run().kpis)  # the KPI numbers are in the page
    assert json.loads(payload)["line_fill_rate"] == 0.97


# --------------------------------------------------------------------------- run report figures


def _wide_run() -> RunResult:
    """``fake_run`` with 10 warehouses and 6 sorting centres (16 backlog lines, as peak_day)."""
    r = fake_run()
    whs, scs = [f"WH-{i}" for i in range(10)], [f"SC-{i}" for i in range(6)]
    rng = np.random.default_rng(3)
    hours = r.series_time.size
    r.series["backlog_warehouse"] = rng.poisson(20, (hours, 10))
    r.series["backlog_sorting"] = rng.poisson(20, (hours, 6))
    r.series["stockouts_warehouse"] = rng.poisson(2, (hours, 10))
    r.series_columns.update(backlog_warehouse=whs, backlog_sorting=scs, stockouts_warehouse=whs)
    return r


def test_backlog_lines_each_have_their_own_colour():
    fig = backlog_figure(_wide_run())
    colours = [t.line.color for t in fig.data]
    assert len(colours) == 16 and len(set(colours)) == 16
    # the stock-out lines of a warehouse keep its backlog colour
    stockouts = {t.name.split()[-1]: t.line.color for t in fill_figure(_wide_run()).data
                 if t.name.startswith("stock-outs")}
    backlog = {t.name.split()[-1]: t.line.color for t in fig.data}
    assert stockouts == {w: backlog[w] for w in stockouts}


def test_time_axes_are_calendar_times_with_the_peaks_marked():
    fig = orders_figure(fake_run())
    assert str(fig.data[0].x[0]).startswith("2026-11-27T00:00")
    assert str(fig.data[0].x[21]).startswith("2026-11-27T21:00")
    peak = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(peak) == 1 and str(peak[0].x0).startswith("2026-11-27T20:00")
    assert any("flash sale ×3" in a.text for a in fig.layout.annotations)
    assert when(fake_run(), 25.5) == "Sat 28 Nov 01:30"


def test_fill_rates_that_differ_by_tenths_are_told_apart():
    low, high = fill_axis_range([0.959, 0.962])
    assert 0.9 < low < 0.959 and high > 1.0  # zoomed, and 100 % still in view
    r = fake_run()
    r.tables["sku_warehouse"] = [
        {"sku": 0, "warehouse": "WH-MSK", "demand_units": 1000, "filled_units": 959},
        {"sku": 0, "warehouse": "WH-SPB", "demand_units": 1000, "filled_units": 962}]
    dots = next(t for t in fill_figure(r).data if t.name == "fill rate")
    assert list(dots.text) == ["95.9%", "96.2%"]


def test_lead_and_cycle_time_share_bins_and_show_the_promise():
    fig = lead_time_figure(fake_run())
    cycle, lead = (t for t in fig.data if t.type == "bar")
    assert list(cycle.x) == list(lead.x) and cycle.width == lead.width
    promised = sorted(s.x0 for s in fig.layout.shapes if s.line.color == "#b42318")
    assert promised == [24.0, 48.0]  # R-MSK promised 1 day, R-SPB 2 days
    assert any(a.text.startswith("promised 1 day") for a in fig.layout.annotations)


def test_backlog_peak_and_when_it_cleared_for_good():
    r = fake_run(hours=6)
    r.series["backlog_warehouse"] = np.array([[0, 5], [100, 5], [2, 0], [60, 0], [4, 0],
                                              [1, 0]], dtype=float)
    r.series["backlog_sorting"] = np.array([[0], [0], [0], [0], [0], [50]], dtype=float)
    rows = {row["node"]: row for row in backlog_peaks(r)}
    assert rows["WH-MSK"]["peak"] == 100 and rows["WH-MSK"]["peak_hour"] == 1
    assert rows["WH-MSK"]["cleared_hour"] == 4  # back at 60 in hour 3: cleared after it
    assert rows["WH-SPB"]["cleared_hour"] == 2
    assert rows["SC-MSK"]["cleared_hour"] is None  # still at its peak when the run ended


def test_network_map_has_every_node_arrows_and_the_country_outline():
    r = fake_run()
    fig = network_figure(r)
    shown = {i for t in fig.data if t.customdata is not None for i in t.customdata}
    assert shown == {n["id"] for n in r.tables["nodes"]}  # regions beside their hubs included
    outline = next(t for t in fig.data if t.name == "Russia (outline)")
    assert sum(x is None for x in outline.x) >= 10  # mainland, Kaliningrad, the islands
    arrows = [a for a in fig.layout.annotations if a.showarrow and a.arrowhead == 2]
    assert arrows  # WH-MSK -> SC-MSK and WH-SPB -> R-SPB are long enough for an arrowhead
    for a in arrows:  # each points from its flow's origin towards its destination
        assert (a.x - a.ax, a.y - a.ay) != (0, 0)


def test_crowded_labels_do_not_overlap():
    """Six labels around one city (the Moscow ring of warehouses) get boxes that overlap
    neither each other nor any point."""
    points = np.array([[0, 0], [12, 5], [-10, 8], [5, -12], [20, 20], [-18, -4]], dtype=float)
    labels = [Label(x, y, f"WH-{i}XYZ") for i, (x, y) in enumerate(points)]
    boxes = place_labels(labels, points, km_per_px=1.0)
    for i, a in enumerate(boxes):
        assert not any(_overlap(a, b) for b in boxes[i + 1:])
        assert not any(_overlap(a, (x - 5, -y - 5, x + 5, -y + 5)) for x, y in points)


def test_projection_keeps_north_up_and_east_right():
    proj = Projection.fit([45, 70], [30, 130])
    (x_moscow, x_vladivostok), (y_south, y_north) = (
        proj(np.array([37.6, 131.9]), np.array([55.7, 43.1]))[0],
        proj(np.array([100.0, 100.0]), np.array([50.0, 70.0]))[1])
    assert x_moscow < x_vladivostok and y_south < y_north
    # conformal, true to scale on a standard parallel: 0.1° of latitude or longitude there
    x, y = proj(np.array([proj.lon0, proj.lon0, proj.lon0 + 0.1]),
                np.array([proj.lat1, proj.lat1 + 0.1, proj.lat1]))
    assert math.hypot(x[1] - x[0], y[1] - y[0]) == pytest.approx(11.12, rel=0.01)
    east = 11.12 * math.cos(math.radians(proj.lat1))
    assert math.hypot(x[2] - x[0], y[2] - y[0]) == pytest.approx(east, rel=0.01)


# --------------------------------------------------------------------------- comparison verdicts


def _policy_comparison(cost_factor: float, on_time_shift: float, *, reorders: float = 3,
                       stockout_hours: float = 5) -> Comparison:
    """Baseline and one variant over 8 seeds with a known effect on total cost and on-time."""
    rng = np.random.default_rng(7)
    runs: list[list[RunResult]] = [[], []]
    for i in range(8):
        base = {"total_cost_rub": 1e6 * (1 + rng.normal(0, 0.01)),
                "on_time_rate": 0.9 + rng.normal(0, 0.005), "replenishment_orders": reorders,
                "stockout_sku_hours": stockout_hours, "orders_refused": 0.0}
        variant = {**base, "total_cost_rub": base["total_cost_rub"] * cost_factor
                   * (1 + rng.normal(0, 0.002)),
                   "on_time_rate": base["on_time_rate"] + on_time_shift + rng.normal(0, 0.002)}
        for arm, kpis in enumerate((base, variant)):
            runs[arm].append(RunResult(scenario="toy", seed=i, allocation="x", replenishment="y",
                                       horizon_hours=1, resolution_minutes=60, kpis=kpis))
    variants = [Variant("nearest_with_stock / s_S", PolicySpec("nearest_with_stock"),
                        PolicySpec("s_S")),
                Variant("least_cost / s_S", PolicySpec("least_cost"), PolicySpec("s_S"))]
    return Comparison("toy", variants, list(range(8)), runs)


def test_verdict_in_words_names_the_change_its_interval_and_its_side():
    cmp = _policy_comparison(0.78, -0.06)
    assert verdict_headline(cmp) == ("1 of 1 variants differ significantly from "
                                     "nearest_with_stock / s_S")
    [sentence] = verdict_sentences(cmp)
    assert sentence.startswith("least_cost / s_S vs nearest_with_stock / s_S: cuts total cost by "
                               "22 % (95% CI 2")
    assert "better) and lowers on-time delivery by 6.0 points (95% CI 5." in sentence
    assert sentence.endswith("worse).")


def test_no_significant_difference_is_said_plainly():
    [sentence] = verdict_sentences(_policy_comparison(1.0, 0.0))
    assert "no KPI differs significantly" in sentence and "Holm" in sentence


def test_identical_variants_are_detected_and_explained(tmp_path):
    cmp = _policy_comparison(1.0, 0.0, stockout_hours=0)
    cmp.runs[1] = cmp.runs[0]  # the allocation policies decided alike on every seed
    assert cmp.identical(1) and cmp.tests == 0
    [sentence] = verdict_sentences(cmp)
    assert sentence.startswith("All 2 variants came out identical on every KPI")
    assert verdict_headline(cmp) == "Every variant is identical to nearest_with_stock / s_S on " \
                                    "every KPI"
    assert "no SKU ran out" in sentence and "never had to choose" in sentence
    page = parse(write_comparison_report(cmp, tmp_path / "same.html"))
    script = next(s for s in page.scripts if '"plot-differences"' in s)
    assert "on every KPI in every replication: no differences to draw" in script
    replenishment = Comparison("toy", [Variant("s_S", replenishment=PolicySpec("s_S")),
                                       Variant("base_stock",
                                               replenishment=PolicySpec("base_stock"))],
                               cmp.seeds, [cmp.runs[0], cmp.runs[0]])
    for run in cmp.runs[0]:
        run.kpis["replenishment_orders"] = 0.0
    assert "the replenishment policy never acted" in verdict_sentences(replenishment)[0]


def test_a_crowded_cluster_is_enlarged_in_an_inset():
    """Four warehouses and a sorting centre within 100 km of Moscow, a country-wide network
    around them: the map frames them and draws them again, labelled one by one, beside it."""
    r = fake_run()
    near = [("WH-A", 56.15, 36.98, "Solnechnogorsk"), ("WH-B", 56.01, 37.85, "Pushkino"),
            ("WH-C", 55.85, 38.44, "Noginsk"), ("WH-D", 56.86, 35.92, "Tver")]
    far = [("WH-NSK", 54.96, 82.85, "Novosibirsk"), ("R-VVO", 43.12, 131.89, "Vladivostok")]
    r.tables["nodes"] += [
        {"id": i, "kind": "region" if i.startswith("R-") else "warehouse", "name": c,
         "city": c, "lat": lat, "lon": lon} for i, lat, lon, c in near + far]
    fig = network_figure(r)
    assert fig.layout.xaxis2.domain is not None  # the inset's axes
    assert any("Moscow area" in (a.text or "") for a in fig.layout.annotations)
    inset_labels = {a.text for a in fig.layout.annotations if a.xref == "x2"}
    assert {"WH-A", "WH-B", "WH-C", "WH-D", "SC-MSK"} <= inset_labels
    assert any(t.name == "region" and "R-VVO" in t.customdata for t in fig.data)
