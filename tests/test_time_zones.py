"""Time zones: regions buy and nodes work on their own clocks; the model converts once."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from peakline.cli import app
from reports.run_report import orders_figure
from simulator.actors.schedule import daily_times
from simulator.demand import DemandCurve, build_skus, sample_arrivals
from simulator.model import Simulation, make_streams, run
from simulator.scenario import Scenario, parse_scenario
from simulator.sizing import expected_orders

from .model_worlds import smoke_dict

VLADIVOSTOK = 7 * 60  # minutes ahead of Moscow (no daylight saving in Russia)
NOVOSIBIRSK = 4 * 60
# one busy evening hour (20:00) and a quiet rest of the day
PROFILE = [1.0] * 20 + [20.0] + [1.0] * 3


def _hourly_counts(scenario: Scenario) -> np.ndarray:
    """Orders per platform hour per region ``[hour, region]`` of one day."""
    skus = build_skus(scenario.catalogue)
    arrivals = sample_arrivals(scenario, DemandCurve(scenario, skus), make_streams(3))
    hour = (arrivals.time // 60).astype(int)
    counts = np.zeros((24, len(scenario.network.regions)))
    np.add.at(counts, (hour, arrivals.region), 1)
    return counts


def _zoned_demand(**peak) -> Scenario:
    d = smoke_dict()
    d["demand"].update(baseline_orders_per_hour=3000, hour_of_day=PROFILE,
                       peaks=[peak] if peak else [])
    d["network"]["regions"][1]["time_zone"] = "Asia/Vladivostok"  # R-SPB on a far-east clock
    return parse_scenario(d)


def test_each_region_follows_the_profile_on_its_own_clock() -> None:
    counts = _hourly_counts(_zoned_demand())
    moscow, east = counts[:, 0], counts[:, 1]
    assert int(np.argmax(moscow)) == 20  # 20:00 Moscow
    assert int(np.argmax(east)) == 20 - VLADIVOSTOK // 60  # 20:00 Vladivostok = 13:00 Moscow
    # every platform hour against the local-time profile, shifted by the offset
    expected = np.roll(np.asarray(PROFILE), -VLADIVOSTOK // 60)
    expected *= east.sum() / expected.sum()
    assert np.abs(east - expected).max() < 5 * np.sqrt(expected.max())
    assert abs(moscow.sum() / counts.sum() - 13.1 / 18.7) < 0.02  # weights split the day


def test_flash_sale_at_platform_hour_or_local_hour() -> None:
    flash = {"name": "flash", "start_hour": 10, "duration_hours": 1, "multiplier": 10}
    same = _hourly_counts(_zoned_demand(**flash))
    local = _hourly_counts(_zoned_demand(**flash, local_time=True))
    # announced in Moscow time: both regions spike at 10:00 Moscow
    assert same[10, 0] > 5 * same[9, 0] and same[10, 1] > 5 * same[9, 1]
    # local 10:00 everywhere: Vladivostok's spike comes 7 hours earlier on the platform clock
    assert local[10, 0] > 5 * local[9, 0]
    assert local[3, 1] > 5 * local[2, 1] and local[10, 1] < 2 * local[9, 1]


def test_shifts_cutoffs_and_departures_are_local_times() -> None:
    d = smoke_dict()
    d["network"]["warehouses"][1]["time_zone"] = "Asia/Novosibirsk"  # WH-SPB, 08:00-20:00
    sim = Simulation(parse_scenario(d), 1)
    rate = sim.warehouse_capacity[1].rate[:1440]
    working = np.flatnonzero(rate > 0)
    assert (working.min(), working.max()) == (8 * 60 - NOVOSIBIRSK, 20 * 60 - NOVOSIBIRSK - 1)
    sim.run()
    lanes = {(sim.network.ids[c.lane.src], sim.network.ids[c.lane.dst]): c for c in sim.carriers}
    spb = lanes["WH-SPB", "H-SPB"].trucks.times  # departures 10:00 and 18:00 Novosibirsk
    assert set((spb % 1440).tolist()) <= {10 * 60 - NOVOSIBIRSK, 18 * 60 - NOVOSIBIRSK}
    msk = lanes["WH-MSK", "SC-MSK"].trucks.times  # Moscow warehouse: Moscow hours
    assert set((msk % 1440).tolist()) <= {120, 480, 840, 1200}



def test_local_times_of_day_become_model_minutes() -> None:
    clock = parse_scenario(smoke_dict()).clock  # minute 0 = 00:00 Moscow
    cutoffs = [6 * 60, 18 * 60]
    assert list(daily_times(cutoffs, clock, 0, 2880)) == [360, 1080, 1800, 2520]
    # Novosibirsk: 06:00 local is 02:00 Moscow
    assert list(daily_times(cutoffs, clock, NOVOSIBIRSK, 2880)) == [120, 840, 1560, 2280]
    # Kaliningrad (an hour behind): 23:30 local on the eve is 00:30 Moscow, inside the run
    assert list(daily_times([1410], clock, -60, 1500)) == [30, 1470]


def test_platform_zone_everywhere_is_todays_model_draw_for_draw() -> None:
    plain = smoke_dict()
    spelled = smoke_dict()
    spelled["clock"]["time_zone"] = "Europe/Moscow"
    for kind in ("regions", "warehouses", "sorting_centres", "hubs"):
        for node in spelled["network"][kind]:
            node["time_zone"] = "Europe/Moscow"
    result = run(parse_scenario(plain), 5)
    a, b = result.to_dict(), run(parse_scenario(spelled), 5).to_dict()
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    # reports say whose clock their times are on
    assert a["time_zone"] == "Europe/Moscow"
    assert orders_figure(result).layout.xaxis.title.text == "time (Europe/Moscow)"


def test_a_bad_zone_names_file_field_and_a_close_name(tmp_path) -> None:
    d = smoke_dict()
    d["network"]["regions"][1]["time_zone"] = "Asia/Vladivostok"
    path = tmp_path / "zoned.yaml"
    path.write_text(yaml.safe_dump(d), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0
    text = re.sub(r"[│\s]+", " ", result.output)  # the table's cells, read as one text
    assert "clocks 2 zones; nodes by local time vs the platform's: 6 at +0 h, 1 at +7 h" in text
    d["network"]["regions"][1]["time_zone"] = "Asia/Vladivostock"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(d), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert str(path) in result.output.replace("\n", "")
    assert "network.regions[1].time_zone" in text and "'Asia/Vladivostok'" in text


def test_the_size_estimate_integrates_the_curve_of_every_clock() -> None:
    d = smoke_dict()
    d["network"]["regions"][1]["time_zone"] = "Asia/Vladivostok"
    d["demand"]["peaks"].append({"name": "local deal", "start_hour": 3, "duration_hours": 2,
                                 "multiplier": 2, "local_time": True, "sku_groups": ["home"]})
    scenario = parse_scenario(d)
    skus = build_skus(scenario.catalogue)
    exact = DemandCurve(scenario, skus).rate.sum()
    assert expected_orders(scenario, skus.group_mass()) == pytest.approx(exact, rel=1e-12)
    plain = DemandCurve(parse_scenario(smoke_dict()), skus).rate.sum()
    assert abs(exact - plain) > 1  # the clocks do move orders in or out of the horizon
