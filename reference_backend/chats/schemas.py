"""Wire schemas of the chat methods (§12): lists v2/v3, history v2/v3, send, read, start."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from reference_backend.schemas import (
    Bool,
    Count,
    Id64,
    LooseStr,
    OutDatetime,
    OzonRequest,
    OzonResponse,
    ci_enum,
)


def _blank_is_absent(value: object) -> object:
    return None if isinstance(value, str) and not value.strip() else value


#: A message id in a request: a number or a numeric string; ``""`` and ``0`` mean absent.
MessageId = Annotated[Id64 | None, BeforeValidator(_blank_is_absent)]
ChatId = Annotated[str, Field(min_length=1, max_length=100)]
Direction = ci_enum("Forward", "Backward")


class ChatFilter(OzonRequest):
    chat_status: ci_enum("All", "Opened", "Closed") = "All"  # type: ignore[valid-type]
    unread_only: Bool = False


class ChatListRequest(OzonRequest):
    filter: ChatFilter = Field(default_factory=ChatFilter)
    limit: Annotated[Count, Field(ge=1, le=1000)] | None = None  # (router.MAX_LIMIT)
    cursor: str | None = None


class ChatListV2Request(OzonRequest):
    filter: ChatFilter = Field(default_factory=ChatFilter)
    limit: Annotated[Count, Field(ge=1, le=1000)] | None = None  # (router.MAX_LIMIT)
    offset: Count = 0


class ChatInfo(OzonResponse):
    chat_id: str
    chat_status: str
    chat_type: str
    created_at: OutDatetime


class ChatItem(OzonResponse):
    chat: ChatInfo
    first_unread_message_id: str
    last_message_id: str
    unread_count: int


class ChatListResponse(OzonResponse):
    chats: list[ChatItem]
    total_unread_count: int
    cursor: str
    has_next: bool


class ChatItemV2(OzonResponse):
    """Flat keys (the spec schema) and the nested ``chat`` (the spec example), ids numbers."""

    chat_id: str
    chat_status: str
    chat_type: str
    created_at: OutDatetime
    chat: ChatInfo
    first_unread_message_id: int
    last_message_id: int
    unread_count: int


class ChatListV2Response(OzonResponse):
    chats: list[ChatItemV2]
    total_chats_count: int
    total_unread_count: int


class HistoryFilter(OzonRequest):
    message_ids: list[LooseStr] = Field(default_factory=list, max_length=1000)


class HistoryRequest(OzonRequest):
    chat_id: ChatId
    direction: Direction = "Backward"  # type: ignore[valid-type]
    from_message_id: MessageId = None
    limit: Annotated[Count, Field(ge=1, le=1000)] | None = None  # (router.MAX_LIMIT)
    filter: HistoryFilter = Field(default_factory=HistoryFilter)


class HistoryV2Request(OzonRequest):
    chat_id: ChatId
    direction: Direction = "Backward"  # type: ignore[valid-type]
    from_message_id: MessageId = None
    limit: Annotated[Count, Field(ge=1, le=1000)] | None = None  # (router.MAX_LIMIT)


class User(OzonResponse):
    id: str
    type: str


class Context(OzonResponse):
    order_number: str
    sku: str


class Message(OzonResponse):
    message_id: str
    user: User
    created_at: OutDatetime
    data: list[str]
    is_read: bool
    is_image: bool
    moderate_image_status: str
    context: Context


class HistoryResponse(OzonResponse):
    has_next: bool
    messages: list[Message]


class MessageV2(OzonResponse):
    """``messageId`` (the spec schema) and ``message_id`` (the spec example), same value."""

    message_id: str
    messageId: str  # noqa: N815 - the wire name
    user: User
    created_at: OutDatetime
    data: list[str]
    is_read: bool


class HistoryV2Response(OzonResponse):
    has_next: bool
    messages: list[MessageV2]


class SendMessageRequest(OzonRequest):
    chat_id: ChatId
    text: Annotated[str, Field(min_length=1, max_length=1000)]


class SendFileRequest(OzonRequest):
    chat_id: ChatId
    name: Annotated[str, Field(min_length=1, max_length=300)]
    base64_content: Annotated[str, Field(min_length=1)]


class SendResponse(OzonResponse):
    result: str = "success"


class ReadRequest(OzonRequest):
    chat_id: ChatId
    from_message_id: MessageId = None


class ReadResponse(OzonResponse):
    unread_count: int


class StartRequest(OzonRequest):
    posting_number: Annotated[LooseStr, Field(min_length=1, max_length=40)]


class StartResult(OzonResponse):
    chat_id: str


class StartResponse(OzonResponse):
    result: StartResult
