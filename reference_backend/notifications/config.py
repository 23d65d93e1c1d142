"""Settings of the push-notification worker (environment ``PEAKLINE_PUSH_<FIELD>``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from reference_backend.notifications.delivery import RetryPolicy


class PushSettings(BaseSettings):
    """How the outbox worker polls, sends and retries."""

    model_config = SettingsConfigDict(env_prefix="PEAKLINE_PUSH_", extra="ignore", frozen=True)

    poll_interval_s: float = Field(default=0.25, gt=0, le=60, description="idle poll period")
    batch_size: int = Field(default=200, ge=1, le=5000, description="events per pass")
    concurrency: int = Field(default=16, ge=1, le=256, description="requests in flight")
    backoff_base_s: float = Field(default=1.0, gt=0, description="first retry delay")
    backoff_factor: float = Field(default=2.0, ge=1.0)
    backoff_cap_s: float = Field(default=600.0, gt=0, description="longest retry delay")
    backoff_jitter: float = Field(default=0.2, ge=0, lt=1)
    request_timeout_s: float = Field(default=5.0, gt=0, le=60)
    #: Accept webhook URLs on loopback/private networks (tests, local receivers).
    allow_private_targets: bool = False
    #: Delivered events older than this are deleted (0 = keep forever).
    retention_hours: float = Field(default=72.0, ge=0)
    #: How often a standby process retries to become the one delivering process.
    leader_retry_s: float = Field(default=2.0, gt=0)

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            base_s=self.backoff_base_s,
            factor=self.backoff_factor,
            cap_s=self.backoff_cap_s,
            jitter=self.backoff_jitter,
            request_timeout_s=self.request_timeout_s,
        )
