"""What the lean HTTP server hands over and sends back: a parsed `Request`, a `Reply`, and a reply's bytes."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

from yarl import URL

JSON_TYPE = "application/json"
_REASONS = {status.value: status.phrase for status in HTTPStatus}


@dataclass(slots=True)
class Request:
    """One parsed request, body read (or left unread when over the cap)."""

    method: str
    url: URL  # the request target as parsed (path and query)
    headers: Mapping[str, str]  # case-insensitive, order and duplicates kept (a multidict)
    body: bytes
    body_size: int
    body_omitted: bool  # over the cap: not read, and the connection is closed after the answer
    remote: str | None

    @property
    def path(self) -> str:
        return self.url.path  # decoded, as aiohttp.web's request.path

    @property
    def query_string(self) -> str:
        return self.url.query_string

    @property
    def query(self) -> Mapping[str, str]:
        return self.url.query  # parsed only when asked: once per request it would cost for nothing


@dataclass(slots=True)
class Reply:
    """What the client is answered."""

    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    # Given before what it depends on is done (the request's recording line is written at the end of the
    # loop pass): the server asks `before_send` for the answer to send instead, should that fail.
    provisional: bool = False


# Answers at once (the fast path: no task per request) or with an awaitable when it must wait.
Dispatch = Callable[[Request], "Reply | Coroutine[Any, Any, Reply]"]


class _Date:
    """The Date header, formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def __call__(self) -> bytes:
        second = int(time.time())
        if second != self._second:
            self._second, self._value = second, formatdate(second, usegmt=True).encode()
        return self._value


_date = _Date()


def encode_reply(reply: Reply, *, head_only: bool = False, connection: str | None = None) -> bytes:
    """Status line, headers and body as bytes (HEAD: the headers a GET would get, no body)."""
    lines = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Unknown')}".encode(), b"Date: " + _date()]
    # The content type is checked too: in relay mode it is the forward target's (a relayed value).
    if reply.content_type and not _splits_lines(reply.content_type):
        lines.append(f"Content-Type: {reply.content_type}".encode("latin-1", "replace"))
    lines.append(b"Content-Length: %d" % len(reply.body))
    for name, value in reply.headers.items():
        if _splits_lines(name) or _splits_lines(value):
            continue  # a relayed value must never split the response
        lines.append(f"{name}: {value}".encode("latin-1", "replace"))
    if connection:
        lines.append(f"Connection: {connection}".encode())
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    return head if head_only else head + reply.body


def _splits_lines(text: str) -> bool:
    return "\r" in text or "\n" in text


def unavailable_reply() -> Reply:
    """The last line of defence when answering failed: never a 500, a retry later."""
    return Reply(503, b'{"error":"listener_error","detail":"try again"}', headers={"Retry-After": "1"})
