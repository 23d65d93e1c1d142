"""Run results: a flat, documented record of one replication (KPI collection is added by the model work).

``RunResult`` is what ``simulator.model.run(scenario, seed)`` returns and what experiments,
the planner and reports consume. It is picklable and round-trips through JSON.

Fields
------
kpis      flat ``name -> float`` scalar KPIs (names and units listed in ``KPI_DOC``)
series    ``name -> array`` time series, one row per bin of ``series_time``; 2-D arrays have
          one column per label in ``series_columns[name]``
samples   ``name -> 1-D array`` of per-order observations (e.g. delivery lead time), for
          distributions and histograms
tables    ``name -> list of row dicts`` (e.g. stock-out hours per (SKU, warehouse))
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: KPI name -> what it means (with unit). Every key of ``RunResult.kpis`` is listed here.
KPI_DOC: dict[str, str] = {}


@dataclass
class RunResult:
    """One replication of one scenario under one pair of policies."""

    scenario: str
    seed: int
    allocation: str
    replenishment: str
    horizon_hours: float
    resolution_minutes: int
    kpis: dict[str, float] = field(default_factory=dict)
    series_time: np.ndarray = field(default_factory=lambda: np.zeros(0))  # bin start, hours
    series: dict[str, np.ndarray] = field(default_factory=dict)
    series_columns: dict[str, list[str]] = field(default_factory=dict)
    samples: dict[str, np.ndarray] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    wall_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "allocation": self.allocation,
            "replenishment": self.replenishment,
            "horizon_hours": self.horizon_hours,
            "resolution_minutes": self.resolution_minutes,
            "wall_seconds": self.wall_seconds,
            "kpis": self.kpis,
            "series_time": self.series_time.tolist(),
            "series": {k: v.tolist() for k, v in self.series.items()},
            "series_columns": self.series_columns,
            "samples": {k: v.tolist() for k, v in self.samples.items()},
            "tables": self.tables,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        return cls(
            scenario=data["scenario"],
            seed=data["seed"],
            allocation=data["allocation"],
            replenishment=data["replenishment"],
            horizon_hours=data["horizon_hours"],
            resolution_minutes=data["resolution_minutes"],
            wall_seconds=data.get("wall_seconds", 0.0),
            kpis=dict(data["kpis"]),
            series_time=np.asarray(data["series_time"], dtype=float),
            series={k: np.asarray(v) for k, v in data["series"].items()},
            series_columns={k: list(v) for k, v in data["series_columns"].items()},
            samples={k: np.asarray(v) for k, v in data["samples"].items()},
            tables=data.get("tables", {}),
        )

    def write_json(self, path: Path) -> Path:
        path.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        return path

    @classmethod
    def read_json(cls, path: Path) -> RunResult:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
