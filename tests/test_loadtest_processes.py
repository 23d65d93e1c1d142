"""Child processes of a load test are always stopped: grandchildren too, and if we are killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loadtests.processes import ManagedProcess, free_port, process_age_s, wait_http_ok


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie waiting for its parent is gone for our purposes
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_stop_ends_the_process_group_including_grandchildren(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    proc = ManagedProcess("sh", ["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"],
                          tmp_path / "log").start()
    deadline = time.monotonic() + 5
    while not pidfile.exists() or not pidfile.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    grandchild = int(pidfile.read_text())
    assert alive(grandchild)
    proc.stop(grace_s=2)
    assert wait_gone(grandchild) and proc.poll() is not None


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace(tmp_path):
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    proc = ManagedProcess("stubborn", [sys.executable, "-c", script], tmp_path / "log").start()
    time.sleep(0.5)  # let it install the handler
    started = time.monotonic()
    assert proc.stop(grace_s=0.5) == -signal.SIGKILL
    assert time.monotonic() - started < 3


@pytest.mark.skipif(not Path("/proc").exists(), reason="Linux only")
def test_children_get_sigterm_when_the_harness_is_killed(tmp_path):
    pidfile = tmp_path / "child.pid"
    harness = (
        "import sys, time; from pathlib import Path; "
        "from loadtests.processes import ManagedProcess; "
        f"p = ManagedProcess('sleeper', ['sleep', '60'], Path({str(tmp_path / 'log')!r})).start(); "
        f"Path({str(pidfile)!r}).write_text(str(p.pid)); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", harness])
    try:
        deadline = time.monotonic() + 10
        while not pidfile.exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        child = int(pidfile.read_text())
        parent.kill()  # SIGKILL: no clean-up code runs in the harness
        parent.wait(5)
        assert wait_gone(child), "the child outlived the harness"
    finally:
        parent.kill()


def test_wait_http_ok_reports_a_dead_server_and_a_timeout(tmp_path):
    dead = ManagedProcess("server", [sys.executable, "-c", "print('boom'); raise SystemExit(3)"],
                          tmp_path / "log").start()
    dead.wait(5)
    with pytest.raises(RuntimeError, match="exited with code 3"):
        wait_http_ok(f"http://127.0.0.1:{free_port()}/health", timeout_s=5, process=dead)
    dead.stop()
    with pytest.raises(RuntimeError, match="did not answer"):
        wait_http_ok(f"http://127.0.0.1:{free_port()}/health", timeout_s=0.3)


def test_process_age():
    assert 0 < process_age_s() < 24 * 3600
