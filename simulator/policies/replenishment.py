"""Built-in replenishment policies: how many units a warehouse orders from its supplier now.

Each decision is a pure function of one ``InventoryState``; levels are compared with the
inventory position (available + on order). Days-based levels are multiples of the state's
``mean_daily_demand``, rounded up to whole units. ``s_S`` and ``base_stock`` also take
``levels``: absolute units per (SKU, warehouse) that override the days-based levels for
those pairs (the stock planner writes them), as a mapping
``{(sku, warehouse): (reorder_point, order_up_to)}`` or, as a scenario file can spell it, a
list of ``{sku, warehouse, reorder_point, order_up_to}`` records.

Quantities are whole, never negative, and never lift the inventory position above the
policy's order-up-to level (for (r, Q): above r + Q).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from simulator.policies.base import InventoryBatch, InventoryState, replenishment_policies
from simulator.policies.levels import exponential_smoothing, safety_factor

__all__ = ["BaseStock", "ForecastDriven", "PeriodicReview", "RQ", "SS"]

LevelTable = dict[tuple[int, str], tuple[int, int]]


def _number(what: str, value: Any, *, minimum: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValueError(f"{what} must be a number, got {value!r}")
    if value < minimum or (strict and value == minimum) or math.isinf(value):
        raise ValueError(f"{what} must be {'>' if strict else '>='} {minimum:g}, got {value!r}")
    return float(value)


def _review(what: str, review_hours: Any) -> float | None:
    return None if review_hours is None else _number(what, review_hours, strict=True)


def _units(days: float, state: InventoryState) -> int:
    """Days of mean daily demand as whole units (rounded up; a hair of float noise ignored)."""
    return max(0, math.ceil(days * state.mean_daily_demand - 1e-9))


def _units_of(days: float, batch: InventoryBatch) -> np.ndarray:
    """``_units`` of every state of a batch."""
    return np.maximum(0, np.ceil(days * batch.mean_daily_demand - 1e-9)).astype(np.int64)


def _whole(what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a whole number of units, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{what} must be a whole number of units, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value!r}")
    return int(value)


def _level_table(policy: str, levels: Any) -> LevelTable:
    """Validate ``levels`` (a mapping or a list of records) into {(sku, wh): (rop, out)}."""
    if levels is None:
        return {}
    items: list[tuple[Any, Any, Any]] = []
    if isinstance(levels, Mapping):
        for key, value in levels.items():
            if not (isinstance(key, tuple) and len(key) == 2):
                raise ValueError(f"{policy}: levels keys must be (sku, warehouse), got {key!r}")
            items.append((key[0], key[1], value))
    elif isinstance(levels, Sequence) and not isinstance(levels, str):
        for i, rec in enumerate(levels):
            fields = {"sku", "warehouse", "reorder_point", "order_up_to"}
            if not isinstance(rec, Mapping) or set(rec) != fields:
                raise ValueError(
                    f"{policy}: levels[{i}] must have exactly the keys {sorted(fields)}"
                )
            items.append((rec["sku"], rec["warehouse"], (rec["reorder_point"], rec["order_up_to"])))
    else:
        raise ValueError(
            f"{policy}: levels must be a mapping or a list, got {type(levels).__name__}"
        )
    table: LevelTable = {}
    for sku, warehouse, value in items:
        where = f"{policy}: levels[{sku!r}, {warehouse!r}]"
        if isinstance(sku, bool) or not isinstance(sku, int) or not isinstance(warehouse, str):
            raise ValueError(f"{where}: the key must be (int sku, str warehouse)")
        if not (isinstance(value, Sequence) and len(value) == 2):
            raise ValueError(f"{where} must be (reorder_point, order_up_to), got {value!r}")
        rop, out = (
            _whole(f"{where} reorder_point", value[0]),
            _whole(f"{where} order_up_to", value[1]),
        )
        if rop > out:
            raise ValueError(f"{where}: reorder_point {rop} exceeds order_up_to {out}")
        table[sku, warehouse] = (rop, out)
    return table


class _LevelIndex:
    """A level table as sorted pair codes (``sku * W + warehouse column``), for bulk lookups."""

    def __init__(self, table: LevelTable, warehouses: tuple[str, ...]) -> None:
        column = {w: i for i, w in enumerate(warehouses)}
        known = [(sku * len(warehouses) + column[w], rop, out)
                 for (sku, w), (rop, out) in table.items() if w in column]
        known.sort()
        self.warehouses = warehouses
        self.codes = np.array([k for k, _, _ in known], dtype=np.int64)
        self.reorder_point = np.array([r for _, r, _ in known], dtype=np.int64)
        self.order_up_to = np.array([o for _, _, o in known], dtype=np.int64)

    def lookup(self, batch: InventoryBatch) -> tuple[np.ndarray, np.ndarray]:
        """Index into the table per state, and whether the pair has levels there."""
        codes = batch.sku.astype(np.int64) * len(self.warehouses) + batch.warehouse
        at = np.minimum(np.searchsorted(self.codes, codes), max(self.codes.size - 1, 0))
        found = (self.codes[at] == codes) if self.codes.size else np.zeros(codes.size, bool)
        return at, found


class _Policy:
    """Shared repr and an explicit parameter record."""

    levels: LevelTable  # policies with absolute levels per pair (s_S, base_stock)
    _index: _LevelIndex | None = None

    def _levels(self, batch: InventoryBatch) -> tuple[np.ndarray, np.ndarray, _LevelIndex]:
        """The level table's entries for a batch: (index, has levels, table)."""
        warehouses = tuple(batch.warehouses)  # (a list compares unequal to the tuple kept)
        if self._index is None or self._index.warehouses != warehouses:
            self._index = _LevelIndex(self.levels, warehouses)
        at, found = self._index.lookup(batch)
        return at, found, self._index

    name: ClassVar[str]
    review_hours: float | None = None

    def params(self) -> dict[str, Any]:
        raise NotImplementedError

    def __repr__(self) -> str:
        shown = [
            f"{k}=<{len(v)} pairs>" if k == "levels" else f"{k}={v!r}"
            for k, v in self.params().items()
        ]
        return f"{type(self).__name__}({', '.join(shown)})"


# --------------------------------------------------------------------------- policies


@replenishment_policies.register
class SS(_Policy):
    """(s, S): when the inventory position is at or below s, order up to S.

    s = ``s_days`` and S = ``S_days`` of mean daily demand, unless ``levels`` gives absolute
    (s, S) for the pair. Continuous review unless ``review_hours`` is given.
    """

    name: ClassVar[str] = "s_S"

    def __init__(
        self,
        s_days: float = 3.0,
        S_days: float = 7.0,
        levels: Any = None,
        review_hours: float | None = None,
    ) -> None:
        self.s_days = _number("s_S: s_days", s_days)
        self.S_days = _number("s_S: S_days", S_days)
        if self.S_days < self.s_days:
            raise ValueError(f"s_S: S_days ({S_days}) must be >= s_days ({s_days})")
        self.levels = _level_table("s_S", levels)
        self.review_hours = _review("s_S: review_hours", review_hours)

    def params(self) -> dict[str, Any]:
        return {
            "s_days": self.s_days,
            "S_days": self.S_days,
            "levels": self.levels,
            "review_hours": self.review_hours,
        }

    def reorder_levels(self, state: InventoryState) -> tuple[int, int]:
        """(s, S) in units for this state."""
        fixed = self.levels.get((state.sku, state.warehouse))
        return (
            fixed if fixed is not None else (_units(self.s_days, state), _units(self.S_days, state))
        )

    def order_quantity(self, state: InventoryState) -> int:
        s, big_s = self.reorder_levels(state)
        position = state.inventory_position
        return big_s - position if position <= s and position < big_s else 0

    def order_quantities(self, batch: InventoryBatch) -> np.ndarray:
        """``order_quantity`` of every state of a batch."""
        at, fixed, table = self._levels(batch)
        s = np.where(fixed, table.reorder_point[at] if fixed.any() else 0,
                     _units_of(self.s_days, batch))
        big_s = np.where(fixed, table.order_up_to[at] if fixed.any() else 0,
                         _units_of(self.S_days, batch))
        position = batch.inventory_position
        return np.where((position <= s) & (position < big_s), big_s - position, 0)


@replenishment_policies.register
class RQ(_Policy):
    """(r, Q): when the inventory position is at or below r, order the smallest multiple of Q
    that lifts it above r (a single Q in the usual case).

    r = ``r_days`` of mean daily demand; Q = ``Q_days`` of mean daily demand or ``Q_units``
    (give one of them).
    """

    name: ClassVar[str] = "r_Q"

    def __init__(
        self,
        r_days: float = 3.0,
        Q_days: float | None = None,
        Q_units: int | None = None,
        review_hours: float | None = None,
    ) -> None:
        self.r_days = _number("r_Q: r_days", r_days)
        if Q_days is not None and Q_units is not None:
            raise ValueError("r_Q: give Q_days or Q_units, not both")
        if Q_days is None and Q_units is None:
            Q_days = 7.0
        self.Q_days = None if Q_days is None else _number("r_Q: Q_days", Q_days, strict=True)
        self.Q_units = None if Q_units is None else _whole("r_Q: Q_units", Q_units)
        if self.Q_units == 0:
            raise ValueError("r_Q: Q_units must be >= 1")
        self.review_hours = _review("r_Q: review_hours", review_hours)

    def params(self) -> dict[str, Any]:
        return {
            "r_days": self.r_days,
            "Q_days": self.Q_days,
            "Q_units": self.Q_units,
            "review_hours": self.review_hours,
        }

    def reorder_levels(self, state: InventoryState) -> tuple[int, int]:
        """(r, Q) in units for this state."""
        q = self.Q_units if self.Q_units is not None else _units(self.Q_days or 0.0, state)
        return _units(self.r_days, state), q

    def order_quantity(self, state: InventoryState) -> int:
        r, q = self.reorder_levels(state)
        position = state.inventory_position
        if position > r or q <= 0:
            return 0
        return ((r - position) // q + 1) * q

    def order_quantities(self, batch: InventoryBatch) -> np.ndarray:
        """``order_quantity`` of every state of a batch."""
        r = _units_of(self.r_days, batch)
        q = (np.full(r.size, self.Q_units, dtype=np.int64) if self.Q_units is not None
             else _units_of(self.Q_days or 0.0, batch))
        position = batch.inventory_position
        order = (position <= r) & (q > 0)
        return np.where(order, ((r - position) // np.maximum(q, 1) + 1) * q, 0)


@replenishment_policies.register
class BaseStock(_Policy):
    """Base-stock (order-up-to): order whatever lifts the inventory position to the level.

    Level = ``level_days`` of mean daily demand, or the ``order_up_to`` of ``levels`` for the
    pair (its reorder point is not used). Continuous review by default (``review_hours``
    None): with unit demands that is one unit ordered per unit sold, the (S-1, S) policy.
    """

    name: ClassVar[str] = "base_stock"

    def __init__(
        self, level_days: float = 7.0, levels: Any = None, review_hours: float | None = None
    ) -> None:
        self.level_days = _number("base_stock: level_days", level_days)
        self.levels = _level_table("base_stock", levels)
        self.review_hours = _review("base_stock: review_hours", review_hours)

    def params(self) -> dict[str, Any]:
        return {
            "level_days": self.level_days,
            "levels": self.levels,
            "review_hours": self.review_hours,
        }

    def order_up_to(self, state: InventoryState) -> int:
        fixed = self.levels.get((state.sku, state.warehouse))
        return fixed[1] if fixed is not None else _units(self.level_days, state)

    def order_quantity(self, state: InventoryState) -> int:
        return max(0, self.order_up_to(state) - state.inventory_position)

    def order_quantities(self, batch: InventoryBatch) -> np.ndarray:
        """``order_quantity`` of every state of a batch."""
        at, fixed, table = self._levels(batch)
        level = np.where(fixed, table.order_up_to[at] if fixed.any() else 0,
                         _units_of(self.level_days, batch))
        return np.maximum(0, level - batch.inventory_position)


@replenishment_policies.register
class PeriodicReview(_Policy):
    """Periodic review (R, S): every ``review_hours``, order up to S = ``S_days`` of demand."""

    name: ClassVar[str] = "periodic_review"

    def __init__(self, review_hours: float = 24.0, S_days: float = 7.0) -> None:
        self.review_hours = _number("periodic_review: review_hours", review_hours, strict=True)
        self.S_days = _number("periodic_review: S_days", S_days)

    def params(self) -> dict[str, Any]:
        return {"review_hours": self.review_hours, "S_days": self.S_days}

    def order_up_to(self, state: InventoryState) -> int:
        return _units(self.S_days, state)

    def order_quantity(self, state: InventoryState) -> int:
        return max(0, self.order_up_to(state) - state.inventory_position)

    def order_quantities(self, batch: InventoryBatch) -> np.ndarray:
        """``order_quantity`` of every state of a batch."""
        return np.maximum(0, _units_of(self.S_days, batch) - batch.inventory_position)


@replenishment_policies.register
class ForecastDriven(_Policy):
    """Forecast-driven order-up-to: exponential smoothing plus safety stock, reviewed every R.

    Daily demand is forecast by simple exponential smoothing of ``demand_history`` (smoothing
    constant ``alpha``; no history: ``mean_daily_demand``); its sd is the RMSE of the
    one-step forecasts when there are at least two errors, else ``sd_daily_demand``. The
    level covers the protection interval P = lead time + review period (days):

        S = ceil(f P + z sqrt(P sigma^2 + f^2 sigma_L^2)),  z = Phi^-1(service_level)

    where ``service_level`` is the cycle service level (see levels.safety_stock).
    ``review_hours`` None means continuous review (P = lead time).
    """

    name: ClassVar[str] = "forecast"

    def __init__(
        self, alpha: float = 0.3, service_level: float = 0.95, review_hours: float | None = 24.0
    ) -> None:
        self.alpha = _number("forecast: alpha", alpha, strict=True)
        if self.alpha > 1:
            raise ValueError(f"forecast: alpha must be <= 1, got {alpha!r}")
        level = _number("forecast: service_level", service_level, strict=True)
        if level >= 1:
            raise ValueError(f"forecast: service_level must be < 1, got {service_level!r}")
        self.service_level = level
        self._z = safety_factor(level)
        self.review_hours = _review("forecast: review_hours", review_hours)

    def params(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "service_level": self.service_level,
            "review_hours": self.review_hours,
        }

    def forecast(self, state: InventoryState) -> tuple[float, float]:
        """(daily demand forecast, its sd) for this state."""
        if state.demand_history:
            level, rmse = exponential_smoothing(state.demand_history, self.alpha)
        else:
            level, rmse = state.mean_daily_demand, None
        return max(0.0, level), state.sd_daily_demand if rmse is None else rmse

    def order_up_to(self, state: InventoryState) -> int:
        f, sigma = self.forecast(state)
        protection = max(0.0, state.lead_time_days) + (self.review_hours or 0.0) / 24.0
        spread = math.sqrt(protection * sigma**2 + (f * state.lead_time_sd_days) ** 2)
        return max(0, math.ceil(f * protection + self._z * spread - 1e-9))

    def order_quantity(self, state: InventoryState) -> int:
        return max(0, self.order_up_to(state) - state.inventory_position)
