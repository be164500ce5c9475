"""The shared HTTP rules: one URL check for every command that sends, the snippet, hop-by-hop headers."""

from __future__ import annotations

import pytest

from whatsable_cli.delivery.http_rules import check_http_url, end_to_end_headers, snippet
from whatsable_cli.errors import BadInputError, ExitCode


@pytest.mark.parametrize(
    "url", ["http://localhost:3000/webhook", "https://example.com", "http://[::1]:8000/x", "http://h/a b"]
)
def test_http_urls_pass_unchanged(url: str) -> None:
    assert check_http_url(url, "--to", hint="h") == url


@pytest.mark.parametrize(
    "url",
    ["localhost:3000/hook", "ftp://example.com/x", "http://", "http://:80/x", "http://h:99999/", "http://h:abc/",
     "http://h\n/x", "not a url"],
)  # fmt: skip
def test_other_urls_are_bad_input_naming_what_they_were_for(url: str) -> None:
    with pytest.raises(BadInputError) as raised:
        check_http_url(url, "forward target", hint="write it in full")
    assert raised.value.code == "invalid_url" and raised.value.exit_code == ExitCode.BAD_INPUT
    assert str(raised.value).startswith(f"forward target {url!r} is not an http(s) URL")


def test_snippet_cuts_at_300_bytes_with_an_ellipsis() -> None:
    assert snippet(b"ok") == "ok"
    assert snippet(b"x" * 301) == "x" * 300 + "…"


def test_end_to_end_headers_drop_hop_by_hop_ones_in_order() -> None:
    headers = [("Host", "a"), ("X-A", "1"), ("Connection", "close"), ("x-a", "2")]
    assert end_to_end_headers(headers) == [("X-A", "1"), ("x-a", "2")]
