"""``peakline calibrate`` against a real uvicorn serving the reference backend: the Seller API
client pages every method, honours 429 + Retry-After, and the scenario it fits validates;
unreachable URLs, rejected keys and empty periods exit 2.

The history is made through the marketplace routes (buyer orders, cancellations, hand-overs,
deliveries, returns). The backend stamps them all "now", so the fixture then back-dates each
posting's ``in_process_at`` and ``delivering_date`` over the last two days, in the database,
as a seller's real history would be spread.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from peakline.cli import app
from simulator.calibration.ozon_client import OzonClient
from simulator.scenario import load_scenario
from tests.backend_support import (
    SMOKE,
    free_port,
    platform_headers,
    running_server,
    seed_smoke,
    sqlite_url,
)

runner = CliRunner()
ORDERS = 40
#: Ozon's limits on, 10 requests a second per Client-Id (Ozon: 50) so that paging hits them
RATE_LIMITED = {"PEAKLINE_OZON_RATE_LIMITS": "true", "PEAKLINE_OZON_RATE_LIMIT_PER_SECOND": "10"}
RENAMED = {"R-MSK": "Moscow", "R-SPB": "Saint-Petersburg"}  # region ids the city table knows


def _world(path) -> object:
    """smoke.yaml with regions named by city, plus a region no table knows."""
    text = SMOKE.read_text()
    for old, new in RENAMED.items():
        text = text.replace(old, new)
    data = yaml.safe_load(text)
    data["network"]["regions"].append({"id": "Atlantis", "name": "Atlantis", "city": "Atlantis",
                                       "lat": 55.0, "lon": 37.0, "weight": 1.0})
    data["network"]["lanes"].append({"from": "H-MSK", "to": "Atlantis", "mode": "courier",
                                     "transit_hours": {"dist": "gamma", "mean": 6, "sd": 3},
                                     "cost_per_parcel_rub": 90})
    path.write_text(yaml.safe_dump(data))
    return path


def _make_history(base: str, creds: dict) -> int:
    """Orders through the marketplace; most handed over and delivered, some cancelled, some
    returned. Returns the number of postings."""
    rng = np.random.default_rng(7)
    platform = platform_headers(creds)
    postings = []
    seller = OzonClient(base, creds["client_id"], creds["api_key"])  # it waits out any 429
    with seller, httpx.Client(base_url=base, timeout=30) as c:
        for i in range(ORDERS):
            region = ["Moscow", "Saint-Petersburg", "Atlantis"][int(rng.choice(3, p=[.6, .3, .1]))]
            skus = rng.choice(creds["sku_count"], size=1 + rng.poisson(0.5))
            lines = [{"sku": creds["sku_base"] + int(k), "quantity": 1 + int(rng.poisson(0.2))}
                     for k in dict.fromkeys(skus.tolist())]
            r = c.post("/marketplace/v1/orders", json={"client_id": creds["client_id"],
                                                       "region": region, "lines": lines},
                       headers={**platform, "Idempotency-Key": uuid.uuid4().hex})
            assert r.status_code == 201, r.text
            order = r.json()
            if i % 20 == 0:
                r = c.post(f"/marketplace/v1/orders/{order['order_number']}/cancel",
                           headers=platform, json={})
                assert r.status_code == 200, r.text
                continue
            for posting in order["postings"]:
                number = posting["posting_number"]
                products = [{"product_id": p["sku"], "quantity": p["quantity"]}
                            for p in posting["products"]]
                seller.post("/v4/posting/fbs/ship",
                            {"posting_number": number, "packages": [{"products": products}]})
                for event in ("sorting_accepted", "delivered"):
                    r = c.post("/marketplace/v1/logistics/events", headers=platform,
                               json={"posting_number": number, "event": event})
                    assert r.status_code == 200, r.text
                postings.append(number)
        for number in postings[::8]:
            r = c.post(f"/marketplace/v1/postings/{number}/return", headers=platform, json={})
            assert r.status_code == 201, r.text
    return len(postings)


def _backdate(url: str) -> int:
    """Spread the postings over the last 47 hours (handed over 2-8 h after processing)."""
    from reference_backend.db import Database
    from reference_backend.settings import Settings
    from reference_backend.tables import Posting

    rng = np.random.default_rng(11)
    now = datetime.now(UTC)
    db = Database(url, Settings(database_url=url))
    try:
        with db.session() as session:
            rows = session.query(Posting).all()
            for row in rows:
                row.in_process_at = now - timedelta(hours=float(rng.uniform(9, 47)))
                if row.delivering_date is not None:
                    row.delivering_date = row.in_process_at + timedelta(
                        hours=float(rng.uniform(2, 8)))
            return len(rows)
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, credentials, postings, database URL) of a real uvicorn, Ozon's rate limits
    on, serving a seller with two days of history."""
    folder = tmp_path_factory.mktemp("calibration_server")
    url = sqlite_url(folder)
    creds = seed_smoke(url, scenario=_world(folder / "world.yaml"))
    with running_server(url, env=RATE_LIMITED) as base:
        _make_history(base, creds)
        yield base, creds, _backdate(url), url


def _period() -> list[str]:
    today = datetime.now(UTC).date()
    return ["--since", (today - timedelta(days=2)).isoformat(), "--to", today.isoformat()]


def test_calibrate_over_http_pages_every_method_and_writes_a_valid_scenario(server, tmp_path):
    base, creds, _, _ = server
    out = tmp_path / "seller.yaml"
    result = runner.invoke(app, ["calibrate", "--ozon-url", base, "--client-id",
                                 creds["client_id"], "--api-key", creds["api_key"], *_period(),
                                 "--uplift", "1.5", "--page-size", "7", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    scenario = load_scenario(out)
    assert runner.invoke(app, ["validate", str(out)]).exit_code == 0
    assert {r.name for r in scenario.network.regions} == {"Moscow", "Saint Petersburg"}
    assert "unknown names, not in the table and left out: Atlantis" in text
    assert {w.name for w in scenario.network.warehouses} == {"Khorugvino", "Shushary"}
    assert "cancel_probability: orders cancelled 2 of 40" in text
    assert scenario.catalogue.sku_count == creds["sku_count"]  # every product, sold or not
    ids = {s.id for s in scenario.catalogue.skus}
    assert ids == set(range(creds["sku_base"], creds["sku_base"] + creds["sku_count"]))
    assert len(scenario.stock.initial) > 1 and scenario.stock.initial[1].units is not None
    assert (tmp_path / "seller-report.html").exists()


def test_client_reads_every_posting_across_pages(server) -> None:
    base, creds, postings, _ = server
    pages: list[tuple[str, int]] = []
    since = datetime.now(UTC) - timedelta(days=3)
    with OzonClient(base, creds["client_id"], creds["api_key"], page_size=5,
                    on_page=lambda path, rows: pages.append((path, rows))) as client:
        read = list(client.postings(since, datetime.now(UTC)))
        returns = list(client.returns(since, datetime.now(UTC) + timedelta(days=1)))
    assert len(read) == postings and len({p["posting_number"] for p in read}) == postings
    assert len([p for p in pages if p[0] == "/v4/posting/fbs/list"]) >= postings // 5
    assert all(p["analytics_data"]["city"] for p in read)
    assert len(returns) >= 1


def test_429_is_retried_after_the_retry_after_the_server_asks(server) -> None:
    base, creds, postings, _ = server
    since = datetime.now(UTC) - timedelta(days=3)
    with OzonClient(base, creds["client_id"], creds["api_key"], page_size=2) as client:
        read = list(client.postings(since, datetime.now(UTC)))
    assert len(read) == postings  # nothing lost to throttling
    assert client.throttled, "the server never answered 429"
    for throttle in client.throttled:
        assert throttle.path == "/v4/posting/fbs/list"
        assert throttle.retry_after is not None and throttle.retry_after >= 1
        assert throttle.waited >= throttle.retry_after


def test_rejected_keys_unreachable_url_and_empty_period_exit_2(server) -> None:
    base, creds, _, _ = server
    wrong = runner.invoke(app, ["calibrate", "--ozon-url", base, "--client-id",
                                creds["client_id"], "--api-key", "not-the-key", *_period()])
    assert wrong.exit_code == 2 and "rejected the keys" in wrong.output
    nowhere = f"http://127.0.0.1:{free_port()}"
    down = runner.invoke(app, ["calibrate", "--ozon-url", nowhere, "--client-id", "1",
                               "--api-key", "k", *_period()])
    assert down.exit_code == 2 and "cannot reach the Seller API" in down.output
    empty = runner.invoke(app, ["calibrate", "--ozon-url", base, "--client-id",
                                creds["client_id"], "--api-key", creds["api_key"],
                                "--since", "2020-01-01", "--to", "2020-01-31"])
    assert empty.exit_code == 2 and "empty period" in empty.output
