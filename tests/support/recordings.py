"""Test recordings written with the real RecordingWriter, in the format `listen` writes."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.recording.jsonl import RecordingWriter
from whatsable_cli.recording.lines import ForwardRecord, RecordedRequest, encode_body
from whatsable_cli.webhooks.events import SignatureCheck, parse_body
from whatsable_cli.webhooks.overrides import to_body
from whatsable_cli.webhooks.signing import sign
from whatsable_cli.webhooks.synthetic import SyntheticEvents

OLD_SECRET = "old_recorded_secret"


def recorded(
    number: int,
    body: bytes,
    headers: Iterable[tuple[str, str]] = (),
    *,
    received_at: str | None = None,
) -> RecordedRequest:
    """A request as `listen` records it: id, time, all headers (Host included), exact body."""
    text, encoding = encode_body(body)
    parsed = parse_body(body)
    return RecordedRequest(
        id=f"{number:04d}{'abcdef' * 5}"[:32],
        received_at=received_at or f"2026-11-25T20:{number % 60:02d}:00.000000+00:00",
        method="POST",
        path="/webhooks/whatsable",
        query="",
        headers=[("Host", "127.0.0.1:4242"), ("Content-Type", "application/json"), *headers],
        body=text,
        body_encoding=encoding,
        body_size=len(body),
        event_type=parsed.kind,
        signature=SignatureCheck("verified", "whatsable"),
    )


def status_body(number: int, status: str = "delivered") -> bytes:
    payload = SyntheticEvents(seed=number).build("message_status", status)
    return to_body(payload)


def incoming_body(number: int, variant: str = "text", phone: str | None = None) -> bytes:
    payload = SyntheticEvents(seed=number).build("incoming_message", variant)
    if phone is not None:
        payload["data"]["phone_number"] = phone
    return to_body(payload)


def signed_request(number: int, body: bytes, scheme: str = "whatsable", secret: str = OLD_SECRET) -> RecordedRequest:
    """Signed as the sender signed it then (timestamped schemes: with the fixed 2024 timestamp, now stale)."""
    return recorded(number, body, sign(scheme, secret, body, timestamp=1711230104).items())


def write_recording(path: Path, requests: Iterable[RecordedRequest], *, forwards: bool = False) -> Path:
    with RecordingWriter(path) as writer:
        for request in requests:
            writer.append(request.to_json_line())
            if forwards:
                result = DeliveryResult("http://localhost:3000/hook", 200, 4.5, '{"ok":true}')
                writer.append(ForwardRecord(request.id, result, at=request.received_at).to_json_line())
    return path


def numbered_bodies(count: int) -> list[bytes]:
    """Distinct compact bodies whose order is visible: data.sequence = 0, 1, 2, ..."""
    return [
        json.dumps(
            {"event": "message_status", "data": {"message_id": f"wamid.{i}", "status": "sent", "sequence": i}},
            separators=(",", ":"),
        ).encode()
        for i in range(count)
    ]


def decoded_recording(tmp_path: Path) -> tuple[Path, bytes]:
    """A gzip request as `listen` records it: the decoded body, flagged `decoded`, the original headers."""
    body = status_body(7)
    request = recorded(7, body, [("Content-Encoding", "gzip"), ("X-Webhook-Signature", "sig")])
    request.flags = ["decoded"]
    return write_recording(tmp_path / "rec.jsonl", [request]), body
