"""The page a reset link opens: a form for the new password (posted as JSON to the same URL,
since every body here is JSON), or why the link no longer works."""

from __future__ import annotations

from datetime import datetime

from jinja2 import Environment

from reference_backend.security import MIN_PASSWORD_LENGTH

_PAGE = Environment(autoescape=True).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Peakline: set a new password</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<style>
 body { font: 16px/1.5 system-ui, sans-serif; max-width: 28rem; margin: 4rem auto; padding: 0 1rem;
        color: #1d2330; }
 h1 { font-size: 1.4rem; } label { display: block; margin: 1rem 0 .25rem; }
 input { width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; }
 button { margin-top: 1.25rem; padding: .6rem 1.2rem; font-size: 1rem; }
 .note { color: #5b6475; font-size: .9rem; } .bad { color: #b3261e; } .good { color: #1b6e3a; }
</style></head><body>
<h1>Set a new password</h1>
{% if error %}
<p class="bad">{{ error[:1] | upper }}{{ error[1:] }}.</p>
<p class="note">Ask for a new link: <code>POST /peakline/v1/accounts/password-reset</code>
with your email.</p>
{% else %}
<form id="reset">
 <label for="p1">New password</label>
 <input id="p1" type="password" autocomplete="new-password" minlength="{{ min_length }}" required>
 <label for="p2">The same again</label>
 <input id="p2" type="password" autocomplete="new-password" required>
 <p class="note">At least {{ min_length }} characters. This link works once, until
 {{ expires_at.strftime("%Y-%m-%d %H:%M") }} UTC; setting the password signs the account out
 everywhere.</p>
 <button type="submit">Set password</button>
</form>
<p id="outcome" role="status"></p>
<script>
document.getElementById("reset").addEventListener("submit", async (event) => {
  event.preventDefault();
  const out = document.getElementById("outcome");
  const p1 = document.getElementById("p1").value, p2 = document.getElementById("p2").value;
  if (p1 !== p2) { out.className = "bad"; out.textContent = "The two passwords differ."; return; }
  const response = await fetch(location.pathname, {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({new_password: p1})});
  const body = await response.json();
  out.className = response.ok ? "good" : "bad";
  out.textContent = response.ok ? "Your password is set: sign in with it." : body.message;
  if (response.ok) event.target.remove();
});
</script>
{% endif %}
</body></html>
""")


def render(*, expires_at: datetime | None = None, error: str = "") -> str:
    """The form (until ``expires_at``), or the ``error`` that keeps the link from working."""
    return _PAGE.render(expires_at=expires_at, error=error, min_length=MIN_PASSWORD_LENGTH)
