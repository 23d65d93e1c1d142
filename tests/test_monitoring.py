"""The monitoring stack in ``deploy/``: promtool accepts it, Grafana's schema knows every key of
the dashboard, and a real Prometheus scraping a real ``peakline serve`` (PostgreSQL, so orders
go through the group commit) under a short load answers every expression the dashboard and the
alert rules use."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from loadtests import backend
from loadtests.processes import ManagedProcess, free_port, wait_http_ok
from tests.backend_support import (
    ROOT,
    fresh_postgres_url,
    platform_headers,
    postgres_admin_url,
    seed_smoke,
    seller_headers,
)
from tests.test_backend_push import PUSH_ENV, Receiver

DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana-dashboard.json"
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
#: Grafana's variables, as the test substitutes them (1 s scrapes: 30 s hold enough samples)
GRAFANA_VARIABLES = {"$__rate_interval": "30s", "$job": "peakline"}

T = TypeVar("T")
needs_prometheus = pytest.mark.skipif(
    (PROMETHEUS is None or PROMTOOL is None) and not os.environ.get("CI"),
    reason="Debian's prometheus package is not installed (.ci/run installs it in CI)",
)


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def dashboard_queries() -> dict[str, str]:
    """``panel title / legend -> PromQL`` with Grafana's variables substituted."""
    out = {}
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(name, value)
            out[f"{panel['title']} / {target.get('legendFormat', '')}"] = expr
    return out


def alert_rules() -> list[dict]:
    groups = yaml.safe_load((DEPLOY / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


_LIMIT = re.compile(r"\s*(==|!=|>=|<=|>|<)\s*([0-9.eE+-]+)\s*$")


def measure_of(expr: str) -> str:
    """``A > 0.01`` as ``A > bool 0.01``: 0 or 1 for every series of A, so an alert's measure
    can be checked for data while the alert is not firing."""
    match = _LIMIT.search(expr)
    assert match, f"alert expression is not '<measure> <comparison> <limit>': {expr}"
    return f"{expr[:match.start()]} {match[1]} bool {match[2]}"


# --- files -----------------------------------------------------------------------------------


@needs_prometheus
def test_promtool_accepts_the_configuration_and_the_rules() -> None:
    for argv in (["check", "config", "prometheus.yml"], ["check", "rules", "alerts.yml"]):
        done = subprocess.run([PROMTOOL or "promtool", *argv], cwd=DEPLOY, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SUCCESS" in done.stdout


def test_dashboard_keys_are_grafanas() -> None:
    """Read into the Grafana Foundation SDK's dashboard model (generated from Grafana's schema)
    and written back, the dashboard loses no key: none is misspelt or unknown to Grafana."""
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import Dashboard

    original = dashboard()
    again = json.loads(json.dumps(Dashboard.from_json(original), cls=JSONEncoder))

    def lost(a: object, b: object, path: str) -> Iterator[str]:
        if isinstance(a, dict) and isinstance(b, dict):
            for key, value in a.items():
                if key not in b:
                    yield f"{path}/{key}"
                else:
                    yield from lost(value, b[key], f"{path}/{key}")
        elif isinstance(a, list) and isinstance(b, list):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                yield from lost(x, y, f"{path}[{i}]")

    assert list(lost(original, again, "")) == []
    assert original["schemaVersion"] >= 36  # Grafana 9.x/10+
    panels = [p for p in original["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in original["panels"]}) == len(original["panels"])
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel
        assert panel["targets"] and panel["description"], panel["title"]


def test_alert_rules_compare_a_measure_with_a_limit() -> None:
    rules = alert_rules()
    assert {r["alert"] for r in rules} >= {"PeaklineOrderErrors", "PeaklineLatencyP99High",
                                           "PeaklinePushQueueBacklog",
                                           "PeaklineOrderBatchWaitHigh"}
    for rule in rules:
        assert measure_of(rule["expr"]).count(" bool ") == 1
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


# --- a real Prometheus scraping a real backend ------------------------------------------------


def _prometheus_config(tmp: Path, target: str) -> Path:
    """``deploy/prometheus.yml`` pointed at ``target``, scraping and evaluating every second."""
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(DEPLOY / name) for name in config["rule_files"]]
    (job,) = config["scrape_configs"]
    job["static_configs"] = [{"targets": [target]}]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _load(base: str, creds: dict, receiver_url: str, rounds: int = 3) -> None:
    """A few dozen buyer orders (some at once, so batches hold several) and seller calls."""
    seller, platform = seller_headers(creds), platform_headers(creds)
    with httpx.Client(base_url=base, timeout=30) as client:
        r = client.post("/peakline/v1/webhooks", json={"url": receiver_url}, headers=seller)
        assert r.status_code in (200, 201), r.text

        def order(i: int) -> int:
            body = {"client_id": creds["client_id"], "region": "R-MSK",
                    "lines": [{"sku": creds["sku_base"] + i % 10, "quantity": 1}]}
            return client.post("/marketplace/v1/orders", json=body, headers={
                **platform, "Idempotency-Key": f"monitoring-{i}"}).status_code

        with ThreadPoolExecutor(12) as pool:
            for round_ in range(rounds):
                placed = pool.map(order, range(round_ * 12, round_ * 12 + 12))
                for path, body in (("/v1/warehouse/list", {}),
                                   ("/v3/product/list", {"filter": {}, "limit": 20}),
                                   ("/v3/posting/fbs/unfulfilled/list",
                                    {"filter": {"cutoff_from": "2020-01-01T00:00:00Z",
                                                "cutoff_to": "2100-01-01T00:00:00Z"},
                                     "limit": 50})):
                    assert client.post(path, json=body, headers=seller).status_code == 200
                assert set(placed) <= {201, 409}  # placed, or refused for want of stock
                time.sleep(1.5)  # across scrapes, so counters rise between samples


def _query(prom: httpx.Client, expr: str) -> list[dict]:
    r = prom.get("/api/v1/query", params={"query": expr})
    assert r.status_code == 200 and r.json()["status"] == "success", f"{expr}: {r.text}"
    return r.json()["data"]["result"]


def _values(result: list[dict]) -> list[float]:
    return [float(sample["value"][1]) for sample in result]


def _until(check: Callable[[], tuple[T, list[str]]], timeout_s: float = 30.0
           ) -> tuple[T, list[str]]:
    """``check()`` until it returns a result with nothing missing (``(result, missing)``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result, missing = check()
        if not missing or time.monotonic() > deadline:
            return result, missing
        time.sleep(0.5)


@pytest.mark.postgres
@needs_prometheus
def test_prometheus_answers_every_dashboard_and_alert_expression(tmp_path: Path) -> None:
    if not postgres_admin_url():
        pytest.skip("PEAKLINE_TEST_DATABASE_URL not set (the group commit needs PostgreSQL)")
    with ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_url())
        creds = seed_smoke(url)
        receiver = Receiver().start()
        stack.callback(receiver.stop)
        backend_port, port = free_port(), free_port()
        config = _prometheus_config(tmp_path, f"127.0.0.1:{backend_port}")
        prometheus = stack.enter_context(ManagedProcess("prometheus", [
            PROMETHEUS or "prometheus", f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
        ], tmp_path / "prometheus.log"))
        wait_http_ok(f"http://127.0.0.1:{port}/-/ready", timeout_s=60, process=prometheus)
        prom = stack.enter_context(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10))
        with backend.serve(url, tmp_path / "backend.log", port=backend_port, env=PUSH_ENV) as base:
            _check_under_load(prom, base, creds, receiver, prometheus)

        def backend_down() -> tuple[list[dict], list[str]]:
            alerts = prom.get("/api/v1/alerts").json()["data"]["alerts"]
            names = {a["labels"]["alertname"] for a in alerts}
            return alerts, [] if "PeaklineBackendDown" in names else ["PeaklineBackendDown"]

        alerts, missing = _until(backend_down)
        assert missing == [], f"the backend stopped and no alert says so: {alerts}"
        states = {a["labels"]["alertname"]: a["state"] for a in alerts}
        assert states["PeaklineBackendDown"] == "pending", states  # for: 1m before it fires


def _check_under_load(prom: httpx.Client, base: str, creds: dict, receiver: Receiver,
                      prometheus: ManagedProcess) -> None:
    _, down = _until(lambda: (None, [] if _query(prom, 'up{job="peakline"} == 1') else ["up"]))
    assert not down, f"Prometheus did not scrape {base}:\n{prometheus.tail()}"
    _load(base, creds, receiver.url)
    assert receiver.requests, "no push notification was delivered"

    # every metric family the backend exposes is on the dashboard
    metrics = httpx.get(f"{base}/metrics").text
    exposed = {family.name for family in text_string_to_metric_families(metrics)
               if not family.name.endswith("_created")}  # prometheus_client's creation times
    queries = dashboard_queries()
    assert {n for n in exposed if not any(n in q for q in queries.values())} == set()
    assert any("peakline_order_batch" in n for n in exposed)  # PostgreSQL: the group commit

    def dashboard_answers() -> tuple[dict, list[str]]:
        answers = {name: _values(_query(prom, expr)) for name, expr in queries.items()}
        return answers, [f"{name}: {queries[name]} -> {values}"
                         for name, values in answers.items()
                         if not any(map(math.isfinite, values))]

    answers, missing = _until(dashboard_answers)
    assert missing == [], "\n".join(missing) + "\n" + prometheus.tail()
    assert max(answers["Orders per batch / p99"]) > 1  # concurrent orders shared a batch

    def alert_measures() -> tuple[dict, list[str]]:
        measures = {r["alert"]: _values(_query(prom, measure_of(r["expr"])))
                    for r in alert_rules()}
        return measures, [name for name, values in measures.items() if not values]

    measures, missing = _until(alert_measures)
    assert missing == [], f"alert expressions with no data: {missing}"
    assert all(v in (0.0, 1.0) for values in measures.values() for v in values)
    # no server errors, a short outbox, deliveries that succeed: those alerts stay quiet (the
    # latency ones depend on how busy the machine is)
    quiet = ("PeaklineBackendDown", "PeaklineOrderErrors", "PeaklinePushQueueBacklog",
             "PeaklinePushFailing")
    assert {name: max(measures[name]) for name in quiet} == dict.fromkeys(quiet, 0.0)
    rules = prom.get("/api/v1/rules").json()["data"]["groups"][0]["rules"]
    assert {r["name"]: r["health"] for r in rules} == dict.fromkeys(measures, "ok")
