"""The simulator names SKUs as ``peakline seed`` names the products in the backend."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from reference_backend import ids
from simulator.sku_ids import (
    FIRST_SELLER,
    index_of_offer,
    index_of_sku,
    offer_id,
    sku_base,
    sku_id,
)

from .backend_support import seeded_sqlite


def test_the_seeded_backend_and_the_simulator_name_skus_alike(tmp_path) -> None:
    url, creds = seeded_sqlite(tmp_path)
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT scenario_sku, sku, offer_id FROM products WHERE seller_id = :s"),
            {"s": creds["seller_id"]}).all()
    engine.dispose()
    assert len(rows) == 50
    assert creds["seller_id"] == FIRST_SELLER and creds["sku_base"] == sku_base()
    for index, sku, offer in rows:
        assert sku == sku_id(index) and offer == offer_id(index)
        assert index_of_sku(sku) == index and index_of_offer(offer) == index


@pytest.mark.parametrize("seller", [1, 2, 7, 123])
def test_sku_blocks_agree_with_the_backend_ids(seller) -> None:
    assert sku_base(seller) == ids.sku_base_for(seller)
    assert index_of_sku(sku_id(41, sku_base(seller)), sku_base(seller)) == 41
    with pytest.raises(ValueError):
        index_of_sku(sku_base(seller) - 1, sku_base(seller))
