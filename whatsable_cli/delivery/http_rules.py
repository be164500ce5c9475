"""HTTP facts shared by every sender: hop-by-hop headers, URL checks, response snippets (stdlib only)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from whatsable_cli.errors import BadInputError

# Headers that describe one connection, not the request: never copied onto another hop (RFC 9110 §7.6.1),
# plus the ones the HTTP client must compute itself for the new request.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
SNIPPET_BYTES = 300


def end_to_end_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers worth carrying to the next hop, in order, duplicates kept."""
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]


def snippet(body: bytes) -> str:
    """The start of an answer's body as text, with '…' when it was cut."""
    text = body[:SNIPPET_BYTES].decode("utf-8", errors="replace")
    return text + ("…" if len(body) > SNIPPET_BYTES else "")


def check_http_url(url: str, what: str, *, hint: str) -> str:
    """An absolute http(s) URL with a host (and a valid port), or bad input (exit 7) naming `what` it is for."""
    if _is_http_url(url):
        return url
    raise BadInputError(f"{what} {url!r} is not an http(s) URL", hint=hint, code="invalid_url")


def _is_http_url(url: str) -> bool:
    # urlsplit silently drops tabs and newlines, which no HTTP client would send: refuse control characters
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        return False
    parts = urlsplit(url)
    try:
        _ = parts.port  # raises ValueError on a port that is not a number in 0..65535
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
