"""Password reset by email: a person who forgot a password asks for a link, the link (single
use, expiring, stored only as a SHA-256 digest) sets a new password and ends every session of
the account. Under ``/peakline/v1/accounts/password-reset``; mail goes out through SMTP
(``PEAKLINE_SMTP_URL``)."""
