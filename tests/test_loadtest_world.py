"""What load-test users know: keys by role, SKU popularity, the posting hand-over queues."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest

from loadtests.world import Catalogue, WorkQueues, World, seller_keys, world_option
from simulator.demand import build_skus
from simulator.scenario import load_scenario

CREDS = {"seller_name": "smoke", "client_id": "100001", "api_key": "owner-key",
         "platform_key": "pk_x", "sku_base": 1_010_000_000, "sku_count": 50}


def test_keys_by_role_fall_back_to_the_owner():
    keys = seller_keys({**CREDS, "accounts": [
        {"role": "warehouse", "client_id": "100001", "api_key": "wh-key"}]})
    assert keys["warehouse"].headers["Api-Key"] == "wh-key"
    assert keys["owner"].headers == {"Client-Id": "100001", "Api-Key": "owner-key",
                                     "Content-Type": "application/json"}
    world = World(scenario=None, platform_key="pk", seller_client_id="100001",  # type: ignore[arg-type]
                  keys=keys, region_ids=["R"], region_weights=[1.0])
    assert world.key("analyst", "warehouse").api_key == "wh-key"
    assert world.key("analyst").api_key == "owner-key"


def test_world_travels_as_one_option(smoke_path, tmp_path):
    path = tmp_path / "creds.json"
    path.write_text(json.dumps(CREDS))
    world = World.from_option(world_option(smoke_path, path))
    assert world.region_ids == ["R-MSK", "R-SPB"] and world.region_weights == [13.1, 5.6]
    assert world.platform_headers["Authorization"] == "Bearer pk_x"
    assert world.sku_base == CREDS["sku_base"]


def test_buyers_pick_skus_by_the_simulators_popularity(smoke_path):
    scenario = load_scenario(smoke_path)
    world = World.from_option(json.dumps({"scenario": scenario.model_dump(mode="json",
                                                                          by_alias=True),
                                          "credentials": CREDS}))
    base = CREDS["sku_base"]
    rows = [{"sku": base + i, "product_id": i + 1, "offer_id": f"SKU-{i:06d}"} for i in range(50)]
    catalogue = Catalogue.build(rows, [1, 2], world.popularity)
    popularity = build_skus(scenario.catalogue).popularity
    rng = random.Random(7)
    draws = Counter(catalogue.popular_sku(rng) - base for _ in range(20_000))
    top = int(popularity.argmax())
    assert draws.most_common(1)[0][0] == top
    assert draws[top] / 20_000 == pytest.approx(popularity[top], abs=0.02)


def test_a_posting_is_queued_for_packing_once():
    queues = WorkQueues(size=3)
    for number in ["1-1", "1-1", "2-1", "1-1"]:
        queues.offer_to_ship({"posting_number": number, "products": []})
    assert [json.loads(p)["posting_number"] for p in queues.to_ship] == ["1-1", "2-1"]
    assert WorkQueues.take(queues.delivered) is None
