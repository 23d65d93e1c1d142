"""Small scenario worlds for the model tests (built as dicts, validated by parse_scenario)."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from simulator.scenario import Scenario, parse_scenario

from .conftest import SCENARIOS

_SMOKE = yaml.safe_load((SCENARIOS / "smoke.yaml").read_text(encoding="utf-8"))


def smoke_dict() -> dict[str, Any]:
    return copy.deepcopy(_SMOKE)


def stressed(on_node_closed: str = "wait", replenishment: dict | None = None) -> Scenario:
    """Smoke with short stock, many cancellations, quick returns, a tight late tolerance, a
    closed sorting centre, a closed warehouse, a delayed lane, and a slower bypass lane
    WH-MSK -> H-MSK that routing by time only takes while SC-MSK is closed."""
    d = smoke_dict()
    d["stock"]["initial"] = [{"warehouse": "*", "sku_group": "*", "days_of_cover": 0.6}]
    d["demand"]["cancel_probability"] = 0.2
    d["demand"]["return_probability"] = 0.1  # returns come back while faults are on
    d["demand"]["return_delay_hours"] = {"dist": "exponential", "mean": 6}
    d["network"]["on_node_closed"] = on_node_closed
    d["network"]["sorting_centres"][0]["late_tolerance_hours"] = 3
    d["network"]["lanes"].append(
        {"from": "WH-MSK", "to": "H-MSK", "transit_hours": {"dist": "constant", "value": 30},
         "cost_per_parcel_rub": 80, "departures": ["03:00", "15:00"]})
    d["faults"] = [
        {"name": "SC closed", "node": "SC-MSK", "start_hour": 10, "duration_hours": 10,
         "capacity_factor": 0},
        {"name": "WH-SPB closed", "node": "WH-SPB", "start_hour": 5, "duration_hours": 10,
         "capacity_factor": 0},
        {"name": "last mile late", "lane": ["H-MSK", "R-MSK"], "start_hour": 0,
         "duration_hours": 10, "extra_delay_hours": 5},
    ]
    d["policies"]["replenishment"] = replenishment or {
        "name": "periodic_review", "params": {"review_hours": 12, "S_days": 1}}
    return parse_scenario(d)


def _node(node_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "name": node_id, "city": "Moscow", "lat": 55.75, "lon": 37.62, **extra}


def line_world(*, orders_per_hour: float, horizon_hours: float, warmup_hours: float = 0,
               drain_hours: float = 0, sku_count: int = 1,
               wave_minutes: int = 1, pick_per_hour: float = 1e6, pack_minutes: float = 0,
               sorting: dict[str, Any] | None = None,
               to_sorting_hours: dict[str, Any] | None = None,
               initial_units: int = 1_000_000, lead_time_days: float = 1.0,
               replenishment: dict[str, Any] | None = None,
               resolution_minutes: int = 60) -> Scenario:
    """One region, one warehouse (round-the-clock shift), optionally one sorting centre.

    Orders are single lines of one unit; demand is flat (Poisson with a constant rate);
    lanes are continuous (no departure schedule).
    """
    shift = {"start": "00:00", "end": "00:00", "capacity_per_hour": pick_per_hour}
    wh = _node("WH", shifts=[shift],
               wave_minutes=wave_minutes, pack_minutes=pack_minutes)
    lanes: list[dict[str, Any]] = []
    centres = []
    if sorting is not None:
        centres.append(_node("SC", **sorting))
        lanes += [
            {"from": "WH", "to": "SC", "transit_hours": to_sorting_hours
             or {"dist": "constant", "value": 0}, "cost_per_parcel_rub": 1},
            {"from": "SC", "to": "R", "transit_hours": {"dist": "constant", "value": 0},
             "cost_per_parcel_rub": 1},
        ]
    else:
        lanes.append({"from": "WH", "to": "R", "transit_hours": {"dist": "constant", "value": 1},
                      "cost_per_parcel_rub": 1})
    data = {
        "name": "line",
        "clock": {"horizon_hours": horizon_hours, "warmup_hours": warmup_hours,
                  "drain_hours": drain_hours, "resolution_minutes": resolution_minutes},
        "demand": {"baseline_orders_per_hour": orders_per_hour, "cancel_probability": 0},
        "catalogue": {"sku_count": sku_count, "zipf_exponent": 0,
                      "lines_per_order": {"dist": "constant", "value": 1},
                      "units_per_line": {"dist": "constant", "value": 1},
                      "groups": [{"name": "all", "share": 1, "price_rub": [100, 100]}]},
        "network": {"regions": [_node("R", weight=1, promised_days=3)], "warehouses": [wh],
                    "sorting_centres": centres, "lanes": lanes},
        "stock": {"initial": [{"units": initial_units}],
                  "supplier_lead_time_days": {"dist": "constant", "value": lead_time_days}},
        "policies": {"allocation": {"name": "nearest_with_stock"},
                     "replenishment": replenishment or {"name": "s_S",
                                                        "params": {"s_days": 0, "S_days": 0}}},
    }
    return parse_scenario(data)
