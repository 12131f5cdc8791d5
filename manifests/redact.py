"""Secrets out of text that is printed or stored: API keys in URLs, passwords in user info.

An API called with its key in the query string (Flickr's and SerpApi's ``api_key``) puts that key in
every error message that quotes the URL (``Max retries exceeded with url: /services/rest/?api_key=...``),
and from there in the stderr line, ``--json`` output, manifest rows and the lineage log. ``redact``
replaces the value of every query parameter whose name says it is a secret (``SECRET_PARAMS``), the
password of ``user:password@`` and a ``Bearer`` token with ``REDACTED``, wherever they appear in a
text. It never raises and leaves other text as it is.
"""

from __future__ import annotations

import re

REDACTED = "REDACTED"
# Query parameters whose value is a credential (compared without case).
SECRET_PARAMS = ("api_key", "apikey", "api-key", "key", "token", "access_token", "refresh_token",
                 "id_token", "auth", "auth_token", "client_secret", "secret", "password", "passwd",
                 "pwd", "sig", "signature", "x-amz-signature", "x-amz-credential",
                 "x-amz-security-token", "subscription-token", "x-subscription-token")
_NAMES = "|".join(re.escape(name) for name in sorted(SECRET_PARAMS, key=len, reverse=True))
# ``?key=`` or ``&key=`` (also %-encoded ``%3F``/``%26``, and ``;``), up to the next separator.
_PARAM = re.compile(rf"(?i)((?:[?&;]|%3f|%26)(?:{_NAMES})(?:=|%3d))(?:(?!%26)[^&;#\s'\"<>()\[\]{{}}|\\])*")
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/?#@\s:]*:)[^/?#@\s]*(@)")
_BEARER = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    """``text`` with secret query values, user-info passwords and bearer tokens replaced."""
    if not isinstance(text, str) or not text:
        return text
    text = _PARAM.sub(rf"\g<1>{REDACTED}", text)
    text = _USERINFO.sub(rf"\g<1>{REDACTED}\g<2>", text)
    return _BEARER.sub(rf"\g<1>{REDACTED}", text)

