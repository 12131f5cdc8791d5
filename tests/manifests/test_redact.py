"""Secrets out of printed and stored text, and outside text printed plainly (issue 25, items 13, 14)."""

from __future__ import annotations

import json

import pytest

from manifests import lineage
from manifests.console import plain, print_json
from manifests.redact import redact


@pytest.mark.parametrize("text, shown", [
    ("Max retries exceeded with url: /services/rest/?method=x&api_key=abc123&text=q",
     "Max retries exceeded with url: /services/rest/?method=x&api_key=REDACTED&text=q"),
    ("/search.json?q=a&API_KEY=abc", "/search.json?q=a&API_KEY=REDACTED"),
    ("https://u:pw@host/x?key=zz#top", "https://u:REDACTED@host/x?key=REDACTED#top"),
    ("token_url?client_secret=s&client_id=i", "token_url?client_secret=REDACTED&client_id=i"),
    ("x%3Fapi_key%3Dsec%26b=1", "x%3Fapi_key%3DREDACTED%26b=1"),
    ("Authorization: Bearer abc.def", "Authorization: Bearer REDACTED"),
    ("http://a/b?monkey=1&keys=2&q=token", "http://a/b?monkey=1&keys=2&q=token"),  # nothing secret
])
def test_redact(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_the_lineage_command_line_is_redacted() -> None:
    line = lineage.command_line(["harvest", "search", "--mirror", "a=https://m.example/?token=s3cr3t&u="])
    assert "s3cr3t" not in line and "token=REDACTED" in line


def test_outside_text_is_printed_plainly(capsys) -> None:
    assert plain("id \x1b]0;title\x07\x1b[31m\r\x9b\u202e ok\n2") == \
        "id \\x1b]0;title\\x07\\x1b[31m\\x0d\\x9b\\u202e ok\n2"
    assert plain("a\nb [/x]", one_line=True) == "a b [/x]"
    print_json({"id": "\x1b[31m\x9b\u202e"})
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x9b" not in out and "\u202e" not in out
    assert json.loads(out) == {"id": "\x1b[31m\x9b\u202e"}
