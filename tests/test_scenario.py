"""Scenario files: bundled ones validate; broken ones name file, field and problem, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from peakline.cli import app
from simulator.safe_yaml import MAX_BYTES
from simulator.scenario import ScenarioError, load_scenario, parse_scenario

from .conftest import SCENARIOS


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_bundled_scenarios_validate(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem


def _squeezed(text: str) -> str:
    """``text`` without white space (the console wraps long lines)."""
    return "".join(text.split())


def _broken(tmp_path: Path, smoke_path: Path, mutate) -> Path:
    data = yaml.safe_load(smoke_path.read_text())
    mutate(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (
            lambda d: d["demand"].update(baseline_orders_per_hour=-5),
            "demand.baseline_orders_per_hour",
            "greater than 0",
        ),
        (
            lambda d: d["demand"].update(baseline_order_per_hour=5),
            "demand.baseline_order_per_hour",
            "unknown field",
        ),
        (
            lambda d: d["network"]["lanes"][2].update(to="NOWHERE"),
            "network.lanes[2].to",
            "unknown node 'NOWHERE'",
        ),
        (
            lambda d: d["network"]["warehouses"][0]["shifts"][0].update(start="25:00"),
            "network.warehouses[0].shifts[0].start",
            "HH:MM",
        ),
        (
            lambda d: d["stock"]["initial"].append({"warehouse": "WH-X", "units": 3}),
            "stock.initial[1].warehouse",
            "unknown",
        ),
        (lambda d: d["demand"].update(hour_of_day=[1, 2]), "demand.hour_of_day", "24"),
        (
            lambda d: d["network"]["lanes"][0].update(
                transit_hours={"dist": "lognormal", "mean": 2}
            ),
            "network.lanes[0].transit_hours.sd",
            "required",
        ),
    ],
)
def test_broken_file_names_file_field_and_problem(
    tmp_path, smoke_path, mutate, field, words
) -> None:
    path = _broken(tmp_path, smoke_path, mutate)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    text = str(caught.value)
    assert str(path) in text
    assert any(f == field and words in m for f, m in caught.value.problems), caught.value.problems


def test_cli_exits_2_with_clear_message(tmp_path, smoke_path) -> None:
    path = _broken(tmp_path, smoke_path, lambda d: d["catalogue"].update(sku_count="many"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "catalogue.sku_count" in result.output and str(path) in result.output


def test_not_yaml_and_missing_file(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="line"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="No such file"):
        load_scenario(tmp_path / "missing.yaml")
    with pytest.raises(ScenarioError, match="mapping"):
        parse_scenario(["a", "list"])


def test_with_overrides_revalidates(smoke_path) -> None:
    scenario = load_scenario(smoke_path)
    doubled = scenario.with_overrides(**{"demand.baseline_orders_per_hour": 120})
    assert doubled.demand.baseline_orders_per_hour == 120
    assert scenario.demand.baseline_orders_per_hour == 60
    with pytest.raises(ValueError, match="greater than 0"):
        scenario.with_overrides(**{"demand.baseline_orders_per_hour": -1})


# --------------------------------------------------------------------------- hostile files

SMOKE_TEXT = (SCENARIOS / "smoke.yaml").read_text(encoding="utf-8")
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(  # 9 ** 9 values from 9 lines
    f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
    for a, b in zip("abcdefgh", "bcdefghi", strict=True))


def _duplicate_key() -> tuple[bytes, str]:
    """Smoke with a second ``baseline_orders_per_hour`` (last-wins would give 6M orders/h)."""
    lines = SMOKE_TEXT.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "baseline_orders_per_hour" in line)
    lines.insert(at + 1, "  baseline_orders_per_hour: 6000000\n")
    return "".join(lines).encode(), f"line {at + 2}, column 3"


@pytest.mark.parametrize(
    ("content", "where", "words"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "line 1, column 1", "not UTF-8"),
        ("name: café\n".encode("latin-1"), "line 1, column 10", "not UTF-8"),
        (b"name: smoke\nclock: {horizon_hours: 24\x00}\n", "line 2, column 26", "U+0000"),
        (("[" * 400 + "]" * 400).encode(), "line 1, column 65", "nested more than 64 levels"),
        (("demand:\n" + "".join(" " * i + "x:\n" for i in range(1, 300))).encode(), "line 64",
         "nested more than"),
        (BOMB.encode(), "line 7", "alias bomb"),
        (b"a: &a [1, *a]\n", "line 1, column 11", "refers to its own anchor"),
        (_duplicate_key()[0], _duplicate_key()[1], "duplicate key 'baseline_orders_per_hour'"),
        (b"catalogue: {seed: " + b"9" * 5000 + b"}\n", "line 1, column 19", "cannot read"),
        (b"clock: {start: 2026-13-45}\n", "line 1, column 16", "month must be in 1..12"),
        (b"a: !!python/object/apply:os.system [ls]\n", "line 1, column 4", "constructor"),
        (b"", "(top level)", "must be a mapping"),
    ],
    ids=["binary", "latin-1", "nul", "deep-list", "deep-map", "alias-bomb", "alias-loop",
         "duplicate-key", "huge-int", "bad-date", "python-tag", "empty"],
)
def test_hostile_file_is_a_clear_error(tmp_path, content: bytes, where: str, words: str) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_bytes(content)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(path) in str(caught.value)
    [(field, message)] = caught.value.problems
    assert field.startswith(where) and words in message, (field, message)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert _squeezed(f"{path}: {field}: {message}") in _squeezed(result.output)


def test_file_too_large_is_refused_unread(tmp_path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as fh:
        fh.truncate(MAX_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ScenarioError, match="larger than 16 MB"):
        load_scenario(path)


def test_unquoted_date_and_merge_keys_still_load(tmp_path, smoke_path) -> None:
    text = SMOKE_TEXT.replace('start: "2026-11-27T00:00"', "start: 2026-11-27")
    text = text.replace("  cancel_probability: 0.02\n", "  <<: {cancel_probability: 0.5}\n"
                        "  cancel_probability: 0.02\n")
    path = tmp_path / "dates.yaml"
    path.write_text(text, encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.clock.start == "2026-11-27" and scenario.demand.cancel_probability == 0.02


# --------------------------------------------------------------------------- ranges and worlds


def _lanes_without(d, *pairs) -> None:
    lanes = d["network"]["lanes"]
    d["network"]["lanes"] = [ln for ln in lanes if (ln["from"], ln["to"]) not in pairs]


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda d: d["clock"].update(drain_hours=float("inf")), "clock.drain_hours", "finite"),
        (lambda d: d["demand"]["hour_of_day"].__setitem__(3, float("nan")),
         "demand.hour_of_day[3]", "finite"),
        (lambda d: d["demand"].update(baseline_orders_per_hour=1e308),
         "demand.baseline_orders_per_hour", "less than or equal to 10000000"),
        (lambda d: d["demand"].update(baseline_orders_per_hour="1e308"),
         "demand.baseline_orders_per_hour", "less than or equal"),
        (lambda d: d["demand"]["peaks"].extend(
            {"name": f"x{i}", "start_hour": 1, "duration_hours": 5, "multiplier": 1000}
            for i in range(3)), "demand.peaks", "cannot be simulated"),
        (lambda d: d["clock"].update(start="not a date"), "clock.start", "not an ISO date-time"),
        (lambda d: d["clock"].update(start="9999-01-01T00:00"), "clock.start", "1900..2200"),
        (lambda d: d["catalogue"].update(seed=-1), "catalogue.seed", "greater than or equal to 0"),
        (lambda d: d["catalogue"].update(lines_per_order={"dist": "constant", "value": 500}),
         "catalogue.lines_per_order", "at most 100"),
        (lambda d: d["catalogue"].update(
            lines_per_order={"dist": "shifted_poisson", "mean": 2, "max": 1_000_000}),
         "catalogue.lines_per_order", "at most 100"),
        (lambda d: d["network"]["lanes"][0].update(
            transit_hours={"dist": "gamma", "mean": 2, "sd": float("nan")}),
         "network.lanes[0].transit_hours.sd", "finite"),
        (lambda d: d["policies"].update(replenishment={
            "name": "periodic_review", "params": {"review_hours": 1e-9}}),
         "policies.replenishment.params.review_hours", "at most every 1 h"),
        (lambda d: d["policies"]["replenishment"]["params"].update(s_days=9, S_days=3),
         "policies.replenishment.params.S_days", "must be >= s_days"),
        (lambda d: d["policies"]["replenishment"]["params"].update(s_days=float("nan")),
         "policies.replenishment.params.s_days", "nan is not a number"),
        (lambda d: d["policies"]["replenishment"]["params"].update(S_days=1e300),
         "policies.replenishment.params.S_days", "not a number within ±1e+09"),
        (lambda d: d["policies"]["replenishment"]["params"].update(S_dayz=3),
         "policies.replenishment.params.S_dayz", "unknown parameter"),
        (lambda d: d["policies"].update(allocation={"name": "nearest"}),
         "policies.allocation.name", "unknown allocation policy 'nearest'"),
        (lambda d: d["network"]["warehouses"][0]["shifts"][0].update(days=[0, 7]),
         "network.warehouses[0].shifts[0].days[1]", "less than or equal to 6"),
        (lambda d: d["network"]["warehouses"][0]["shifts"][0].update(days=[1, 1]),
         "network.warehouses[0].shifts[0].days", "twice"),
        (lambda d: d.update(name=".."), "name", "should match pattern"),
        (lambda d: d["network"]["regions"][0].update(id="../etc"), "network.regions[0].id",
         "should match pattern"),
        (lambda d: d["network"]["lanes"].append(dict(d["network"]["lanes"][0])),
         "network.lanes[7]",
         "a second truck lane from 'WH-MSK' to 'SC-MSK' (the first is lanes[0])"),
        (lambda d: d["network"]["lanes"].append(dict(d["network"]["lanes"][0], to="WH-MSK")),
         "network.lanes[7]", "to itself"),
        (lambda d: _lanes_without(d, ("H-SPB", "R-SPB")), "network.regions[1]",
         "no warehouse reaches 'R-SPB'"),
        (lambda d: _lanes_without(d, ("H-SPB", "R-SPB"), ("H-MSK", "R-MSK")),
         "network.regions[0]", "no warehouse reaches 'R-MSK', 'R-SPB'"),
    ],
)
def test_out_of_range_and_unworkable_worlds_name_the_field(
    tmp_path, smoke_path, mutate, field, words
) -> None:
    path = _broken(tmp_path, smoke_path, mutate)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert any(f == field and words in m for f, m in caught.value.problems), caught.value.problems


def test_allowed_but_idle_parts_are_stated_warnings(tmp_path, smoke_path) -> None:
    def idle(d) -> None:
        d["network"]["warehouses"].append(dict(d["network"]["warehouses"][1], id="WH-IDLE"))
        d["network"]["hubs"].append(dict(d["network"]["hubs"][1], id="H-IDLE"))
        d["demand"]["peaks"].append({"name": "too late", "start_hour": 30, "duration_hours": 1,
                                     "multiplier": 2})
        d["faults"].append({"name": "after the end", "node": "SC-MSK", "start_hour": 100,
                            "duration_hours": 1})

    path = _broken(tmp_path, smoke_path, idle)
    assert load_scenario(smoke_path).warnings() == []
    warnings = dict(load_scenario(path).warnings())
    assert "it will never ship" in warnings["network.warehouses[2]"]
    assert "it will stay idle" in warnings["network.hubs[2]"]
    assert "changes nothing" in warnings["demand.peaks[1].start_hour"]
    assert "changes nothing" in warnings["faults[1].start_hour"]
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0
    expected = f"warning: {path}: network.warehouses[2]: 'WH-IDLE' reaches no region"
    assert _squeezed(expected) in _squeezed(result.output)


def test_names_are_printed_as_text_not_console_markup(tmp_path, smoke_path) -> None:
    def markup(d) -> None:
        d["demand"]["peaks"][0]["name"] = "[/]"
        d["faults"][0]["name"] = "[bold]closed"
        d["network"]["warehouses"].append(dict(d["network"]["warehouses"][1], id="WH-X",
                                               name="[/]"))
        d["demand"]["peaks"].append({"name": "[/] late", "start_hour": 99,
                                     "duration_hours": 1, "multiplier": 2})

    path = _broken(tmp_path, smoke_path, markup)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "[/]" in result.output and "[bold]closed" in result.output
    assert "'[/] late' starts after the horizon" in " ".join(result.output.split())
    result = CliRunner().invoke(app, ["simulate", str(smoke_path), "--allocation", "[/]"])
    assert result.exit_code == 2 and "unknown allocation policy '[/]'" in result.output


def test_a_stock_file_that_never_ends_is_refused(tmp_path, smoke_path) -> None:
    path = _broken(tmp_path, smoke_path, lambda d: d["stock"].update(initial_file="/dev/zero"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert caught.value.problems == [("stock.initial_file", "/dev/zero: larger than 64 MB")]
