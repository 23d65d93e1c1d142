"""Sign-in limits, from the environment (``PEAKLINE_SIGNIN_<FIELD>``)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from reference_backend.security import ThrottlePolicy


class SignInSettings(BaseSettings):
    """Throttling and lockout of sign-in attempts per email (see ``security.ThrottlePolicy``)."""

    model_config = SettingsConfigDict(env_prefix="PEAKLINE_SIGNIN_", extra="ignore", frozen=True)

    window_s: float = Field(default=900, gt=0, description="failures older than this are forgotten")
    free_failures: int = Field(default=3, ge=0, description="failures before throttling starts")
    base_delay_s: float = Field(default=1.0, gt=0, description="first throttling delay")
    max_delay_s: float = Field(default=30.0, gt=0, description="longest throttling delay")
    lockout_failures: int = Field(default=10, ge=1, description="failures that lock the email")
    lockout_s: float = Field(default=900, gt=0, description="how long a lock lasts")

    def policy(self) -> ThrottlePolicy:
        return ThrottlePolicy(
            window=timedelta(seconds=self.window_s),
            free_failures=self.free_failures,
            base_delay=timedelta(seconds=self.base_delay_s),
            max_delay=timedelta(seconds=self.max_delay_s),
            lockout_failures=self.lockout_failures,
            lockout=timedelta(seconds=self.lockout_s),
        )


@lru_cache(maxsize=1)
def throttle_policy() -> ThrottlePolicy:
    """The process's sign-in policy (read once from the environment)."""
    return SignInSettings().policy()
