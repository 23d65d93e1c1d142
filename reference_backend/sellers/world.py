"""What a seeded seller takes from its scenario: catalogue, initial stock, warning lines, routes,
the buyer regions' names.

Pure functions of the scenario (numpy arrays, no database). The catalogue is fixed by
``catalogue.seed`` exactly as the simulator draws it, so SKU ``i`` has the same group,
price and weight in a simulation and in the backend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.calibration.cities import locate
from simulator.demand import DemandCurve, build_skus
from simulator.network import Network
from simulator.scenario import Scenario
from simulator.stocking import initial_stock as simulator_initial_stock


@dataclass(frozen=True)
class Catalogue:
    """SKU attributes indexed by scenario SKU number."""

    group: np.ndarray  # group index
    group_names: tuple[str, ...]
    price: np.ndarray  # RUB, 2 decimals
    unit_cost: np.ndarray
    weight_kg: np.ndarray
    daily_units: np.ndarray  # mean units/day at baseline demand

    @property
    def count(self) -> int:
        return len(self.group)


def build_catalogue(scenario: Scenario) -> Catalogue:
    """SKU attributes and baseline daily demand, from ``simulator.demand`` (same draws)."""
    skus = build_skus(scenario.catalogue)
    daily = DemandCurve(scenario, skus).sku_daily_units()
    return Catalogue(
        group=np.asarray(skus.group, dtype=np.int16), group_names=tuple(skus.group_names),
        price=np.asarray(skus.price), unit_cost=np.asarray(skus.unit_cost),
        weight_kg=np.asarray(skus.weight), daily_units=np.asarray(daily),
    )


def initial_stock(scenario: Scenario, catalogue: Catalogue) -> np.ndarray:
    """Units per (warehouse, SKU) at the start, by the simulator's own ``stock.initial`` rule."""
    units = simulator_initial_stock(scenario, catalogue.group, catalogue.group_names,
                                    catalogue.daily_units)
    return units.T.copy()


def warning_levels(scenario: Scenario, catalogue: Catalogue) -> np.ndarray:
    """Warning line per (warehouse, SKU): ``warning_days_of_cover`` of demand split evenly."""
    n_wh = len(scenario.network.warehouses)
    per_wh = np.ceil(scenario.stock.warning_days_of_cover * catalogue.daily_units / n_wh - 1e-9)
    return np.tile(per_wh.astype(np.int64), (n_wh, 1))


@dataclass(frozen=True)
class RouteRow:
    warehouse: str  # scenario warehouse id
    region: str
    transit_hours: float
    cost_per_parcel: float


def route_table(scenario: Scenario) -> list[RouteRow]:
    """Expected transit hours and cost from each warehouse to each region it can reach.

    The simulator's own route tables (``simulator.network.Network``): shortest paths by the
    scenario's ``routing``, with departure waits and sorting/hub delays included.
    """
    network = Network(scenario)
    rows: list[RouteRow] = []
    for wi, warehouse in enumerate(network.warehouse_ids):
        for ri, region in enumerate(network.region_ids):
            hours = float(network.transit_hours[wi, ri])
            if math.isfinite(hours):
                rows.append(RouteRow(warehouse, region, round(hours, 4),
                                     round(float(network.cost_per_parcel[wi, ri]), 4)))
    return rows


def capacity_per_hour(scenario: Scenario) -> dict[str, float]:
    """Largest shift pick capacity of each warehouse (units/hour)."""
    return {w.id: max((s.capacity_per_hour for s in w.shifts), default=0.0)
            for w in scenario.network.warehouses}




def buyer_places(scenario: Scenario) -> list[tuple[str, str, str]]:
    """(region code, city, region) of each buyer region, named as Ozon names them in a
    posting's ``analytics_data``: in Russian from the bundled table of Russian cities (a city
    that is no region's centre is its own region); a city not in the table keeps the
    scenario's ``city`` and ``name``."""
    places = []
    for region in scenario.network.regions:
        city = locate(region.city)
        if city is None:
            places.append((region.id, region.city, region.name))
        else:
            places.append((region.id, city.name_ru, city.region_ru or city.name_ru))
    return places
