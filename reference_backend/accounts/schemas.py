"""Request and response bodies of ``/peakline/v1/accounts``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from reference_backend.tables import Account, ApiKey


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SignInIn(_In):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    totp_code: str | None = Field(default=None, max_length=16)


class AccountIn(_In):
    email: str = Field(min_length=3, max_length=320)
    name: str = Field(default="", max_length=200)
    role: str = Field(description="sales, customer_service, warehouse or analyst")
    password: str = Field(min_length=1, max_length=1024)


class AccountPatch(_In):
    role: str | None = None
    name: str | None = Field(default=None, max_length=200)
    disabled: bool | None = None


class MePatch(_In):
    email: str | None = Field(default=None, min_length=3, max_length=320)
    name: str | None = Field(default=None, max_length=200)
    current_password: str | None = Field(
        default=None, max_length=1024,
        description="needed with email once the account has a password")


class PasswordIn(_In):
    new_password: str = Field(min_length=1, max_length=1024)
    current_password: str | None = Field(default=None, max_length=1024)


class TotpConfirmIn(_In):
    code: str = Field(min_length=1, max_length=16)


class KeyIn(_In):
    name: str = Field(default="", max_length=200)
    expires_at: datetime | None = Field(
        default=None, description="when the key stops working (UTC when no offset is given); "
        "default: PEAKLINE_API_KEY_LIFETIME_DAYS from now")


class PolicyIn(_In):
    require_2fa: bool = Field(strict=True)  # true or false, not 0/1


class AccountOut(BaseModel):
    id: int
    email: str | None
    name: str
    role: str
    disabled: bool
    totp_enabled: bool
    created_at: datetime

    @classmethod
    def of(cls, a: Account) -> AccountOut:
        return cls(id=a.id, email=a.email, name=a.name, role=a.role, disabled=a.disabled,
                   totp_enabled=a.totp_enabled, created_at=a.created_at)


class AccountsOut(BaseModel):
    accounts: list[AccountOut]
    require_2fa: bool


class KeyOut(BaseModel):
    id: int
    account_id: int
    name: str
    prefix: str = Field(description="non-secret hint of the key")
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: bool

    @classmethod
    def of(cls, k: ApiKey) -> KeyOut:
        return cls(id=k.id, account_id=k.account_id, name=k.name, prefix=k.prefix,
                   created_at=k.created_at, expires_at=k.expires_at, revoked_at=k.revoked_at,
                   active=k.revoked_at is None)


class KeysOut(BaseModel):
    api_keys: list[KeyOut]


class NewKeyOut(KeyOut):
    api_key: str = Field(description="the key itself: shown once, stored only as a hash")
    client_id: str


class SignInOut(BaseModel):
    token: str = Field(description="send as Authorization: Bearer <token>")
    token_type: str = "bearer"
    expires_at: datetime
    totp_enrolment_required: bool = Field(
        description="the seller requires 2FA: enrol at /me/totp before anything else"
    )
    account: AccountOut


class TotpOut(BaseModel):
    secret: str
    provisioning_uri: str


class PolicyOut(BaseModel):
    require_2fa: bool


class OkOut(BaseModel):
    result: bool = True
