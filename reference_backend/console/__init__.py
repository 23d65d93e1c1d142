"""The seller back office in the browser: server-rendered pages at ``/console``.

Thin pages over the same services as the API (:mod:`reference_backend.accounts.service`,
the stock, postings and catalogue services): a route parses the form, asks the one
permission table (:mod:`reference_backend.permissions`), calls a service and renders a
Jinja2 template. Sign-in opens the same sessions as ``/peakline/v1/accounts/sign-in``; the
session token travels in an HttpOnly cookie and every form carries a per-session CSRF token.
Text is translated from Babel catalogues (``locale/{en,zh_Hans}``).
"""
