"""Scenario files: pydantic models of the YAML that describes one world, and ``load_scenario``.

One scenario file is read by the simulator, the stock planner and the load test. Units are
in the field names (``_hours``, ``_minutes``, ``_days``, ``_kg``, ``_rub``); the model clock
counts minutes from the scenario start. Unknown keys are errors, so a typo never passes
silently; :class:`ScenarioError` names the file, the field path and the problem.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import networkx as nx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

import simulator.policies  # noqa: F401  (registers the built-in policies)
from simulator.distributions import Constant, CountDistribution, Distribution, ShiftedPoisson
from simulator.policies.base import UnknownPolicy, allocation_policies, replenishment_policies
from simulator.quantities import (
    Count,
    Days,
    Factor,
    Hours,
    Kg,
    Milliseconds,
    Minutes,
    Multiplier,
    Name,
    PerHour,
    PositiveCount,
    PositiveDays,
    PositiveHours,
    PositivePerHour,
    Probability,
    Rub,
    Seed,
    Share,
    Text,
    WaveMinutes,
)
from simulator.safe_yaml import YamlFileError, read_yaml
from simulator.zones import PLATFORM_ZONE, check_zone

MAX_COUNTS = {"lines_per_order": 100, "units_per_line": 10_000}  # the most one order can hold
MAX_ORDERS_PER_HOUR = 1e9  # at the busiest hour, peaks and hour-of-day factors included
MIN_REVIEW_HOURS = 1.0  # a periodic review asks about every (SKU, warehouse) pair
MAX_PARAM = 1e9  # any number in policy parameters (days, units, hours)

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_LOCATED = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.+)$", re.DOTALL)


class Strict(BaseModel):
    """Base for scenario sections: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, validate_default=True,
        allow_inf_nan=False,
    )


def hhmm_to_minutes(value: str) -> int:
    """``"18:30"`` -> 1110 (minutes after midnight)."""
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def _check_hhmm(values: list[str]) -> list[str]:
    for value in values:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not a time of day HH:MM")
    return sorted(values)


# --------------------------------------------------------------------------- clock and demand


class Clock(Strict):
    """The simulated period: minute 0 is ``start``; series are binned at ``resolution_minutes``."""

    start: str = Field(
        default="2026-11-27T00:00",
        description="calendar time of minute 0 in the platform's zone (ISO-8601)",
    )
    time_zone: str = Field(
        default=PLATFORM_ZONE,
        description="the platform's IANA time zone: of start, of *_hour fields and of reports; "
        "the default zone of every node",
    )
    horizon_hours: PositiveHours
    resolution_minutes: WaveMinutes = 60
    warmup_hours: Hours = 0
    drain_hours: Hours = Field(
        default=0,
        description="extra time after the horizon with no new orders, to let flows finish",
    )

    @field_validator("start", mode="before")
    @classmethod
    def _calendar_time(cls, value: Any) -> Any:
        if isinstance(value, date):  # YAML reads an unquoted 2026-11-27 as a date
            value = value.isoformat()
        if isinstance(value, str):
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{value!r} is not an ISO date-time such as "
                                 "2026-11-27T00:00") from None
            if not 1900 <= when.year <= 2200:
                raise ValueError(f"year {when.year} is outside 1900..2200")
            if when.tzinfo is not None:
                raise ValueError(f"{value!r}: give the time without an offset; the zone is "
                                 "clock.time_zone")
        return value

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @property
    def horizon_minutes(self) -> float:
        return self.horizon_hours * 60

    @model_validator(mode="after")
    def _warmup_inside(self) -> Clock:
        if self.warmup_hours >= self.horizon_hours:
            raise ValueError("warmup_hours must be shorter than horizon_hours")
        return self


class Peak(Strict):
    """A demand multiplier over a window; overlapping peaks multiply.

    With ``sku_groups`` it is a promotion: only those groups' demand is multiplied.
    """

    name: Text
    start_hour: Hours = Field(description="hours from scenario start")
    duration_hours: PositiveHours
    multiplier: Multiplier
    sku_groups: list[str] | None = None
    local_time: bool = Field(
        default=False,
        description="start_hour on each region's own clock (a sale opening at local midnight "
        "everywhere) rather than the platform's",
    )

    @property
    def start_minute(self) -> float:
        return self.start_hour * 60

    @property
    def end_minute(self) -> float:
        return (self.start_hour + self.duration_hours) * 60


def _factors(value: list[float], n: int) -> list[float]:
    """``n`` relative factors normalised to mean 1."""
    if len(value) != n or min(value) < 0 or sum(value) <= 0:
        raise ValueError(f"needs exactly {n} non-negative factors, not all zero")
    mean = sum(value) / n
    return [v / mean for v in value]


class DemandShock(Strict):
    """The demand that happens = forecast x a lognormal factor of mean 1 and this ``cv``,
    drawn anew in every replication from its own random stream: one factor per SKU group
    and/or per region as ``per`` lists (one network-wide factor when empty)."""

    cv: float = Field(gt=0, le=3, description="coefficient of variation of the factor")
    per: list[Literal["sku_group", "region"]] = Field(default_factory=list)

    @field_validator("per")
    @classmethod
    def _once(cls, value: list[str]) -> list[str]:
        _unique(value, "per entry")
        return value


class Demand(Strict):
    """Buyer demand: a baseline rate shaped by hour of day, day of week and a peak calendar."""

    baseline_orders_per_hour: PositivePerHour = Field(
        description="network-wide, split across regions by their weight"
    )
    hour_of_day: list[Factor] = Field(
        default_factory=lambda: [1.0] * 24,
        description="24 relative factors, normalised to mean 1",
    )
    day_of_week: list[Factor] = Field(
        default_factory=lambda: [1.0] * 7,
        description="7 relative factors Monday..Sunday, normalised to mean 1",
    )
    peaks: list[Peak] = Field(default_factory=list, max_length=1000)
    cancel_probability: Probability = 0.02
    cancel_delay_hours: Distribution = Field(
        default_factory=lambda: {"dist": "exponential", "mean": 2.0}
    )
    return_probability: Probability = Field(
        default=0.0,
        description="chance a delivered posting is sent back by the buyer; returned units "
        "travel back to their warehouse and go on the shelf again (sellable)",
    )
    return_delay_hours: Distribution = Field(
        default_factory=lambda: {"dist": "gamma", "mean": 96.0, "sd": 48.0},
        description="delivery -> the buyer hands the return in (about four days)",
    )
    shock: DemandShock | None = Field(
        default=None, description="how far the demand that happens strays from the forecast")

    @field_validator("hour_of_day", "day_of_week")
    @classmethod
    def _shape(cls, value: list[float], info: ValidationInfo) -> list[float]:
        return _factors(value, 24 if info.field_name == "hour_of_day" else 7)

    @model_validator(mode="after")
    def _countable_peak(self) -> Demand:
        """Overlapping peaks multiply: the busiest hour must stay a rate a run can count."""
        worst, hour = 1.0, 0.0
        for peak in self.peaks:
            active = [p.multiplier for p in self.peaks
                      if p.start_hour <= peak.start_hour < p.start_hour + p.duration_hours]
            if math.prod(active) > worst:
                worst, hour = math.prod(active), peak.start_hour
        rate = (self.baseline_orders_per_hour * max(self.hour_of_day) * max(self.day_of_week)
                * worst)
        if rate > MAX_ORDERS_PER_HOUR:
            raise ValueError(f"peaks: at hour {hour:g} demand can reach {rate:.3g} orders/h; "
                             f"more than {MAX_ORDERS_PER_HOUR:.0e} cannot be simulated")
        return self


FORECAST_FIELDS = ("baseline_orders_per_hour", "hour_of_day", "day_of_week", "peaks")


class Forecast(Strict):
    """The demand stock and policy levels are planned on; a field left out is the demand's.

    ``initial`` stock by ``days_of_cover``, the replenishment policies' demand prior and the
    backend's warning lines come from the forecast; orders come from ``demand``.
    """

    baseline_orders_per_hour: PositivePerHour | None = None
    hour_of_day: list[Factor] | None = None
    day_of_week: list[Factor] | None = None
    peaks: list[Peak] | None = None

    @field_validator("hour_of_day", "day_of_week")
    @classmethod
    def _shape(cls, value: list[float] | None, info: ValidationInfo) -> list[float] | None:
        return None if value is None else _factors(value, 24 if info.field_name ==
                                                   "hour_of_day" else 7)


# --------------------------------------------------------------------------- catalogue


class SkuGroup(Strict):
    """A slice of the catalogue with its own prices, costs and weights."""

    name: Text
    share: Share = Field(description="fraction of the SKUs in this group")
    price_rub: tuple[Rub, Rub] = Field(description="[min, max], sampled log-uniformly")
    unit_cost_ratio: float = Field(default=0.6, gt=0, lt=1, description="unit cost / price")
    weight_kg: tuple[Kg, Kg] = Field(default=(0.2, 2.0), description="[min, max]")
    return_probability: Probability | None = Field(
        default=None, description="chance a delivered unit of this group is sent back; "
        "default demand.return_probability")

    @field_validator("price_rub", "weight_kg")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] <= value[1]:
            raise ValueError("needs 0 < min <= max")
        return value


class CatalogueSku(Strict):
    """One SKU of a catalogue listed by id (``catalogue.skus``): a seller's real SKU id and,
    when known, its price and its empirical popularity."""

    id: int = Field(ge=0, le=2**63 - 1, description="the seller's SKU id (Ozon ``sku``)")
    price_rub: Rub | None = Field(default=None, gt=0, description="replaces the group's draw")
    popularity: float | None = Field(
        default=None, ge=0, description="relative share of order lines (empirical); "
        "absent on every SKU: Zipf by list position")


class Catalogue(Strict):
    """SKUs, their popularity and what a basket looks like."""

    sku_count: int = Field(gt=0, le=1_000_000)
    zipf_exponent: float = Field(default=1.0, ge=0, le=10, description="popularity ~ 1 / rank^s")
    lines_per_order: CountDistribution = Field(
        default_factory=lambda: {"dist": "shifted_poisson", "mean": 1.6, "max": 10}
    )
    units_per_line: CountDistribution = Field(
        default_factory=lambda: {"dist": "shifted_poisson", "mean": 1.15, "max": 10}
    )
    groups: list[SkuGroup] = Field(min_length=1, max_length=100)
    seed: Seed = Field(default=1, description="fixes SKU attributes across replications")
    skus: list[CatalogueSku] | None = Field(
        default=None, description="the SKUs by id, most popular first (SKU k is skus[k])")

    @field_validator("lines_per_order", "units_per_line")
    @classmethod
    def _count_bounded(cls, value: Constant | ShiftedPoisson, info: ValidationInfo):
        limit = MAX_COUNTS[info.field_name]
        most = value.value if isinstance(value, Constant) else value.max
        if most > limit:
            raise ValueError(f"can reach {most:,g}; at most {limit:,} make sense")
        return value

    @model_validator(mode="after")
    def _shares(self) -> Catalogue:
        total = sum(g.share for g in self.groups)
        if abs(total - 1) > 1e-6:
            raise ValueError(f"group shares must sum to 1, not {total:g}")
        _unique([g.name for g in self.groups], "group name")
        return self

    @model_validator(mode="after")
    def _listed_skus(self) -> Catalogue:
        if self.skus is None:
            return self
        if len(self.skus) != self.sku_count:
            raise ValueError(f"skus: lists {len(self.skus)} SKUs, sku_count is {self.sku_count}")
        _unique([str(sku.id) for sku in self.skus], "SKU id")
        given = [sku.popularity is not None for sku in self.skus]
        if any(given) and not all(given):
            raise ValueError("skus: give popularity on every SKU or on none")
        if all(given) and sum(sku.popularity or 0 for sku in self.skus) <= 0:
            raise ValueError("skus: popularity must not be zero on every SKU")
        return self


# --------------------------------------------------------------------------- network


class Shift(Strict):
    """A working window of a node on some weekdays, or on given dates only (an extra peak
    shift); local time of the node; ``end`` before ``start`` crosses midnight."""

    start: str
    end: str
    capacity_per_hour: PerHour
    days: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        default_factory=lambda: list(range(7)), min_length=1, description="0=Monday .. 6=Sunday"
    )
    dates: list[date] = Field(
        default_factory=list, max_length=3660,
        description="run on these dates only (the day the shift starts), instead of days")

    @field_validator("start", "end")
    @classmethod
    def _time(cls, value: str) -> str:
        return _check_hhmm([value])[0]

    @field_validator("days", "dates")
    @classmethod
    def _distinct(cls, value: list[Any]) -> list[Any]:
        if len(set(value)) != len(value):
            raise ValueError("a day is given twice")
        return sorted(value)

    @model_validator(mode="after")
    def _days_or_dates(self) -> Shift:
        if self.dates and self.days != list(range(7)):
            raise ValueError("dates: give days (every week) or dates (those dates only), "
                             "not both")
        return self

    def runs_on(self, day: date) -> bool:
        """Whether the shift starts on ``day``."""
        return day in self.dates if self.dates else day.weekday() in self.days


class Node(Strict):
    id: Name
    name: Text
    city: Text
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    time_zone: str | None = Field(
        default=None, description="IANA zone of the node's times of day; default the platform's")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_zone(value)


class Facility(Node):
    """A node with staff: it can close for whole local days (a holiday)."""

    closed_dates: list[date] = Field(
        default_factory=list, max_length=3660,
        description="local dates it does not work at all (00:00-24:00), as a node fault")


class Region(Node):
    """Where buyers live: demand weight and the promised delivery time."""

    weight: float = Field(gt=0, le=1e9, description="share of demand (e.g. population, millions)")
    promised_days: PositiveDays = 3


class Warehouse(Facility):
    """A fulfilment warehouse: picks and packs units in waves, limited by its shifts."""

    shifts: list[Shift] = Field(
        min_length=1, max_length=100, description="units picked per hour in each shift"
    )
    wave_minutes: WaveMinutes = 30
    pack_minutes: Minutes = Field(default=20, description="from wave release to handover")
    rfbs: bool = Field(default=False, description="the seller delivers from it itself (Ozon's "
                       "rFBS); in the backend its buyers file return requests the seller decides")


class SortingCentre(Facility):
    """Sorts parcels (per hour, in waves) and hands them to line-haul by cut-off times."""

    capacity_per_hour: PositivePerHour
    wave_minutes: WaveMinutes = 15
    cutoffs: list[str] = Field(
        default_factory=list, max_length=1440, description="HH:MM outbound cut-offs"
    )
    late_tolerance_hours: Hours = Field(
        default=24, description="a parcel queued longer than this is not_accepted"
    )
    servers: int | None = Field(
        default=None,
        gt=0,
        le=10_000,
        description="parcel-level mode: this many sorters, each taking service_minutes per "
        "parcel, first come first served (instead of waves); for validation and detail studies",
    )
    service_minutes: Distribution | None = None
    when_closed: Literal["refuse", "hold"] = Field(
        default="refuse",
        description="parcels reaching the centre while it is closed (already on a truck): "
        "refuse them (not_accepted) or hold them at the gate until it reopens",
    )

    @field_validator("cutoffs")
    @classmethod
    def _times(cls, value: list[str]) -> list[str]:
        return _check_hhmm(value)

    @model_validator(mode="after")
    def _servers_mode(self) -> SortingCentre:
        if (self.servers is None) != (self.service_minutes is None):
            raise ValueError("give both servers and service_minutes, or neither")
        return self


class Hub(Facility):
    """A last-mile hub (or pickup-point cluster) that delivers to regions."""

    capacity_per_hour: PositivePerHour


class Lane(Strict):
    """A directed transport link. Trucks leave at ``departures`` (local time of ``from``), or
    parcels go continuously if none. A pair of nodes may have one lane per ``mode``."""

    from_: str = Field(alias="from")
    to: str
    mode: Literal["truck", "rail", "air", "van", "courier"] = "truck"
    transit_hours: Distribution
    cost_per_parcel_rub: Rub
    truck_capacity: PositiveCount = Field(default=2000, description="parcels per truck")
    trucks: PositiveCount = Field(
        default=1, le=10_000,
        description="trucks at each departure; as many leave as the waiting parcels fill")
    cost_per_truck_rub: Rub = Field(
        default=0, description="line-haul cost of each truck that leaves, full or not "
        "(shared by its parcels), on top of cost_per_parcel_rub")
    departures: list[str] = Field(
        default_factory=list, max_length=1440, description="HH:MM; empty = continuous"
    )

    @field_validator("departures")
    @classmethod
    def _times(cls, value: list[str]) -> list[str]:
        return _check_hhmm(value)

    @model_validator(mode="after")
    def _trucks_need_departures(self) -> Lane:
        if not self.departures:
            for name, default in (("trucks", 1), ("cost_per_truck_rub", 0)):
                if getattr(self, name) != default:
                    raise ValueError(f"{name}: trucks run on departures; this lane has none "
                                     "(continuous)")
        return self

    @property
    def planned_cost_per_parcel(self) -> float:
        """Cost per parcel when trucks leave full: what routing by cost compares."""
        return self.cost_per_parcel_rub + self.cost_per_truck_rub / self.truck_capacity


class Network(Strict):
    """Nodes and lanes; routes are shortest paths by ``routing``."""

    routing: Literal["time", "cost"] = "time"
    on_node_closed: Literal["reroute", "wait"] = "reroute"
    regions: list[Region] = Field(min_length=1, max_length=1000)
    warehouses: list[Warehouse] = Field(min_length=1, max_length=1000)
    sorting_centres: list[SortingCentre] = Field(default_factory=list, max_length=1000)
    hubs: list[Hub] = Field(default_factory=list, max_length=10_000)
    lanes: list[Lane] = Field(min_length=1, max_length=100_000)

    def node_ids(self) -> list[str]:
        groups = (self.regions, self.warehouses, self.sorting_centres, self.hubs)
        return [node.id for group in groups for node in group]

    @model_validator(mode="after")
    def _references(self) -> Network:
        ids = self.node_ids()
        _unique(ids, "node id")
        known = set(ids)
        first: dict[tuple[str, str, str], int] = {}
        for i, lane in enumerate(self.lanes):
            for end, field in ((lane.from_, "from"), (lane.to, "to")):
                if end not in known:
                    raise ValueError(f"lanes[{i}].{field}: unknown node {end!r}")
            if lane.from_ == lane.to:
                raise ValueError(f"lanes[{i}]: a lane from {lane.from_!r} to itself")
            j = first.setdefault((lane.from_, lane.to, lane.mode), i)
            if j != i:
                raise ValueError(f"lanes[{i}]: a second {lane.mode} lane from {lane.from_!r} to "
                                 f"{lane.to!r} (the first is lanes[{j}]); give one lane per "
                                 "pair of nodes and mode")
        served = self.reached()
        lost = [(i, r.id) for i, r in enumerate(self.regions) if r.id not in served]
        if lost:
            names = ", ".join(repr(region) for _, region in lost)
            raise ValueError(f"regions[{lost[0][0]}]: no warehouse reaches {names} by lanes; "
                             "orders there could never be delivered")
        return self

    def lane_graph(self) -> nx.DiGraph:
        """Node ids and lanes as routing sees them: regions are sinks (no lane out of one)."""
        graph = nx.DiGraph()
        graph.add_nodes_from(self.node_ids())
        regions = {r.id for r in self.regions}
        graph.add_edges_from((lane.from_, lane.to) for lane in self.lanes
                             if lane.from_ not in regions)
        return graph

    def reached(self, graph: nx.DiGraph | None = None) -> set[str]:
        """Ids of the warehouses and of every node their parcels can reach by lanes."""
        graph = self.lane_graph() if graph is None else graph
        return set(nx.multi_source_dijkstra_path_length(graph, [w.id for w in self.warehouses]))

    def reaching_a_region(self, graph: nx.DiGraph | None = None) -> set[str]:
        """Ids of the nodes from which some region can be reached by lanes (regions too)."""
        graph = (self.lane_graph() if graph is None else graph).reverse(copy=False)
        return set(nx.multi_source_dijkstra_path_length(graph, [r.id for r in self.regions]))


# --------------------------------------------------------------------------- stock


class StockRule(Strict):
    """Initial stock for matching (warehouse, SKU group or SKU); later rules override earlier ones.

    ``days_of_cover`` means: that many days of the SKU's baseline demand, divided evenly
    among the warehouses the rule matches.
    """

    warehouse: str = "*"
    sku_group: str = "*"
    sku: Count | None = None
    units: Count | None = None
    days_of_cover: Days | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> StockRule:
        if (self.units is None) == (self.days_of_cover is None):
            raise ValueError("give exactly one of units or days_of_cover")
        return self


class Supplier(Strict):
    """Who refills some SKU groups: its lead time and what it charges on top of unit cost."""

    name: Text
    sku_groups: list[str] | None = Field(
        default=None, description="groups it supplies; all when left out")
    lead_time_days: Distribution = Field(description="seller's order -> stock at the FC")
    cost_per_unit_rub: Rub = Field(
        default=0, description="extra per unit on top of the unit cost (express freight, a "
        "wholesaler's margin)")


class Stock(Strict):
    """Initial stock, warning lines, suppliers and inventory costs."""

    initial: list[StockRule] = Field(
        min_length=1, max_length=1_000_000,
        description="rules; give them, an initial_file, or both")
    initial_file: str | None = Field(
        default=None,
        description="a planner's stock CSV (offer_id or sku_group, warehouse, units), path "
        "relative to the scenario file; read on loading, its rows become initial rules "
        "after those written",
    )
    warning_days_of_cover: Days = 2
    supplier_lead_time_days: Distribution = Field(
        default_factory=lambda: {"dist": "gamma", "mean": 3.0, "sd": 1.0},
        description="lead time of the default supplier (groups no entry of suppliers names)",
    )
    suppliers: list[Supplier] = Field(
        default_factory=list, max_length=1000,
        description="suppliers per SKU group; the replenishment policy's supplier rule picks "
        "one per group")
    holding_cost_rate_per_year: Factor = Field(
        default=0.25, description="holding cost per unit-year as a fraction of unit cost"
    )
    stockout_cost_ratio: Factor = Field(
        default=1.0, description="cost of a lost unit as a fraction of its price margin"
    )


# --------------------------------------------------------------------------- policies, faults, SLOs


class PolicyChoice(Strict):
    """A registered policy by name, with its parameters."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _numbers_bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Whatever a policy takes, its numbers are finite and countable in 64 bits."""
        for where, number in _numbers(value):
            if not -MAX_PARAM <= number <= MAX_PARAM:  # also false for NaN
                raise ValueError(f"{where}: {number!r} is not a number within "
                                 f"±{MAX_PARAM:.0e}")
        return value


class ReplenishmentChoice(PolicyChoice):
    """The replenishment policy, and its rule for picking a supplier of each SKU group."""

    supplier: Literal["fastest", "cheapest"] = Field(
        default="fastest", description="of a group's suppliers: the shortest mean lead time, "
        "or the lowest cost_per_unit_rub (ties: the other criterion, then list order)")


class Policies(Strict):
    """The policies a run uses, checked by building them through the registry."""

    allocation: PolicyChoice = Field(
        default_factory=lambda: PolicyChoice(name="nearest_with_stock")
    )
    replenishment: ReplenishmentChoice = Field(
        default_factory=lambda: ReplenishmentChoice(name="s_S"))

    @model_validator(mode="after")
    def _buildable(self) -> Policies:
        for kind, registry in (("allocation", allocation_policies),
                               ("replenishment", replenishment_policies)):
            choice: PolicyChoice = getattr(self, kind)
            try:
                policy = registry.create(choice.name, choice.params)
            except UnknownPolicy as exc:
                raise ValueError(f"{kind}.name: {exc}") from None
            except Exception as exc:  # a plugin's constructor may raise anything
                param = _first_named(str(exc), choice.params)
                where = f"{kind}.params" + (f".{param}" if param else "")
                raise ValueError(f"{where}: {exc}") from None
            review = getattr(policy, "review_hours", None)
            if review is not None and review < MIN_REVIEW_HOURS:
                raise ValueError(f"{kind}.params.review_hours: {review:g} h is too often; review "
                                 f"at most every {MIN_REVIEW_HOURS:g} h")
        return self


class Fault(Strict):
    """A node closed (``capacity_factor: 0``) or cut, or a lane delayed, for a window."""

    name: Text
    start_hour: Hours
    duration_hours: PositiveHours
    node: str | None = None
    lane: tuple[str, str] | None = Field(default=None, description="[from, to]")
    mode: str | None = Field(
        default=None, description="of a lane fault: only the lane of this mode (e.g. air); "
        "default every lane of the pair")
    capacity_factor: Probability = 0.0
    extra_delay_hours: Hours = 0.0

    @model_validator(mode="after")
    def _target(self) -> Fault:
        if (self.node is None) == (self.lane is None):
            raise ValueError("give exactly one of node or lane")
        if self.lane is not None and self.extra_delay_hours == 0:
            raise ValueError("a lane fault needs extra_delay_hours > 0")
        if self.mode is not None and self.lane is None:
            raise ValueError("mode: only a lane fault has a mode")
        return self


class EndpointSlo(Strict):
    endpoint: str = Field(description='"METHOD /path", as Locust names the request')
    p95_ms: Milliseconds | None = None
    p99_ms: Milliseconds | None = None
    max_error_rate: Probability | None = None


class Slo(Strict):
    """Load-test gate: latency percentiles, error rate and throughput."""

    p95_ms: Milliseconds = 300
    p99_ms: Milliseconds = 1000
    max_error_rate: Probability = 0.001
    min_rps: float = Field(default=0, ge=0, le=1_000_000)
    endpoints: list[EndpointSlo] = Field(default_factory=list, max_length=1000)


class Scenario(Strict):
    """One world: clock, demand, catalogue, network, stock, policies, faults and SLOs."""

    name: Name
    description: Text = ""
    clock: Clock
    demand: Demand
    forecast: Forecast | None = None
    catalogue: Catalogue
    network: Network
    stock: Stock
    policies: Policies = Field(default_factory=Policies)
    faults: list[Fault] = Field(default_factory=list, max_length=1000)
    slo: Slo = Field(default_factory=Slo)

    @model_validator(mode="before")
    @classmethod
    def _stock_file(cls, data: Any, info: ValidationInfo) -> Any:
        """Rows of ``stock.initial_file`` become ``stock.initial`` rules after those written
        (relative to the ``base_dir`` of the validation context, else the working folder)."""
        stock = data.get("stock") if isinstance(data, dict) else None
        if not isinstance(stock, dict) or stock.get("initial_file") is None:
            return data
        from simulator.stocking import StockFileError, read_stock_file

        stock = dict(stock)
        name = stock.pop("initial_file")
        path = Path((info.context or {}).get("base_dir", ".")) / str(name)
        try:
            rules = read_stock_file(path, **_catalogue_names(data))
        except StockFileError as exc:
            raise ValueError(f"stock.initial_file: {exc}") from None
        stock["initial"] = [*(stock.get("initial") or []), *rules]
        return {**data, "stock": stock}

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        groups = {g.name for g in self.catalogue.groups}
        warehouses = {w.id for w in self.network.warehouses}
        nodes = set(self.network.node_ids())
        lanes = {(lane.from_, lane.to) for lane in self.network.lanes}
        modes = {(lane.from_, lane.to, lane.mode) for lane in self.network.lanes}
        forecast_peaks = (self.forecast and self.forecast.peaks) or []
        for where, peaks in (("demand", self.demand.peaks), ("forecast", forecast_peaks)):
            for i, peak in enumerate(peaks):
                for group in peak.sku_groups or []:
                    if group not in groups:
                        raise ValueError(f"{where}.peaks[{i}].sku_groups: unknown group "
                                         f"{group!r}")
        for i, rule in enumerate(self.stock.initial):
            if rule.warehouse != "*" and rule.warehouse not in warehouses:
                raise ValueError(f"stock.initial[{i}].warehouse: unknown {rule.warehouse!r}")
            if rule.sku_group != "*" and rule.sku_group not in groups:
                raise ValueError(f"stock.initial[{i}].sku_group: unknown {rule.sku_group!r}")
            if rule.sku is not None and rule.sku >= self.catalogue.sku_count:
                raise ValueError(f"stock.initial[{i}].sku: {rule.sku} >= sku_count")
        for i, fault in enumerate(self.faults):
            if fault.node is not None and fault.node not in nodes:
                raise ValueError(f"faults[{i}].node: unknown node {fault.node!r}")
            if fault.lane is not None and tuple(fault.lane) not in lanes:
                raise ValueError(f"faults[{i}].lane: no lane {list(fault.lane)}")
            if fault.mode is not None and (*fault.lane, fault.mode) not in modes:
                raise ValueError(f"faults[{i}].mode: no {fault.mode} lane {list(fault.lane)}")
        for i, supplier in enumerate(self.stock.suppliers):
            for group in supplier.sku_groups or []:
                if group not in groups:
                    raise ValueError(f"stock.suppliers[{i}].sku_groups: unknown group {group!r}")
        return self

    def forecast_demand(self) -> Demand:
        """The demand stock is planned on: ``demand`` with the forecast's fields, no shock."""
        given = self.forecast or Forecast()
        update = {k: getattr(given, k) for k in FORECAST_FIELDS if getattr(given, k) is not None}
        return self.demand.model_copy(update={**update, "shock": None})

    def warnings(self) -> list[tuple[str, str]]:
        """(field, message) of what is allowed but does nothing, so probably not meant."""
        net, out = self.network, []
        graph = net.lane_graph()
        shipping = net.reaching_a_region(graph)
        for i, w in enumerate(net.warehouses):
            if w.id not in shipping:
                out.append((f"network.warehouses[{i}]", f"{w.id!r} reaches no region by lanes; "
                            "it will never ship"))
            if all(s.capacity_per_hour == 0 for s in w.shifts):
                out.append((f"network.warehouses[{i}].shifts", f"{w.id!r} has no capacity in "
                            "any shift; it will never pick"))
        used = net.reached(graph)
        for kind in ("sorting_centres", "hubs"):
            for i, node in enumerate(getattr(net, kind)):
                if node.id not in used:
                    out.append((f"network.{kind}[{i}]", f"no warehouse's parcels can reach "
                                f"{node.id!r}; it will stay idle"))
        horizon, end = self.clock.horizon_hours, self.clock.horizon_hours + self.clock.drain_hours
        for i, peak in enumerate(self.demand.peaks):
            if peak.start_hour >= horizon:
                out.append((f"demand.peaks[{i}].start_hour", f"{peak.name!r} starts after the "
                            f"horizon ({horizon:g} h); it changes nothing"))
        for i, fault in enumerate(self.faults):
            if fault.start_hour >= end:
                out.append((f"faults[{i}].start_hour", f"{fault.name!r} starts after the run "
                            f"ends ({end:g} h); it changes nothing"))
        return out

    def with_overrides(self, **changes: Any) -> Scenario:
        """A validated copy with dotted-path fields replaced.

        The forecast stays where this scenario put it: overriding ``demand.*`` changes the
        demand that happens, not the stock and policy levels planned on the forecast (override
        ``forecast.*`` to move those).
        Example: ``scenario.with_overrides(**{"demand.baseline_orders_per_hour": 900})``.
        """
        data = self.model_dump(by_alias=True)
        data["forecast"] = self.forecast_demand().model_dump(include=set(FORECAST_FIELDS))
        for dotted, value in changes.items():
            target = data
            *parents, leaf = dotted.split(".")
            for key in parents:
                target = target[int(key)] if isinstance(target, list) else target[key]
            if isinstance(target, list):
                target[int(leaf)] = value
            else:
                target[leaf] = value
        return Scenario.model_validate(data)


# --------------------------------------------------------------------------- loading


class ScenarioError(Exception):
    """A scenario file that cannot be used; the message names file, field path and problem."""

    exit_code = 2

    def __init__(self, path: Path | str, problems: list[tuple[str, str]]) -> None:
        self.path = Path(path)
        self.problems = problems
        lines = [f"{self.path}: {field}: {message}" for field, message in problems]
        super().__init__("\n".join(lines))


def _catalogue_names(data: dict[str, Any]) -> dict[str, Any]:
    """SKU count, group names and warehouse ids of raw scenario data (empty when malformed;
    the fields' own validation reports that)."""
    catalogue, network = data.get("catalogue"), data.get("network")
    names: dict[str, Any] = {"sku_count": None, "groups": None, "warehouses": None}
    if isinstance(catalogue, dict):
        names["sku_count"] = catalogue.get("sku_count")
        groups = catalogue.get("groups")
        if isinstance(groups, list):
            names["groups"] = [g.get("name") for g in groups if isinstance(g, dict)]
    if isinstance(network, dict) and isinstance(network.get("warehouses"), list):
        names["warehouses"] = [w.get("id") for w in network["warehouses"] if isinstance(w, dict)]
    return names


def _unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value)


def _numbers(value: Any, path: str = "") -> Iterable[tuple[str, float]]:
    """(path, number) of every number in nested mappings and lists."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{path}[{i}]")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, value


def _first_named(message: str, names: Iterable[str]) -> str | None:
    """The name that ``message`` mentions first (as a whole word), if any."""
    found = [(m.start(), name) for name in names
             if (m := re.search(rf"(?<!\w){re.escape(name)}(?!\w)", message))]
    return min(found)[1] if found else None


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in {"constant", "exponential", "uniform", "lognormal", "gamma", "triangular",
                      "shifted_poisson"}:
            continue  # discriminator tags pydantic adds to the location
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def parse_scenario(data: Any, source: Path | str = "<scenario>",
                   base_dir: Path | str = ".") -> Scenario:
    """Validate already-parsed YAML/JSON data; raise :class:`ScenarioError` on any problem.

    Files the scenario names (``stock.initial_file``) are relative to ``base_dir``.
    """
    if not isinstance(data, dict):
        raise ScenarioError(source, [("(top level)", "must be a mapping of sections")])
    try:
        return Scenario.model_validate(data, context={"base_dir": Path(base_dir)})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            field = _field_path(tuple(err["loc"]))
            if err["type"] == "extra_forbidden":
                message = "unknown field (not allowed here; is it a typo?)"
            elif err["type"] == "value_error" and (located := _LOCATED.match(message)):
                inner, message = located.groups()  # a section's own checks name their field
                field = f"{field}.{inner}" if err["loc"] else inner
            problems.append((field, message))
        raise ScenarioError(source, problems) from None


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario YAML file."""
    path = Path(path)
    try:
        data = read_yaml(path)
    except YamlFileError as exc:
        raise ScenarioError(path, [(exc.where, exc.problem)]) from None
    return parse_scenario(data, path, path.parent)
