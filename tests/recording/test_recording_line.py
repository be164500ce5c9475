"""The hand-written recording line is byte for byte what json.dumps makes of the same request."""

from __future__ import annotations

import dataclasses
import json

import pytest

from whatsable_cli.recording.lines import RecordedRequest
from whatsable_cli.webhooks.events import SignatureCheck


def _reference(request: RecordedRequest) -> bytes:
    return json.dumps(request.to_dict(), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


SHAPES = [
    RecordedRequest("a1", "2026-01-01T00:00:00.000Z", "POST", "/webhook", "", [], ""),
    RecordedRequest(
        id="0123456789abcdef",
        received_at="2026-11-25T12:00:00.123Z",
        method="POST",
        path="/webhook/ünï",
        query='a=1&b="x"',
        headers=[("Content-Type", "application/json"), ("X-Dup", "1"), ("X-Dup", "2\t\\ \u2028 é")],
        body='{"event":"message_status","data":{"text":"h\\u00e9llo \\"q\\" \u00e9 \U0001f600\\n"}}',
        body_size=77,
        event_type="message_status",
        signature=SignatureCheck("verified", "whatsable"),
        response_status=200,
        flags=["duplicate", "decoded"],
    ),
    RecordedRequest(
        id="ff",
        received_at="t",
        method="PUT",
        path="/other",
        query="",
        headers=[("X", "")],
        body="AAEC/w==",
        body_encoding="base64",
        body_size=4,
        body_omitted=True,
        event_type=None,
        signature=SignatureCheck("failed", None, "signature_mismatch", 'expected "abc"\x00\x7f'),
        response_status=None,
        flags=["too_large"],
    ),
]


@pytest.mark.parametrize("request_line", SHAPES)
def test_line_equals_json_dumps(request_line: RecordedRequest) -> None:
    line = request_line.to_json_line()
    assert line == _reference(request_line)
    assert RecordedRequest.from_dict(json.loads(line)) == request_line


def test_every_field_is_written() -> None:
    # A field added to RecordedRequest must be added to the hand-written line too.
    written = set(json.loads(SHAPES[1].to_json_line()))
    assert written == {f.name for f in dataclasses.fields(RecordedRequest)} | {"type"}


NOT_UTF8 = RecordedRequest(
    id="0b",
    received_at="t",
    method="POST",
    path="/web\udcffhook",  # the bytes /web\xffhook, as aiohttp decodes them (surrogate escapes)
    query="q=\udcfe",
    headers=[("X-A", "caf\udce9"), ("webhook-id", "msg_\udcff\udcfe"), ("X-Fine", "café")],
    body="",
    signature=SignatureCheck("failed", "standard", "malformed_header", "'msg_\udcff' is not it"),
)


def test_bytes_that_are_not_utf8_are_written_in_base64_with_a_marker_and_read_back_exactly() -> None:
    line = NOT_UTF8.to_json_line()
    assert line == _reference(NOT_UTF8)
    raw = json.loads(line.decode("utf-8"))  # the line itself is valid UTF-8 JSON
    assert raw["headers"][0] == ["X-A", "Y2Fm6Q==", "base64"] and raw["headers"][2] == ["X-Fine", "café"]
    assert (raw["path"], raw["path_encoding"], raw["query_encoding"]) == ("L3dlYv9ob29r", "base64", "base64")
    back = RecordedRequest.from_dict(raw)
    assert (back.path, back.query, back.headers) == (NOT_UTF8.path, NOT_UTF8.query, NOT_UTF8.headers)
    assert back.header("webhook-id").encode("utf-8", "surrogateescape") == b"msg_\xff\xfe"  # type: ignore[union-attr]
    assert back.signature is not None and back.signature.detail == "'msg_\\udcff' is not it"  # a message, escaped


def test_lines_written_before_the_marker_existed_still_read() -> None:
    old = {"id": "1", "received_at": "t", "path": "/webhook", "query": "", "headers": [["X-A", "b"]], "body": ""}
    assert RecordedRequest.from_dict(old).headers == [("X-A", "b")]


@pytest.mark.parametrize(
    "headers", [[["X-A"]], [["X-A", "b", "rot13"]], [["X-A", "!!!", "base64"]], ["X-A: b"]], ids=str
)
def test_a_malformed_header_entry_is_a_corrupt_line(headers: list[object]) -> None:
    with pytest.raises(ValueError, match=r"header|encoding|base64"):
        RecordedRequest.from_dict({"id": "1", "received_at": "t", "headers": headers})
