"""``peakline calibrate``: fits recover known parameters from synthetic histories, the CSV
path, the written scenario validates and simulates, and clear exit-2 errors."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from peakline.cli import app
from reference_backend.sellers.world import buyer_places
from simulator.calibration import cities
from simulator.calibration.cities import locate
from simulator.calibration.demand_fit import MOSCOW
from simulator.calibration.fitting import calibrate, fit_catalogue
from simulator.calibration.history import CalibrationError
from simulator.calibration.scenario_writer import scenario_text
from simulator.scenario import load_scenario, parse_scenario
from tests.calibration_history import Truth, synthetic_history, write_csv

runner = CliRunner()
SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.fixture(scope="module")
def truth() -> Truth:
    return Truth()


@pytest.fixture(scope="module")
def fitted(truth: Truth):
    return calibrate(synthetic_history(truth, seed=3), uplift=1.5)


def test_demand_curve_recovers_baseline_profiles_and_the_past_peak(truth, fitted) -> None:
    d = fitted.demand
    assert d.baseline_orders_per_hour == pytest.approx(truth.baseline, rel=0.05)
    assert np.corrcoef(d.hour_of_day, truth.hour_of_day)[0, 1] > 0.95
    assert np.max(np.abs(np.array(d.day_of_week) - truth.day_of_week)) < 0.1
    assert d.trend_per_week == 0  # no trend in the truth, none claimed
    [peak] = d.peaks
    first, last = truth.peak_hours
    assert peak.start == d.hours[first] and peak.hours == last - first
    assert peak.multiplier == pytest.approx(truth.peak_multiplier, rel=0.15)
    assert 0.8 < d.dispersion < 1.2  # Poisson noise only around the fit


def test_catalogue_baskets_and_outcomes_recover_their_parameters(truth, fitted) -> None:
    c, b, o = fitted.catalogue, fitted.baskets, fitted.outcomes
    assert c.zipf_exponent == pytest.approx(truth.zipf, abs=0.1)
    assert c.zipf_fits
    assert len(c.sku_ids) == truth.sku_count
    assert b.lines_per_order.mean == pytest.approx(truth.lines_mean, rel=0.05)
    assert b.units_per_line.mean == pytest.approx(truth.units_mean, rel=0.05)
    assert o.cancelled.value == pytest.approx(truth.cancel, abs=0.01)
    assert o.returned.value == pytest.approx(truth.returns, abs=0.01)
    assert o.return_delay.mean == pytest.approx(truth.return_delay_mean, rel=0.1)
    for h in fitted.handling.values():
        assert h.median_hours == pytest.approx(truth.handling_median_hours, rel=0.1)


def test_regions_are_placed_from_the_city_table_and_unknown_names_listed(truth, fitted) -> None:
    weights = {city.name: share for city, share in fitted.regions.weights.items()}
    expected = {locate(name).name: share for name, share in truth.cities.items()
                if locate(name)}
    assert set(weights) == set(expected) == {"Moscow", "Saint Petersburg", "Kazan"}
    for name, share in expected.items():
        assert weights[name] == pytest.approx(share, abs=0.02)
    assert list(fitted.regions.unknown) == ["Atlantis"]


def test_city_table_matches_spellings_not_guesses() -> None:
    assert locate("г. Санкт-Петербург").name == "Saint Petersburg"
    assert locate("", "Республика Татарстан").name == "Kazan"
    assert locate("Орел").name == "Oryol"
    assert locate("Springfield") is None


def test_calibrating_locates_each_order_once(monkeypatch) -> None:
    """The demand fit (buyers' clocks) and the region fit share one located list of orders."""
    history = synthetic_history(Truth(days=2), seed=1)
    calls: list[tuple[str, ...]] = []
    real = cities.locate

    def counted(*names: str):  # noqa: ANN202
        calls.append(names)
        return real(*names)

    for name, module in list(sys.modules.items()):  # wherever it is imported
        if name.startswith("simulator.calibration") and getattr(module, "locate", None) is real:
            monkeypatch.setattr(module, "locate", counted)
    fit = calibrate(history)
    assert len(calls) == len({p.order_number for p in history.postings}) == fit.regions.orders


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("**/*.yaml")), ids=lambda p: p.name)
def test_bundled_scenarios_buyer_regions_are_real_places(path) -> None:
    """The backend names a seeded seller's buyers by their region's city (in Russian, from
    the table): every bundled scenario's regions have one the table knows, each its own."""
    places = buyer_places(load_scenario(path))
    assert all(locate(city) for _, city, _ in places), places
    assert len({city for _, city, _ in places}) == len(places)


def test_written_scenario_validates_comments_its_blocks_and_simulates(fitted) -> None:
    from simulator.model import run

    text = scenario_text(fitted, name="cal", horizon_days=0.25)
    scenario = parse_scenario(yaml.safe_load(text))
    assert "# Zipf s=" in text and "KS D=" in text and "past peaks found" in text
    assert "unknown names, not in the table and left out: Atlantis" in text
    assert scenario.demand.peaks[0].multiplier == 1.5
    assert [s.id for s in scenario.catalogue.skus] == fitted.catalogue.sku_ids
    assert scenario.stock.initial[1].units == 45  # present 50 - reserved 5
    result = run(scenario, seed=1)
    assert result.kpis["orders_placed"] > 0


def test_a_catalogue_that_is_not_zipf_is_written_empirically(truth) -> None:
    history = synthetic_history(Truth(days=7), seed=2)
    # five blockbusters take half the lines; the rest are flat: no power law
    skus = sorted({line.sku for p in history.postings for line in p.lines})
    hits = skus[:5]
    rng = np.random.default_rng(0)
    for i, posting in enumerate(history.postings):
        lines = tuple(type(line)(int(rng.choice(hits)) if rng.random() < 0.5
                                 else int(rng.choice(skus)), line.quantity, line.price)
                      for line in posting.lines)
        history.postings[i] = type(posting)(**{**posting.__dict__, "lines": lines})
    fit = fit_catalogue(history)
    assert not fit.zipf_fits
    text = scenario_text(calibrate(history), name="emp")
    popularity = [s.popularity for s in parse_scenario(yaml.safe_load(text)).catalogue.skus]
    assert all(p is not None for p in popularity) and "Zipf rejected" in text


def test_calibrate_from_a_csv_export_writes_a_valid_scenario_and_report(tmp_path) -> None:
    truth = Truth(days=14)
    export = write_csv(synthetic_history(truth, seed=5), tmp_path / "postings.csv")
    out = tmp_path / "shop.yaml"
    result = runner.invoke(app, ["calibrate", "--csv", str(export), "--since", "2026-10-05",
                                 "--to", "2026-10-18", "--uplift", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Zipf" in result.output and "Atlantis" in result.output
    scenario = load_scenario(out)
    assert scenario.demand.baseline_orders_per_hour == pytest.approx(truth.baseline, rel=0.05)
    assert scenario.demand.peaks[0].multiplier == 2
    # Khorugvino by its coordinates, "Kazan FBS" by the city in its name; no stock in a CSV
    assert {w.city for w in scenario.network.warehouses} == {"Solnechnogorsk", "Kazan"}
    assert "no stock; 7 days of cover assumed" in out.read_text()
    assert runner.invoke(app, ["validate", str(out)]).exit_code == 0
    report = (tmp_path / "shop-report.html").read_text()
    for div in ("plot-hourly", "plot-rank", "plot-baskets", "plot-handling", "table-fits"):
        assert f'id="{div}"' in report


def test_csv_missing_column_is_named_and_exits_2(tmp_path) -> None:
    export = write_csv(synthetic_history(Truth(days=2), seed=1), tmp_path / "p.csv",
                        drop="price")
    result = runner.invoke(app, ["calibrate", "--csv", str(export)])
    assert result.exit_code == 2
    assert "missing column price" in result.output and "p.csv" in result.output


def test_too_little_data_names_the_block(tmp_path) -> None:
    history = synthetic_history(Truth(days=2, baseline=0.3), seed=1)
    with pytest.raises(CalibrationError, match="demand block: too little data"):
        calibrate(history)
    few_handed = synthetic_history(Truth(days=2), seed=1)
    few_handed.postings[:] = [type(p)(**{**p.__dict__, "delivering_date": None})
                              for p in few_handed.postings]
    with pytest.raises(CalibrationError, match="demand.return_probability block"):
        calibrate(few_handed)


def test_a_listed_catalogue_gives_real_ids_prices_and_popularity() -> None:
    from simulator.demand import build_skus
    from simulator.scenario import ScenarioError

    data = yaml.safe_load(Path("scenarios/smoke.yaml").read_text())
    data["catalogue"].update(sku_count=3, skus=[
        {"id": 900, "price_rub": 10.0, "popularity": 6}, {"id": 901, "popularity": 3},
        {"id": 902, "price_rub": 30.0, "popularity": 1}])
    skus = build_skus(parse_scenario(data).catalogue)
    assert skus.popularity.tolist() == pytest.approx([0.6, 0.3, 0.1])
    assert skus.price[0] == 10.0 and skus.price[2] == 30.0
    data["catalogue"]["skus"][1].pop("popularity")
    with pytest.raises(ScenarioError, match="popularity on every SKU or on none"):
        parse_scenario(data)
    data["catalogue"]["skus"] = [{"id": 900}, {"id": 901}]
    with pytest.raises(ScenarioError, match="catalogue.skus: lists 2 SKUs, sku_count is 3"):
        parse_scenario(data)
    data["catalogue"]["skus"].append({"id": 901})
    with pytest.raises(ScenarioError, match="duplicate SKU id '901'"):
        parse_scenario(data)
    data["catalogue"]["skus"][2] = {"id": 902}
    zipf = build_skus(parse_scenario(data).catalogue).popularity  # by list position
    assert zipf[0] > zipf[1] > zipf[2]


def test_profiles_are_fitted_on_the_buyers_own_clocks(truth) -> None:
    """Buyers in Moscow, Novosibirsk (+4 h) and Vladivostok (+7 h) who all follow the same
    profile on their own clocks: the fit recovers that local profile (a Moscow-time histogram
    of the same orders is smeared), and the written regions carry their time zones."""
    local = Truth(cities={"Москва": 0.5, "Новосибирск": 0.2, "Владивосток": 0.3},
                  local_time=True, peak_multiplier=1.0)
    history = synthetic_history(local, seed=5)
    cal = calibrate(history)
    fitted = np.array(cal.demand.hour_of_day)
    assert np.corrcoef(fitted, local.hour_of_day)[0, 1] > 0.97
    assert np.max(np.abs(np.array(cal.demand.day_of_week) - local.day_of_week)) < 0.1
    assert cal.demand.baseline_orders_per_hour == pytest.approx(local.baseline, rel=0.05)
    moscow_hours = np.bincount([p.in_process_at.astimezone(MOSCOW).hour
                                for p in history.postings], minlength=24)
    assert np.corrcoef(moscow_hours, local.hour_of_day)[0, 1] < 0.9  # what a Moscow fit sees
    written = yaml.safe_load(scenario_text(cal, name="zones"))
    assert {r["city"]: r["time_zone"] for r in written["network"]["regions"]} == {
        "Moscow": "Europe/Moscow", "Novosibirsk": "Asia/Novosibirsk",
        "Vladivostok": "Asia/Vladivostok"}
    assert {w["time_zone"] for w in written["network"]["warehouses"]} == {"Europe/Moscow"}
    parse_scenario(written)  # the scenario reads its clocks
