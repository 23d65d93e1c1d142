"""Fault profiles for ``peakline rehearse --ozon-faults``: a built-in name or a YAML file.

A file holds a ``reference_backend.faults.FaultProfile``::

    name: my-bad-day
    seed: 1
    slow: {rate: 0.1, delay_ms: 800}          # 10 % of answers held back 0.8 s
    server_errors: {rate: 0.02, burst: 5}     # 2 % of requests answered 503, in runs of 5
    throttle_storms: {rate: 0.05, burst: 20}  # 5 % answered 429 beyond the limits
    import_fails_later: {rate: 0.1}           # 10 % of import-info answers say "failed"
    push_late: {rate: 0.1, delay_ms: 30000}   # 10 % of push notifications 30 s late
    push_duplicate: {rate: 0.05}              # 5 % of push notifications sent twice
    serial: {rate: 1.0, delay_ms: 100}        # a backend at capacity: 10 requests/s, queued
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from reference_backend.faults import BUILT_IN, FaultProfile


def load_fault_profile(text: str) -> FaultProfile:
    """The built-in profile ``text`` names, or the one in file ``text``; ``ValueError``
    naming the file, the field and the problem otherwise."""
    if text in BUILT_IN:
        return FaultProfile.model_validate(BUILT_IN[text])
    path = Path(text)
    if not path.is_file():
        raise ValueError(f"--ozon-faults {text!r} is neither a built-in profile "
                         f"({', '.join(BUILT_IN)}) nor a file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not YAML: {exc}") from None
    try:
        return FaultProfile.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}"
                             for e in exc.errors())
        raise ValueError(f"{path}: {problems}") from None
