"""The README's shell examples run as written, so the README cannot drift from the code.

Every fenced ``sh`` block of README.md runs, in order, as one bash script (``set -euo
pipefail``) in a temporary folder holding the repository's scenarios, with the virtualenv's
``bin`` first on ``PATH``. Substitutions keep it short and private: port 8000 becomes a free
port, and an HTML comment just above a block can adjust it for the test:

    <!-- readme-test: replace "--duration 5m" "--duration 5s" -->   (repeatable)
    <!-- readme-test: skip (needs three hosts) -->
    <!-- readme-test: replace "/shop " "/shop_{run} " -->  ({run}: this run's own token; a
                                              PostgreSQL database so named is dropped after)
    <!-- readme-test: repeated below -->     (a summary: each command is in a later block)
    <!-- readme-test: apart -->              (needs nothing from the blocks before it: runs in
                                              a folder of its own, beside the others)

Blocks marked ``apart`` run as scripts of their own, two scripts at a time, so the README's
long examples (load tests, experiments) do not queue behind each other.

A load test whose gate is breached (exit 1) counts as run: the gate judges the machine. A
background process a block starts (``peakline serve ... &``) is stopped at the end.
PostgreSQL examples run on the server of ``PEAKLINE_TEST_DATABASE_URL``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.backend_support import PG_ENV, free_port

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
README_PG_SERVER = "postgresql://postgres@127.0.0.1:5432/"
DIRECTIVE = re.compile(r"<!--\s*readme-test:\s*(.*?)\s*-->")


@dataclass
class Block:
    """One ``sh`` block: where it starts, its text, and the test's adjustments."""

    line: int
    text: str
    replacements: list[tuple[str, str]] = field(default_factory=list)
    skip: str | None = None
    repeated: bool = False
    apart: bool = False

    def commands(self) -> list[str]:
        """Its command lines without their trailing comments."""
        return [line.split("  #")[0].strip() for line in self.text.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]

    def script(self, port: int, run: str = "") -> str:
        text = self.text
        for old, new in self.replacements:
            assert old in text, f"README line {self.line}: {old!r} is not in the block"
            text = text.replace(old, new.replace("{run}", run))
        return text.replace("8000", str(port)).replace(README_PG_SERVER, pg_server())


#: A load test's exit 1 is a breached latency or rate threshold: a verdict about this (busy)
#: machine, not a README that drifted. Bad input (2) and a run that could not start still fail.
LOADTEST_GATE_MAY_BREACH = """peakline() {
  local rc=0; command peakline "$@" || rc=$?
  if [ "$1" = loadtest ] && [ "$rc" = 1 ]; then echo "(README test: gate breached here)"; rc=0; fi
  return $rc
}"""


def pg_server() -> str:
    """The PostgreSQL server of ``PEAKLINE_TEST_DATABASE_URL``, as a URL ending in ``/``."""
    url = os.environ.get(PG_ENV, README_PG_SERVER)
    return url.rsplit("/", 1)[0] + "/"


def drop_databases_of_run(run: str) -> None:
    """Drop the PostgreSQL databases whose names carry this run's token (a README example's)."""
    if not os.environ.get(PG_ENV):
        return
    import psycopg

    with psycopg.connect(os.environ[PG_ENV], autocommit=True) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"%\\_{run}",))]
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def readme_blocks(text: str) -> list[Block]:
    """The fenced ``sh`` blocks of a Markdown text, with the directives just above each."""
    blocks, pending = [], Block(0, "")
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if match := DIRECTIVE.search(line):
            verb, _, rest = match.group(1).partition(" ")
            if verb == "skip":
                pending.skip = rest or "skipped"
            elif verb == "repeated":
                pending.repeated = True
            elif verb == "apart":
                pending.apart = True
            elif verb == "replace":
                old, new = shlex.split(rest)
                pending.replacements.append((old, new))
            else:
                raise AssertionError(f"README line {i + 1}: unknown readme-test directive {verb!r}")
        elif line.strip() == "```sh":
            end = lines.index("```", i + 1)
            blocks.append(Block(i + 1, "\n".join(lines[i + 1:end]), pending.replacements,
                                pending.skip, pending.repeated, pending.apart))
            pending, i = Block(0, ""), end
        elif line.strip() and not line.startswith("<!--"):
            pending = Block(0, "")
        i += 1
    return blocks


def test_directives_are_parsed():
    text = ('<!-- readme-test: replace "5m" "5s" -->\n```sh\npeakline x --duration 5m\n```\n'
            "text\n<!-- readme-test: skip (needs hosts) -->\n```sh\nlocust --worker\n```\n"
            "```python\nprint()\n```\n")
    first, second = readme_blocks(text)
    assert first.script(9000) == "peakline x --duration 5s" and first.skip is None
    assert second.skip == "(needs hosts)" and second.line == 7
    a, b, c = readme_blocks("```sh\na\n```\n<!-- readme-test: apart -->\n```sh\nb\n```\n"
                            "```sh\nc\n```\n")
    assert b.apart and not (a.apart or c.apart)
    assert scripts([a, b, c]) == [[a, c], [b]]


def test_summary_blocks_repeat_commands_that_run():
    blocks = readme_blocks(README.read_text(encoding="utf-8"))
    for i, block in enumerate(blocks):
        if block.repeated:
            later = {c for b in blocks[i + 1:] if not b.skip for c in b.commands()}
            missing = [c for c in block.commands() if c not in later]
            assert not missing, f"README line {block.line}: not run in a later block: {missing}"


def scripts(blocks: list[Block]) -> list[list[Block]]:
    """The blocks as scripts: the unmarked ones in order as one, each ``apart`` one alone."""
    return [[b for b in blocks if not b.apart], *([b] for b in blocks if b.apart)]


def run_script(blocks: list[Block], folder: Path, deadline_s: float) -> tuple[int | str, str]:
    """``blocks`` as one bash script in ``folder`` (the repository's files linked in): its exit
    code (or "timed out"), and its output with the last lines of its servers' logs."""
    folder.mkdir()
    for name in ("scenarios", "loadtests", "benchmarks", "examples", "Makefile", "pyproject.toml"):
        (folder / name).symlink_to(ROOT / name)
    (folder / ".venv").symlink_to(Path(sys.executable).parent.parent)
    port, run = free_port(), uuid.uuid4().hex[:8]
    script = ["set -euo pipefail", LOADTEST_GATE_MAY_BREACH]
    for block in blocks:
        script += [f"echo \"### README line {block.line} at $(date +%T)\" >&2",
                   block.script(port, run)]
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    env.pop("DATABASE_URL", None)
    log = folder / "readme-test.log"
    with log.open("w") as out:  # a file, not a pipe: background servers keep theirs open
        proc = subprocess.Popen(["bash", "-c", "\n".join(script)], cwd=folder, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        started = time.monotonic()
        try:
            code: int | str = proc.wait(timeout=max(1.0, deadline_s - started))
        except subprocess.TimeoutExpired:
            code = "timed out"
        finally:
            with contextlib.suppress(ProcessLookupError):  # the script and its servers
                os.killpg(proc.pid, signal.SIGTERM)
    drop_databases_of_run(run)
    servers = "".join(f"\n--- {p.name} (last lines) ---\n{p.read_text(errors='replace')[-3000:]}"
                      for p in sorted(folder.glob("*.log")) if p != log)
    took = f"\n(the script ran {time.monotonic() - started:.0f} s)"
    return code, log.read_text(errors="replace") + servers + took


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_readme_examples_run_as_written(tmp_path):
    blocks = [b for b in readme_blocks(README.read_text(encoding="utf-8"))
              if not (b.skip or b.repeated)]
    assert blocks, "the README has no sh examples"
    if any("postgresql://" in b.text for b in blocks) and not os.environ.get(PG_ENV):
        pytest.skip(f"the README's PostgreSQL examples need {PG_ENV}")
    deadline = time.monotonic() + 840
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [(part[0].line, pool.submit(run_script, part, tmp_path / f"from-line-{part[0].line}",
                                           deadline)) for part in scripts(blocks)]
        failed = [(line, *run.result()) for line, run in runs if run.result()[0] != 0]
    assert not failed, "".join(f"\nREADME examples from line {line} failed (exit {code}):\n"
                               f"{output[-6000:]}" for line, code, output in failed)
