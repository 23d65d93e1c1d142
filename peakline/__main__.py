"""``python -m peakline``: the ``peakline`` command."""

from peakline.cli import run

run()
