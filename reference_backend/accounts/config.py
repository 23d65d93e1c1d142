"""Sign-in limits, from the environment (``PEAKLINE_SIGNIN_<FIELD>``)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from reference_backend.security import ThrottlePolicy


class SignInSettings(BaseSettings):
    """Throttling of sign-in attempts per (client address, email) (``security.ThrottlePolicy``)
    and the admission of sign-ins per address and overall (``accounts.guard``)."""

    model_config = SettingsConfigDict(env_prefix="PEAKLINE_SIGNIN_", extra="ignore", frozen=True)

    window_s: float = Field(default=900, gt=0, description="failures older than this are forgotten")
    free_failures: int = Field(default=3, ge=0, description="failures before throttling starts")
    base_delay_s: float = Field(default=1.0, gt=0, description="first throttling delay")
    max_delay_s: float = Field(default=300.0, gt=0, description="longest throttling delay")
    lockout_failures: int | None = Field(
        default=None, ge=1, description="failures that lock the (address, email) pair; unset: "
        "no lock, only the backoff (a lock lets an attacker keep the owner out)")
    lockout_s: float = Field(default=900, gt=0, description="how long a lock lasts")
    per_address: str = Field(default="10/minute", description="sign-ins a client address may "
                             "start, in the limits library's notation")
    concurrent_hashes: int = Field(default=1, ge=1, le=64,
                                   description="password checks at once per worker process")
    max_waiting: int = Field(default=4, ge=0, le=1000,
                             description="sign-ins that may wait for a check; more get 429")

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
def sign_in_settings() -> SignInSettings:
    """The process's sign-in settings (read once from the environment)."""
    return SignInSettings()


def throttle_policy() -> ThrottlePolicy:
    """The process's sign-in throttling policy."""
    return sign_in_settings().policy()
