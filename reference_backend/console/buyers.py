"""Promotions the seller can join (the service of ``/v1/actions``) and buyer chats (the
services of ``/v3/chat/list``, ``/v3/chat/history``, ``/v1/chat/send/message``,
``/v1/chat/send/file``, ``/v2/chat/read`` and the chat file download). A seller without a
Premium Plus or Pro subscription sees why the chat is closed to them instead of an error."""

from __future__ import annotations

import base64
import math
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query
from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from reference_backend.chats import service as chats
from reference_backend.console.refusals import refusal
from reference_backend.console.session import checked_form
from reference_backend.console.web import (
    database,
    flash,
    may,
    person,
    redirect,
    render,
    translate,
    whole_number,
)
from reference_backend.domain_errors import DomainError, NotFound
from reference_backend.permissions import Action, RouteGroup
from reference_backend.promotions import service as promotions
from reference_backend.tables import Product

pages = APIRouter()
PAGE_SIZE = 50
HISTORY = 100
MESSAGE_MAX = 1000  # (as /v1/chat/send/message)
ChatId = Annotated[str, Path(min_length=1, max_length=36)]
ActionId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@pages.get("/promotions")
def promotion_list(request: Request) -> Response:
    caller = person(request, RouteGroup.PROMOTIONS, Action.READ)
    with database(request).read_session() as session:
        actions = promotions.actions(session, seller_id=caller.identity.seller_id)
    return render(request, "promotions.html", {"actions": actions})


@pages.get("/promotions/{action_id}")
def promotion_page(request: Request, action_id: ActionId,
                   page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    """A promotion's products, and the seller's products that could join it."""
    caller = person(request, RouteGroup.PROMOTIONS, Action.READ)
    seller_id = caller.identity.seller_id
    with database(request).read_session() as session:
        action = promotions.get_action(session, seller_id=seller_id, action_id=action_id)
        joined = promotions.product_page(session, seller_id=seller_id, action_id=action_id,
                                         joined=True, limit=PAGE_SIZE)
        candidates = promotions.product_page(
            session, seller_id=seller_id, action_id=action_id, joined=False, limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE)
        names = _names(session, seller_id, [r.product_id for r in
                                            (*joined.rows, *candidates.rows)])
    return render(request, "promotion.html", {
        "action": action, "joined": joined, "candidates": candidates, "names": names,
        "page": page, "has_next": page * PAGE_SIZE < candidates.total,
        "may_write": may(caller, RouteGroup.PROMOTIONS, Action.WRITE)})


def _names(session, seller_id: int, product_ids: list[int]) -> dict[int, tuple[str, str]]:  # noqa: ANN001
    rows = session.execute(select(Product.product_id, Product.offer_id, Product.name).where(
        Product.seller_id == seller_id, Product.product_id.in_(product_ids)))
    return {pid: (offer, name) for pid, offer, name in rows}


@pages.post("/promotions/{action_id}")
async def join_or_leave(request: Request, action_id: ActionId) -> Response:
    """Join one product at an action price (``/v1/actions/products/activate``) or take it
    out (``/v1/actions/products/deactivate``)."""
    form = await checked_form(request)
    caller = person(request, RouteGroup.PROMOTIONS, Action.WRITE)
    back = f"/promotions/{action_id}"
    product_id = whole_number(form.get("product_id"))
    try:
        price = float(str(form.get("action_price", "0")).replace(",", "."))
    except ValueError:
        price = -1.0
    units = whole_number(form.get("stock", "0")) or 0
    if product_id is None or price < 0 or not math.isfinite(price):
        return flash(redirect(back), translate(request, "Enter the action price as a number."),
                     "error")
    with database(request).session() as session:
        if form.get("do") == "leave":
            change = promotions.leave(session, seller_id=caller.identity.seller_id,
                                      action_id=action_id, product_ids=[product_id])
        else:
            change = promotions.join(session, seller_id=caller.identity.seller_id,
                                     action_id=action_id, items=[(product_id, price, units)])
    if change.rejected:
        return flash(redirect(back), "; ".join(r.reason for r in change.rejected), "error")
    return flash(redirect(back), translate(request, "The promotion is updated."))


@pages.get("/chats")
def chat_list(request: Request, status: Annotated[str, Query(max_length=10)] = "All",
              page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:
    caller = person(request, RouteGroup.CHATS, Action.READ)
    status = status if status in ("All", "Opened", "Closed") else "All"
    with database(request).read_session() as session:
        rows, unread = chats.chats(session, seller_id=caller.identity.seller_id, status=status,
                                   unread_only=False, after=None,
                                   offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        stats = chats.stats(session, [c.id for c in rows[:PAGE_SIZE]])
        plan = chats.chat_plan(session, caller.identity.seller_id)
    return render(request, "chats.html", {
        "chats": rows[:PAGE_SIZE], "stats": stats, "unread": unread, "status": status,
        "page": page, "has_next": len(rows) > PAGE_SIZE,
        "plan": plan, "plan_ok": plan in chats.CHAT_PLANS})


@pages.get("/chats/{chat_id}")
def chat_page(request: Request, chat_id: ChatId) -> Response:
    """The chat's latest messages; without a chat subscription, the reason instead (the API
    answers 403 there)."""
    caller = person(request, RouteGroup.CHATS, Action.READ)
    seller_id = caller.identity.seller_id
    with database(request).read_session() as session:
        plan = chats.chat_plan(session, seller_id)
        if plan not in chats.CHAT_PLANS:
            return render(request, "chat.html", {"chat": None, "plan": plan})
        chat = chats.get_chat(session, seller_id=seller_id, chat_id=chat_id)
        messages, more = chats.history(session, chat=chat, forward=False, from_id=None,
                                       limit=HISTORY)
        unread = chats.stats(session, [chat.id])[chat.id].unread
    return render(request, "chat.html", {
        "chat": chat, "messages": list(reversed(messages)), "more": more, "unread": unread,
        "wire_id": chats.wire_id, "max_mib": chats.MAX_FILE_BYTES // (1024 * 1024),
        "may_write": may(caller, RouteGroup.CHATS, Action.WRITE)})


def _sent(request: Request, chat_id: str, seller_id: int, author_id: str, *, text: str = "",
          file: tuple[str, str] | None = None) -> Response:
    """Send through the service; its refusal (closed chat, window, file) as a notice."""
    back = f"/chats/{chat_id}"
    try:
        with database(request).session() as session:
            chats.seller_message(session, seller_id=seller_id, chat_id=chat_id,
                                 author_id=author_id, text=text, file=file)
    except DomainError as exc:
        if exc.kind == "not_found":
            raise
        return flash(redirect(back), refusal(request, exc), "error")
    done = translate(request, "File sent.") if file else translate(request, "Message sent.")
    return flash(redirect(back), done)


@pages.post("/chats/{chat_id}")
async def send(request: Request, chat_id: ChatId) -> Response:
    form = await checked_form(request)
    caller = person(request, RouteGroup.CHATS, Action.WRITE)
    text = str(form.get("text", "")).strip()
    if not 0 < len(text) <= MESSAGE_MAX:
        message = translate(request, "Write a message of 1 to 1,000 characters.")
        return flash(redirect(f"/chats/{chat_id}"), message, "error")
    return _sent(request, chat_id, caller.identity.seller_id, caller.identity.client_id,
                 text=text)


@pages.post("/chats/{chat_id}/file")
async def send_file(request: Request, chat_id: ChatId) -> Response:
    """A file to the buyer (``/v1/chat/send/file``: the service checks name and size)."""
    form = await checked_form(request)
    caller = person(request, RouteGroup.CHATS, Action.WRITE)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return flash(redirect(f"/chats/{chat_id}"), translate(request, "Choose a file to send."),
                     "error")
    raw = await upload.read(chats.MAX_FILE_BYTES + 1)  # (one byte more: "too large")
    return _sent(request, chat_id, caller.identity.seller_id, caller.identity.client_id,
                 file=(upload.filename, base64.b64encode(raw).decode("ascii")))


@pages.post("/chats/{chat_id}/read")
async def mark_read(request: Request, chat_id: ChatId) -> Response:
    """Mark every buyer message of the chat read (``/v2/chat/read`` without a message id)."""
    await checked_form(request)
    caller = person(request, RouteGroup.CHATS, Action.WRITE)
    with database(request).session() as session:
        chat = chats.get_chat(session, seller_id=caller.identity.seller_id, chat_id=chat_id)
        chats.mark_read(session, chat=chat, reader=chats.SELLER, up_to=None)
    return flash(redirect(f"/chats/{chat_id}"),
                 translate(request, "The buyer's messages are marked read."))


@pages.get("/chats/{chat_id}/files/{message_id}")
def chat_file(request: Request, chat_id: ChatId,
              message_id: Annotated[int, Path(ge=1, le=2**63 - 1)]) -> Response:
    """A file sent in the chat (the API's ``/peakline/v1/chat/files/{id}``)."""
    caller = person(request, RouteGroup.CHATS, Action.READ)
    with database(request).read_session() as session:
        chat = chats.get_chat(session, seller_id=caller.identity.seller_id, chat_id=chat_id)
        message = chats.file_message(session, seller_id=caller.identity.seller_id,
                                     wire=message_id)
        if message.chat_id != chat.id:
            raise NotFound("file not found", code="FILE_NOT_FOUND")
    name = quote(message.file_name or "file")
    return Response(message.file_content, media_type=chats.content_type(message), headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})
