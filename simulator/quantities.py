"""Bounded numbers for scenario fields: finite, and in a range that makes physical sense.

Each is an ``Annotated`` type carrying its range, so a field states its unit and its range
in one word: ``drain_hours: Hours = Field(default=0, description=...)``. To narrow a range,
use another type rather than ``Field(ge=...)`` on the field: pydantic keeps the type's own
bound of the same kind. ``inf`` and ``NaN`` are refused by the models' ``allow_inf_nan=False``.
The upper ends are generous: far beyond any real network, close enough that arithmetic on
them stays finite and a run stays countable.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_HOURS = 24 * 366  # a simulated year (and a day): horizons, drains, offsets, windows
MAX_PER_HOUR = 10_000_000  # orders, units or parcels per hour: Ozon's whole peak is < 1 %

Hours = Annotated[float, Field(ge=0, le=MAX_HOURS)]
"""A time span or an offset from the scenario start, in hours."""
PositiveHours = Annotated[float, Field(gt=0, le=MAX_HOURS)]
Days = Annotated[float, Field(ge=0, le=3660)]
"""Days of demand cover (a planner's ample stock is 1,000) or of a promise; ten years at most."""
PositiveDays = Annotated[float, Field(gt=0, le=3660)]
Minutes = Annotated[float, Field(ge=0, le=7 * 1440)]
"""Short handling times within a node (at most a week)."""
WaveMinutes = Annotated[int, Field(gt=0, le=1440)]
"""A wave or bin length: a whole number of minutes, at most a day."""
PerHour = Annotated[float, Field(ge=0, le=MAX_PER_HOUR)]
"""A rate or a capacity per hour (orders, units, parcels)."""
PositivePerHour = Annotated[float, Field(gt=0, le=MAX_PER_HOUR)]
Probability = Annotated[float, Field(ge=0, le=1)]
"""A probability or a fraction of a whole."""
Share = Annotated[float, Field(gt=0, le=1)]
"""A non-empty fraction of a whole."""
Factor = Annotated[float, Field(ge=0, le=1000)]
"""A relative factor (hour of day, weekday, a cost rate)."""
Multiplier = Annotated[float, Field(gt=0, le=1000)]
"""A factor that scales something up or down, never to nothing (a peak)."""
Rub = Annotated[float, Field(ge=0, le=1e9)]
"""Money in roubles (a price, a cost per parcel)."""
Kg = Annotated[float, Field(gt=0, le=50_000)]
"""A weight in kilograms."""
Count = Annotated[int, Field(ge=0, le=1_000_000_000)]
"""Units of stock, SKU numbers."""
PositiveCount = Annotated[int, Field(ge=1, le=1_000_000_000)]
"""Parcels per truck."""
Seed = Annotated[int, Field(ge=0, le=2**63 - 1)]
"""A random seed (numpy takes any non-negative integer; this one fits a database column)."""
Milliseconds = Annotated[float, Field(gt=0, le=3_600_000)]
"""A latency bound (at most an hour)."""
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)]
"""An identifier that is also safe as a file or directory name (no ``..``, no ``/``)."""
Text = Annotated[str, Field(max_length=10_000)]
"""Free text for people (names, cities, descriptions)."""
MAX_MAGNITUDE = 100_000
Magnitude = Annotated[float, Field(ge=0, le=MAX_MAGNITUDE)]
"""A distribution's parameter, in the unit of the field holding it (hours, minutes, days)."""
PositiveMagnitude = Annotated[float, Field(gt=0, le=MAX_MAGNITUDE)]
