"""Paging styles of the subset (§1.7): offset, cursor and last_id.

Cursors are opaque (base64url of the last key seen). The last page still carries a
non-empty cursor pointing past the end, and that cursor is answered with an empty page,
because some clients stop only on an empty page and restart on an empty cursor.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from reference_backend.domain_errors import InvalidInput

T = TypeVar("T")

CURSOR_PREFIX = "pl1:"


class BadPage(InvalidInput):
    """A limit, offset or cursor the caller may not send (an HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="INVALID_PAGE")


def resolve_limit(limit: int | None, *, default: int, maximum: int, minimum: int = 1) -> int:
    """The page size: ``default`` when absent, else checked against ``minimum..maximum``."""
    if limit is None:
        return default
    if not minimum <= limit <= maximum:
        raise BadPage(f"limit must be between {minimum} and {maximum}, got {limit}")
    return limit


def encode_cursor(key: int) -> str:
    """Opaque cursor for "after key" (always non-empty)."""
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{key}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    """The key a cursor points after; None for the first page (absent/empty cursor)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadPage("cursor is not one this server issued") from exc
    digits = raw[len(CURSOR_PREFIX) :].lstrip("-")
    if not raw.startswith(CURSOR_PREFIX) or not (digits.isascii() and digits.isdigit()):
        raise BadPage("cursor is not one this server issued")
    key = int(raw[len(CURSOR_PREFIX) :])
    if not -(2**63) <= key < 2**63:
        raise BadPage("cursor is out of range")
    return key


@dataclass(frozen=True)
class OffsetPage(Generic[T]):
    items: list[T]
    has_next: bool


def offset_page(rows: Sequence[T], limit: int) -> OffsetPage[T]:
    """Cut ``rows`` (fetched with ``limit + 1``) into a page and its ``has_next``."""
    return OffsetPage(list(rows[:limit]), len(rows) > limit)


@dataclass(frozen=True)
class CursorPage(Generic[T]):
    items: list[T]
    has_next: bool
    cursor: str


def cursor_page(rows: Sequence[T], limit: int, key_of, after: int | None) -> CursorPage[T]:
    """Keyset page from ``rows`` fetched with ``limit + 1`` after key ``after``.

    The returned cursor is the last key on the page; an empty page repeats the cursor it was
    asked with (or a cursor before everything on a first empty page), so it is never empty.
    """
    items = list(rows[:limit])
    has_next = len(rows) > limit
    if items:
        cursor = encode_cursor(key_of(items[-1]))
    else:
        cursor = encode_cursor(after if after is not None else 0)
    return CursorPage(items, has_next, cursor)
