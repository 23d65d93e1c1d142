"""HTML reports: self-contained, parse, hold every plot (ids and trace names), render in Chromium.

Results here are built by hand with the documented RunResult names (``fake_run``) so the
reports are tested apart from the model; ``test_experiment_model.py`` renders a real run.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from reports.comparison_report import COMPARISON_PLOTS, write_comparison_report
from reports.loadtest_report import LOADTEST_PLOTS, read_locust_csv, write_loadtest_report
from reports.run_report import RUN_PLOTS, write_run_report
from simulator.experiment import Comparison, Variant
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
        tables={"nodes": nodes, "flows": flows, "sku_warehouse": sku_wh},
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
    assert {"warehouse", "sorting centre", "hub", "region"} <= network
    assert any(name.startswith("flows ") for name in network)
    assert "line_fill_rate" in page.cells and "0.970" in page.cells


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
    assert "worse" in page.cells and "better" in page.cells


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
    assert "trace scattergeo" in network and 'class="point"' in network
    cmp_dom = _rendered(write_comparison_report(_comparison(), tmp_path / "cmp.html"))
    assert all(f'<div id="{d}" class="plotly-graph-div js-plotly-plot' in cmp_dom
               for d in COMPARISON_PLOTS)


def test_reports_do_not_need_the_network(tmp_path):
    """No URL a browser would fetch at load time (plotly's CDN base map is optional)."""
    text = write_run_report(fake_run(), tmp_path / "run.html").read_text()
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', text)
    payload = json.dumps(fake_run().kpis)  # the KPI numbers are in the page
    assert json.loads(payload)["line_fill_rate"] == 0.97
