"""Ozon-shaped identifiers: order and posting numbers, warehouse/delivery ids, client ids.

``order_number`` is a pure function of ``order_id`` (so it needs no second write), shaped
like Ozon's ``57195475-0050``; postings are ``<order_number>-<n>`` (those split off at
assembly too, with the order's next free ``n``: Ozon Seller API §1.4) and packages
``<posting_number>-<k>``.
"""

from __future__ import annotations

import re

_ORDER_NUMBER = re.compile(r"^(\d{8,})-(\d{4})$")
_POSTING_NUMBER = re.compile(r"^(\d{8,}-\d{4})-(\d+)(?:-(\d+))?$")
ORDER_NUMBER_BASE = 10_000_000


def order_number_for(order_id: int) -> str:
    """``order_id`` 1 -> ``"10000000-0001"``; injective and invertible."""
    head, tail = divmod(int(order_id), 10_000)
    return f"{ORDER_NUMBER_BASE + head:08d}-{tail:04d}"


def order_id_from_number(order_number: str) -> int | None:
    """Inverse of :func:`order_number_for` (None when the text is not an order number)."""
    match = _ORDER_NUMBER.match(order_number.strip())
    if not match:
        return None
    head = int(match.group(1)) - ORDER_NUMBER_BASE
    return head * 10_000 + int(match.group(2)) if head >= 0 else None


def posting_number_for(order_number: str, index: int) -> str:
    """The ``index``-th posting (1-based) of an order."""
    return f"{order_number}-{index}"


def package_number_for(posting_number: str, index: int) -> str:
    """The ``index``-th package (1-based) of a posting."""
    return f"{posting_number}-{index}"


def order_number_of_posting(posting_number: str) -> str | None:
    match = _POSTING_NUMBER.match(posting_number.strip())
    return match.group(1) if match else None


def posting_index_of(posting_number: str) -> int | None:
    """``n`` of ``<order_number>-<n>`` (None when the text is not a posting number)."""
    match = _POSTING_NUMBER.match(posting_number.strip())
    return int(match.group(2)) if match else None


def client_id_for(seller_id: int) -> str:
    """Numeric ``Client-Id`` of a seller (Ozon's are 5-7 digit numbers)."""
    return str(100_000 + int(seller_id))


def sku_base_for(seller_id: int) -> int:
    """First Ozon SKU of a seller's block (10 million SKUs per seller)."""
    return 1_000_000_000 + int(seller_id) * 10_000_000


def warehouse_id_for(seller_id: int, index: int) -> int:
    """A large Ozon-like warehouse id (e.g. ``22000100001000``), unique per seller/index."""
    return 22_000_000_000_000 + int(seller_id) * 1_000_000 + (int(index) + 1) * 1000


def delivery_method_id_for(warehouse_id: int, index: int = 0) -> int:
    """A delivery method id derived from its warehouse id (``...001`` for the first)."""
    return int(warehouse_id) + int(index) + 1
