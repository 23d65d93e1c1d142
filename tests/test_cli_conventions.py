"""The CLI conventions people expect: ``--version``, completion, valid names in ``--help`` and
"did you mean" on a typo, help that reads whole, ``--quiet``/``--json``, progress per
replication with ``--jobs 1``, Ctrl-C that says what was written, a dead ``--dask`` address,
and ``serve``'s listening line and log formats."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import click
import httpx
import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from peakline import cli
from peakline.cli import app
from peakline.common import INTERRUPTED, interrupt_says_what_was_written, policy_names
from simulator.experiment import Job, SerialExecutor, Variant, as_finished
from simulator.scenario import load_scenario
from tests.backend_support import ROOT, free_port

PEAKLINE = [sys.executable, "-m", "peakline"]


def _wide() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})


def _flat(text: str) -> str:
    """Help text without box drawing, line breaks and Markdown code marks, for phrase lookups."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).replace("`", "").split())


def test_version_is_the_installed_one() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"peakline {importlib.metadata.version('peakline')}"


def test_each_command_loads_only_its_own_part() -> None:
    """``cli.COMMANDS`` names the module of every command the full app has, and ``peakline seed``
    starts without the parts it does not use (SciPy for calibrate, Locust for load tests)."""
    full = get_command(app)
    assert set(full.commands) == set(cli.COMMANDS)
    for name, module in cli.COMMANDS.items():
        assert name in get_command(cli.build([module])).commands
    probe = ("import sys; sys.argv = ['peakline', 'seed', '--help']\n"
             "from peakline.cli import run\ntry:\n    run()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('scipy.stats', 'locust', 'loadtests.cli') "
             "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def test_shell_completion_completes_commands_and_policy_names() -> None:
    assert "--install-completion" in _wide().invoke(app, ["--help"]).output

    def complete(*words: str) -> list[str]:
        env = {**os.environ, "_PEAKLINE_COMPLETE": "complete_bash",
               "COMP_WORDS": " ".join(["peakline", *words]), "COMP_CWORD": str(len(words))}
        script = Path(sys.executable).with_name("peakline")  # (the installed command)
        done = subprocess.run([str(script)], env=env, capture_output=True, text=True,
                              timeout=60, cwd=ROOT)
        return done.stdout.split()

    assert complete("sim") == ["simulate"]
    assert complete("compare", "x.yaml", "--allocation", "least_cost,bal") == [
        "least_cost,balanced"]


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


COMMANDS = list(_commands(get_command(app)))


def test_short_help_is_a_whole_first_sentence() -> None:
    listed = _flat(_wide().invoke(app, ["--help"]).output)
    for path, command in COMMANDS:
        if len(path) > 1:
            continue
        first = _flat((command.help or "").split("\n\n")[0])
        assert first.endswith("."), f"{path}: short help is not a sentence: {first!r}"
        assert f"{path[0]} {first}" in listed, f"{path}: {first!r} not listed whole"


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_every_help_renders_each_option_whole(path: tuple[str, ...]) -> None:
    """Every option's help text appears word for word (nothing eaten by markup or cut)."""
    result = _wide().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    shown = _flat(result.output)
    command = dict(COMMANDS)[path]
    for param in command.params:
        text = getattr(param, "help", None)
        if text:
            assert _flat(text) in shown, f"{path} {param.name}: {text!r}"


def test_help_lists_the_registered_policies_with_plugins(tmp_path: Path) -> None:
    """The names come from the registry: an installed plugin's entry point shows up too."""
    dist = tmp_path / "peakline_help_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: peakline-help-plugin\n"
                                   "Version: 0.1\n")
    (dist / "entry_points.txt").write_text("[peakline.allocation]\n"
                                           "zigzag_plugin = peakline_help_plugin:Zigzag\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "COLUMNS": "200"}
    for command in ("simulate", "compare"):
        out = _flat(subprocess.run([*PEAKLINE, command, "--help"], env=env, cwd=ROOT,
                                   capture_output=True, text=True, timeout=60).stdout)
        for name in [*policy_names("allocation"), "zigzag_plugin",
                     *policy_names("replenishment")]:
            assert name in out, (command, name)
    typo = subprocess.run([*PEAKLINE, "simulate", "scenarios/smoke.yaml", "--allocation",
                           "zigzag_plugn"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert typo.returncode == 2 and "did you mean 'zigzag_plugin'?" in typo.stderr


@pytest.mark.parametrize(("args", "hint"), [
    (["simulate", "{s}", "--allocation", "least_cots"], "did you mean 'least_cost'?"),
    (["simulate", "{s}", "--replenishment", "s_s"], "did you mean 's_S'?"),
    (["compare", "{s}", "--allocation", "least_cost,nearset"],
     "did you mean 'nearest_with_stock'?"),
    (["compare", "{s}", "--replenishment", "s_S,base_stok"], "did you mean 'base_stock'?"),
    (["compare", "{s}", "--set", "demand.baseline_order_per_hour=1,2"],
     "did you mean 'demand.baseline_orders_per_hour'?"),
    (["compare", "{s}", "--set", "forecast.baseline_orders_per_hr=1,2"],
     "did you mean 'forecast.baseline_orders_per_hour'?"),
    (["plan-stock", "{s}", "--policy", "base-stock"], "did you mean 'base_stock'?"),
])
def test_a_typo_gets_did_you_mean_and_exit_2(smoke_path, tmp_path, args, hint) -> None:
    result = _wide().invoke(app, [a.format(s=smoke_path) for a in args]
                            + ["--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert hint in result.output
    assert not (tmp_path / "out").exists()


def test_simulate_json_and_quiet(smoke_path, tmp_path) -> None:
    result = CliRunner().invoke(app, ["simulate", str(smoke_path), "--json", "--seed", "2",
                                      "--no-report", "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stdout holds the JSON document and nothing else
    written = json.loads((tmp_path / "a" / "result.json").read_text())
    assert data["kpis"]["orders_placed"] == written["kpis"]["orders_placed"] > 0
    assert data["seed"] == 2 and str(tmp_path / "a" / "result.json") in data["files"]
    assert "orders/s" in result.stderr  # messages went to stderr
    quiet = CliRunner().invoke(app, ["simulate", str(smoke_path), "--quiet", "--no-report",
                                     "--out", str(tmp_path / "b")])
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
    assert (tmp_path / "b" / "result.json").exists()


def test_compare_json_and_quiet(smoke_path, tmp_path) -> None:
    args = ["compare", str(smoke_path), "--allocation", "least_cost,nearest_with_stock",
            "--reps", "2"]
    result = CliRunner().invoke(app, [*args, "--json", "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [v["label"] for v in data["variants"]] == [
        "least_cost / scenario", "nearest_with_stock / scenario"]
    written = json.loads((tmp_path / "a" / "comparison.json").read_text())
    assert data["seeds"] == written["seeds"] and len(data["seeds"]) == 2
    assert data["variants"][1]["kpis"]["orders_placed"] == (
        written["variants"][1]["kpis"]["orders_placed"])
    assert "2 variants x 2 reps" in result.stderr
    quiet = CliRunner().invoke(app, [*args, "--quiet", "--out", str(tmp_path / "b")])
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
    assert (tmp_path / "b" / "comparison.json").exists()


def recording_model(scenario, seed, **policies):
    """The real model, noting each replication as it starts (a ``Job.model`` plug-in)."""
    from simulator.model import run

    STARTED.append(seed)
    return run(scenario, seed, **policies)


STARTED: list[int] = []


def test_serial_replications_are_reported_as_each_finishes(smoke_path) -> None:
    """With ``--jobs 1`` each replication is handed back before the next starts, so the
    progress bar moves with every one (it sat at 0 until the end before)."""
    scenario = load_scenario(smoke_path).with_overrides(**{"clock.horizon_hours": 6})
    jobs = [Job(scenario, Variant("v"), seed, model=f"{__name__}:recording_model")
            for seed in (11, 12, 13)]
    STARTED.clear()
    finished = as_finished(jobs, SerialExecutor())
    for expected, (index, result) in enumerate(finished):
        assert index == expected and result.seed == jobs[index].seed
        assert [j.seed for j in jobs[:index + 1]] == STARTED  # the next has not started


def test_interrupt_names_the_files_written(tmp_path) -> None:
    out = tmp_path / "out"
    runner_app = typer.Typer()

    @runner_app.command()
    def write(files: int) -> None:
        with interrupt_says_what_was_written(out):
            out.mkdir(exist_ok=True)
            for i in range(files):
                (out / f"part{i}.csv").write_text("x")
            raise KeyboardInterrupt

    result = CliRunner().invoke(runner_app, ["2"])
    assert result.exit_code == INTERRUPTED
    assert "wrote 2 file(s)" in result.stderr and "part0.csv, part1.csv" in result.stderr
    result = CliRunner().invoke(runner_app, ["0"])
    assert result.exit_code == INTERRUPTED and "interrupted: nothing written" in result.stderr


@pytest.mark.parametrize("command", [
    ["simulate", "scenarios/peak_day.yaml"],
    ["compare", "scenarios/peak_day.yaml", "--allocation", "least_cost,balanced", "--reps", "2"],
    ["plan-stock", "scenarios/peak_day.yaml", "--reps", "2"],
])
def test_ctrl_c_exits_130_and_says_nothing_was_written(command, tmp_path) -> None:
    """A real SIGINT while the simulation runs (seen on the live progress bar)."""
    out = tmp_path / "out"
    process = subprocess.Popen([*PEAKLINE, *command, "--out", str(out)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "TTY_COMPATIBLE": "1", "COLUMNS": "120"})
    seen = threading.Event()

    def watch() -> None:
        assert process.stdout is not None
        buffer = b""
        while chunk := process.stdout.read1(4096):
            buffer += chunk
            if re.search(rb"h simulated|x 2 reps|pilot", buffer):
                seen.set()

    threading.Thread(target=watch, daemon=True).start()
    try:
        assert seen.wait(90), "no progress shown within 90 s"
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        code = process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    stderr = process.stderr.read().decode()  # type: ignore[union-attr]
    assert code == INTERRUPTED, stderr
    assert "interrupted: nothing written" in stderr and "Traceback" not in stderr
    assert not out.exists()


def test_dask_address_where_nothing_listens(smoke_path) -> None:
    port = free_port()  # (free: nothing listens there)
    started = time.monotonic()
    result = CliRunner().invoke(app, ["compare", str(smoke_path), "--allocation",
                                      "least_cost,balanced", "--reps", "2", "--dask",
                                      f"tcp://127.0.0.1:{port}"])
    assert result.exit_code == 2
    assert time.monotonic() - started < 10
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and f"tcp://127.0.0.1:{port}" in errors[0]
    assert "Traceback" not in result.output


def _serve(db: str, tmp_path: Path, *options: str):
    """``peakline serve`` as a subprocess (stdout and stderr to files), up on /health."""
    port = free_port()
    stdout, stderr = tmp_path / "serve.out", tmp_path / "serve.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen([*PEAKLINE, "serve", "--db", db, "--port", str(port),
                                    *options], cwd=tmp_path, stdout=out, stderr=err,
                                   env={**os.environ, "COLUMNS": "200"})
    base = f"http://127.0.0.1:{port}"
    deadline, pause = time.monotonic() + 60, 0.05
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return process, base, stdout, stderr
        except httpx.HTTPError:
            pass
        time.sleep(pause)
        pause = min(pause * 1.5, 1.0)
    process.kill()
    process.wait(10)
    pytest.fail(f"peakline serve did not come up:\n{stdout.read_text()}\n"
                f"{stderr.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(20)


def test_serve_says_where_it_listens_and_logs_json_off_a_terminal(tmp_path) -> None:
    """Standard error is a file here: JSON lines, one per request with its id."""
    process, base, stdout, stderr = _serve("sqlite:///./peakline.db", tmp_path)
    try:
        httpx.post(base + "/v3/product/list", json={}, headers={"X-Request-Id": "abc"})
        deadline = time.monotonic() + 10
        while "/v3/product/list" not in stderr.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        _stop(process)
    said = stdout.read_text()
    assert f"serving on {base}" in said and "database sqlite:///./peakline.db" in said
    assert "1 worker" in said and "JSON logs" in said
    records = [json.loads(line) for line in stderr.read_text().splitlines()]
    access = [r for r in records if r.get("path") == "/v3/product/list"]
    assert access and access[0]["status"] == 401 and access[0]["method"] == "POST"
    assert access[0]["request_id"] == "abc"


def test_serve_masks_the_database_password(tmp_path) -> None:
    admin = os.environ.get("PEAKLINE_TEST_DATABASE_URL")
    if not admin:
        pytest.skip("PEAKLINE_TEST_DATABASE_URL not set")
    from tests.backend_support import fresh_postgres_url

    with fresh_postgres_url(admin) as url:
        with_password = url.replace("://postgres@", "://postgres:s3cret-pw@", 1)
        assert "s3cret-pw" in with_password  # (trust authentication ignores the password)
        process, _, stdout, _ = _serve(with_password, tmp_path)
        _stop(process)
    said = stdout.read_text()
    assert "s3cret-pw" not in said and "postgres:***@" in said


def test_serve_logs_text_on_a_terminal(tmp_path) -> None:
    """The default (auto) gives a person at a terminal short readable lines."""
    import pty

    port = free_port()
    master, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "PEAKLINE_JSON_LOGS"}
    process = subprocess.Popen([*PEAKLINE, "serve", "--db", "sqlite:///./peakline.db", "--port",
                                str(port)], cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=terminal, env=env)
    os.close(terminal)
    said = bytearray()
    threading.Thread(target=lambda: _drain(master, said), daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        while b"GET /health 200" not in said and time.monotonic() < deadline:
            assert process.poll() is None, said.decode(errors="replace")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
            time.sleep(0.2)
        live = bytes(said)  # what the person saw while the server ran, not at its exit
    finally:
        _stop(process)
    assert b"GET /health 200" in live, live.decode(errors="replace")
    text = said.decode(errors="replace")
    assert re.search(r"\d\d:\d\d:\d\d GET /health 200 [\d.]+ ms", text), text
    assert '"level"' not in text


def _drain(fd: int, into: bytearray) -> None:
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 4096):
            into.extend(chunk)
