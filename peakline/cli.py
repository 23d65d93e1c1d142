"""``peakline``: one command-line entry point, a thin layer over library functions.

Each part of the project (simulator, load tests, reference backend) contributes its commands
from its own module through a ``register(app)`` function; this file only assembles them.
"""

from __future__ import annotations

import importlib
import importlib.metadata

import typer

app = typer.Typer(
    name="peakline",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",  # docstring paragraphs wrap to the terminal, blank lines split
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"peakline {importlib.metadata.version('peakline')}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the installed version and exit."),
) -> None:
    """Peak-season lab for a marketplace fulfilment network.

    Simulate peak seasons, plan stock, serve an Ozon-style seller backend, gate load tests.
    """


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
