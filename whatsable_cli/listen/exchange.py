"""What the listen service and its HTTP edge exchange: an `Incoming` request and the `Reply` to it (stdlib only)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json"


@dataclass(slots=True)
class Incoming:
    """One received request, as the listen service sees it (no HTTP-library types).

    Bytes of the target or of a header value that are not UTF-8 are held as surrogate escapes
    (decoded with "surrogateescape"): `.encode("utf-8", "surrogateescape")` gives them back exactly.
    """

    method: str
    path: str
    query: str
    headers: Mapping[str, str]  # case-insensitive lookups (a multidict)
    header_pairs: list[tuple[str, str]]  # as received: order and duplicates kept
    body: bytes
    body_size: int
    body_omitted: bool  # over --max-body: not read, recorded without it
    remote: str | None
    scheme: str
    on_webhook_path: bool
    body_decoded: bool = False  # sent with a Content-Encoding the server undid: `body` is the decoded one


@dataclass(slots=True)
class Reply:
    """What the client is answered."""

    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(payload).encode(), headers=headers or {})


def unavailable_reply() -> Reply:
    """The last line of defence when answering failed: never a 500, a retry later."""
    return Reply(503, b'{"error":"listener_error","detail":"try again"}', headers={"Retry-After": "1"})
