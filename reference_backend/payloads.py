"""Ozon push-notification payloads for postings (shared spec §9.3), as plain JSON dicts.

Three events reach a seller's webhook: a new posting (``TYPE_NEW_POSTING``), a status
change (``TYPE_STATE_CHANGED``) and a cancellation (``TYPE_POSTING_CANCELLED``); plus
``TYPE_PING`` when a webhook is registered. Keys, types and state names are Ozon's:
``seller_id`` and ``warehouse_id`` are JSON numbers, datetimes are UTC strings with a
``Z``, and states use the push-state names of spec §2.2 (:data:`PUSH_STATE`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from simulator.lifecycle import PostingStatus


class MessageType(StrEnum):
    """The ``message_type`` values this backend sends."""

    PING = "TYPE_PING"
    NEW_POSTING = "TYPE_NEW_POSTING"
    STATE_CHANGED = "TYPE_STATE_CHANGED"
    POSTING_CANCELLED = "TYPE_POSTING_CANCELLED"
    NEW_MESSAGE = "TYPE_NEW_MESSAGE"  # a buyer wrote in a chat (reference_backend.chats)
    MESSAGE_READ = "TYPE_MESSAGE_READ"  # a buyer read the seller's messages


S = PostingStatus

#: API status -> push state (spec §2.2, first name where Ozon lists several).
PUSH_STATE: Mapping[PostingStatus, str] = {
    S.AWAITING_PACKAGING: "posting_created",
    S.AWAITING_DELIVER: "posting_transferring_to_delivery",
    S.DELIVERING: "posting_transferred_to_courier_service",
    S.DELIVERED: "posting_delivered",
    S.CANCELLED: "posting_canceled",
    S.NOT_ACCEPTED: "posting_not_in_sort_center",
    S.ARBITRATION: "posting_in_arbitration",
}

#: ``new_state`` values Ozon documents for ``TYPE_STATE_CHANGED``.
STATE_CHANGED_STATES: frozenset[str] = frozenset({
    "posting_acceptance_in_progress", "posting_transferring_to_delivery", "posting_in_carriage",
    "posting_not_in_carriage", "posting_in_arbitration", "posting_in_client_arbitration",
    "posting_on_way_to_city", "posting_transferred_to_courier_service",
    "posting_in_courier_service", "posting_on_way_to_pickup_point", "posting_in_pickup_point",
    "posting_conditionally_delivered", "posting_driver_pick_up", "posting_delivered",
    "posting_not_in_sort_center",
})


def push_time(at: datetime) -> str:
    """UTC datetime as Ozon's push payloads write it: ``2021-01-26T06:56:36.294Z``."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _products(lines: Iterable[Mapping[str, Any]], *, with_offer_id: bool) -> list[dict[str, Any]]:
    out = []
    for line in lines:
        item: dict[str, Any] = {"sku": int(line["sku"])}
        if with_offer_id:
            item["offer_id"] = str(line.get("offer_id") or "")
        item["quantity"] = int(line["quantity"])
        out.append(item)
    return out


def ping(at: datetime) -> dict[str, Any]:
    """``TYPE_PING`` (sent when a webhook is registered)."""
    return {"message_type": MessageType.PING.value, "time": push_time(at)}


def new_posting(
    *,
    posting_number: str,
    products: Iterable[Mapping[str, Any]],
    in_process_at: datetime,
    warehouse_id: int,
    seller_id: int,
    shipment_date: datetime | None = None,
    tracking_number: str = "",
    delivery_date_begin: datetime | None = None,
    delivery_date_end: datetime | None = None,
    tpl_integration_type: str = "ozon",
    is_express: bool = False,
) -> dict[str, Any]:
    """``TYPE_NEW_POSTING``; ``products`` items carry ``sku``, ``quantity`` and ``offer_id``."""
    return {
        "message_type": MessageType.NEW_POSTING.value,
        "posting_number": posting_number,
        "products": _products(products, with_offer_id=True),
        "in_process_at": push_time(in_process_at),
        "warehouse_id": int(warehouse_id),
        "shipment_date": push_time(shipment_date or in_process_at),
        "tpl_integration_type": tpl_integration_type,
        "is_express": is_express,
        "tracking_number": tracking_number,
        "delivery_date_begin": push_time(delivery_date_begin) if delivery_date_begin else "",
        "delivery_date_end": push_time(delivery_date_end) if delivery_date_end else "",
        "seller_id": int(seller_id),
    }


def state_changed(
    *,
    posting_number: str,
    new_status: PostingStatus | str,
    changed_at: datetime,
    warehouse_id: int,
    seller_id: int,
    new_state: str | None = None,
) -> dict[str, Any]:
    """``TYPE_STATE_CHANGED``; ``new_state`` defaults to the push state of ``new_status``."""
    state = new_state or PUSH_STATE[PostingStatus(new_status)]
    return {
        "message_type": MessageType.STATE_CHANGED.value,
        "posting_number": posting_number,
        "new_state": state,
        "changed_state_date": push_time(changed_at),
        "warehouse_id": int(warehouse_id),
        "seller_id": int(seller_id),
    }


def posting_cancelled(
    *,
    posting_number: str,
    products: Iterable[Mapping[str, Any]],
    old_status: PostingStatus | str,
    changed_at: datetime,
    warehouse_id: int,
    seller_id: int,
    reason_id: int = 0,
    reason: str = "",
) -> dict[str, Any]:
    """``TYPE_POSTING_CANCELLED``; ``products`` items carry ``sku`` and ``quantity``."""
    return {
        "message_type": MessageType.POSTING_CANCELLED.value,
        "posting_number": posting_number,
        "products": _products(products, with_offer_id=False),
        "old_state": PUSH_STATE[PostingStatus(old_status)],
        "new_state": PUSH_STATE[S.CANCELLED],
        "changed_state_date": push_time(changed_at),
        "reason": {"id": int(reason_id), "message": reason},
        "warehouse_id": int(warehouse_id),
        "seller_id": int(seller_id),
    }


def for_transition(
    *,
    posting_number: str,
    old_status: PostingStatus | str,
    new_status: PostingStatus | str,
    changed_at: datetime,
    warehouse_id: int,
    seller_id: int,
    products: Iterable[Mapping[str, Any]] = (),
    reason_id: int = 0,
    reason: str = "",
    new_state: str | None = None,
) -> dict[str, Any]:
    """The payload for a status change: a cancellation or a state change.

    ``new_state`` (e.g. the posting's new substatus) is used when it is one of the states
    Ozon documents for ``TYPE_STATE_CHANGED``; otherwise the status's default push state.
    """
    if PostingStatus(new_status) is S.CANCELLED:
        return posting_cancelled(
            posting_number=posting_number, products=products, old_status=old_status,
            changed_at=changed_at, warehouse_id=warehouse_id, seller_id=seller_id,
            reason_id=reason_id, reason=reason,
        )
    return state_changed(
        posting_number=posting_number, new_status=new_status, changed_at=changed_at,
        warehouse_id=warehouse_id, seller_id=seller_id,
        new_state=new_state if new_state in STATE_CHANGED_STATES else None,
    )
