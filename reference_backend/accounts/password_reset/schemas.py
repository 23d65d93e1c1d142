"""Request and answer bodies of ``/peakline/v1/accounts/password-reset``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: The one answer to every reset request, whether or not an account uses the email.
REQUESTED = ("if an account uses this email, a link to set a new password is on its way; "
             "it works once, for a limited time")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResetRequestIn(_In):
    email: str = Field(min_length=3, max_length=320)


class ResetRequestedOut(BaseModel):
    result: bool = True
    message: str = REQUESTED


class NewPasswordIn(_In):
    new_password: str = Field(min_length=1, max_length=1024)


class PasswordSetOut(BaseModel):
    result: bool = True
    message: str = "the password is set and every session of the account has ended: sign in"
