"""What every request may carry, whatever its route: bounded integer types for schemas and
the check of text no database can store.

* Integers: a database column is int32 or int64; a value past its column's range must be a
  400 naming the field, never a database error. Schemas type such fields :data:`Int32` or
  :data:`Int64` (bounds shown in the OpenAPI document as ``minimum``/``maximum``).
* Text: PostgreSQL refuses a NUL character in any string, and no UTF-8 codec encodes a lone
  surrogate (``"\\ud800"`` is valid JSON). :func:`unstorable_text` finds the first such string
  in a parsed body or a query string; :class:`~reference_backend.middleware.JsonBodyMiddleware`
  refuses the request with 400 before any route sees it.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl

from pydantic import Field

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: An integer stored in an int32 column.
Int32 = Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]
#: An integer stored in an int64 column.
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate (not a character)"
    return None


def unstorable_text(value: Any, path: str = "") -> tuple[str, str] | None:
    """``(field path, problem)`` of the first string (key or value) in ``value`` that cannot be
    stored, or None. Paths read like validation errors: ``items[0].offer_id``."""
    if isinstance(value, str):
        problem = text_problem(value)
        return (path or "body", problem) if problem else None
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            problem = text_problem(key)
            if problem:
                return here, f"the key {problem.removeprefix('contains ')}"
            found = unstorable_text(item, here)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_text(item, f"{path}[{index}]")
            if found:
                return found
    return None


def unstorable_query(query_string: bytes) -> tuple[str, str] | None:
    """``(parameter, problem)`` of the first query parameter that cannot be stored, or None."""
    if b"%00" not in query_string and b"\x00" not in query_string:
        return None  # (percent-decoding replaces invalid UTF-8, so no surrogate can appear)
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        for text in (name, value):
            problem = text_problem(text)
            if problem:
                return name, problem
    return None
