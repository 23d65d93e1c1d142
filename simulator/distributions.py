"""Random inputs as small validated objects: ``sample(rng, n)`` plus known mean and variance.

Scenario files write a distribution as a mapping with a ``dist`` key, e.g.
``{dist: lognormal, mean: 6, sd: 2}``. Units are those of the field that holds it
(the field name says: ``transit_hours``, ``lead_time_days`` ...).
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulator.quantities import MAX_MAGNITUDE, Magnitude, PositiveMagnitude


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @property
    def mean(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def variance(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


class Constant(_Dist):
    """Always ``value``."""

    dist: Literal["constant"] = "constant"
    value: Magnitude

    @property
    def mean(self) -> float:
        return self.value

    @property
    def variance(self) -> float:
        return 0.0

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value, dtype=float)


class Exponential(_Dist):
    """Exponential with the given mean."""

    dist: Literal["exponential"] = "exponential"
    mean_: PositiveMagnitude = Field(alias="mean")

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def variance(self) -> float:
        return self.mean_**2

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_, n)


class Uniform(_Dist):
    """Uniform on ``[low, high]``."""

    dist: Literal["uniform"] = "uniform"
    low: Magnitude
    high: Magnitude

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise ValueError("high must be >= low")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, n)


class LogNormal(_Dist):
    """Log-normal parameterised by its own mean and standard deviation (not the log's)."""

    dist: Literal["lognormal"] = "lognormal"
    mean_: PositiveMagnitude = Field(alias="mean")
    sd: Magnitude

    def _log_params(self) -> tuple[float, float]:
        sigma2 = math.log1p((self.sd / self.mean_) ** 2)
        return math.log(self.mean_) - sigma2 / 2, math.sqrt(sigma2)

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def variance(self) -> float:
        return self.sd**2

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        mu, sigma = self._log_params()
        return rng.lognormal(mu, sigma, n)


class Gamma(_Dist):
    """Gamma parameterised by mean and standard deviation."""

    dist: Literal["gamma"] = "gamma"
    mean_: PositiveMagnitude = Field(alias="mean")
    sd: PositiveMagnitude

    @property
    def mean(self) -> float:
        return self.mean_

    @property
    def variance(self) -> float:
        return self.sd**2

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        shape = (self.mean_ / self.sd) ** 2
        return rng.gamma(shape, self.sd**2 / self.mean_, n)


class Triangular(_Dist):
    """Triangular on ``[low, high]`` with the given mode."""

    dist: Literal["triangular"] = "triangular"
    low: Magnitude
    mode: Magnitude
    high: Magnitude

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.low <= self.mode <= self.high or self.low == self.high:
            raise ValueError("need low <= mode <= high and low < high")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    @property
    def variance(self) -> float:
        a, c, b = self.low, self.mode, self.high
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.triangular(self.low, self.mode, self.high, n)


class ShiftedPoisson(_Dist):
    """``1 + Poisson(mean - 1)`` capped at ``max``: a count of at least one (lines, units)."""

    dist: Literal["shifted_poisson"] = "shifted_poisson"
    mean_: float = Field(alias="mean", ge=1, le=MAX_MAGNITUDE)
    max: int = Field(default=50, ge=1, le=1_000_000)

    @property
    def mean(self) -> float:
        return self.mean_  # the cap is far in the tail for realistic parameters

    @property
    def variance(self) -> float:
        return self.mean_ - 1

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.minimum(1 + rng.poisson(self.mean_ - 1, n), self.max)


Distribution = Annotated[
    Constant | Exponential | Uniform | LogNormal | Gamma | Triangular | ShiftedPoisson,
    Field(discriminator="dist"),
]
CountDistribution = Annotated[Constant | ShiftedPoisson, Field(discriminator="dist")]
