"""Time zones: IANA names checked on loading, and each node's offset from the platform's clock.

The model clock runs in the platform's zone (``clock.time_zone``; Ozon announces sales in
Moscow time). Every node and region may have its own zone (``time_zone``; default: the
platform's); times of day written for a node (shifts, cut-offs, departures, the demand
profile of a region) are its local times. A run converts them once: each node gets its
offset in whole minutes, local minus platform, taken at ``clock.start`` (a daylight-saving
change inside a run is not followed; Russia has none since 2014).
"""

from __future__ import annotations

import difflib
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

PLATFORM_ZONE = "Europe/Moscow"


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_zone(name: str) -> str:
    """``name`` if it is an IANA time zone, else ValueError with the closest names."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, sorted(_known_zones()), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else \
            " (an IANA name such as 'Asia/Vladivostok')"
        raise ValueError(f"unknown time zone {name!r}{hint}") from None
    return name


def offset_minutes(zone: str | None, platform: str, start: str) -> int:
    """Minutes a clock in ``zone`` is ahead of the ``platform`` clock at ``start``
    (a platform-local ISO date-time); 0 for ``None`` (the platform's zone)."""
    if zone is None or zone == platform:
        return 0
    when = datetime.fromisoformat(start).replace(tzinfo=ZoneInfo(platform))
    local = when.astimezone(ZoneInfo(zone)).utcoffset() or timedelta(0)
    return round((local - (when.utcoffset() or timedelta(0))).total_seconds() / 60)


def local_midnight(start: str, offset: int, day: date) -> float:
    """Model minute at which ``day`` begins on a clock ``offset`` minutes ahead of the
    platform's (minute 0 is ``start``)."""
    origin = datetime.fromisoformat(start)
    return (datetime.combine(day, datetime.min.time()) - origin).total_seconds() / 60 - offset
