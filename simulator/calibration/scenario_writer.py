"""A :class:`Calibration` -> scenario YAML, each fitted block under a comment saying where its
numbers came from and how well they fit. The text is validated as a scenario before it is
written, so ``peakline validate`` accepts what ``peakline calibrate`` writes.

What the history cannot tell (lanes, shift capacity, costs, weights) is filled with stated
assumptions, each named in the comments: direct warehouse -> region lanes with transit from
great-circle distance; one round-the-clock shift sized at 1.5x the busiest observed hour times
the uplift; the scenario defaults for the rest.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml

from simulator.calibration.cities import distance_km, locate, nearest
from simulator.calibration.demand_fit import MOSCOW
from simulator.calibration.fitting import Calibration, DelayFit, Share
from simulator.calibration.history import CalibrationError, WarehouseRecord
from simulator.scenario import parse_scenario

HORIZON_DAYS = 7
WAVE_MINUTES = 30
ROAD_KMH = 50.0  # assumed line-haul speed
DISPATCH_HOURS = 12.0  # assumed fixed time per lane (sorting, waiting for a truck)


def _comment(lines: list[str]) -> str:
    return "".join(f"# {line}\n" for line in lines)


def _dump(section: dict[str, Any], flow: bool | None = None) -> str:
    """YAML of ``section``; innermost lists and mappings on one line unless ``flow=False``."""
    return yaml.safe_dump(section, sort_keys=False, allow_unicode=True, default_flow_style=flow,
                          width=100)


def _r(value: float, digits: int = 3) -> float:
    return float(round(value, digits))


def _pct(share: Share) -> str:
    low, high = share.interval()
    return (f"{share.hits:,} of {share.of:,} ({share.value:.2%}; 95 % CI "
            f"{low:.2%}-{high:.2%})")


def _delay(fit: DelayFit, what: str) -> tuple[dict | None, str]:
    if fit.mean is None:
        return None, (f"{what}: {fit.hours.size} observed (needs 10 to fit): the scenario "
                      f"default is kept")
    return ({"dist": "gamma", "mean": _r(fit.mean, 2), "sd": _r(max(fit.sd or 0, 0.01), 2)},
            f"{what}: gamma fitted to {fit.hours.size:,} delays, KS D={fit.ks_distance:.3f}")


def _demand(cal: Calibration, horizon_hours: float) -> tuple[dict, list[str]]:
    d, out = cal.demand, cal.outcomes
    trend = ([f"trend {d.trend_per_week:+.1%} a week (p={d.trend_p:.3f}): the baseline is "
              f"the level at the end of the history"] if d.trend_per_week else [])
    notes = [
        f"demand: fitted to {d.orders:,} orders in {len(d.hours):,} hours ({d.days:.0f} days); "
        f"hourly counts vs fit r={d.correlation:.3f}, dispersion {d.dispersion:.2f} "
        f"(1 = Poisson noise only)",
        *(["; ".join(trend + d.notes)] if trend or d.notes else []),
        "hour_of_day and day_of_week in the buyers' local time (their region's time_zone): "
        "maximum likelihood on the ordinary hours",
    ]
    if d.peaks:
        notes.append("past peaks found (left out of the fit): " + "; ".join(
            f"{p.start:%Y-%m-%d %H:%M} {p.hours} h x{p.multiplier:.2f} ({p.orders:,} orders)"
            for p in d.peaks))
    else:
        notes.append("past peaks found: none")
    section: dict[str, Any] = {
        "baseline_orders_per_hour": _r(d.baseline_orders_per_hour),
        "hour_of_day": [_r(v) for v in d.hour_of_day],
        "day_of_week": [_r(v) for v in d.day_of_week],
    }
    if cal.uplift != 1:
        section["peaks"] = [{"name": "coming peak", "start_hour": 0,
                             "duration_hours": horizon_hours, "multiplier": cal.uplift}]
        notes.append(f"coming peak: x{cal.uplift:g} over the whole horizon (--uplift)")
    notes.append("no forecast block: stock is planned on this demand as written; add "
                 "demand.shock to rehearse a peak that comes bigger or smaller")
    section["cancel_probability"] = _r(out.cancelled.value, 4)
    if out.cancel_delay.mean is None:
        notes.append(f"cancel_probability: orders cancelled {_pct(out.cancelled)}")
    else:
        low, high = out.cancelled.interval()
        notes.append(f"cancel_probability: {out.cancelled.hits:,} of {d.orders:,} orders "
                     f"cancelled; {out.cancelled.value:.2%} by maximum likelihood with the "
                     f"delay, allowing for cancellations refused after hand-over (95 % CI "
                     f"{low:.2%}-{high:.2%})")
    cancel_delay, note = _delay(out.cancel_delay, "cancel_delay_hours (order -> cancelled; "
                                "those too late for hand-over are unseen, so the KS distance "
                                "to the whole law overstates the misfit)")
    if cancel_delay:
        section["cancel_delay_hours"] = cancel_delay
    elif out.cancel_delay.hours.size == 0:
        note = ("cancel_delay_hours: no cancellation times in the history (no posting field "
                "carries them; the Seller API's last_changed_status_date filter or a CSV "
                "export's cancelled_at does): the simulator's default kept")
    notes.append(note)
    section["return_probability"] = _r(out.returned.value, 4)
    notes.append(f"return_probability: {out.returned.hits:,} returns of {out.handed_over:,} "
                 f"postings handed over; {out.returned.value:.2%} by maximum likelihood with "
                 f"the delay, allowing for returns not yet made when read (95 % CI "
                 f"{out.returned.interval()[0]:.2%}-{out.returned.interval()[1]:.2%})")
    return_delay, note = _delay(out.return_delay, (
        "return_delay_hours (delivered -> return created; delivery times from the finance "
        "operations)" if out.return_clock == "delivered" else
        "return_delay_hours (handed over -> return created; includes the delivery leg: the "
        "history has no delivery times)"))
    if return_delay:
        section["return_delay_hours"] = return_delay
    notes.append(note)
    return section, notes


def _catalogue(cal: Calibration) -> tuple[dict, list[str]]:
    c, b = cal.catalogue, cal.baskets
    paid = [p for p in c.prices if p]
    fit = (f"Zipf s={c.zipf_exponent:.2f} fitted to {int(c.lines.sum()):,} lines over "
           f"{len(c.sku_ids):,} SKUs, KS D={c.ks_distance:.3f}, bootstrap p={c.bootstrap_p:.2f}")
    notes = [fit + (": Zipf fits; SKUs listed most ordered first, popularity by rank"
                    if c.zipf_fits else ": Zipf rejected, empirical popularity per SKU")]
    skus = []
    for sku, lines, price in zip(c.sku_ids, c.lines, c.prices, strict=True):
        item: dict[str, Any] = {"id": sku}
        if price:
            item["price_rub"] = _r(price, 2)
        if not c.zipf_fits:
            item["popularity"] = int(lines)
        skus.append(item)
    if not c.zipf_fits and not any(item["popularity"] for item in skus):
        raise CalibrationError("catalogue block: no SKU was ordered")
    for name, fit_ in (("lines_per_order", b.lines_per_order), ("units_per_line",
                                                                 b.units_per_line)):
        test = (f"chi-square p={fit_.chi2_p:.2f}" if not math.isnan(fit_.chi2_p)
                else "too few distinct counts for a chi-square test")
        notes.append(f"{name}: shifted Poisson mean {fit_.mean:.3f} (the sample mean of "
                     f"{fit_.values.size:,}), max {fit_.max}; {test}")
    notes.append("price_rub per SKU: mean unit price paid (list price if never sold); "
                 "unit_cost_ratio and weight_kg are not in the history: defaults")
    low, high = (min(paid), max(paid)) if paid else (100.0, 1000.0)
    section = {
        "sku_count": len(c.sku_ids),
        "zipf_exponent": _r(c.zipf_exponent),
        "lines_per_order": {"dist": "shifted_poisson", "mean": _r(b.lines_per_order.mean),
                            "max": b.lines_per_order.max},
        "units_per_line": {"dist": "shifted_poisson", "mean": _r(b.units_per_line.mean),
                           "max": b.units_per_line.max},
        "groups": [{"name": "all", "share": 1.0, "price_rub": [_r(low, 2), _r(high, 2)]}],
        "skus": skus,
    }
    return section, notes


def _warehouse_place(w: WarehouseRecord) -> tuple[float, float] | None:
    if w.lat is not None and w.lon is not None:
        return w.lat, w.lon
    city = locate(w.name, *w.name.replace(",", " ").split())  # "Казань ФБС" -> Kazan
    return (city.lat, city.lon) if city else None


def _network(cal: Calibration) -> tuple[dict, list[str], dict[int, str]]:
    r = cal.regions
    regions = [{"id": f"r-{city.slug}", "name": city.name, "city": city.name,
                "lat": city.lat, "lon": city.lon, "weight": _r(100 * share, 2),
                "time_zone": city.time_zone}
               for city, share in r.weights.items() if round(100 * share, 2) > 0]
    notes = [f"regions: share of {r.orders:,} orders (%) by the buyer's city or region "
             f"(analytics_data), placed by the bundled table of Russian cities, each on its "
             f"city's clock (time_zone)"]
    if r.unknown:
        notes.append("unknown names, not in the table and left out: " + ", ".join(
            f"{name} {share:.1%}" for name, share in r.unknown.items()))
    handled = cal.handling
    pooled = sorted(h.median_hours for h in handled.values())[len(handled) // 2]
    warehouses, ids, skipped = [], {}, []
    for w in cal.history.warehouses:
        place = _warehouse_place(w)
        if place is None:
            skipped.append(w.name or str(w.warehouse_id))
            continue
        fit = handled.get(w.warehouse_id)
        median = fit.median_hours if fit else pooled
        capacity = max(1.0, 1.5 * cal.uplift * (fit.busiest_hour_units if fit else 1))
        ids[w.warehouse_id] = f"wh-{w.warehouse_id}"
        town = nearest(*place)
        warehouses.append({
            "id": ids[w.warehouse_id], "name": w.name or str(w.warehouse_id),
            "city": town.name, "lat": place[0], "lon": place[1], "time_zone": town.time_zone,
            "shifts": [{"start": "00:00", "end": "00:00",
                        "capacity_per_hour": math.ceil(capacity)}],
            "wave_minutes": WAVE_MINUTES,
            "pack_minutes": _r(max(0.0, 60 * median - WAVE_MINUTES / 2), 1)})
        notes.append(
            f"{w.name}: taken into processing -> handed over " + (
                f"median {fit.median_hours:.2f} h of {fit.hours.size:,}, lognormal mean "
                f"{fit.mean:.2f} h sd {fit.sd:.2f} h, KS D={fit.ks_distance:.3f}"
                if fit else f"too few hand-overs: the pooled median {pooled:.2f} h")
            + "; pack_minutes = median - half a wave")
    if skipped:
        notes.append("warehouses without coordinates, left out: " + ", ".join(skipped))
    if not warehouses:
        raise CalibrationError("network.warehouses block: no warehouse with a known place")
    notes.append("shifts: not in the history; one round-the-clock shift at 1.5x the busiest "
                 "observed hour's units x the uplift")
    lanes = []
    for w in warehouses:
        for region in regions:
            km = distance_km(w["lat"], w["lon"], region["lat"], region["lon"])
            hours = DISPATCH_HOURS + km / ROAD_KMH
            lanes.append({"from": w["id"], "to": region["id"],
                          "transit_hours": {"dist": "lognormal", "mean": _r(hours, 1),
                                            "sd": _r(0.3 * hours, 1)},
                          "cost_per_parcel_rub": _r(50 + 0.05 * km, 1)})
    notes.append(f"lanes: not in the history; direct warehouse -> region, transit "
                 f"{DISPATCH_HOURS:g} h + distance at {ROAD_KMH:g} km/h, cost 50 RUB + "
                 f"0.05 RUB/km: replace with the carriers' network")
    section = {"regions": regions, "warehouses": warehouses, "lanes": lanes}
    return section, notes, ids


def _stock(cal: Calibration, warehouse_ids: dict[int, str]) -> tuple[dict, list[str]]:
    index = {sku: k for k, sku in enumerate(cal.catalogue.sku_ids)}
    rules: list[dict[str, Any]] = [{"warehouse": "*", "units": 0}]
    for row in sorted(cal.history.stocks, key=lambda s: (s.warehouse_id, s.sku)):
        units = row.present - row.reserved
        if units > 0 and row.sku in index and row.warehouse_id in warehouse_ids:
            rules.append({"warehouse": warehouse_ids[row.warehouse_id], "sku": index[row.sku],
                          "units": units})
    if len(rules) == 1:
        return ({"initial": [{"warehouse": "*", "days_of_cover": 7}]},
                ["stock: the history reports no stock; 7 days of cover assumed"])
    total = sum(rule["units"] for rule in rules)
    return {"initial": rules}, [
        f"stock: current free stock (present - reserved) per SKU and warehouse: "
        f"{len(rules) - 1:,} pairs, {total:,} units; sku = position in catalogue.skus"]


def scenario_text(cal: Calibration, *, name: str, horizon_days: float = HORIZON_DAYS) -> str:
    """The scenario YAML, commented, validated (:class:`ScenarioError` if it were not)."""
    h = cal.history
    horizon_hours = horizon_days * 24
    start = h.to.astimezone(MOSCOW)
    head = [f"Calibrated by `peakline calibrate` from {h.source},",
            f"{h.since.astimezone(MOSCOW):%Y-%m-%d %H:%M} to {start:%Y-%m-%d %H:%M} Moscow "
            f"time: {len(h.postings):,} postings, {len(h.returns):,} returns."]
    if h.analytics_units:
        units = sum(line.quantity for p in h.postings for line in p.lines)
        head.append(f"cross-check: analytics_data reports {sum(h.analytics_units.values()):,.0f}"
                    f" ordered units over the period, the postings {units:,}")
    demand, demand_notes = _demand(cal, horizon_hours)
    catalogue, catalogue_notes = _catalogue(cal)
    network, network_notes, warehouse_ids = _network(cal)
    stock, stock_notes = _stock(cal, warehouse_ids)
    clock = {"start": f"{start:%Y-%m-%dT%H:%M}", "horizon_hours": horizon_hours,
             "resolution_minutes": 60, "drain_hours": 48}
    parts = [
        _comment(head),
        _dump({"name": name, "description": f"calibrated from {h.source}"}, flow=False),
        "\n" + _comment(["clock: the coming period starts where the history ends"]),
        _dump({"clock": clock}, flow=False),
        "\n" + _comment(demand_notes), _dump({"demand": demand}),
        "\n" + _comment(catalogue_notes), _dump({"catalogue": catalogue}),
        "\n" + _comment(network_notes), _dump({"network": network}),
        "\n" + _comment(stock_notes), _dump({"stock": stock}),
    ]
    text = "".join(parts)
    parse_scenario(yaml.safe_load(text), f"<calibrated {name}>")
    return text


def write_scenario(cal: Calibration, path: Path, *, horizon_days: float = HORIZON_DAYS) -> Path:
    """Write the calibrated scenario to ``path`` (its name is the file's stem)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem) or "calibrated"
    text = scenario_text(cal, name=name, horizon_days=horizon_days)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
