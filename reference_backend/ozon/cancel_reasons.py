"""The FBS cancel reasons (§5.9): ids, titles, initiator and whether a seller may use them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    id: int
    title: str
    type_id: str  # "seller" | "buyer" (strict enum on the wire)
    is_available_for_cancellation: bool
    needs_message: bool = False


REASONS: tuple[Reason, ...] = (
    Reason(352, "Товар закончился на складе продавца", "seller", True),
    Reason(400, "Остался только бракованный товар", "seller", True),
    Reason(401, "Продавец отклонил арбитраж", "seller", False),
    Reason(402, "Другое (вина продавца)", "seller", True, needs_message=True),
    Reason(665, "Покупатель не забрал заказ", "buyer", False),
    Reason(666, "Возврат из службы доставки: нет доставки в указанный регион", "seller", False),
    Reason(667, "Заказ утерян службой доставки", "seller", False),
    Reason(684, "Покупатель отменил заказ", "buyer", False),
)
REASONS_BY_ID: dict[int, Reason] = {r.id: r for r in REASONS}
#: Reasons a seller may pick in ``/v2/posting/fbs/cancel`` (the ``/v1/.../cancel-reason`` list).
SELLER_REASONS: tuple[Reason, ...] = tuple(r for r in REASONS if r.is_available_for_cancellation)
#: Used when the buyer cancels through the marketplace.
BUYER_CANCEL_REASON_ID = 684


def seller_reason(reason_id: int) -> Reason | None:
    """The reason if a seller may cancel with it, else None."""
    reason = REASONS_BY_ID.get(reason_id)
    return reason if reason is not None and reason.is_available_for_cancellation else None


def reason_title(reason_id: int) -> str:
    reason = REASONS_BY_ID.get(reason_id)
    return reason.title if reason else ""
