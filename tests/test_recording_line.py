"""The hand-written recording line is byte for byte what json.dumps makes of the same request."""

from __future__ import annotations

import dataclasses
import json

import pytest

from whatsable_cli.events import RecordedRequest, SignatureCheck


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
