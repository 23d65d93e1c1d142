"""The load-test report reads as a person would write it: the verdict first in words, thresholds
as sentences, each endpoint named once and judged only by its own thresholds, one unit a
column, and a backend that did not answer said plainly with its failures shown."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from reports.loadtest_report import write_loadtest_report

ORDERS = "POST /marketplace/v1/orders"
LIST = "POST /v3/posting/fbs/list"
SLOW = "POST /v4/posting/fbs/ship"


def threshold(metric: str, op: str, limit: float, measured: float | None, *,
              endpoint: str | None = None, note: str = "") -> dict[str, Any]:
    """A threshold result as ``summary.json`` holds it (``ThresholdResult.to_dict``)."""
    passed = measured is not None and {"<=": measured <= limit, ">=": measured >= limit}[op]
    return {"threshold": f"{metric}{op}{limit}", "endpoint": endpoint, "metric": metric,
            "op": op, "limit": limit, "source": "scenario", "measured": measured,
            "measured_text": "", "passed": passed, "note": note}


def entry(name: str, requests: int, failures: int, p95: float) -> dict[str, Any]:
    return {"name": name, "requests": requests, "failures": failures,
            "error_rate": failures / requests, "rps": requests / 20, "avg_ms": p95 / 3,
            "min_ms": 2.0, "max_ms": p95 * 1.5, "p50_ms": p95 / 4, "p95_ms": p95,
            "p99_ms": p95 * 1.2}


def summary(*, p95_limit: float = 200, thresholds: list | None = None, failures: list | None = None,
            endpoints: list | None = None, host: str = "http://127.0.0.1:8000") -> dict[str, Any]:
    """A passing run: all requests p95 143 ms, but the ship endpoint (no threshold of its own)
    at 480 ms, above the overall limit."""
    endpoints = endpoints or [entry(LIST, 500, 0, 120.0), entry(ORDERS, 300, 1, 143.0),
                              entry(SLOW, 40, 0, 480.0)]
    n, failed = sum(e["requests"] for e in endpoints), sum(e["failures"] for e in endpoints)
    total = {**entry("Aggregated", n, failed, 143.0)}
    if thresholds is None:
        thresholds = [threshold("p95", "<=", p95_limit, 143.0),
                      threshold("errors", "<=", 0.01, failed / n),
                      threshold("p95", "<=", 250.0, 143.0, endpoint=ORDERS),
                      threshold("p99", "<=", 300.0, 144.0, endpoint="/v3/posting/fbs/list")]
    return {"scenario": "peak_day", "host": host, "passed": all(t["passed"] for t in thresholds),
            "started_at": "2026-12-07T09:00:00+00:00", "wall_seconds": 31.0, "duration_s": 20.0,
            "users": 50, "workers": 0, "shape": "curve", "thresholds": thresholds,
            "failures": failures or [], "stats": {"seconds": 20.0, "total": total,
                                                   "endpoints": endpoints},
            "backend": {"started": True, "database": "sqlite", "uvicorn_workers": 1},
            "outcomes": {"orders_created": 290, "orders_out_of_stock": 9}}


def history(endpoints: tuple[str, ...] = (LIST, ORDERS), seconds: int = 10) -> list[dict]:
    """Rows as Locust writes its stats history: a request's name carries its method, and the
    Aggregated rows have no type."""
    rows = []
    for i in range(seconds):
        for method, name in [("", "Aggregated")] + [(e.split()[0], e) for e in endpoints]:
            rows.append({"Timestamp": 1_700_000_000.0 + i, "User Count": 5.0 + i, "Type": method,
                         "Name": name, "Requests/s": 40.0, "Failures/s": 0.0, "50%": 30.0,
                         "95%": 140.0, "99%": 150.0, "Total Request Count": 40.0 * (i + 1),
                         "Total Failure Count": 0.0})
    return rows


class Page(HTMLParser):
    """Tables as rows of cell texts by table id, cell classes, the verdict, plot trace names."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.classes: dict[str, list[list[str]]] = {}
        self.sections: list[str] = []
        self.verdict: list[str] = []
        self.text = ""
        self._table = self._cell = None
        self._in_verdict = self._in_p = self._in_script = False
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "section":
            self.sections.append(a.get("id", ""))
            self._in_verdict = a.get("id") == "verdict"
        elif tag == "table":
            self._table = a["id"]
            self.tables[self._table], self.classes[self._table] = [], []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
            self.classes[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self.tables[self._table][-1].append("")
            self.classes[self._table][-1].append(a.get("class") or "")
            self._cell = True
        elif tag == "p" and self._in_verdict:
            self.verdict.append("")
            self._in_p = True
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "section":
            self._in_verdict = False
        elif tag == "p":
            self._in_p = False
        elif tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            return
        self.text += data
        if self._cell and self._table:
            self.tables[self._table][-1][-1] += data
        elif self._in_p:
            self.verdict[-1] += data

    def column(self, table: str, header: str) -> list[str]:
        head, *rows = self.tables[table]
        return [row[head.index(header)] for row in rows]

    def row(self, table: str, first: str) -> dict[str, str]:
        head, *rows = self.tables[table]
        return dict(zip(head, next(r for r in rows if r[0] == first), strict=True))


def render(tmp_path: Path, run: dict, rows: list | None = None) -> Page:
    return Page(write_loadtest_report(tmp_path / "report.html", run,
                                      history() if rows is None else rows))


def test_the_verdict_comes_first_in_words(tmp_path: Path) -> None:
    page = render(tmp_path, summary())
    assert page.sections[0] == "verdict"
    assert page.verdict[0] == "Passed: all 4 thresholds held."
    assert page.verdict[1] == ("840 requests in 20 s (42.0 req/s); 1 failed (0.12 %); "
                               "p95 143 ms, p99 172 ms.")

    failing = summary(p95_limit=100)
    page = render(tmp_path, failing)
    assert page.verdict[0] == "Failed: 1 of 4 thresholds breached."
    assert "p95 response time ≤ 100 ms: 143 ms, FAIL" in page.verdict


def test_thresholds_read_as_a_person_writes_them(tmp_path: Path) -> None:
    page = render(tmp_path, summary())
    gate = page.tables["gate-table"]
    assert gate[0] == ["threshold", "applies to", "measured", "result", "set by"]
    assert gate[1] == ["p95 response time ≤ 200 ms", "all requests", "143 ms", "pass", "scenario"]
    assert gate[2][:3] == ["error rate ≤ 1 %", "all requests", "0.119 %"]
    assert gate[3][:2] == ["p95 response time ≤ 250 ms", ORDERS]
    assert not re.search(r"\b(p\d+_ms|max_error_rate|min_rps)\b", page.text)  # no raw keys


def test_each_endpoint_is_named_once_and_no_nan_row(tmp_path: Path) -> None:
    page = render(tmp_path, summary())
    names = page.column("endpoint-table", "endpoint")
    assert names == [LIST, ORDERS, SLOW, "all requests"]
    assert not re.search(r"\b(GET|POST) (GET|POST)\b", page.text)
    assert "nan" not in page.text.lower().split()
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert f'"p95 {ORDERS}"'.replace("/", "\\u002f") in html or f'"p95 {ORDERS}"' in html
    assert "POST POST" not in html.replace("\\u002f", "/")


def test_an_endpoint_is_judged_only_by_its_own_thresholds(tmp_path: Path) -> None:
    page = render(tmp_path, summary())
    judged = dict(zip(page.column("endpoint-table", "endpoint"),
                      page.column("endpoint-table", "thresholds for it"), strict=True))
    # the ship endpoint's p95 (480 ms) is above the overall 200 ms, but the gate passed and no
    # threshold was set for it: no red "fail"
    assert judged[SLOW] == "–"
    assert judged[ORDERS] == "pass (1)"
    assert judged[LIST] == "pass (1)"  # a bare path covers the endpoint
    assert judged["all requests"] == "pass (2)"
    classes = [c for row in page.classes["endpoint-table"] for c in row]
    assert not any("fail" in c.split() for c in classes)

    breached = summary(thresholds=[threshold("p95", "<=", 100.0, 120.0, endpoint=LIST)])
    judged = dict(zip(*(render(tmp_path, breached).column("endpoint-table", h)
                        for h in ("endpoint", "thresholds for it")), strict=True))
    assert judged[LIST] == "FAIL: p95 response time ≤ 100 ms (120 ms)"
    assert judged[ORDERS] == judged["all requests"] == "–"


def test_one_unit_a_column(tmp_path: Path) -> None:
    page = render(tmp_path, summary(endpoints=[entry(LIST, 3, 1, 4.25), entry(ORDERS, 9000, 0,
                                                                              1234.0)]))
    head = page.tables["endpoint-table"][0]
    assert head[1:9] == ["requests", "failed", "error rate, %", "p50, ms", "p95, ms", "p99, ms",
                         "max, ms", "req/s"]
    assert page.column("endpoint-table", "p95, ms") == ["4.2", "1,234", "143"]
    assert page.column("endpoint-table", "error rate, %") == ["33.33", "0.00", "0.01"]
    assert page.column("endpoint-table", "requests") == ["3", "9,000", "9,003"]
    for cell in page.column("endpoint-table", "p99, ms"):
        assert re.fullmatch(r"[\d,]+(\.\d)?", cell), cell  # a number, never "1.2e+03" or "s"


def test_a_backend_that_did_not_answer_is_said_plainly(tmp_path: Path) -> None:
    down = [entry(LIST, 12, 12, 3.0), entry(ORDERS, 8, 8, 2.0)]
    failures = [{"method": "POST", "name": LIST, "error": "CatchResponseError('HTTP 0: ')",
                 "occurrences": 12},
                {"method": "POST", "name": ORDERS, "error": "CatchResponseError('HTTP 0: ')",
                 "occurrences": 8}]
    run = summary(endpoints=down, failures=failures, host="http://127.0.0.1:9",
                  thresholds=[threshold("p95", "<=", 200.0, 3.0),
                              threshold("errors", "<=", 0.001, 1.0)])
    run["role_keys_problem"] = "ConnectError: [Errno 111] Connection refused"
    page = render(tmp_path, run)
    assert page.verdict[0] == "Failed: the backend at http://127.0.0.1:9 did not answer."
    assert page.verdict[1] == "20 requests in 20 s (1.0 req/s); 20 failed (100.00 %)."
    assert "got no HTTP response" in page.verdict[2]
    assert any("Connection refused" in line for line in page.verdict)
    assert "error rate ≤ 0.1 %: 100 %, FAIL" in page.verdict
    assert page.tables["failures-table"][1:] == [
        [LIST, "no response (connection refused, reset or timed out)", "12"],
        [ORDERS, "no response (connection refused, reset or timed out)", "8"]]


def test_an_http_error_is_shown_without_locusts_wrapper(tmp_path: Path) -> None:
    failures = [{"method": "POST", "name": ORDERS, "occurrences": 3,
                 "error": "CatchResponseError('HTTP 500: {\"code\": \"INTERNAL\"}')"}]
    page = render(tmp_path, summary(failures=failures))
    assert page.tables["failures-table"][1] == [ORDERS, 'HTTP 500: {"code": "INTERNAL"}', "3"]
    assert page.verdict[0].startswith("Passed")  # an error within the limit is no outage
