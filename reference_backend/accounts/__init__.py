"""Seller accounts: sub-accounts with roles, their API keys, and people's sign-in (email,
password, TOTP) under ``/peakline/v1/accounts``;
and the roles of a key (``/v1/roles``)."""
