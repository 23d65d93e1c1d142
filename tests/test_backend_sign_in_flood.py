"""Sign-in is no way to take the server down: under 8 clients signing in with random unknown
emails (~5/s, the issue-16 probe), the Seller API's p95 stays within 2x of normal (real
uvicorn, default sign-in limits, SQLite)."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import numpy as np

from tests.backend_support import running_server, seeded_sqlite, seller_headers

ATTACKERS = 8
ATTACK_INTERVAL_S = 1.6  # each attacker: ~0.6 sign-ins/s, ~5/s together
SAMPLES = 300
#: Below this a p95 is timer noise on a shared machine (a 2x bound on 3 ms means nothing).
NOISE_FLOOR_S = 0.004


def p95_of_warehouse_list(client: httpx.Client, headers: dict[str, str]) -> float:
    times = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        response = client.post("/v1/warehouse/list", json={}, headers=headers)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return float(np.percentile(times, 95))


def attack(base_url: str, stop: threading.Event, answers: list[int]) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while not stop.is_set():
            response = client.post("/peakline/v1/accounts/sign-in", json={
                "email": f"{uuid.uuid4().hex}@nowhere.example", "password": "a guess 12345"})
            answers.append(response.status_code)
            stop.wait(ATTACK_INTERVAL_S)


def test_a_sign_in_flood_keeps_the_seller_api_p95_within_twice_normal(tmp_path) -> None:
    url, creds = seeded_sqlite(tmp_path)
    with running_server(url) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        headers = seller_headers(creds)
        p95_of_warehouse_list(client, headers)  # warm-up
        normal = p95_of_warehouse_list(client, headers)
        stop, answers = threading.Event(), []
        attackers = [threading.Thread(target=attack, args=(base_url, stop, answers))
                     for _ in range(ATTACKERS)]
        for thread in attackers:
            thread.start()
        try:
            deadline = time.monotonic() + 30  # past the address's allowance (10 a minute)
            while len(answers) < 20 and time.monotonic() < deadline:
                time.sleep(0.1)
            # a shared machine's own hiccups can double any p95 for a moment, so a window is
            # measured again (up to 3 times); unbounded hashing made it 300x, every time
            for _ in range(3):
                attacked = p95_of_warehouse_list(client, headers)
                if attacked <= 2 * max(normal, NOISE_FLOOR_S):
                    break
        finally:
            stop.set()
            for thread in attackers:
                thread.join()
        # normal = the larger p95 of before and after (a shared machine's own drift)
        normal = max(normal, p95_of_warehouse_list(client, headers))
    print(f"warehouse/list p95: {normal * 1000:.1f} ms normal, {attacked * 1000:.1f} ms under "
          f"{len(answers)} sign-ins ({answers.count(429)} answered 429)")
    assert answers.count(429) > len(answers) / 2  # the flood was refused, cheaply
    assert attacked <= 2 * max(normal, NOISE_FLOOR_S)
