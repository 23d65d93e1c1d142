"""Fuzzing scenario files: a mutated bundled scenario is refused (exit 2, naming the file and a
field) or validated and then run within a time bound; never a traceback.

Mutations change values (types, ranges, inf/NaN, huge and tiny numbers, odd strings), the
structure (keys removed, added or repeated, list items copied or dropped) and the bytes
(other encodings, random bytes, truncation, a line repeated, deep nesting, alias bombs).
A file that validates is simulated when its expected size is small; a bigger one must be
refused by ``simulate`` under a memory limit below its estimate.

The suite runs a few dozen derandomised examples on ``smoke.yaml``. For a long local run::

    PEAKLINE_FUZZ_EXAMPLES=2000 .venv/bin/pytest tests/test_scenario_fuzz.py -s -q

(every bundled file, random seeds; it prints what the mutated files led to).
"""

from __future__ import annotations

import copy
import math
import os
import re
import signal
import tempfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from peakline.cli import app
from simulator.scenario import ScenarioError, load_scenario
from simulator.sizing import estimate

from .conftest import SCENARIOS

EXAMPLES = int(os.environ.get("PEAKLINE_FUZZ_EXAMPLES", "0"))
LONG = EXAMPLES > 0
BASES = sorted(SCENARIOS.glob("*.yaml")) if LONG else [SCENARIOS / "smoke.yaml"]
DATA = {path.name: yaml.safe_load(path.read_text(encoding="utf-8")) for path in BASES}
WEIGHTS = {"smoke.yaml": 4}  # small enough to run: most long-mode files start from it
RUN_BOUND_SECONDS = 60
SMALL_RUN = {"orders": 20_000, "events": 100_000, "pairs": 200_000}
REASONS: Counter[str] = Counter()  # problems of refused files, numbers and names elided

HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.sampled_from([0, -1, 1, 1e-9, 1e9, 1e308, -1e308, 2**63, 10**400, "", "x", "..",
                     "24:00", "1e308", "inf", "nan", "2026-13-45", "[/]", "[bold", [], {},
                     [[[]]], {"a": 1}]),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.lists(st.floats(), max_size=30),
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _paths(value, (*prefix, i))
    return out


def _at(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@st.composite
def mutated_data(draw: st.DrawFn, base: Any) -> Any:
    """``base`` with one to three mutations: mostly numbers moved (often still valid, so the
    file runs), else any value replaced, a key or item removed, added or repeated."""
    data = copy.deepcopy(base)
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        paths = [p for p in _paths(data) if p]
        numbers = [p for p in paths if _is_number(_at(data, p))]
        kind = draw(st.sampled_from(["number"] * 4 + ["value", "delete", "add", "repeat"]))
        path = draw(st.sampled_from(numbers if kind == "number" and numbers else paths))
        parent, key = _at(data, path[:-1]), path[-1]
        old = parent[key]
        if kind == "number" and _is_number(old):
            factor = draw(st.sampled_from([0.5, 0.9, 1.1, 2, 10, 0, -1, 1e-9, 0.01, 1e3, 1e6,
                                           1e300]))
            parent[key] = draw(st.one_of(st.just(old * factor), st.floats(0, 1e4),
                                         st.integers(0, 100)))
        elif kind == "delete":
            del parent[key]
        elif kind == "add" and isinstance(old, dict):
            old[draw(st.sampled_from(["extra", "name", "id", "from", "dist", "<<"]))] = draw(
                HOSTILE)
        elif kind == "repeat" and isinstance(parent, list):
            parent.append(copy.deepcopy(old))
        else:
            parent[key] = draw(HOSTILE)
    return data


@st.composite
def mutated_bytes(draw: st.DrawFn) -> bytes:
    """A bundled scenario, mutated as data and then, sometimes, as bytes."""
    name = draw(st.sampled_from([n for n in sorted(DATA) for _ in range(WEIGHTS.get(n, 1))]))
    data = draw(mutated_data(DATA[name]))
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    raw = text.encode("utf-8")
    kind = draw(st.sampled_from(["none"] * 6 + ["insert", "truncate", "line", "encode",
                                                 "deep", "bomb", "random"]))
    if kind == "insert":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    elif kind == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif kind == "line":
        lines = raw.splitlines(keepends=True)
        at = draw(st.integers(0, len(lines) - 1))
        raw = b"".join(lines[: at + 1] + [lines[at]] + lines[at + 1 :])
    elif kind == "encode":
        raw = text.encode(draw(st.sampled_from(["utf-16", "utf-32", "cp1251"])), "replace")
    elif kind == "deep":
        depth = draw(st.integers(50, 2000))
        raw += b"extra: " + b"[" * depth + b"]" * depth + b"\n"
    elif kind == "bomb":
        raw = (b"x0: &x0 [a, a, a, a, a, a, a, a, a, a]\n"
               + b"".join(f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 10)}]\n".encode()
                          for i in range(1, draw(st.integers(2, 9))))
               + raw)
    elif kind == "random":
        raw = draw(st.binary(max_size=400))
    return raw


@contextmanager
def deadline(seconds: float):
    """Raise TimeoutError in this (main) thread when the block runs longer than ``seconds``."""

    def expire(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _squeezed(text: str) -> str:
    return "".join(text.split())


def check_file(path: Path, workdir: Path) -> str:
    """Validate ``path`` through the CLI and run it if it is small; return the outcome."""
    runner = CliRunner()
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code in (0, 2) and not _crashed(result), _explain(result)
    if result.exit_code == 2:
        # every problem line names the file, then a field (or a line of the file)
        problems = re.findall(re.escape(_squeezed(str(path))) + r":([^:]+):",
                              _squeezed(result.output))
        assert problems and all(problems), result.output
        with pytest.raises(ScenarioError) as caught:
            load_scenario(path)
        for _, message in caught.value.problems:
            REASONS[re.sub(r"'[^']*'|-?\d[\w.+-]*", "…", message)[:70]] += 1
        return "refused"
    scenario = load_scenario(path)
    size = estimate(scenario)
    assert math.isfinite(size.memory_bytes) and size.orders >= 0, size
    out = ["simulate", str(path), "--seed", "3", "--no-report", "--out", str(workdir / "out")]
    if any(getattr(size, k) > v for k, v in SMALL_RUN.items()):
        limit = f"{max(int(size.memory_bytes // 2), 1)}B"
        result = runner.invoke(app, [*out, "--max-memory", limit])
        assert result.exit_code == 2 and "needs about" in result.output, _explain(result)
        return "too big to run here: refused under --max-memory"
    with deadline(RUN_BOUND_SECONDS):
        result = runner.invoke(app, out)
    assert result.exit_code == 0 and not _crashed(result), _explain(result)
    return "ran"


def _crashed(result) -> bool:
    return result.exception is not None and not isinstance(result.exception, SystemExit)


def _explain(result) -> str:
    import traceback

    trace = "".join(traceback.format_exception(result.exception)) if _crashed(result) else ""
    return f"exit {result.exit_code}\n{result.output[-3000:]}\n{trace}"


def test_mutated_scenarios_are_refused_clearly_or_run() -> None:
    outcomes: Counter[str] = Counter()

    @settings(max_examples=EXAMPLES or 30, deadline=None, derandomize=not LONG,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(mutated_bytes())
    def check(raw: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "mutant.yaml"
            path.write_bytes(raw)
            outcomes[check_file(path, Path(tmp))] += 1

    check()
    print(f"\nmutated scenario files: {sum(outcomes.values())}; " +
          ", ".join(f"{k}: {v}" for k, v in outcomes.most_common()))
    if LONG:
        print("most common problems:\n" + "\n".join(
            f"{n:5}  {reason}" for reason, n in REASONS.most_common(40)))
    assert outcomes["refused"] and outcomes["ran"], outcomes


def test_refusal_names_the_file_in_every_problem(tmp_path) -> None:
    """The fuzz's own yardstick: a known-bad file gives file-and-field lines, exit 2."""
    data = copy.deepcopy(DATA["smoke.yaml"])
    data["clock"]["drain_hours"] = float("inf")
    data["catalogue"]["seed"] = -1
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert check_file(path, tmp_path) == "refused"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert [f for f, _ in caught.value.problems] == ["clock.drain_hours", "catalogue.seed"]


def test_fuzz_finding_a_run_without_orders_says_so(tmp_path) -> None:
    """Found by the long fuzz: a valid file whose horizon holds no order crashed ``simulate``
    (ZeroDivisionError comparing demand with the forecast)."""
    data = copy.deepcopy(DATA["smoke.yaml"])
    data["clock"]["horizon_hours"] = 0.001  # 0.06 orders expected: none sampled
    path = tmp_path / "empty.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert check_file(path, tmp_path) == "ran"
    result = CliRunner().invoke(app, ["simulate", str(path), "--no-report",
                                      "--out", str(tmp_path / "again")])
    assert "realised demand: 0 orders where the forecast expected some" in " ".join(
        result.output.split())
