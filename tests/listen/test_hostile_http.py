"""The listener attacked over raw sockets: smuggling, bad framing, odd heads, floods, resets and half-closes.

Every case checks the same invariants as well as its own: the listener answers as aiohttp.web does or
better (a 4xx for malformed input, else a well-formed answer), never a 5xx, stays up (a normal signed
delivery right after is answered 200 and recorded), and every request an answer names is in the recording.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.hostile_support import (
    BODY,
    DEADLINE,
    HOST,
    SECRET,
    Exchange,
    assert_invariants,
    assert_still_up,
    exchange,
    parse_answers,
    raw_request,
    recorded,
    reset_after,
    signed_headers,
    signed_post,
)
from tests.support.listen_helpers import listen_settings, running_listener
from whatsable_cli.listen.model import ListenSettings
from whatsable_cli.recording.lines import RecordedRequest

pytestmark = pytest.mark.hostile

MAX_BODY = 64 << 10

HOSTH = (b"Host", b"127.0.0.1")
CHUNKED = (b"Transfer-Encoding", b"chunked")
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
SMUGGLING_BODY = b"0\r\n\r\n" + SMUGGLED  # chunked: an empty body, then a second request; by length: one body
GZIPPED = gzip.compress(BODY, mtime=0)
BOMB = gzip.compress(b"0" * (16 << 20), mtime=0)  # ~16 KB on the wire, 16 MiB once inflated: far past MAX_BODY
OVERSIZE = b"x" * (MAX_BODY + 1)

Check = Callable[[Exchange, list[RecordedRequest]], None]


def length(body: bytes) -> tuple[bytes, bytes]:
    return (b"Content-Length", b"%d" % len(body))


def post(*headers: tuple[bytes, bytes], body: bytes = b"", target: bytes = b"/webhook", **kw: bytes) -> bytes:
    return raw_request(b"POST", target, [HOSTH, *headers], body, **kw)


def one_chunk(body: bytes) -> bytes:
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


# -- what each case expects, besides the invariants ---------------------------------------------------


def refused(result: Exchange, requests: list[RecordedRequest]) -> None:
    """One 4xx, and nothing smuggled behind it handled."""
    assert len(result.answers) == 1 and 400 <= result.statuses[0] < 500, result
    assert not [r for r in requests if "smuggled" in r.path], "a smuggled request was handled"


def rejected(result: Exchange, requests: list[RecordedRequest]) -> None:
    """Malformed: refused, then the connection closed (its framing cannot be trusted)."""
    refused(result, requests)
    assert result.closed, "the connection stayed open after a malformed request"


def acknowledged(count: int = 1, bodies: tuple[bytes, ...] = (BODY,)) -> Check:
    """Each answered 200 with its own id, and recorded with its body (one of `bodies`)."""

    def check(result: Exchange, requests: list[RecordedRequest]) -> None:
        assert result.statuses == [200] * count, result
        ids = [a.acknowledged_id for a in result.answers]
        assert None not in ids and len(set(ids)) == count
        by_id = {r.id: r for r in requests}
        assert all(by_id[str(i)].body_bytes in bodies for i in ids), "the recorded body is not the one sent"

    return check


def rejected_or_acknowledged(result: Exchange, requests: list[RecordedRequest]) -> None:
    """Either is right (RFC 9112 allows both): refused as malformed, or taken as the delivery it also is."""
    if result.statuses and 400 <= result.statuses[0] < 500 and result.answers[0].request_id is None:
        refused(result, requests)
    else:
        acknowledged()(result, requests)


def rejected_or_recorded(result: Exchange, requests: list[RecordedRequest]) -> None:
    """Refused by the parser, or answered (any non-5xx) as a request that is in the recording."""
    assert len(result.answers) == 1, result
    if result.answers[0].request_id is None:
        refused(result, requests)  # a recorded request's answer names it; the parser's refusal does not


def answered(result: Exchange, requests: list[RecordedRequest]) -> None:
    """An odd but parseable request: some well-formed answer (the invariants say which are allowed)."""
    assert len(result.answers) == 1, result


def too_large(result: Exchange, requests: list[RecordedRequest]) -> None:
    """Refused (413, or 400 for a size the parser itself refuses), and never held past --max-body."""
    assert len(result.answers) == 1 and result.statuses[0] in (400, 413), result
    assert all(len(r.body_bytes) <= MAX_BODY for r in requests), "a body past --max-body was kept"


def too_large_unannounced(result: Exchange, requests: list[RecordedRequest]) -> None:
    """413 at once, without the interim 100 Continue that would make the client send the body."""
    too_large(result, requests)
    assert not result.interim, f"asked for a body it will refuse: {result.interim}"


def expectation_failed(result: Exchange, requests: list[RecordedRequest]) -> None:
    assert result.statuses == [417], result


def with_header(name: str) -> Check:
    """Acknowledged and recorded with the header (whatever form the recording keeps its exact bytes in)."""

    def check(result: Exchange, requests: list[RecordedRequest]) -> None:
        acknowledged()(result, requests)
        (request,) = [r for r in requests if r.id == result.answers[0].acknowledged_id]
        assert request.header(name) is not None, request.headers

    return check


def valid_then_rejected(result: Exchange, requests: list[RecordedRequest]) -> None:
    """The valid first request may be answered (and then is recorded) or lost with the connection;
    the malformed second one is refused and the connection closed."""
    assert result.statuses in ([400], [200, 400]), result
    assert result.closed


def kept_alive(result: Exchange, requests: list[RecordedRequest]) -> None:
    """Both answered on the one connection, the first saying it stays open."""
    acknowledged(2)(result, requests)
    assert (result.answers[0].header("connection") or "").lower() == "keep-alive"


def closed_after(result: Exchange, requests: list[RecordedRequest]) -> None:
    acknowledged()(result, requests)
    assert result.closed, "HTTP/1.0 without keep-alive was kept open"
    assert result.answers[0].header("connection") in (None, "close")


def probe_then_acknowledged(result: Exchange, requests: list[RecordedRequest]) -> None:
    """HEAD's answer has no body: the next answer must not be read as one."""
    assert result.statuses[0] == 200 and result.answers[0].body == b""
    acknowledged()(Exchange(answers=result.answers[1:]), requests)


def no_acknowledgement(result: Exchange, requests: list[RecordedRequest]) -> None:
    """A truncated body is never acknowledged: a 4xx or no answer, and the connection closed."""
    assert all(400 <= s < 500 for s in result.statuses), result
    assert result.closed


# -- the cases ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    parts: tuple[bytes, ...]
    check: Check
    answers: int | None = None  # final answers to wait for; None: read until the listener closes
    half_close: bool = False  # shut our sending side once everything is sent
    head_only: tuple[int, ...] = ()  # positions of answers to HEAD requests (no body)


def case(
    name: str,
    *parts: bytes,
    check: Check,
    answers: int | None = None,
    half_close: bool = False,
    head_only: tuple[int, ...] = (),
    marks: pytest.MarkDecorator | tuple[()] = (),
) -> object:
    return pytest.param(Case(parts, check, answers, half_close, head_only), id=name, marks=marks)


SMUGGLING = [
    case("cl-then-te", post(length(SMUGGLING_BODY), CHUNKED, body=SMUGGLING_BODY), check=rejected),
    case("te-then-cl", post(CHUNKED, length(SMUGGLING_BODY), body=SMUGGLING_BODY), check=rejected),
    case("two-content-lengths", post((b"Content-Length", b"5"), length(BODY), body=BODY), check=rejected),
    case("content-length-list", post((b"Content-Length", b"5, %d" % len(BODY)), body=BODY), check=rejected),
    case(
        "same-content-length-twice",
        post(length(BODY), length(BODY), body=BODY),
        check=rejected_or_acknowledged,
        answers=1,
    ),
    case(
        "te-chunked-identity",
        post((b"Transfer-Encoding", b"chunked, identity"), length(SMUGGLING_BODY), body=SMUGGLING_BODY),
        check=rejected,
    ),
    case(
        "te-chunked-not-last", post((b"Transfer-Encoding", b"chunked, identity"), body=one_chunk(BODY)), check=rejected
    ),
    case("te-chunked-twice", post(CHUNKED, CHUNKED, body=one_chunk(BODY)), check=rejected_or_acknowledged, answers=1),
    case("te-unknown-with-cl", post((b"Transfer-Encoding", b"xchunked"), length(BODY), body=BODY), check=rejected),
    case(
        "te-obs-folded",
        post((b"Transfer-Encoding", b"\r\n chunked"), length(SMUGGLING_BODY), body=SMUGGLING_BODY),
        check=rejected,
    ),
    case(
        "te-folded-into-other",
        post((b"X-Pad", b"a\r\n Transfer-Encoding: chunked"), body=one_chunk(BODY)),
        check=rejected,
    ),
    case(
        "te-space-before-colon",
        post((b"Transfer-Encoding ", b"chunked"), length(SMUGGLING_BODY), body=SMUGGLING_BODY),
        check=rejected,
    ),
    case("chunk-size-not-hex", post(CHUNKED, body=b"zz\r\n" + BODY + b"\r\n0\r\n\r\n"), check=rejected),
    case("chunk-size-negative", post(CHUNKED, body=b"-1\r\nx\r\n0\r\n\r\n" + SMUGGLED), check=rejected),
    case("chunk-size-0x", post(CHUNKED, body=b"0x5\r\nhello\r\n0\r\n\r\n"), check=rejected),
    # Past 64 bits: the C parser refuses the size; the pure-Python one takes it and refuses the data at --max-body.
    case("chunk-size-overflow", post(CHUNKED, body=b"10000000000000001\r\n" + OVERSIZE), check=too_large, answers=1),
    case("chunk-size-40-digits", post(CHUNKED, body=b"f" * 40 + b"\r\n" + OVERSIZE), check=too_large, answers=1),
    case("chunk-longer-than-size", post(CHUNKED, body=b"2\r\nhello\r\n0\r\n\r\n" + SMUGGLED), check=rejected),
    case("content-length-negative", post((b"Content-Length", b"-1"), body=BODY), check=rejected),
    case("content-length-plus", post((b"Content-Length", b"+%d" % len(BODY)), body=BODY), check=rejected),
    case("content-length-hex", post((b"Content-Length", b"0x10"), body=BODY), check=rejected),
    case("content-length-overflow", post((b"Content-Length", b"9" * 30), body=BODY), check=too_large, answers=1),
    case(
        "trailer-content-length",
        post(CHUNKED, body=one_chunk(BODY)[:-2] + b"Content-Length: 5\r\n\r\n"),
        check=rejected_or_acknowledged,
        answers=1,
    ),
]

LINES = [
    case("bare-lf", post(length(BODY), *signed_headers(), body=BODY, eol=b"\n"), check=rejected),
    case(
        "bare-lf-in-one-header",
        b"POST /webhook HTTP/1.1\r\nHost: x\n%s: %s\r\n\r\n%s" % (*length(BODY), BODY),
        check=rejected,
    ),
    case("bare-lf-after-chunk-size", post(CHUNKED, body=b"%x\n%s\n0\n\n" % (len(BODY), BODY)), check=rejected),
    case("cr-in-value", post(length(BODY), (b"X-A", b"a\rb"), body=BODY), check=rejected),
    case("nul-in-value", post(length(BODY), (b"X-A", b"a\x00b"), body=BODY), check=rejected),
    case("nul-in-name", post(length(BODY), (b"X-\x00A", b"b"), body=BODY), check=rejected),
    case("nul-in-method", raw_request(b"PO\x00ST", b"/webhook", [HOSTH, length(BODY)], BODY), check=rejected),
    case("space-before-colon", post((b"Content-Length ", b"%d" % len(BODY)), body=BODY), check=rejected),
    case("header-without-colon", post(length(BODY), body=BODY).replace(b"Host: ", b"Host"), check=rejected),
    case("empty-header-name", post(length(BODY), (b"", b"v"), body=BODY), check=rejected),
    case("leading-whitespace-header", post((b" X-A", b"a"), length(BODY), body=BODY), check=rejected),
    case("space-in-target", post(length(BODY), body=BODY, target=b"/web hook"), check=rejected),
    case("lower-case-version", post(length(BODY), body=BODY, version=b"http/1.1"), check=rejected),
    case("empty-lines-before-request", b"\r\n\r\n" + signed_post(close=True), check=acknowledged()),
]

SIZES = [
    case(
        "ten-thousand-headers",
        post(length(BODY), *[(b"X-H%d" % i, b"v") for i in range(10_000)], body=BODY),
        check=rejected,
    ),
    case("huge-header-value", post(length(BODY), (b"X-A", b"v" * 100_000), body=BODY), check=rejected),
    case("huge-header-name", post(length(BODY), (b"X-" + b"n" * 100_000, b"v"), body=BODY), check=rejected),
    case("huge-target", post(length(BODY), body=BODY, target=b"/webhook?" + b"q" * 100_000), check=rejected),
    case(
        "huge-chunk-extension",
        post(CHUNKED, body=b"%x;%s\r\n%s\r\n0\r\n\r\n" % (len(BODY), b"e" * 100_000, BODY)),
        check=rejected_or_acknowledged,
        answers=1,
    ),
    case("8000-byte-header-value", signed_post(BODY, (b"X-A", b"v" * 8000)), check=acknowledged(), answers=1),
    case("body-over-max-body", post(length(OVERSIZE), body=OVERSIZE), check=too_large, answers=1),
    case("gzip-bomb", post((b"Content-Encoding", b"gzip"), length(BOMB), body=BOMB), check=too_large, answers=1),
    case(
        "gzip-bomb-chunked",
        post((b"Content-Encoding", b"gzip"), CHUNKED, body=one_chunk(BOMB)),
        check=too_large,
        answers=1,
    ),
    case(
        "gzip-corrupt",
        post((b"Content-Encoding", b"gzip"), length(b"\x1f\x8bnot gzip"), body=b"\x1f\x8bnot gzip"),
        check=rejected_or_recorded,
        answers=1,
    ),
    case(
        "gzip-body",
        post((b"Content-Encoding", b"gzip"), length(GZIPPED), body=GZIPPED),
        check=acknowledged(bodies=(BODY, GZIPPED)),  # recorded decoded, or as the exact bytes received
        answers=1,
    ),
    case(
        "gzip-upper-case",
        post((b"Content-Encoding", b"GZIP"), length(GZIPPED), body=GZIPPED),
        check=acknowledged(bodies=(BODY, GZIPPED)),
        answers=1,
    ),
    case(
        "unknown-content-encoding",
        post((b"Content-Encoding", b"x-unknown"), length(BODY), body=BODY),
        check=acknowledged(),
        answers=1,
    ),
]

PIPELINING = [
    case("1000-pipelined", signed_post() * 1000, check=acknowledged(1000), answers=1000),
    case(
        "head-then-post",
        raw_request(b"HEAD", b"/webhook", [HOSTH]) + signed_post(),
        check=probe_then_acknowledged,
        answers=2,
        head_only=(0,),
    ),
    case("valid-then-malformed", signed_post() + b"GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n", check=valid_then_rejected),
    case("http10", post(length(BODY), *signed_headers(), body=BODY, version=b"HTTP/1.0"), check=closed_after),
    case(
        "http10-keep-alive",
        *[post(length(BODY), (b"Connection", b"keep-alive"), body=BODY, version=b"HTTP/1.0")] * 2,
        check=kept_alive,
        answers=2,
    ),
]

EXPECT = [
    case(
        "expect-100-continue-over-max-body",
        post(length(OVERSIZE), (b"Expect", b"100-continue")),
        check=too_large_unannounced,
        answers=1,
    ),
    case(
        "expect-100-continue-any-case",
        post(length(BODY), (b"Expect", b"100-Continue"), body=BODY),
        check=acknowledged(),
        answers=1,
    ),
    case(
        "expect-unknown",
        post(length(BODY), (b"Expect", b"the-unexpected"), body=BODY),
        check=expectation_failed,
        answers=1,
    ),
]

ENCODINGS = [
    case(
        "non-utf8-header-value",
        signed_post(BODY, (b"X-A", b"caf\xe9")),
        check=with_header("X-A"),
        answers=1,
    ),
    case(
        "non-utf8-webhook-id",
        signed_post(BODY, (b"webhook-id", b"msg_\xff\xfe")),
        check=with_header("webhook-id"),
        answers=1,
    ),
    case(
        "non-utf8-path",
        post(length(BODY), body=BODY, target=b"/web\xffhook"),
        check=rejected_or_recorded,
        answers=1,
    ),
    case(
        "non-utf8-query",
        post(length(BODY), body=BODY, target=b"/webhook?a=\xff"),
        check=rejected_or_recorded,
        answers=1,
    ),
    case("non-utf8-header-name", post(length(BODY), (b"X-\xe9", b"a"), body=BODY), check=rejected),
    case("non-utf8-body", post(length(b"\xff\xfe{"), body=b"\xff\xfe{"), check=rejected_or_recorded, answers=1),
]

PROTOCOLS = [
    case(
        "upgrade-h2c-post",
        signed_post(
            BODY,
            (b"Connection", b"Upgrade, HTTP2-Settings"),
            (b"Upgrade", b"h2c"),
            (b"HTTP2-Settings", b"AAMAAABkAAQAAP__"),
        ),
        check=acknowledged(),
        answers=1,
    ),
    case(
        "upgrade-websocket-post",
        signed_post(BODY, (b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")),
        check=acknowledged(),
        answers=1,
    ),
    case(
        "upgrade-h2c-get",
        raw_request(
            b"GET",
            b"/webhook",
            [
                HOSTH,
                (b"Connection", b"Upgrade, HTTP2-Settings"),
                (b"Upgrade", b"h2c"),
                (b"HTTP2-Settings", b"AAMAAABkAAQAAP__"),
            ],
        ),
        check=answered,
        answers=1,
    ),
    case("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00", check=rejected),
    case("connect", raw_request(b"CONNECT", b"example.com:443", [HOSTH]), check=answered, answers=1),
    case("options-asterisk", raw_request(b"OPTIONS", b"*", [HOSTH]), check=answered, answers=1),
    case(
        "absolute-form-target",
        post(length(BODY), body=BODY, target=b"http://127.0.0.1/webhook"),
        check=answered,
        answers=1,
    ),
    case("http09-request-line", b"GET /webhook\r\n\r\n", check=answered, answers=1),
    case("http-version-2", post(length(BODY), body=BODY, version=b"HTTP/2.0"), check=answered, answers=1),
]

HALF_CLOSE = [
    case("half-close-after-request", signed_post(), check=acknowledged(), half_close=True),
    case("half-close-after-two-pipelined", signed_post() * 2, check=acknowledged(2), half_close=True),
    case(
        "half-close-mid-body", post((b"Content-Length", b"1000"), body=BODY), check=no_acknowledgement, half_close=True
    ),
    case("half-close-mid-chunk", post(CHUNKED, body=b"3e8\r\n" + BODY), check=no_acknowledgement, half_close=True),
    case(
        "half-close-mid-head",
        b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Le",
        check=no_acknowledgement,
        half_close=True,
    ),
]


def settings(tmp_path: Path) -> ListenSettings:
    return listen_settings(tmp_path, secret=SECRET, max_body=MAX_BODY)


@pytest.mark.parametrize(
    "case_", [*SMUGGLING, *LINES, *SIZES, *PIPELINING, *EXPECT, *ENCODINGS, *PROTOCOLS, *HALF_CLOSE]
)
async def test_hostile_request(tmp_path: Path, case_: Case) -> None:
    async with running_listener(settings(tmp_path)) as listener:
        port, record = listener.info.port, tmp_path / "rec.jsonl"
        result = await exchange(
            port, *case_.parts, expect=case_.answers, half_close=case_.half_close, head_only=case_.head_only
        )
        assert not result.timed_out, f"neither answered nor closed within {DEADLINE} s: {result}"
        assert_invariants(result, record)
        case_.check(result, recorded(record))
        await assert_still_up(port, record)


async def test_expect_100_continue_is_answered_before_the_body(tmp_path: Path) -> None:
    async with running_listener(settings(tmp_path)) as listener:
        port, record = listener.info.port, tmp_path / "rec.jsonl"
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(post(length(BODY), (b"Expect", b"100-continue"), *signed_headers()))
            interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), DEADLINE)
            result = Exchange()
            assert parse_answers(interim, result, eof=False) == b"" and [a.status for a in result.interim] == [100]
            writer.write(BODY)
            data = b""
            while not result.answers:
                chunk = await asyncio.wait_for(reader.read(1 << 16), DEADLINE)
                assert chunk, f"closed without an answer: {data!r}"
                data = parse_answers(data + chunk, result, eof=False)
        finally:
            writer.transport.abort()
        assert_invariants(result, record)
        acknowledged()(result, recorded(record))
        await assert_still_up(port, record)


RESETS = {
    "mid-head": (b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Le",),
    "mid-body": (post((b"Content-Length", b"1000"), body=BODY),),
    "mid-chunked-body": (post(CHUNKED, body=b"3e8\r\n" + BODY),),
    "mid-body-over-max-body": (post(length(OVERSIZE), body=OVERSIZE[: MAX_BODY // 2]),),
    "after-a-complete-request": (signed_post(),),
    "after-1000-pipelined": (signed_post() * 1000,),
}


@pytest.mark.parametrize("parts", RESETS.values(), ids=RESETS.keys())
async def test_a_reset_leaves_the_listener_up(tmp_path: Path, parts: tuple[bytes, ...]) -> None:
    async with running_listener(settings(tmp_path)) as listener:
        port, record = listener.info.port, tmp_path / "rec.jsonl"
        await reset_after(port, *parts)
        await assert_still_up(port, record)
        await assert_still_up(port, record)  # and again: nothing it held for the reset connection is stuck
        assert all(len(r.body_bytes) <= MAX_BODY for r in recorded(record))
