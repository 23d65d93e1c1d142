"""``peakline``: one command-line entry point, a thin layer over library functions.

Each part of the project (simulator, load tests, reference backend) contributes its commands
from its own module through a ``register(app)`` function; this file only assembles them. The
``peakline`` command imports only the part whose command it runs (``peakline seed`` does not
load SciPy for ``calibrate``), so every command starts in a fraction of the time.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import sys
from collections.abc import Iterable

import typer

#: The module that registers each command (``register(app: typer.Typer) -> None``).
COMMANDS: dict[str, str] = {
    "validate": "simulator.commands.scenario",
    "simulate": "simulator.commands.simulate",
    "compare": "simulator.commands.experiments",
    "plan-stock": "simulator.commands.experiments",
    "calibrate": "simulator.calibration.command",
    "loadtest": "loadtests.cli",
    "rehearse": "loadtests.rehearsal.cli",
    "serve": "reference_backend.cli",
    "seed": "reference_backend.cli",
    "db": "reference_backend.cli",
    "seller": "reference_backend.cli",
}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"peakline {importlib.metadata.version('peakline')}")
        raise typer.Exit()


def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the installed version and exit."),
) -> None:
    """Peak-season lab for a marketplace fulfilment network.

    Simulate peak seasons, plan stock, serve an Ozon-style seller backend, gate load tests.
    """


def build(modules: Iterable[str]) -> typer.Typer:
    """The ``peakline`` app with the commands of ``modules``."""
    app = typer.Typer(
        name="peakline",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode="markdown",  # docstring paragraphs wrap to the terminal, blank lines split
    )
    app.callback()(main)
    for module in dict.fromkeys(modules):
        importlib.import_module(module).register(app)
    return app


@functools.cache
def full_app() -> typer.Typer:
    """Every command (``--help``, tests, ``from peakline.cli import app``)."""
    return build(COMMANDS.values())


def run() -> None:
    """The ``peakline`` command: the first word that is not an option names the command; only
    its part is loaded (``--version`` alone loads none, anything else, such as ``--help``,
    loads every part)."""
    name = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    if name in COMMANDS:
        build([COMMANDS[name]])()
    else:
        (build([]) if sys.argv[1:] == ["--version"] else full_app())()


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        return full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":  # pragma: no cover
    run()
