"""Request-tolerance types and the shared bits of every Ozon schema (§1.2-§1.4).

Requests: ``null`` means absent (everywhere, nested too), int64 ids come as numbers or
numeric strings, enum-like values compare case-insensitively, datetimes are ISO-8601 with
``Z`` or an offset, with or without a fraction. Responses: every "must be present" key has a
default, so a service fills only what it knows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

from reference_backend.wire import INT32_MAX, INT64_MAX, INT64_MIN


def _drop_nulls(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if v is not None}
    return data


class OzonRequest(BaseModel):
    """Base of every request body: unknown keys ignored, ``null`` treated as absent."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

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


# (Field before the validator: the OpenAPI document then shows the bounds as JSON Schema's
# minimum/maximum, not as pydantic's ge/le.)
#: int64 id: JSON number or numeric string.
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX), BeforeValidator(_int_like)]
#: Positive int64 id.
Id64 = Annotated[int, Field(ge=0, le=INT64_MAX), BeforeValidator(_int_like)]
#: Positive id stored in an int32 column (cancel reasons).
Id32 = Annotated[int, Field(ge=0, le=INT32_MAX), BeforeValidator(_int_like)]
#: Non-negative count/offset/size that fits a database integer (int32).
Count = Annotated[int, Field(ge=0, le=INT32_MAX), BeforeValidator(_int_like)]
#: A quantity (int32, positive).
Quantity = Annotated[int, Field(ge=1, le=INT32_MAX), BeforeValidator(_int_like)]


def _str_like(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a string")
    if isinstance(value, int | float):
        return str(value)
    return value


#: A string that some clients send as a number (offer ids, barcodes, posting numbers).
LooseStr = Annotated[str, Field(max_length=2000), BeforeValidator(_str_like)]


def _bool_like(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in {"true", "false", "1", "0"}:
        return value.strip().lower() in {"true", "1"}
    return value


Bool = Annotated[bool, BeforeValidator(_bool_like)]


def ci_enum(*values: str) -> Any:
    """A string type accepting ``values`` in any letter case, normalised to the listed spelling."""
    canonical = {v.lower(): v for v in values}

    def check(value: Any) -> str:
        if not isinstance(value, str) or value.strip().lower() not in canonical:
            raise ValueError(f"must be one of {', '.join(values)} (any case)")
        return canonical[value.strip().lower()]

    return Annotated[str, BeforeValidator(check)]


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
