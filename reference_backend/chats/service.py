"""Buyer chats: one per posting, messages from the buyer (``Customer``) and the seller.

Message ids on the wire are :data:`MESSAGE_ID_BASE` + the row id (numbers of Ozon's size).
``is_read`` of a message says whether the *other* side read it: the seller's unread
messages are the buyer's messages not yet marked by ``/v2/chat/read``. The seller may write
while the posting is open and until :data:`WINDOW_AFTER_END` after delivery or cancellation,
then only within :data:`REPLY_WINDOW` of the buyer's last message (Ozon's FBS rules).
History, send, read and start need a Premium Plus or Premium Pro subscription (§12; the
seller's ``subscription``); the lists do not.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, func, select, update
from sqlalchemy.orm import Session

from reference_backend import outbox
from reference_backend.domain_errors import Conflict, Forbidden, InvalidInput, NotFound
from reference_backend.payloads import MessageType, push_time
from reference_backend.tables import Chat, ChatMessage, Posting, PostingItem, Seller, utcnow

MESSAGE_ID_BASE = 3_000_000_000_000_000_000
CHAT_TYPE = "Buyer_Seller"
CUSTOMER, SELLER = "Customer", "Seller"
#: A file message's largest decoded size.
MAX_FILE_BYTES = 5 * 1024 * 1024
IMAGE_TYPES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"})
WINDOW_AFTER_END = timedelta(hours=72)
REPLY_WINDOW = timedelta(hours=48)
#: Subscriptions (``sellers.subscription``) that open buyer chats beyond their list (§12).
CHAT_PLANS = ("PREMIUM_PLUS", "PREMIUM_PRO")


def wire_id(message_id: int) -> int:
    return MESSAGE_ID_BASE + message_id


def row_id(wire: int | None) -> int | None:
    """The row id of a wire message id (None or 0: none given)."""
    if not wire:
        return None
    return wire - MESSAGE_ID_BASE if wire > MESSAGE_ID_BASE else 0


# --------------------------------------------------------------------------- chats


def chat_plan(session: Session, seller_id: int) -> str | None:
    """The seller's subscription (``NONE``, ``PREMIUM``, ... ; None: no such seller)."""
    return session.scalar(select(Seller.subscription).where(Seller.id == seller_id))


def has_chat_plan(session: Session, seller_id: int) -> bool:
    """Whether the seller's subscription opens chat history, sending and read marks."""
    return chat_plan(session, seller_id) in CHAT_PLANS


def require_chat_plan(session: Session, seller_id: int) -> None:
    """403 (Ozon's body, code 7) unless the seller subscribes to Premium Plus or Pro; the
    docs do not give Ozon's answer without one (§12, unconfirmed)."""
    plan = chat_plan(session, seller_id)
    if plan not in CHAT_PLANS:
        raise Forbidden("chats with buyers (history, send, read, start) need a Premium Plus or "
                        f"Premium Pro subscription; this seller has {plan or 'none'}",
                        code="PREMIUM_PLUS_REQUIRED")


def get_chat(session: Session, *, seller_id: int, chat_id: str) -> Chat:
    """The seller's chat (history, send, read: refused without a chat plan)."""
    require_chat_plan(session, seller_id)
    chat = session.execute(select(Chat).where(
        Chat.chat_id == chat_id, Chat.seller_id == seller_id)).scalar_one_or_none()
    if chat is None:
        raise NotFound(f"chat {chat_id} not found", code="CHAT_NOT_FOUND")
    return chat


def _posting(session: Session, posting_number: str, seller_id: int | None = None) -> Posting:
    query = select(Posting).where(Posting.posting_number == posting_number)
    if seller_id is not None:
        query = query.where(Posting.seller_id == seller_id)
    posting = session.execute(query).scalar_one_or_none()
    if posting is None:
        raise NotFound(f"posting {posting_number} not found", code="POSTING_NOT_FOUND")
    return posting


def _ended_at(posting: Posting) -> datetime | None:
    return posting.delivered_at or posting.cancelled_at


def chat_for(session: Session, posting: Posting) -> Chat:
    """The posting's chat, created on first use."""
    chat = session.execute(
        select(Chat).where(Chat.posting_id == posting.id)).scalar_one_or_none()
    if chat is None:
        sku = session.execute(select(PostingItem.sku).where(
            PostingItem.posting_id == posting.id).order_by(PostingItem.id).limit(1)).scalar()
        chat = Chat(chat_id=str(uuid.uuid4()), seller_id=posting.seller_id,
                    posting_id=posting.id, posting_number=posting.posting_number,
                    order_number=posting.order_number, sku=sku or 0, status="Opened")
        session.add(chat)
        session.flush()
    return chat


def start(session: Session, *, seller_id: int, posting_number: str) -> Chat:
    """``/v1/chat/start``: the posting's chat (the same one when called again).

    FBS rule: until 72 hours after delivery (or cancellation), else :class:`Conflict`.
    """
    require_chat_plan(session, seller_id)
    posting = _posting(session, posting_number, seller_id)
    ended = _ended_at(posting)
    existing = session.execute(
        select(Chat).where(Chat.posting_id == posting.id)).scalar_one_or_none()
    if existing is None and ended is not None and utcnow() > ended + WINDOW_AFTER_END:
        raise Conflict("a chat can be started until 72 hours after delivery",
                       code="CHAT_WINDOW_CLOSED")
    return existing or chat_for(session, posting)


@dataclass(frozen=True)
class ChatStats:
    first_unread: int  # wire id, 0 when none
    last: int
    unread: int


def _unread_customer() -> Any:
    return (ChatMessage.author == CUSTOMER) & ChatMessage.is_read.is_(False)


def stats(session: Session, chat_ids: list[int]) -> dict[int, ChatStats]:
    """First unread, last message and unread count per chat (one grouped query)."""
    if not chat_ids:
        return {}
    unread = _unread_customer()
    rows = session.execute(
        select(ChatMessage.chat_id, func.min(case((unread, ChatMessage.id))),
               func.max(ChatMessage.id), func.count(case((unread, 1))))
        .where(ChatMessage.chat_id.in_(chat_ids)).group_by(ChatMessage.chat_id))
    out = {cid: ChatStats(0, 0, 0) for cid in chat_ids}
    for cid, first, last, count in rows:
        out[cid] = ChatStats(wire_id(first) if first else 0, wire_id(last) if last else 0,
                             int(count))
    return out


def _filtered(query: Select[Any], *, seller_id: int, status: str, unread_only: bool
              ) -> Select[Any]:
    query = query.where(Chat.seller_id == seller_id)
    if status != "All":
        query = query.where(Chat.status == status)
    if unread_only:
        query = query.where(select(ChatMessage.id).where(
            ChatMessage.chat_id == Chat.id, _unread_customer()).exists())
    return query


def chats(session: Session, *, seller_id: int, status: str, unread_only: bool,
          after: int | None, offset: int, limit: int) -> tuple[list[Chat], int]:
    """A page of the seller's chats (by id, after ``after``), fetched with ``limit + 1``, and
    the number of the seller's unread buyer messages over all chats."""
    query = _filtered(select(Chat), seller_id=seller_id, status=status, unread_only=unread_only)
    if after is not None:
        query = query.where(Chat.id > after)
    rows = list(session.execute(
        query.order_by(Chat.id).offset(offset).limit(limit + 1)).scalars())
    total_unread = session.execute(
        select(func.count()).select_from(ChatMessage).join(Chat, Chat.id == ChatMessage.chat_id)
        .where(Chat.seller_id == seller_id, _unread_customer())).scalar_one()
    return rows, total_unread


def count_chats(session: Session, *, seller_id: int, status: str, unread_only: bool) -> int:
    query = _filtered(select(func.count()).select_from(Chat), seller_id=seller_id,
                      status=status, unread_only=unread_only)
    return session.execute(query).scalar_one()


# --------------------------------------------------------------------------- history


def history(
    session: Session, *, chat: Chat, forward: bool, from_id: int | None, limit: int,
    only_ids: list[int] | None = None,
) -> tuple[list[ChatMessage], bool]:
    """Messages from ``from_id`` (a row id, included; none: the newest or, forward, the
    oldest), oldest first when ``forward``, else newest first; and whether more follow."""
    query = select(ChatMessage).where(ChatMessage.chat_id == chat.id)
    if only_ids is not None:
        query = query.where(ChatMessage.id.in_(only_ids))
    if from_id is not None:
        query = query.where(ChatMessage.id >= from_id if forward else ChatMessage.id <= from_id)
    order = ChatMessage.id.asc() if forward else ChatMessage.id.desc()
    rows = list(session.execute(query.order_by(order).limit(limit + 1)).scalars())
    return rows[:limit], len(rows) > limit


# --------------------------------------------------------------------------- writing


def _check_window(session: Session, chat: Chat, now: datetime) -> None:
    posting = session.get(Posting, chat.posting_id)
    ended = _ended_at(posting) if posting else None
    if ended is None or now <= ended + WINDOW_AFTER_END:
        return
    last_buyer = session.execute(select(func.max(ChatMessage.created_at)).where(
        ChatMessage.chat_id == chat.id, ChatMessage.author == CUSTOMER)).scalar()
    if last_buyer is None or now > last_buyer + REPLY_WINDOW:
        raise Conflict("outside the messaging window: 72 hours after delivery, then replies "
                       "within 48 hours of the buyer's last message", code="CHAT_WINDOW_CLOSED")


def seller_message(session: Session, *, seller_id: int, chat_id: str, author_id: str,
                   text: str = "", file: tuple[str, str] | None = None) -> ChatMessage:
    """The seller writes ``text`` or sends ``file`` (name, base64 content) in a chat."""
    chat = get_chat(session, seller_id=seller_id, chat_id=chat_id)
    if chat.status != "Opened":
        raise Conflict("the chat is closed", code="CHAT_CLOSED")
    now = utcnow()
    _check_window(session, chat, now)
    message = ChatMessage(chat_id=chat.id, author=SELLER, author_id=author_id, text=text,
                          created_at=now)
    if file is not None:
        name, content = file
        message.file_name, message.file_content = name, decode_file(name, content)
        message.is_image = _suffix(name) in IMAGE_TYPES
    session.add(message)
    session.flush()
    return message


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def decode_file(name: str, content: str) -> bytes:
    """The file's bytes: valid base64, not empty, at most :data:`MAX_FILE_BYTES`."""
    if not _suffix(name) or "/" in name or "\\" in name:
        raise InvalidInput("name must be a file name with an extension, e.g. photo.jpg",
                           code="INVALID_FILE_NAME")
    if len(content) > (MAX_FILE_BYTES * 4) // 3 + 4:
        raise InvalidInput(f"the file is larger than {MAX_FILE_BYTES} bytes", code="FILE_TOO_LARGE")
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("base64_content is not valid base64", code="INVALID_FILE") from exc
    if not data:
        raise InvalidInput("the file is empty", code="INVALID_FILE")
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput(f"the file is larger than {MAX_FILE_BYTES} bytes", code="FILE_TOO_LARGE")
    return data


def file_message(session: Session, *, seller_id: int, wire: int) -> ChatMessage:
    """The file message with wire id ``wire`` in one of the seller's chats."""
    message = session.execute(
        select(ChatMessage).join(Chat, Chat.id == ChatMessage.chat_id)
        .where(ChatMessage.id == (row_id(wire) or 0), Chat.seller_id == seller_id,
               ChatMessage.file_content.is_not(None))).scalar_one_or_none()
    if message is None:
        raise NotFound("file not found", code="FILE_NOT_FOUND")
    return message


def content_type(message: ChatMessage) -> str:
    return mimetypes.guess_type(message.file_name or "")[0] or "application/octet-stream"


def mark_read(session: Session, *, chat: Chat, reader: str, up_to: int | None) -> tuple[int, int]:
    """``reader`` reads the other side's messages up to row id ``up_to`` (None: all).

    Returns the last row id marked (0: none) and how many of the other side's messages
    are still unread.
    """
    other = SELLER if reader == CUSTOMER else CUSTOMER
    unread = (ChatMessage.chat_id == chat.id) & (ChatMessage.author == other) & (
        ChatMessage.is_read.is_(False))
    scope = unread if up_to is None else unread & (ChatMessage.id <= up_to)
    last = session.execute(select(func.max(ChatMessage.id)).where(scope)).scalar() or 0
    if last:
        session.execute(update(ChatMessage).where(scope).values(is_read=True))
    left = session.execute(select(func.count()).select_from(ChatMessage).where(unread)).scalar()
    return last, int(left or 0)


# --------------------------------------------------------------------------- the buyer's side


def _event(session: Session, chat: Chat, payload: dict) -> None:
    outbox.add_event(session, seller_id=chat.seller_id, posting_number=chat.posting_number,
                     now=utcnow(), payload=payload)


def buyer_message(session: Session, *, posting_number: str, text: str,
                  buyer_id: str = "") -> tuple[Chat, ChatMessage]:
    """The posting's buyer writes (the chat opens on the first message); the seller gets a
    ``TYPE_NEW_MESSAGE`` push."""
    posting = _posting(session, posting_number)
    chat = chat_for(session, posting)
    if chat.status != "Opened":
        raise Conflict("the chat is closed", code="CHAT_CLOSED")
    now = utcnow()
    author = buyer_id or f"buyer-{posting.order_id}"
    message = ChatMessage(chat_id=chat.id, author=CUSTOMER, author_id=author, text=text,
                          created_at=now)
    session.add(message)
    session.flush()
    _event(session, chat, {
        "message_type": MessageType.NEW_MESSAGE.value, "chat_id": chat.chat_id,
        "chat_type": CHAT_TYPE, "message_id": str(wire_id(message.id)),
        "created_at": push_time(now), "user": {"id": author, "type": "customer"},
        "data": [text], "seller_id": str(chat.seller_id)})
    return chat, message


def buyer_read(session: Session, *, posting_number: str, up_to: int | None
               ) -> tuple[Chat, int, int]:
    """The buyer reads the seller's messages; a ``TYPE_MESSAGE_READ`` push when any were new."""
    posting = _posting(session, posting_number)
    chat = session.execute(select(Chat).where(Chat.posting_id == posting.id)).scalar_one_or_none()
    if chat is None:
        raise NotFound(f"posting {posting_number} has no chat", code="CHAT_NOT_FOUND")
    last, left = mark_read(session, chat=chat, reader=CUSTOMER, up_to=up_to)
    if last:
        now = utcnow()
        _event(session, chat, {
            "message_type": MessageType.MESSAGE_READ.value, "chat_id": chat.chat_id,
            "chat_type": CHAT_TYPE, "message_id": str(wire_id(last)),
            "created_at": push_time(now), "user": {"id": "", "type": "customer"},
            "last_read_message_id": str(wire_id(last)), "seller_id": str(chat.seller_id)})
    return chat, last, left


def buyer_chat(session: Session, *, posting_number: str) -> Chat | None:
    posting = _posting(session, posting_number)
    return session.execute(select(Chat).where(Chat.posting_id == posting.id)).scalar_one_or_none()
