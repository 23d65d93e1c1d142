"""``peakline``: one command-line entry point, a thin layer over library functions.

Each part of the project (simulator, load tests, reference backend) contributes its commands
from its own module through a ``register(app)`` function; this file only assembles them.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="peakline",
    help="Peak-season lab for a marketplace fulfilment network.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main() -> None:
    """Simulate peak seasons, plan stock, serve an Ozon-style seller backend, gate load tests."""


#: Modules that each define ``register(app: typer.Typer) -> None``.
COMMAND_MODULES: tuple[str, ...] = (
    "simulator.commands.scenario",
    "simulator.commands.simulate",
    "simulator.commands.experiments",
    "simulator.calibration.command",
    "loadtests.cli",
    "loadtests.rehearsal.cli",
    "reference_backend.cli",
)

for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
