"""The two policy extension points, the value objects they see, and the name registry.

Policies are pure Python (no SimPy, no HTTP): the simulator and the reference backend
call the same objects. A policy is a small class whose constructor validates its own
parameters and whose one method decides. Third-party policies register through the
``peakline.allocation`` / ``peakline.replenishment`` entry-point groups and are then
named in a scenario file like the built-ins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

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


@runtime_checkable
class AllocationPolicy(Protocol):
    """Decides which warehouse serves each order line (possibly split), or refuses."""

    name: ClassVar[str]

    def allocate(
        self, order: OrderRequest, stock: StockView, network: NetworkView
    ) -> Allocation | Refusal: ...


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


@runtime_checkable
class ReplenishmentPolicy(Protocol):
    """Decides how many units of a SKU a warehouse orders from its supplier now.

    ``review_hours`` is the review period: ``None`` means continuous review (the caller asks
    after every stock change), a number means the caller asks every that many hours.
    """

    name: ClassVar[str]
    review_hours: float | None

    def order_quantity(self, state: InventoryState) -> int: ...


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
    """Name -> policy class, filled by built-ins and by an entry-point group."""

    def __init__(self, kind: str, group: str) -> None:
        self.kind, self.group = kind, group
        self._classes: dict[str, Callable[..., P]] = {}
        self._loaded_entry_points = False

    def register(self, cls: type[P]) -> type[P]:
        """Class decorator: register under ``cls.name``."""
        self._classes[cls.name] = cls  # type: ignore[attr-defined]
        return cls

    def _load_entry_points(self) -> None:
        if not self._loaded_entry_points:
            self._loaded_entry_points = True
            for ep in entry_points(group=self.group):
                self._classes.setdefault(ep.name, ep.load())

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._classes)

    def create(self, name: str, params: Mapping[str, Any] | None = None) -> P:
        """Build the named policy; its constructor validates ``params``."""
        self._load_entry_points()
        if name not in self._classes:
            raise UnknownPolicy(self.kind, name, list(self._classes))
        return self._classes[name](**dict(params or {}))


allocation_policies: Registry[AllocationPolicy] = Registry("allocation", "peakline.allocation")
replenishment_policies: Registry[ReplenishmentPolicy] = Registry(
    "replenishment", "peakline.replenishment"
)
