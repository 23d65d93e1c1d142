"""An integration already running, told where Ozon is through ``ozon.env``, receiving Ozon's
push notifications, some of them late or twice on purpose.

Real processes: the reference integration (``--push``, ``--env-file``) started before the
rehearsal as a team would start theirs, ``peakline rehearse --integration-url --push-url``
with a real backend whose outbox worker delivers the pushes through the rehearsal's proxy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from scipy import stats

from reference_backend.faults import FaultProfile, PushFaults
from tests.backend_support import free_port

ROOT = Path(__file__).resolve().parent.parent


def within_binomial(hits: int, n: int, rate: float) -> bool:
    low, high = stats.binom.interval(0.999, n, rate)
    return low <= hits <= high


def test_push_faults_hit_their_shares_and_each_event_is_drawn_once():
    faults = PushFaults(FaultProfile(seed=5, push_late={"rate": 0.2, "delay_ms": 1500},
                                     push_duplicate={"rate": 0.1}))
    held = [faults.draw(event_id) for event_id in range(5000)]
    assert set(held) == {0.0, 1.5}
    assert within_binomial(held.count(1.5), 5000, 0.2)
    assert within_binomial(len(faults.doubled), 5000, 0.1)
    late = next(i for i, h in enumerate(held) if h)
    assert faults.draw(late) == 0.0  # a retry is not held back again
    assert faults.mark(late) == "push_late"
    assert faults.mark(next(i for i, h in enumerate(held) if not h)) is None
    assert PushFaults.from_json(FaultProfile(slow={"rate": 0.1}).model_dump_json()) is None


@pytest.mark.slow
def test_a_running_integration_gets_its_connection_and_late_and_doubled_pushes(smoke_path,
                                                                              tmp_path):
    """Polling only every minute against a 60 s shipment deadline, the integration keeps up
    because pushes wake it; duplicates are shipped once, late pushes are covered."""
    out, port = tmp_path / "out", free_port()
    profile = tmp_path / "pushes.yaml"
    profile.write_text("name: late and twice\nseed: 3\n"
                       "push_late: {rate: 0.3, delay_ms: 2000}\npush_duplicate: {rate: 0.3}\n")
    log = tmp_path / "integration.log"
    with log.open("wb") as sink:
        integration = subprocess.Popen(
            [sys.executable, "examples/reference_integration.py", "--poll", "60",
             "--push", f"127.0.0.1:{port}", "--env-file", str(out / "ozon.env")],
            cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "peakline", "rehearse", str(smoke_path),
             "--integration-url", f"http://127.0.0.1:{port}/health",
             "--push-url", f"http://127.0.0.1:{port}/", "--ozon-faults", str(profile),
             "--speed", "1440", "--window", "12h-13h", "--out", str(out)],
            cwd=ROOT, env={**os.environ, "COLUMNS": "160"}, capture_output=True, text=True,
            timeout=240, check=False)
    finally:
        os.killpg(integration.pid, signal.SIGTERM)
        integration.wait(30)
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 0, said
    assert "OZON_API_URL=http://127.0.0.1:" in said and "ozon.env" in said
    connection = dict(line.split("=", 1) for line in (out / "ozon.env").read_text().splitlines())
    assert set(connection) == {"OZON_API_URL", "OZON_CLIENT_ID", "OZON_API_KEY"}
    summary = json.loads((out / "summary.json").read_text())
    m, pushes, kinds = summary["measures"], summary["pushes"], summary["faults"]["kinds"]
    assert m["shipped"] == m["postings"] == m["orders_placed"] > 40
    assert m["late_shipments"] == 0 and m["errors"] == 0  # no posting shipped twice
    assert pushes["by_type"]["TYPE_NEW_POSTING"] >= m["postings"]
    assert pushes["answers"] == {"2xx": pushes["sent"]}
    assert pushes["pending_at_end"] == 0  # every push counted, the late ones too
    assert pushes["sent"] == pushes["distinct"] + kinds["push_duplicate"]["injected"]
    for kind in ("push_late", "push_duplicate"):
        assert kinds[kind]["of"] == pushes["distinct"]
        assert within_binomial(kinds[kind]["injected"], pushes["distinct"], 0.3), kinds
    assert "push_late" in said and "push notifications:" in said
    tail = log.read_text().splitlines()[-1]
    assert f"shipping {m['postings']} postings" in tail and "duplicates" in tail
