"""The load test stops early, saying why: a backend that is down or dies, and Ctrl-C.

Real processes throughout: ``peakline loadtest`` in its own process group (as a shell runs
it), a real uvicorn backend that is SIGKILLed mid-run, a real SIGINT to the group (what a
terminal sends on Ctrl-C).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from loadtests.watch import BackendWatch, connect_problem
from tests.backend_support import free_port, seeded_sqlite, start_server

ROOT = Path(__file__).resolve().parent.parent


def start_peakline(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``peakline ARGS`` in a process group of its own, output to ``log``."""
    env = {**os.environ, "COLUMNS": "160"}
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "peakline", *args], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_text(log: Path, text: str, proc: subprocess.Popen[bytes], timeout_s: float = 240):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.exists() and text in log.read_text(errors="replace"):
            return
        assert proc.poll() is None, proc.args
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not seen in {log} within {timeout_s} s")


def requests_served(base_url: str) -> float:
    """Requests the backend has answered so far (its Prometheus counter)."""
    text = httpx.get(f"{base_url}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("http_requests_total{"))


def wait_for_requests(base_url: str, count: int, timeout_s: float = 60) -> None:
    """Until the backend has answered ``count`` more requests (Locust is under way)."""
    target = requests_served(base_url) + count
    deadline = time.monotonic() + timeout_s
    while requests_served(base_url) < target and time.monotonic() < deadline:
        time.sleep(0.5)


def test_the_watch_gives_up_only_after_refusals_for_the_whole_grace():
    port = free_port()  # nothing listens
    assert connect_problem(f"http://127.0.0.1:{port}") == "connection refused"
    now = [0.0]
    watch = BackendWatch(f"http://127.0.0.1:{port}", give_up_s=3, every_s=1,
                         clock=lambda: now[0])
    seen = []
    for t in range(5):
        now[0] = float(t)
        seen.append(watch.gone())
    assert seen == [False, False, False, True, True]


def test_a_dead_port_exits_3_at_once(smoke_path, tmp_path):
    creds = tmp_path / "creds.json"
    creds.write_text('{"client_id": "1", "api_key": "k"}')
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "peakline", "loadtest", str(smoke_path), "--duration", "10m",
         "--host", f"http://127.0.0.1:{free_port()}", "--credentials", str(creds),
         "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True,
        timeout=60, check=False)
    assert done.returncode == 3, done.stdout + done.stderr
    said = " ".join(done.stderr.split())
    assert "could not run" in said and "connection refused" in said and "nothing was sent" in said
    assert time.monotonic() - started < 120  # not the 10 minutes the test was to last


@contextlib.contextmanager
def loadtest_of_a_seeded_backend(smoke_path: Path, folder: Path, *args: str):
    """``peakline loadtest`` of the smoke day against a seeded uvicorn, once Locust is
    sending: (server, process, log, out); both are stopped afterwards."""
    url, creds = seeded_sqlite(folder)
    credentials = folder / "creds.json"
    credentials.write_text(json.dumps(creds))
    server = start_server(url)
    out, log = folder / "out", folder / "loadtest.log"
    proc = start_peakline(["loadtest", str(smoke_path), "--host", server.base_url,
                           "--credentials", str(credentials), "--duration", "120s",
                           "--out", str(out), *args], log)
    try:
        wait_for_text(log, "running Locust", proc)
        yield server, proc, log, out
    finally:
        server.stop()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_backend_killed_mid_run_stops_the_load_test_with_exit_3(smoke_path, tmp_path):
    with loadtest_of_a_seeded_backend(smoke_path, tmp_path, "--shape", "flat",
                                      "--users", "10") as (server, proc, log, out):
        wait_for_requests(server.base_url, 10)
        server.kill()
        killed = time.monotonic()
        code = proc.wait(60)
    text = " ".join(log.read_text().split())
    assert code == 3, text
    assert time.monotonic() - killed < 40, "ran on after the backend died"
    assert "stopped accepting connections (connection refused for 5 s)" in text
    assert "PARTIAL" in text and "could not run" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stopped_early"]["interrupted"] is False
    assert summary["stats"]["total"]["requests"] > summary["stats"]["total"]["failures"] > 0


@pytest.mark.slow
def test_ctrl_c_prints_and_writes_the_partial_results_and_exits_130(smoke_path, tmp_path):
    with loadtest_of_a_seeded_backend(smoke_path, tmp_path) as (server, proc, log, out):
        wait_for_requests(server.base_url, 5)
        pressed = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends the foreground group
        code = proc.wait(60)
    text = " ".join(log.read_text().split())
    assert code == 130, text
    assert time.monotonic() - pressed < 40
    assert "PARTIAL: interrupted (Ctrl-C) after" in text and "all requests" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stopped_early"]["interrupted"] is True
    assert summary["stats"]["total"]["requests"] > 0
    assert summary["open_model"]["sent"] < summary["open_model"]["scheduled"]
    assert (out / "junit.xml").exists() and (out / "report.html").exists()
    assert "Partial" in (out / "report.html").read_text()


@pytest.mark.slow
def test_ctrl_c_during_a_rehearsal_writes_what_was_measured_and_exits_130(smoke_path, tmp_path):
    out, log = tmp_path / "out", tmp_path / "rehearse.log"
    integration = f"{sys.executable} examples/reference_integration.py --poll 0.5"
    proc = start_peakline(["rehearse", str(smoke_path), "--integration", integration,
                           "--speed", "360", "--window", "10h-14h", "--out", str(out)], log)
    try:
        wait_for_text(log, "replaying", proc)
        wait_for_text(out / "integration.log", "shipped", proc)  # postings are being shipped
        pressed = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = " ".join(log.read_text().split())
    assert code == 130, text
    assert time.monotonic() - pressed < 30
    assert "PARTIAL: interrupted (Ctrl-C) after" in text and "postings shipped" in text
    summary = json.loads((out / "summary.json").read_text())
    early = summary["stopped_early"]
    assert early["interrupted"] and early["after_s"] < early["of_s"]
    assert summary["measures"]["shipped"] > 0
    assert summary["measures"]["orders"] < summary["orders_scheduled"]
    assert "Partial: interrupted" in (out / "report.html").read_text()
