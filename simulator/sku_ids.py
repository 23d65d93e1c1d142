"""How a scenario's SKUs are named outside the simulator: Ozon SKU and offer id.

Catalogue SKU ``i`` (0-based, the simulator's array row) is offer ``SKU-000042`` for every
seller, and Ozon SKU ``sku_base(seller) + i``: each seller owns a block of 10 million SKUs.
These are the identities ``peakline seed`` gives the products in the reference backend.
Plans, reports and CSV files name SKUs this way, with the SKUs of the first seller a fresh
backend seeds (seller 1); a plan applied to another seller is translated by its ``sku_base``.
"""

from __future__ import annotations

import re

import numpy as np

FIRST_SELLER = 1
SKU_BLOCK = 10_000_000
_OFFER = re.compile(r"^SKU-(\d{6,})$")


def sku_base(seller_id: int = FIRST_SELLER) -> int:
    """The Ozon SKU of a seller's catalogue SKU 0."""
    return 1_000_000_000 + int(seller_id) * SKU_BLOCK


def offer_id(index: int) -> str:
    """The seller's own article code of catalogue SKU ``index``: ``SKU-000042``."""
    return f"SKU-{int(index):06d}"


def sku_id(index: int | np.ndarray, base: int | None = None) -> int | np.ndarray:
    """Ozon SKU of catalogue SKU(s) ``index`` (first seller's block unless ``base`` is given)."""
    return (sku_base() if base is None else base) + index


def index_of_sku(sku: int, base: int | None = None) -> int:
    """Catalogue index of an Ozon SKU; ValueError if outside the seller's block."""
    index = int(sku) - (sku_base() if base is None else base)
    if not 0 <= index < SKU_BLOCK:
        raise ValueError(f"SKU {sku} is not in the seller's block")
    return index


def index_of_offer(offer: str) -> int:
    """Catalogue index of an offer id ``SKU-000042``; ValueError if it is not one."""
    match = _OFFER.match(offer.strip())
    if not match:
        raise ValueError(f"{offer!r} is not an offer id like SKU-000042")
    return int(match.group(1))
