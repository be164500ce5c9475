"""A bounded property test: random bytes and mutated signed deliveries never get a 5xx, never take the listener
down, and every request an answer names (every acknowledged delivery above all) is in the recording.

One listener serves the whole module on its own thread; each example is one connection that sends its
bytes and half-closes, so the listener ends the exchange (answers what it can, then closes) and no example
waits on a timer. Derandomized, without a database: CI sees the same examples every run.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.hostile_support import (
    DEADLINE,
    ListenerThread,
    assert_invariants,
    assert_still_up,
    exchange,
    listener_thread,
    signed_headers,
)
from tests.support.listen_helpers import fixture_bytes

pytestmark = pytest.mark.hostile

MAX_BODY = 8 << 10
BODIES = [fixture_bytes(name) for name in ("message_status/delivered", "message_status/read", "incoming_message/text")]
METHODS = [b"POST", b"GET", b"PUT", b"PATCH", b"DELETE", b"OPTIONS", b"TRACE", b"CONNECT", b"PRI", b"post", b"P OST"]
TARGETS = [
    b"/webhook",
    b"/webhook?hub.challenge=1",
    b"/webhook/",
    b"/other",
    b"/_whatsable/health",
    b"*",
    b"http://127.0.0.1/webhook",
    b"example.com:443",
    b"/web%00hook",
    b"/%2e%2e/webhook",
    b"",
]
VERSIONS = [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/0.9", b"HTTP/1.2", b"HTTP/2.0", b"http/1.1", b"HTTP/1.1 ", b"HTTP/11", b""]
NAMES = [
    b"Content-Length",
    b"Transfer-Encoding",
    b"Content-Encoding",
    b"Expect",
    b"Connection",
    b"Upgrade",
    b"Host",
    b"Content-Type",
    b"X-Webhook-Signature",
    b"webhook-id",
    b"webhook-timestamp",
    b"webhook-signature",
    b"Trailer",
    b"Transfer-Encoding ",
    b" Transfer-Encoding",
]
VALUES = [
    b"0",
    b"-1",
    b"99999999999999999999",
    b"chunked",
    b"chunked, identity",
    b"identity",
    b"gzip",
    b"GZIP",
    b"deflate",
    b"br",
    b"100-continue",
    b"the-unexpected",
    b"close",
    b"keep-alive",
    b"Upgrade",
    b"h2c",
    b"websocket",
    b"v1,AAAA",
    b"\r\n chunked",
    b"",
]
ASCII = st.binary(max_size=24).map(lambda b: bytes(c & 0x7F for c in b))  # control characters included
ANY_BYTES = st.binary(max_size=24)


@dataclass
class Message:
    """A request being mutated; `bytes()` frames it."""

    body: bytes
    method: bytes = b"POST"
    target: bytes = b"/webhook"
    version: bytes = b"HTTP/1.1"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    framing: str = "length"  # length | chunked | wrong-length | none
    length_delta: int = 0
    chunk_size: int = 64
    eol: bytes = b"\r\n"

    def __bytes__(self) -> bytes:
        headers, body = list(self.headers), self.body
        if self.framing in ("length", "wrong-length"):
            headers.append((b"Content-Length", b"%d" % max(0, len(body) + self.length_delta)))
        elif self.framing == "chunked":
            headers.append((b"Transfer-Encoding", b"chunked"))
            pieces = [body[i : i + self.chunk_size] for i in range(0, len(body), self.chunk_size)]
            body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        lines = [b"%s %s %s" % (self.method, self.target, self.version), *(n + b": " + v for n, v in headers)]
        return self.eol.join(lines) + self.eol + self.eol + body


Mutation = Callable[[st.DataObject, Message, st.SearchStrategy[bytes]], None]


def _method(data: st.DataObject, m: Message, text: st.SearchStrategy[bytes]) -> None:
    m.method = data.draw(st.sampled_from(METHODS) | text.filter(lambda b: not b.upper().startswith(b"HEAD")))


def _target(data: st.DataObject, m: Message, text: st.SearchStrategy[bytes]) -> None:
    m.target = data.draw(st.sampled_from(TARGETS) | text.map(lambda b: b"/webhook" + b))


def _version(data: st.DataObject, m: Message, text: st.SearchStrategy[bytes]) -> None:
    m.version = data.draw(st.sampled_from(VERSIONS))


def _add_header(data: st.DataObject, m: Message, text: st.SearchStrategy[bytes]) -> None:
    name = data.draw(st.sampled_from(NAMES) | text)
    value = data.draw(st.sampled_from(VALUES) | text)
    m.headers.insert(data.draw(st.integers(0, len(m.headers))), (name, value))


def _drop_header(data: st.DataObject, m: Message, text: st.SearchStrategy[bytes]) -> None:
    if m.headers:
        del m.headers[data.draw(st.integers(0, len(m.headers) - 1))]


def _change_value(data: st.DataObject, m: Message, text: st.SearchStrategy[bytes]) -> None:
    if m.headers:
        at = data.draw(st.integers(0, len(m.headers) - 1))
        m.headers[at] = (m.headers[at][0], data.draw(st.sampled_from(VALUES) | text))


def _duplicate_header(data: st.DataObject, m: Message, text: st.SearchStrategy[bytes]) -> None:
    if m.headers:
        m.headers.append(m.headers[data.draw(st.integers(0, len(m.headers) - 1))])


def _body(data: st.DataObject, m: Message, text: st.SearchStrategy[bytes]) -> None:
    how = data.draw(st.sampled_from(["flip", "cut", "append", "replace", "gzip", "oversize", "empty"]))
    at = data.draw(st.integers(0, max(0, len(m.body) - 1)))
    if how == "flip" and m.body:
        m.body = m.body[:at] + bytes([m.body[at] ^ data.draw(st.integers(1, 255))]) + m.body[at + 1 :]
    elif how == "cut":
        m.body = m.body[:at]
    elif how == "append":
        m.body += data.draw(st.binary(max_size=64))
    elif how == "replace":
        m.body = data.draw(st.binary(max_size=256))
    elif how == "gzip":
        m.body = gzip.compress(m.body if data.draw(st.booleans()) else b"0" * (MAX_BODY * 64))
        m.headers.append((b"Content-Encoding", data.draw(st.sampled_from([b"gzip", b"GZIP", b"x-gzip", b"br"]))))
    elif how == "oversize":
        m.body = b"x" * (MAX_BODY + 1)
    else:
        m.body = b""


def _framing(data: st.DataObject, m: Message, text: st.SearchStrategy[bytes]) -> None:
    m.framing = data.draw(st.sampled_from(["length", "chunked", "wrong-length", "none"]))
    m.length_delta = data.draw(st.integers(-8, 8))
    m.chunk_size = data.draw(st.integers(1, 128))


def _line_ending(data: st.DataObject, m: Message, text: st.SearchStrategy[bytes]) -> None:
    m.eol = data.draw(st.sampled_from([b"\n", b"\r", b"\r\r\n", b"\n\r"]))


MUTATIONS: list[Mutation] = [
    _method,
    _target,
    _version,
    _add_header,
    _drop_header,
    _change_value,
    _duplicate_header,
    _body,
    _framing,
    _line_ending,
]


def _bytewise(data: st.DataObject, raw: bytes, text: st.SearchStrategy[bytes]) -> bytes:
    """A mutation of the framed bytes: insert, delete, replace, or repeat (pipelining) a stretch."""
    how = data.draw(st.sampled_from(["insert", "delete", "replace", "repeat", "pipeline"]))
    at = data.draw(st.integers(0, len(raw)))
    end = data.draw(st.integers(at, min(len(raw), at + 32)))
    if how == "insert":
        return raw[:at] + data.draw(text) + raw[at:]
    if how == "delete":
        return raw[:at] + raw[end:]
    if how == "replace":
        return raw[:at] + data.draw(st.sampled_from([b"\x00", b"\r", b"\n", b" ", b":", b"\t"]) | text) + raw[end:]
    if how == "repeat":
        return raw[:end] + raw[at:end] + raw[end:]
    return raw * data.draw(st.integers(2, 4))


def mutated_delivery(data: st.DataObject, text: st.SearchStrategy[bytes]) -> bytes:
    """A signed WhatsAble delivery, mutated a few times in its head, headers, body and framing."""
    body = data.draw(st.sampled_from(BODIES))
    message = Message(body, headers=[(b"Host", b"127.0.0.1"), (b"Content-Type", b"application/json")])
    message.headers += signed_headers(body)
    for mutation in data.draw(st.lists(st.sampled_from(MUTATIONS), max_size=4)):
        mutation(data, message, text)
    raw = bytes(message)
    for _ in range(data.draw(st.sampled_from([0, 0, 1, 2]))):  # most keep their framing: more get through
        raw = _bytewise(data, raw, text)
    return raw


@pytest.fixture(scope="module")
def listener(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ListenerThread]:
    with listener_thread(tmp_path_factory.mktemp("hostile"), max_body=MAX_BODY) as running:
        yield running


def holds_invariants(listener: ListenerThread, payload: bytes) -> None:
    """Send `payload`, half-close, read until the listener closes; then the invariants, and still up."""

    async def attempt() -> None:
        result = await exchange(listener.port, payload, half_close=True)
        assert not result.timed_out, f"neither answered nor closed within {DEADLINE} s: {result}"
        assert_invariants(result, listener.record_path)
        await assert_still_up(listener.port, listener.record_path)

    asyncio.run(attempt())


BOUNDED = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    # The autouse fixtures only set environment variables the running listener never reads again.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@BOUNDED
@given(data=st.data())
def test_mutated_signed_deliveries(listener: ListenerThread, data: st.DataObject) -> None:
    holds_invariants(listener, mutated_delivery(data, ASCII))


@BOUNDED
@given(data=st.data())
def test_mutated_signed_deliveries_with_non_utf8_heads(listener: ListenerThread, data: st.DataObject) -> None:
    holds_invariants(listener, mutated_delivery(data, ANY_BYTES))


@settings(BOUNDED, max_examples=150)
@given(
    payload=st.binary(min_size=1, max_size=512)
    | st.builds(
        bytes.__add__, st.sampled_from([b"POST /webhook HTTP/1.1\r\n", b"GET / HTTP/1.1\r\n"]), st.binary(max_size=256)
    )
)
def test_random_bytes(listener: ListenerThread, payload: bytes) -> None:
    holds_invariants(listener, payload)
