#!/usr/bin/env bash
# CI smoke gate (at most 60 s wall, start-up included): seeds the reference backend from
# scenarios/smoke.yaml on a temporary SQLite file, serves it on 127.0.0.1, sends the smoke
# day's orders in 20 s on schedule (the open model) with lenient thresholds, and stops
# everything it started.
# --time-budget shortens the load if start-up was slow, so the gate ends within 52 s; the
# outer `timeout` is only a last resort (the children die with their parent).
# Exit 0 = pass; 1 = a threshold breached; 2 = bad input; 3 = the backend/load test could
# not run; 124 = the hard 60 s bound was hit. Extra arguments go to `peakline loadtest`
# (e.g. --db postgresql://..., more -T thresholds). Results: $OUT (default out/ci-smoke).
set -euo pipefail
cd "$(dirname "$0")/.."
PEAKLINE="${PEAKLINE:-.venv/bin/peakline}"
exec timeout --kill-after=3 57 "$PEAKLINE" loadtest scenarios/smoke.yaml \
    --duration 20s --time-budget 52s --users 20 --think 0.5 --out "${OUT:-out/ci-smoke}" \
    -T "errors<1%" -T "p95<1000ms" -T "p99<2500ms" "$@"
