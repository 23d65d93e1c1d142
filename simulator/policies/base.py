"""The two policy extension points, the value objects they see, and the name registry.

Policies are pure Python (no SimPy, no HTTP): the simulator and the reference backend
call the same objects. A policy is a small class whose constructor validates its own
parameters and whose one method decides. Third-party policies register through the
``peakline.allocation`` / ``peakline.replenishment`` entry-point groups and are then
named in a scenario file like the built-ins.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

# --------------------------------------------------------------------------- allocation


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: int
    quantity: int


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What a buyer asked for: lines of (SKU, quantity) and the region to deliver to."""

    region: str
    lines: tuple[OrderLine, ...]


@runtime_checkable
class StockView(Protocol):
    """Read-only stock: units available (present - reserved) of a SKU at a warehouse."""

    def available(self, sku: int, warehouse: str) -> int: ...


@runtime_checkable
class NetworkView(Protocol):
    """Read-only network facts an allocation may weigh."""

    @property
    def warehouses(self) -> Sequence[str]: ...

    def transit_hours(self, warehouse: str, region: str) -> float:
        """Expected door-to-door transit by the routed path (inf when unreachable)."""
        ...

    def cost_per_parcel(self, warehouse: str, region: str) -> float:
        """Transport cost of one parcel by the routed path (inf when unreachable)."""
        ...

    def load(self, warehouse: str) -> float:
        """Current backlog in hours of the warehouse's pick capacity (0 = idle)."""
        ...

    def is_open(self, warehouse: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Pick:
    """Part of an order line served from one warehouse."""

    line: int  # index into OrderRequest.lines
    warehouse: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Allocation:
    """Where each line is served from; the lines of one warehouse form one posting."""

    picks: tuple[Pick, ...]

    def warehouses(self) -> list[str]:
        return sorted({pick.warehouse for pick in self.picks})


@dataclass(frozen=True, slots=True)
class Refusal:
    """The order cannot be served as asked (e.g. short stock); nothing is reserved."""

    reason: str
    lines: tuple[int, ...] = ()  # indexes of the lines that could not be served


class RefusalReason(StrEnum):
    """The ``Refusal.reason`` values the built-in policies give (plugins may add others)."""

    OUT_OF_STOCK = "out_of_stock"  # the open network as a whole lacks stock for some lines
    NOT_IN_ONE_WAREHOUSE = "not_in_one_warehouse"  # no single warehouse holds the whole order
    NO_OPEN_WAREHOUSE = "no_open_warehouse"  # every warehouse is closed or unreachable


@runtime_checkable
class AllocationPolicy(Protocol):
    """Decides which warehouse serves each order line (possibly split), or refuses."""

    name: ClassVar[str]

    def allocate(
        self, order: OrderRequest, stock: StockView, network: NetworkView
    ) -> Allocation | Refusal: ...


@runtime_checkable
class PlainCases(Protocol):
    """An allocation policy that can say in advance what it does with the plain orders of a
    region, so the simulator decides those in bulk (numpy) and calls ``allocate`` only for
    the rest. What it says must agree with ``allocate`` exactly.

    ``preferences(region, network)`` returns ``(preferred, usable)``, warehouse ids: when every
    line of an order from ``region`` is held in full by one of ``preferred``, ``allocate``
    serves each line in full from the first of ``preferred`` holding it; when some line asks
    for more than all of ``usable`` hold together, ``allocate`` refuses the order. Both may
    depend on which warehouses are open, not on stock or load.
    """

    def preferences(
        self, region: str, network: NetworkView
    ) -> tuple[tuple[str, ...], tuple[str, ...]]: ...


class MappingStock:
    """A StockView over a mapping ``{(sku, warehouse): available units}`` (missing = 0).

    The backend builds one from its stock rows (present - reserved) for the SKUs of an order;
    tests use it directly.
    """

    __slots__ = ("_units",)

    def __init__(self, units: Mapping[tuple[int, str], int]) -> None:
        self._units = dict(units)

    def available(self, sku: int, warehouse: str) -> int:
        return self._units.get((sku, warehouse), 0)


class StaticNetwork:
    """A NetworkView over plain mappings keyed by ``(warehouse, region)``.

    Missing transit or cost means unreachable (inf); missing load means idle; warehouses in
    ``closed`` are not open. The backend builds one from a scenario's route tables.
    """

    def __init__(
        self,
        warehouses: Sequence[str],
        transit_hours: Mapping[tuple[str, str], float],
        cost_per_parcel: Mapping[tuple[str, str], float] | None = None,
        load: Mapping[str, float] | None = None,
        closed: Sequence[str] = (),
    ) -> None:
        self._warehouses = tuple(warehouses)
        self._transit = dict(transit_hours)
        self._cost = dict(cost_per_parcel or {})
        self.loads: dict[str, float] = dict(load or {})  # mutable: update as backlog changes
        self.closed: set[str] = set(closed)  # mutable: open/close warehouses

    @property
    def warehouses(self) -> Sequence[str]:
        return self._warehouses

    def transit_hours(self, warehouse: str, region: str) -> float:
        return self._transit.get((warehouse, region), math.inf)

    def cost_per_parcel(self, warehouse: str, region: str) -> float:
        return self._cost.get((warehouse, region), math.inf)

    def load(self, warehouse: str) -> float:
        return self.loads.get(warehouse, 0.0)

    def is_open(self, warehouse: str) -> bool:
        return warehouse not in self.closed


# --------------------------------------------------------------------------- replenishment


@dataclass(frozen=True, slots=True)
class InventoryState:
    """What a replenishment decision may see of one (SKU, warehouse)."""

    sku: int
    warehouse: str
    time_hours: float
    on_hand: int  # present in the warehouse (reserved units included)
    reserved: int
    on_order: int  # ordered from the supplier, not yet received
    mean_daily_demand: float  # recent demand estimate, units/day
    sd_daily_demand: float
    lead_time_days: float  # expected supplier lead time
    lead_time_sd_days: float = 0.0
    demand_history: tuple[float, ...] = field(default=())  # recent daily demand, oldest first

    @property
    def inventory_position(self) -> int:
        """Available plus on order: the quantity reorder rules compare with their levels."""
        return self.on_hand - self.reserved + self.on_order


@dataclass(frozen=True)
class InventoryBatch:
    """Many ``InventoryState`` side by side (arrays, one entry per (SKU, warehouse) pair;
    ``warehouse`` indexes ``warehouses``), for policies that decide in bulk. Recent daily
    demand is not included: a policy that needs it decides one state at a time."""

    sku: np.ndarray
    warehouse: np.ndarray
    warehouses: tuple[str, ...]
    time_hours: float
    on_hand: np.ndarray
    reserved: np.ndarray
    on_order: np.ndarray
    mean_daily_demand: np.ndarray
    sd_daily_demand: np.ndarray
    lead_time_days: np.ndarray  # of each pair's supplier
    lead_time_sd_days: np.ndarray

    @property
    def inventory_position(self) -> np.ndarray:
        return self.on_hand - self.reserved + self.on_order


@runtime_checkable
class ReplenishmentPolicy(Protocol):
    """Decides how many units of a SKU a warehouse orders from its supplier now.

    ``review_hours`` is the review period: ``None`` means continuous review (the caller asks
    after every stock change), a number means the caller asks every that many hours.
    """

    name: ClassVar[str]
    review_hours: float | None

    def order_quantity(self, state: InventoryState) -> int: ...


def bulk_method(policy: Any, bulk: str, single: str) -> Callable[..., Any] | None:
    """``policy.<bulk>`` (a bulk form of the decision ``<single>``: ``order_quantities`` of
    ``order_quantity``, ``preferences`` of ``allocate``) when the class that defines it also
    defines ``<single>``; None otherwise, so a subclass overriding only the one-by-one
    decision keeps being asked one by one."""
    owner = {name: next((c for c in type(policy).__mro__ if name in vars(c)), None)
             for name in (bulk, single)}
    if owner[bulk] is None or owner[bulk] is not owner[single]:
        return None
    return getattr(policy, bulk)


# --------------------------------------------------------------------------- registry

P = TypeVar("P")


class UnknownPolicy(KeyError):
    """No policy of that name is registered."""

    def __init__(self, kind: str, name: str, known: Sequence[str]) -> None:
        self.kind, self.name, self.known = kind, name, list(known)
        super().__init__(f"unknown {kind} policy {name!r}; known: {', '.join(sorted(known))}")

    def __str__(self) -> str:
        return self.args[0]


class Registry(Generic[P]):
    """Name -> policy class, filled by built-ins and by an entry-point group.

    Entry points are discovered lazily (their names are listed without importing them) and
    loaded on first use; a built-in of the same name wins. ``refresh()`` rescans the group,
    e.g. after a plugin was installed into the running interpreter.
    """

    def __init__(self, kind: str, group: str) -> None:
        self.kind, self.group = kind, group
        self._classes: dict[str, Callable[..., P]] = {}
        self._entry_points: dict[str, EntryPoint] | None = None
        self._loaded: dict[str, Callable[..., P]] = {}

    def register(self, cls: type[P]) -> type[P]:
        """Class decorator: register under ``cls.name``."""
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{cls.__qualname__} needs a non-empty `name: ClassVar[str]`")
        self._classes[name] = cls
        return cls

    def refresh(self) -> None:
        """Forget discovered entry points; the next lookup scans the group again."""
        self._entry_points = None
        self._loaded = {}

    def _discovered(self) -> dict[str, EntryPoint]:
        if self._entry_points is None:
            self._entry_points = {ep.name: ep for ep in entry_points(group=self.group)}
        return self._entry_points

    def names(self) -> list[str]:
        return sorted(set(self._classes) | set(self._discovered()))

    def get(self, name: str) -> Callable[..., P]:
        """The class registered under ``name`` (loading its entry point if needed)."""
        if name in self._classes:
            return self._classes[name]
        if name in self._loaded:
            return self._loaded[name]
        ep = self._discovered().get(name)
        if ep is None:
            raise UnknownPolicy(self.kind, name, self.names())
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must say which one
            raise ValueError(
                f"{self.kind} policy {name!r}: entry point {ep.value!r} "
                f"(group {self.group}) failed to load: {exc}"
            ) from exc
        self._loaded[name] = cls
        return cls

    def create(self, name: str, params: Mapping[str, Any] | None = None) -> P:
        """Build the named policy; its constructor validates ``params``.

        Raises UnknownPolicy (lists the known names) for an unknown name and ValueError for
        parameters the constructor does not accept or misses.
        """
        cls = self.get(name)
        params = dict(params or {})
        _check_params(f"{self.kind} policy {name!r}", cls, params)
        return cls(**params)


def _check_params(what: str, cls: Callable[..., Any], params: Mapping[str, Any]) -> None:
    """ValueError naming unknown or missing parameters (instead of a bare TypeError)."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):  # no introspectable signature: let the call decide
        return
    accepted = [
        p for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        unknown = sorted(set(params) - {p.name for p in accepted})
        if unknown:
            known = ", ".join(p.name for p in accepted) or "none"
            raise ValueError(
                f"{what}: unknown parameter(s) {', '.join(map(repr, unknown))}; accepted: {known}"
            )
    missing = [p.name for p in accepted if p.default is p.empty and p.name not in params]
    if missing:
        raise ValueError(f"{what}: missing required parameter(s) {', '.join(missing)}")


allocation_policies: Registry[AllocationPolicy] = Registry("allocation", "peakline.allocation")
replenishment_policies: Registry[ReplenishmentPolicy] = Registry(
    "replenishment", "peakline.replenishment"
)
