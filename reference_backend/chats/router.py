"""Buyer chats (§12): lists v2 and v3, history v2 and v3, send message/file, read, start; and
the seller's download of a chat file (``/peakline/v1``). History, send, read and start need
a Premium Plus or Pro subscription (the seller's ``subscription``; 403 with Ozon's body
otherwise). The legacy ``/v1/chat/list``, ``/v1/chat/history`` and ``/v1/chat/updates`` are
not served (404, as every unserved method).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from reference_backend import pagination
from reference_backend.chats import schemas as C
from reference_backend.chats import service
from reference_backend.deps import ChatsRead, ChatsWrite, DbDep
from reference_backend.tables import Chat, ChatMessage

router = APIRouter(tags=["Ozon: chats"])

MAX_LIMIT = 1000
FILE_PATH = "/peakline/v1/chat/files/"


def _info(chat: Chat) -> C.ChatInfo:
    return C.ChatInfo(chat_id=chat.chat_id, chat_status=chat.status,
                      chat_type=service.CHAT_TYPE, created_at=chat.created_at)


def _data(message: ChatMessage, base_url: str) -> list[str]:
    if message.file_name is None:
        return [message.text]
    link = f"{base_url.rstrip('/')}{FILE_PATH}{service.wire_id(message.id)}"
    return [f"![{message.file_name}]({link})" if message.is_image
            else f"[{message.file_name}]({link})"]


def _message(message: ChatMessage, chat: Chat, base_url: str) -> C.Message:
    return C.Message(
        message_id=str(service.wire_id(message.id)),
        user=C.User(id=message.author_id, type=message.author), created_at=message.created_at,
        data=_data(message, base_url), is_read=message.is_read, is_image=message.is_image,
        moderate_image_status="SUCCESS" if message.is_image else "",
        context=C.Context(order_number=chat.order_number, sku=str(chat.sku)))


@router.post("/v3/chat/list", response_model=C.ChatListResponse)
def chat_list(body: C.ChatListRequest, seller: ChatsRead, db: DbDep) -> C.ChatListResponse:
    """Chats by creation, cursor paging (the last page's cursor points past the end)."""
    limit = pagination.resolve_limit(body.limit, default=30, maximum=MAX_LIMIT)
    after = pagination.decode_cursor(body.cursor)
    with db.read_session() as session:
        rows, unread = service.chats(
            session, seller_id=seller.seller_id, status=body.filter.chat_status,
            unread_only=body.filter.unread_only, after=after, offset=0, limit=limit)
        page = pagination.cursor_page(rows, limit, lambda c: c.id, after)
        stats = service.stats(session, [c.id for c in page.items])
    return C.ChatListResponse(
        chats=[C.ChatItem(chat=_info(c), first_unread_message_id=str(stats[c.id].first_unread),
                          last_message_id=str(stats[c.id].last),
                          unread_count=stats[c.id].unread) for c in page.items],
        total_unread_count=unread, cursor=page.cursor, has_next=page.has_next)


@router.post("/v2/chat/list", response_model=C.ChatListV2Response)
def chat_list_v2(body: C.ChatListV2Request, seller: ChatsRead, db: DbDep
                 ) -> C.ChatListV2Response:
    """Offset paging; items carry the flat keys and the nested ``chat`` (the spec's schema and
    example disagree), ids as numbers (the current client release's choice)."""
    limit = pagination.resolve_limit(body.limit, default=30, maximum=MAX_LIMIT)
    with db.read_session() as session:
        rows, unread = service.chats(
            session, seller_id=seller.seller_id, status=body.filter.chat_status,
            unread_only=body.filter.unread_only, after=None, offset=body.offset, limit=limit)
        rows = rows[:limit]
        total = service.count_chats(session, seller_id=seller.seller_id,
                                    status=body.filter.chat_status,
                                    unread_only=body.filter.unread_only)
        stats = service.stats(session, [c.id for c in rows])
    return C.ChatListV2Response(
        chats=[C.ChatItemV2(chat_id=c.chat_id, chat_status=c.status,
                            chat_type=service.CHAT_TYPE, created_at=c.created_at, chat=_info(c),
                            first_unread_message_id=stats[c.id].first_unread,
                            last_message_id=stats[c.id].last, unread_count=stats[c.id].unread)
               for c in rows],
        total_chats_count=total, total_unread_count=unread)


def _history(body: C.HistoryRequest | C.HistoryV2Request, seller_id: int, db: DbDep,
             only: list[str] | None = None) -> tuple[list[ChatMessage], bool, Chat]:
    limit = pagination.resolve_limit(body.limit, default=50, maximum=MAX_LIMIT)
    only_ids = None
    if only:
        only_ids = [service.row_id(int(m)) or 0 for m in only if m.isdigit()]
    with db.read_session() as session:
        chat = service.get_chat(session, seller_id=seller_id, chat_id=body.chat_id)
        rows, has_next = service.history(
            session, chat=chat, forward=body.direction == "Forward",
            from_id=service.row_id(body.from_message_id), limit=limit, only_ids=only_ids)
    return rows, has_next, chat


@router.post("/v3/chat/history", response_model=C.HistoryResponse)
def chat_history(body: C.HistoryRequest, seller: ChatsRead, db: DbDep, request: Request
                 ) -> C.HistoryResponse:
    """Messages from ``from_message_id`` (included; default the newest), ``Backward`` (default,
    newest first) or ``Forward``, ids as numeric strings; Premium Plus or Pro (else 403)."""
    rows, has_next, chat = _history(body, seller.seller_id, db, body.filter.message_ids)
    base = str(request.base_url)
    return C.HistoryResponse(has_next=has_next, messages=[_message(m, chat, base) for m in rows])


@router.post("/v2/chat/history", response_model=C.HistoryV2Response)
def chat_history_v2(body: C.HistoryV2Request, seller: ChatsRead, db: DbDep, request: Request
                    ) -> C.HistoryV2Response:
    """Switched off by Ozon in 2025 but still called; Premium Plus or Pro (else 403);
    ``messageId`` and ``message_id`` both sent (the spec's schema and example disagree)."""
    rows, has_next, chat = _history(body, seller.seller_id, db)
    base = str(request.base_url)
    messages = []
    for m in rows:
        v3 = _message(m, chat, base)
        messages.append(C.MessageV2(message_id=v3.message_id, messageId=v3.message_id,
                                    user=v3.user, created_at=m.created_at, data=v3.data,
                                    is_read=m.is_read))
    return C.HistoryV2Response(has_next=has_next, messages=messages)


@router.post("/v1/chat/send/message", response_model=C.SendResponse)
def send_message(body: C.SendMessageRequest, seller: ChatsWrite, db: DbDep) -> C.SendResponse:
    """Plain text, 1-1000 characters; outside the messaging window 409 (code unconfirmed);
    Premium Plus or Pro (else 403)."""
    with db.session() as session:
        service.seller_message(session, seller_id=seller.seller_id, chat_id=body.chat_id,
                               author_id=seller.client_id, text=body.text)
    return C.SendResponse()


@router.post("/v1/chat/send/file", response_model=C.SendResponse)
def send_file(body: C.SendFileRequest, seller: ChatsWrite, db: DbDep) -> C.SendResponse:
    """A file (name with extension, base64 content) stored with the chat, at most 5 MiB (Ozon
    documents no limit); Premium Plus or Pro (else 403)."""
    with db.session() as session:
        service.seller_message(session, seller_id=seller.seller_id, chat_id=body.chat_id,
                               author_id=seller.client_id,
                               file=(body.name, body.base64_content))
    return C.SendResponse()


@router.post("/v2/chat/read", response_model=C.ReadResponse)
def chat_read(body: C.ReadRequest, seller: ChatsWrite, db: DbDep) -> C.ReadResponse:
    """Marks the buyer's messages up to ``from_message_id`` read (absent or ``0`` meaning all,
    our reading), answers how many stay unread; Premium Plus or Pro (else 403)."""
    with db.session() as session:
        chat = service.get_chat(session, seller_id=seller.seller_id, chat_id=body.chat_id)
        _, left = service.mark_read(session, chat=chat, reader=service.SELLER,
                                    up_to=service.row_id(body.from_message_id))
    return C.ReadResponse(unread_count=left)


@router.post("/v1/chat/start", response_model=C.StartResponse)
def chat_start(body: C.StartRequest, seller: ChatsWrite, db: DbDep) -> C.StartResponse:
    """The posting's chat with its buyer (the same one when called again, unconfirmed); Premium
    Plus or Pro (else 403)."""
    chat = db.write_racing(service.start, seller_id=seller.seller_id,
                           posting_number=body.posting_number)
    return C.StartResponse(result=C.StartResult(chat_id=chat.chat_id))


@router.get(FILE_PATH + "{message_id}", response_class=Response, tags=["peakline"])
def chat_file(
    message_id: Annotated[int, Path(ge=1, le=2**63 - 1)], seller: ChatsRead, db: DbDep
) -> Response:
    """A file sent in one of the seller's chats (the link in the message's ``data``)."""
    with db.read_session() as session:
        message = service.file_message(session, seller_id=seller.seller_id, wire=message_id)
    name = quote(message.file_name or "file")
    return Response(message.file_content, media_type=service.content_type(message),
                    headers={"Content-Disposition": f"inline; filename*=UTF-8''{name}"})
