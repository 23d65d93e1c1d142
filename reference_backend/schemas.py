"""Request-tolerance types and the shared bits of every Ozon schema (§1.2-§1.4).

Requests: ``null`` means absent (everywhere, nested too), int64 ids come as numbers or
numeric strings, enum-like values compare case-insensitively, datetimes are ISO-8601 with
``Z`` or an offset, with or without a fraction. Responses: every "must be present" key has a
default, so a service fills only what it knows.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from reference_backend.wire import INT32_MAX, INT64_MAX, INT64_MIN


def _drop_nulls(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if v is not None}
    return data


def _optional_may_be_null(schema: dict[str, Any]) -> None:
    """JSON Schema of a request model: an optional property may be ``null`` (it is absent)."""
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        if name in required or prop.get("type") == "null":
            continue
        if "anyOf" in prop:
            if {"type": "null"} not in prop["anyOf"]:
                prop["anyOf"].append({"type": "null"})
            continue
        meta = {k: prop.pop(k) for k in ("title", "description", "default", "examples")
                if k in prop}
        inner = dict(prop)
        prop.clear()
        prop.update(anyOf=[inner, {"type": "null"}], **meta)


class OzonRequest(BaseModel):
    """Base of every request body: unknown keys ignored, ``null`` treated as absent."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True,
                              json_schema_extra=_optional_may_be_null)

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_absent(cls, data: Any) -> Any:
        return _drop_nulls(data)


class OzonResponse(BaseModel):
    """Base of every response body (extra keys are harmless to clients; none are added)."""

    model_config = ConfigDict(populate_by_name=True)


def _int_like(value: Any) -> Any:
    """Numbers or numeric strings; a float must be integral; bools are refused."""
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit():
            return int(text)
        raise ValueError("expected an integer or a numeric string")
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise ValueError("expected an integer")
    return value


#: JSON Schema's name of each bound pydantic documents under its own name, and which of two
#: values of a bound is the tighter.
_BOUNDS = {
    "ge": "minimum", "gt": "exclusiveMinimum", "le": "maximum", "lt": "exclusiveMaximum",
    "min_length": "minLength", "max_length": "maxLength",
}
_TIGHTER = {"minimum": max, "exclusiveMinimum": max, "minLength": max,
            "maximum": min, "exclusiveMaximum": min, "maxLength": min}


class StandardBounds:
    """Last in a tolerant type: the document shows its bounds as JSON Schema's keywords.

    A type's bounds must follow its ``BeforeValidator``: before it they belong to the inner
    schema, and a field narrowing them (``x: Count = Field(ge=1)``) silently keeps the type's.
    After it, pydantic checks the type's and the field's bounds but documents the type's as
    ``ge``/``le`` extension keys; this renames them to ``minimum``/``maximum``..., keeping
    the tighter of the type's and the field's. ``limits`` (JSON Schema names) are bounds the
    type's validator enforces itself, documented the same way.
    """

    def __init__(self, **limits: int) -> None:
        self.limits = limits

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler
                                     ) -> dict[str, Any]:
        schema = handler(core_schema)
        given = [(_BOUNDS[key], schema.pop(key)) for key in list(schema) if key in _BOUNDS]
        for name, value in [*given, *self.limits.items()]:
            schema[name] = _TIGHTER[name](value, schema[name]) if name in schema else value
        return schema


def _tolerant_int(low: int, high: int) -> Any:
    """An int in ``[low, high]`` given as a JSON number or a numeric string."""
    return Annotated[int, BeforeValidator(_int_like), Field(ge=low, le=high), StandardBounds()]


def not_a_boolean(value: Any) -> Any:
    """A validator: a number field refuses ``true``/``false`` (pydantic would read 1/0)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    return value


#: int64 id: JSON number or numeric string.
Int64 = _tolerant_int(INT64_MIN, INT64_MAX)
#: Positive int64 id.
Id64 = _tolerant_int(0, INT64_MAX)
#: Positive id stored in an int32 column (cancel reasons).
Id32 = _tolerant_int(0, INT32_MAX)
#: Non-negative count/offset/size that fits a database integer (int32).
Count = _tolerant_int(0, INT32_MAX)
#: A quantity (int32, positive).
Quantity = _tolerant_int(1, INT32_MAX)


#: The longest string a tolerant string field takes unless it says otherwise.
LOOSE_STR_MAX = 2000


def _str_like(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a string")
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and len(value) > LOOSE_STR_MAX:
        raise ValueError(f"expected at most {LOOSE_STR_MAX} characters")
    return value


class OrNumber:
    """Last in a string type whose validator takes a JSON number too: the document says so."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler
                                     ) -> dict[str, Any]:
        text = handler(core_schema)
        meta = {k: text.pop(k) for k in ("title", "description", "default", "examples")
                if k in text}
        return {"anyOf": [text, {"type": "number"}], **meta}


#: A string that some clients send as a number (offer ids, barcodes, posting numbers); a field
#: may narrow its length (``Field(min_length=1, max_length=50)``).
LooseStr = Annotated[str, BeforeValidator(_str_like), StandardBounds(maxLength=LOOSE_STR_MAX),
                     OrNumber()]


def _bool_like(value: Any) -> Any:
    """A boolean; 1/0 and the strings true/false/1/0 (any case, spaces around) taken too."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0"}:
        return value.strip().lower() in {"true", "1"}
    raise ValueError("must be a boolean (true or false; 1, 0 and their strings are taken too)")


#: A boolean that some clients send as 1/0 or a string; the document says exactly what it takes.
Bool = Annotated[bool, BeforeValidator(_bool_like), WithJsonSchema({"anyOf": [
    {"type": "boolean"}, {"type": "integer", "enum": [0, 1]},
    {"type": "string", "pattern": r"^\s*(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)\s*$"}]})]


def ci_pattern(values: tuple[str, ...] | list[str], *, blank: bool = False) -> str:
    """A JSON Schema pattern of ``values`` in any letter case, spaces around (or blank)."""
    cases = "|".join("".join(f"[{c.upper()}{c.lower()}]" if c.upper() != c.lower()
                             else re.escape(c) for c in value) for value in values)
    return rf"^\s*(?:{cases}){'?' if blank else ''}\s*$"


def ci_enum(*values: str) -> Any:
    """A string type accepting ``values`` in any letter case, normalised to the listed spelling."""
    canonical = {v.lower(): v for v in values}

    def check(value: Any) -> str:
        if not isinstance(value, str) or value.strip().lower() not in canonical:
            raise ValueError(f"must be one of {', '.join(values)} (any case)")
        return canonical[value.strip().lower()]

    # documented as what it takes: any letter case, spaces around (not an enum of spellings)
    schema = {"type": "string", "pattern": ci_pattern(values),
              "description": f"one of {', '.join(values)} (any letter case)"}
    return Annotated[str, BeforeValidator(check), WithJsonSchema(schema)]


def ci_enum_or_blank(*values: str) -> Any:
    """:func:`ci_enum`, or absent: null or a blank string (documented so)."""
    schema = {"anyOf": [{"type": "string", "pattern": ci_pattern(values, blank=True)},
                        {"type": "null"}],
              "description": f"one of {', '.join(values)} (any letter case); blank: not given"}
    return Annotated[ci_enum(*values) | None, BeforeValidator(blank_is_absent),
                     WithJsonSchema(schema)]


def _parse_datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("empty datetime")
        try:
            dt = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError as exc:
            raise ValueError("expected an ISO-8601 datetime, e.g. 2024-01-01T00:00:00Z") from exc
    else:
        raise ValueError("expected an ISO-8601 datetime string")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    if not 1900 <= dt.year <= 9000:
        raise ValueError("datetime out of range")
    return dt


#: Request datetime: ISO-8601 with ``Z``/offset/none (UTC assumed), any fraction; aware UTC.
FlexDatetime = Annotated[datetime, BeforeValidator(_parse_datetime)]


def _zero_date_is_absent(value: Any) -> Any:
    return None if isinstance(value, str) and value.strip().startswith("0001-01-01") else value


#: Optional request datetime; ``0001-01-01T00:00:00Z`` (some clients' "unset") means absent.
OptFlexDatetime = Annotated[FlexDatetime | None, BeforeValidator(_zero_date_is_absent)]


def blank_is_absent(value: Any) -> Any:
    """A validator: ``""`` (some clients' "unset" for an optional string) means absent."""
    return None if isinstance(value, str) and not value.strip() else value


def _parse_day(value: Any) -> Any:
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValueError("expected a date YYYY-MM-DD") from exc
    if isinstance(value, str | datetime):
        return _parse_datetime(value).date()
    return value


#: Request date (``YYYY-MM-DD``; a full datetime is accepted and cut to its day).
FlexDate = Annotated[date, BeforeValidator(_parse_day)]


def iso_utc(dt: datetime | None) -> str | None:
    """Ozon response datetime: ``2024-05-13T07:07:32.123Z`` (UTC, millisecond precision)."""
    if dt is None:
        return None
    if dt.tzinfo is not None and dt.utcoffset():  # (naive: UTC already)
        dt = dt.astimezone(UTC)
    if dt.year < 1000:  # (isoformat pads the year, strftime does not)
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.isoformat(timespec="milliseconds")[:23] + "Z"  # (2.5x strftime's speed)


#: Response datetime serialised as an Ozon UTC string.
OutDatetime = Annotated[
    datetime, PlainSerializer(lambda d: iso_utc(d), return_type=str, when_used="always")
]
OptOutDatetime = Annotated[
    datetime | None, PlainSerializer(lambda d: iso_utc(d), return_type=str | None)
]
