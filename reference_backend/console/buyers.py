"""Promotions the seller can join (the service of ``/v1/actions``) and buyer chats (the
services of ``/v3/chat/list``, ``/v3/chat/history`` and ``/v1/chat/send/message``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.requests import Request
from starlette.responses import Response

from reference_backend.chats import service as chats
from reference_backend.console.session import checked_form
from reference_backend.console.web import database, flash, may, person, redirect, render, translate
from reference_backend.domain_errors import DomainError
from reference_backend.permissions import Action, RouteGroup
from reference_backend.promotions import service as promotions

pages = APIRouter()
PAGE_SIZE = 50
HISTORY = 100
MESSAGE_MAX = 1000  # (as /v1/chat/send/message)
ChatId = Annotated[str, Path(min_length=1, max_length=36)]


@pages.get("/promotions")
def promotion_list(request: Request) -> Response:
    caller = person(request, RouteGroup.PROMOTIONS, Action.READ)
    with database(request).read_session() as session:
        actions = promotions.actions(session, seller_id=caller.identity.seller_id)
    return render(request, "promotions.html", {"actions": actions})


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
    return render(request, "chats.html", {
        "chats": rows[:PAGE_SIZE], "stats": stats, "unread": unread, "status": status,
        "page": page, "has_next": len(rows) > PAGE_SIZE})


@pages.get("/chats/{chat_id}")
def chat_page(request: Request, chat_id: ChatId) -> Response:
    caller = person(request, RouteGroup.CHATS, Action.READ)
    with database(request).read_session() as session:
        chat = chats.get_chat(session, seller_id=caller.identity.seller_id, chat_id=chat_id)
        messages, more = chats.history(session, chat=chat, forward=False, from_id=None,
                                       limit=HISTORY)
    return render(request, "chat.html", {
        "chat": chat, "messages": list(reversed(messages)), "more": more,
        "may_write": may(caller, RouteGroup.CHATS, Action.WRITE)})


@pages.post("/chats/{chat_id}")
async def send(request: Request, chat_id: ChatId) -> Response:
    form = await checked_form(request)
    caller = person(request, RouteGroup.CHATS, Action.WRITE)
    text = str(form.get("text", "")).strip()
    if not 0 < len(text) <= MESSAGE_MAX:
        message = translate(request, "Write a message of 1 to 1,000 characters.")
        return flash(redirect(f"/chats/{chat_id}"), message, "error")
    try:
        with database(request).session() as session:
            chats.seller_message(session, seller_id=caller.identity.seller_id, chat_id=chat_id,
                                 author_id=caller.identity.client_id, text=text)
    except DomainError as exc:
        if exc.kind == "not_found":
            raise
        return flash(redirect(f"/chats/{chat_id}"), exc.message, "error")
    return flash(redirect(f"/chats/{chat_id}"), translate(request, "Message sent."))
