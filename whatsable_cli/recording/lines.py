"""The recording line: a received request or a forward result as one JSON line, written and read here only."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import TypeVar

from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.errors import BadInputError
from whatsable_cli.webhooks.events import JsonObject, SignatureCheck


def encode_body(body: bytes) -> tuple[str, str]:
    """A body as JSON-safe text: (text, "utf-8") when it decodes, else (base64, "base64")."""
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


def decode_body(text: str, encoding: str) -> bytes:
    """The exact bytes of a body stored by encode_body."""
    return base64.b64decode(text) if encoding == "base64" else text.encode("utf-8")


RECORD_TYPE_REQUEST = "request"
RECORD_TYPE_FORWARD = "forward"

_json_str = encode_basestring  # a str as a JSON literal, non-ASCII kept (as ensure_ascii=False does)
_header_names: dict[str, str] = {}  # header names as JSON literals: a sender sends the same few each time


def _json_name(name: str) -> str:
    literal = _header_names.get(name)
    if literal is None:
        literal = _json_str(name)
        if len(_header_names) < 512:  # bounded: a sender inventing names must not grow it forever
            _header_names[name] = literal
    return literal


def _json_opt(value: str | None) -> str:
    return "null" if value is None else _json_str(value)


def is_utf8(text: str) -> bool:
    """False for text holding bytes that were not UTF-8 (kept as surrogate escapes when it was decoded)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _to_base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8", "surrogateescape")).decode("ascii")


def _from_base64(text: object) -> str:
    try:
        raw = base64.b64decode(str(text), validate=True)
    except ValueError:  # binascii.Error
        raise ValueError(f"a value marked base64 is not base64: {str(text)[:40]!r}") from None
    return raw.decode("utf-8", "surrogateescape")


def _printable(value: str | None) -> str | None:
    """A message made safe to write as UTF-8 (one quoting a value that was not UTF-8 shows it escaped)."""
    return value if value is None or is_utf8(value) else value.encode("utf-8", "backslashreplace").decode()


def _header_to_json(name: str, value: str) -> list[str]:
    """[name, value]; a value that is not UTF-8 is [name, its bytes in base64, "base64"]."""
    return [name, value] if is_utf8(value) else [name, _to_base64(value), "base64"]


def _header_from_json(pair: object) -> tuple[str, str]:
    if not isinstance(pair, list) or len(pair) not in (2, 3):
        raise ValueError(f"a header is [name, value], not {pair!r}")
    if len(pair) == 3:
        if pair[2] != "base64":
            raise ValueError(f"unknown header value encoding {pair[2]!r}")
        return str(pair[0]), _from_base64(pair[1])
    return str(pair[0]), str(pair[1])


def _text_from_json(value: object, encoding: object) -> str:
    if encoding is None or encoding == "utf-8":
        return str(value)
    if encoding != "base64":
        raise ValueError(f"unknown encoding {encoding!r}")
    return _from_base64(value)


@dataclass
class RecordedRequest:
    """One received request, exactly as it arrived, as one line of a recording.

    Bytes of the path, the query or a header value that are not UTF-8 are held as surrogate escapes
    (decoded with "surrogateescape", the exact bytes come back with the same error handler) and are
    written to the line in base64 with a marker: `"path_encoding":"base64"`, `[name, value, "base64"]`.
    """

    id: str
    received_at: str  # ISO 8601 UTC
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: str
    body_encoding: str = "utf-8"
    body_size: int = 0
    body_omitted: bool = False  # over --max-body: recorded without its body
    event_type: str | None = None
    signature: SignatureCheck | None = None
    response_status: int | None = None  # what the sender was answered, when known at write time
    flags: list[str] = field(default_factory=list)  # e.g. "other_path", "rejected", "duplicate"

    @property
    def body_bytes(self) -> bytes:
        return decode_body(self.body, self.body_encoding)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)

    def to_dict(self) -> JsonObject:
        # Built field by field, not with asdict (a recursive deep copy): this runs once per
        # received request, on the listener's hot path. Same keys, same order, same values.
        raw: JsonObject = {name: getattr(self, name) for name in self.__dataclass_fields__}
        raw["type"] = RECORD_TYPE_REQUEST
        raw["headers"] = [_header_to_json(name, value) for name, value in self.headers]
        raw["flags"] = list(self.flags)
        if self.signature is None:
            raw.pop("signature")
        else:
            raw["signature"] = {k: _printable(v) for k, v in vars(self.signature).items()}
        for name in ("path", "query"):  # a request target that is not UTF-8: its bytes in base64, marked
            if not is_utf8(raw[name]):
                raw[name] = _to_base64(raw[name])
                raw[f"{name}_encoding"] = "base64"
        return raw

    def to_json_line(self) -> bytes:
        # The same bytes as json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")) (a test
        # holds them equal for every field shape), written out by hand: once per received request on the
        # listener's hot path, in about half json.dumps's time. Each string goes through json's own C escaper.
        sig = self.signature
        signature = (
            ""
            if sig is None
            else f'"signature":{{"result":{_json_str(sig.result)},"scheme":{_json_opt(sig.scheme)},'
            f'"reason":{_json_opt(sig.reason)},"detail":{_json_opt(sig.detail)}}},'
        )
        headers = ",".join([f"[{_json_name(name)},{_json_str(value)}]" for name, value in self.headers])
        status = "null" if self.response_status is None else str(int(self.response_status))
        line = (
            f'{{"id":{_json_str(self.id)},"received_at":{_json_str(self.received_at)},'
            f'"method":{_json_str(self.method)},"path":{_json_str(self.path)},"query":{_json_str(self.query)},'
            f'"headers":[{headers}],"body":{_json_str(self.body)},"body_encoding":{_json_str(self.body_encoding)},'
            f'"body_size":{int(self.body_size)},"body_omitted":{"true" if self.body_omitted else "false"},'
            f'"event_type":{_json_opt(self.event_type)},{signature}"response_status":{status},'
            f'"flags":[{",".join(map(_json_str, self.flags))}],"type":"request"}}\n'
        )
        try:
            return line.encode()
        except UnicodeEncodeError:  # bytes that are not UTF-8 in a header or the target: marked, in base64
            return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_dict(cls, raw: JsonObject) -> RecordedRequest:
        signature = raw.get("signature")
        return cls(
            id=str(raw["id"]),
            received_at=str(raw["received_at"]),
            method=str(raw.get("method", "POST")),
            path=_text_from_json(raw.get("path", "/"), raw.get("path_encoding")),
            query=_text_from_json(raw.get("query", ""), raw.get("query_encoding")),
            headers=[_header_from_json(pair) for pair in raw.get("headers", [])],
            body=str(raw.get("body", "")),
            body_encoding=str(raw.get("body_encoding", "utf-8")),
            body_size=int(raw.get("body_size", 0)),
            body_omitted=bool(raw.get("body_omitted", False)),
            event_type=raw.get("event_type"),
            signature=SignatureCheck(**signature) if isinstance(signature, dict) else None,
            response_status=raw.get("response_status"),
            flags=list(raw.get("flags", [])),
        )


@dataclass
class ForwardRecord:
    """A forward result, appended after its request line (the request is recorded before forwarding)."""

    request_id: str
    result: DeliveryResult
    attempt: int = 1
    at: str = ""

    def to_json_line(self) -> bytes:
        raw = {
            "type": RECORD_TYPE_FORWARD,
            "request_id": self.request_id,
            "attempt": self.attempt,
            "at": self.at,
            **self.result.to_dict(),
        }
        return json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_dict(cls, raw: JsonObject) -> ForwardRecord:
        return cls(
            request_id=str(raw["request_id"]),
            result=DeliveryResult.from_dict(raw),
            attempt=int(raw.get("attempt", 1)),
            at=str(raw.get("at", "")),
        )


Entry = RecordedRequest | ForwardRecord


def entry_from_dict(raw: object) -> Entry:
    """A parsed recording line as the request or forward it holds (ValueError when it is neither)."""
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    kind = raw.get("type", RECORD_TYPE_REQUEST)
    if kind == RECORD_TYPE_FORWARD:
        return ForwardRecord.from_dict(raw)
    if kind == RECORD_TYPE_REQUEST:
        return RecordedRequest.from_dict(raw)
    raise ValueError(f"unknown line type {kind!r}")


def is_recording_object(value: object) -> bool:
    """Whether a parsed JSON value is a recording line (rather than a bare webhook payload)."""
    if not isinstance(value, dict):
        return False
    return value.get("type") in (RECORD_TYPE_REQUEST, RECORD_TYPE_FORWARD) or (
        "received_at" in value and "body" in value
    )


T = TypeVar("T")


def the_one_match(matches: Sequence[T], id_prefix: str, where: str, hint: str, *, noun: str = "request") -> T:
    """The single request an id prefix found in `where`; none, or more than one, is bad input (exit 7)."""
    if not matches:
        raise BadInputError(f"no {noun} with id {id_prefix!r} in {where}", hint=hint, code="unknown_id")
    if len(matches) > 1:
        raise BadInputError(
            f"id prefix {id_prefix!r} matches more than one request in {where}",
            hint="give more characters of the id",
            code="ambiguous_id",
        )
    return matches[0]
