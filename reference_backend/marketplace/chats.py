"""``/marketplace/v1``: a posting's buyer writes to the seller and reads the answers.

Platform key (``Authorization: Bearer``), the posting named in the path. The first message
opens the posting's chat; the seller gets ``TYPE_NEW_MESSAGE`` for every buyer message and
``TYPE_MESSAGE_READ`` when the buyer reads the seller's messages.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from reference_backend.auth import DbDep, PlatformAuth
from reference_backend.chats import service
from reference_backend.marketplace.schemas import ERRORS, Body
from reference_backend.schemas import iso_utc
from reference_backend.tables import ChatMessage

router = APIRouter(prefix="/marketplace/v1", tags=["marketplace"], responses=ERRORS)

PostingNumber = Annotated[str, Path(max_length=40)]


class BuyerMessageIn(Body):
    text: str = Field(min_length=1, max_length=1000)
    buyer_id: str = Field(default="", max_length=40, description="default: the order's buyer")


class BuyerMessageOut(BaseModel):
    chat_id: str
    posting_number: str
    message_id: str


class BuyerReadIn(Body):
    from_message_id: int | None = Field(default=None, ge=0, le=2**63 - 1,
                                        description="read up to this message; none: all")


class BuyerReadOut(BaseModel):
    chat_id: str
    last_read_message_id: str
    unread_count: int


class ChatMessageOut(BaseModel):
    message_id: str
    author: str
    created_at: str
    text: str
    file_name: str | None
    is_read: bool


class BuyerChatOut(BaseModel):
    chat_id: str
    posting_number: str
    messages: list[ChatMessageOut]


@router.post("/postings/{posting_number}/chat/messages", status_code=201,
             response_model=BuyerMessageOut)
def buyer_message(posting_number: PostingNumber, body: BuyerMessageIn, platform: PlatformAuth,
                  db: DbDep) -> BuyerMessageOut:
    """The buyer writes to the seller about the posting (opens the chat on first use)."""
    chat, message = db.write_racing(service.buyer_message, posting_number=posting_number,
                                    text=body.text, buyer_id=body.buyer_id)
    return BuyerMessageOut(chat_id=chat.chat_id, posting_number=chat.posting_number,
                           message_id=str(service.wire_id(message.id)))


@router.post("/postings/{posting_number}/chat/read", response_model=BuyerReadOut)
def buyer_read(posting_number: PostingNumber, platform: PlatformAuth, db: DbDep,
               body: BuyerReadIn | None = None) -> BuyerReadOut:
    """The buyer reads the seller's messages (up to ``from_message_id``, default all)."""
    up_to = service.row_id(body.from_message_id) if body else None
    with db.session() as session:
        chat, last, left = service.buyer_read(session, posting_number=posting_number,
                                               up_to=up_to)
        return BuyerReadOut(chat_id=chat.chat_id,
                            last_read_message_id=str(service.wire_id(last)) if last else "0",
                            unread_count=left)


@router.get("/postings/{posting_number}/chat", response_model=BuyerChatOut)
def buyer_chat(posting_number: PostingNumber, platform: PlatformAuth, db: DbDep,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> BuyerChatOut:
    """The posting's chat as its buyer sees it: the newest ``limit`` messages, oldest first."""
    with db.read_session() as session:
        chat = service.buyer_chat(session, posting_number=posting_number)
        if chat is None:
            return BuyerChatOut(chat_id="", posting_number=posting_number, messages=[])
        rows = session.execute(select(ChatMessage).where(ChatMessage.chat_id == chat.id)
                               .order_by(ChatMessage.id.desc()).limit(limit)).scalars().all()
        messages = [ChatMessageOut(
            message_id=str(service.wire_id(m.id)), author=m.author,
            created_at=iso_utc(m.created_at) or "", text=m.text, file_name=m.file_name,
            is_read=m.is_read) for m in reversed(rows)]
        return BuyerChatOut(chat_id=chat.chat_id, posting_number=chat.posting_number,
                            messages=messages)
