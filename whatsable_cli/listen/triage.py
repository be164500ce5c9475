"""Deciding about one received request before it is recorded: parse, verify, flag, pick targets and answer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from whatsable_cli.delivery.client import Delivery
from whatsable_cli.errors import BadInputError
from whatsable_cli.listen.exchange import Incoming, Reply, json_reply
from whatsable_cli.listen.model import ListenSettings
from whatsable_cli.listen.stats import DuplicateTracker
from whatsable_cli.recording.lines import RecordedRequest, encode_body
from whatsable_cli.webhooks.events import KIND_EMPTY, KIND_NOT_JSON, ParsedEvent, SignatureCheck, parse_body
from whatsable_cli.webhooks.signing import detect_scheme, get_scheme, verify

FORWARDED_HEADERS = frozenset({"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"})
# accept-encoding: the app's answer is relayed and shown as is, so it must come back uncompressed.
NOT_FORWARDED = frozenset({"accept-encoding"})
# content-encoding too, when the body we hold was decoded (gzip, deflate): it goes on decoded. A coding
# left as it came stays with the body it describes.
NOT_FORWARDED_DECODED = NOT_FORWARDED | {"content-encoding"}
WEBHOOK_METHODS = "GET, HEAD, POST"  # POST delivers; GET and HEAD are a sender's URL check
NOT_READ = ParsedEvent("too_large", error="body over --max-body, not read")


@dataclass(slots=True)
class Triage:
    """The recording line to write, and what happens next."""

    request: RecordedRequest
    parsed: ParsedEvent
    targets: tuple[str, ...]  # where to forward (empty: nowhere)
    duplicate: bool
    reply: Reply | None  # the answer, when it does not depend on a forward
    shown: bool = True  # False: filtered out by --event


def check_signature(settings: ListenSettings, body: bytes, headers: Mapping[str, str]) -> SignatureCheck:
    """verified / failed (with the reason) / unsigned; `unchecked` when no secret is set.

    With `auto`, X-Webhook-Signature is verified under whichever WhatsAble construction the secret fits
    (the hex HMAC of the body, or the fixed value), and the verdict names the one that did."""
    auto = settings.scheme == "auto"
    scheme = detect_scheme(headers) if auto else settings.scheme
    if not settings.secret:
        return SignatureCheck("unchecked", scheme)
    if scheme is None or get_scheme(scheme).signature_header not in headers:
        return SignatureCheck("unsigned", scheme, "missing_header", "no signature header")
    try:
        result = verify("auto" if auto else scheme, settings.secret, body, headers, tolerance=settings.tolerance)
    except BadInputError as exc:  # e.g. a non-whsec secret meeting a Standard Webhooks request
        return SignatureCheck("failed", scheme, "bad_secret", exc.message)
    except UnicodeError:  # a signed header (the message id) holds bytes that are not UTF-8: it cannot match
        return SignatureCheck("failed", scheme, "malformed_header", "a signed header value is not UTF-8")
    if result.ok:
        return SignatureCheck("verified", result.scheme)
    return SignatureCheck("failed", result.scheme, result.reason.value, result.detail)


def received_reply(request_id: str) -> Reply:
    """The usual 200 (built without json.dumps: it is on the hot path; the id is hex)."""
    return Reply(200, b'{"received":true,"id":"%s"}' % request_id.encode())


def recording_failed_reply() -> Reply:
    """The answer when the request could not be recorded: the sender should retry later."""
    return Reply(503, b'{"error":"recording_failed","retry":true}', headers={"Retry-After": "1"})


def relay_reply(delivery: Delivery | None, request_id: str) -> Reply:
    """The primary target's answer, or 502/504 when it gave none."""
    if delivery is None:
        return json_reply(502, {"error": "forward_failed", "id": request_id})
    result = delivery.result
    if result.status is None:  # the sender sees that the app is down, and which one (the first 80 characters)
        status = 504 if result.error_code == "timeout" else 502
        payload = {"error": result.error_code or "forward_failed", "target": result.url, "detail": result.error}
        payload["message"] = f"whatsable listen could not get an answer from the forward target {result.url}"
        return json_reply(status, payload)
    headers = {"Retry-After": result.retry_after} if result.retry_after else {}
    return Reply(result.status, delivery.body, delivery.content_type, headers)


def _error_reply(status: int, error: str, request_id: str, **extra: object) -> Reply:
    return json_reply(status, {"error": error, "id": request_id, **extra})


def _refusal(
    settings: ListenSettings, incoming: Incoming, parsed: ParsedEvent, request_id: str
) -> tuple[Reply | None, list[str]]:
    """The answer for a request that is recorded but goes no further, with the flag that says why (decided
    together); (None, []) when it is a webhook to handle."""
    if not incoming.on_webhook_path:
        return _error_reply(404, "not_found", request_id, webhook_path=settings.path), ["other_path"]
    if incoming.method != "POST":
        reply = _error_reply(405, "method_not_allowed", request_id, allowed="POST")
        reply.headers["Allow"] = WEBHOOK_METHODS
        return reply, ["other_method"]
    if incoming.body_omitted:
        return _error_reply(413, "too_large", request_id, max_body=settings.max_body), ["too_large"]
    if parsed.kind in (KIND_NOT_JSON, KIND_EMPTY):
        return _error_reply(400, "not_json" if parsed.kind == KIND_NOT_JSON else "empty_body", request_id), []
    return None, []


def triage(
    settings: ListenSettings, incoming: Incoming, request_id: str, received_at: str, dupes: DuplicateTracker
) -> Triage:
    """Everything known about a request before it is written: one recording line, one decision."""
    body = incoming.body
    text, encoding = encode_body(body)  # once: the recording's body, and what the JSON is parsed from
    parsed = NOT_READ if incoming.body_omitted else parse_body(body, text if encoding == "utf-8" else None)
    reply, flags = _refusal(settings, incoming, parsed, request_id)
    signature = None if incoming.body_omitted else check_signature(settings, body, incoming.headers)
    if reply is None and settings.require_signature and signature is not None and signature.result != "verified":
        reply = _error_reply(401, "signature_required", request_id, signature=signature.reason or signature.result)
        flags.append("rejected")
    if incoming.body_decoded:
        flags.append("decoded")  # the recorded body is the decoded one; the header says how it came
    duplicate = dupes.seen(parsed, body) if incoming.on_webhook_path else False
    if duplicate:
        flags.append("duplicate")
    wanted = settings.event_filter
    shown = not wanted or parsed.kind in wanted or parsed.raw_event in wanted
    targets: tuple[str, ...] = ()
    if not shown:
        flags.append("filtered")
    elif reply is None:
        targets = settings.routing.targets_for(parsed.kind, parsed.raw_event)
    if reply is None and (not targets or settings.respond != "relay"):
        reply = received_reply(request_id)
    status = reply.status if reply is not None else None
    encoded = (text, encoding)
    request = recorded_request(incoming, request_id, received_at, parsed.kind, signature, status, flags, encoded)
    return Triage(request, parsed, targets, duplicate, reply, shown)


def untriaged(
    settings: ListenSettings, incoming: Incoming, request_id: str, received_at: str, error: Exception
) -> Triage:
    """The decision for a request `triage` failed on: recorded raw and never forwarded. It fails closed: with
    --require-signature it is answered 200 only when its signature verifies (checked on its own), else 401."""
    parsed = ParsedEvent("unknown", error=f"{type(error).__name__}: {error}")
    reply, flags = _refusal(settings, incoming, parsed, request_id)
    flags.append("internal_error")
    try:
        signature = None if incoming.body_omitted else check_signature(settings, incoming.body, incoming.headers)
    except Exception:  # the check failed too: nothing is known about the signature
        signature = None
    if reply is None and settings.require_signature and (signature is None or signature.result != "verified"):
        reason = (signature.reason or signature.result) if signature is not None else "unchecked"
        reply = _error_reply(401, "signature_required", request_id, signature=reason)
        flags.append("rejected")
    reply = reply or received_reply(request_id)
    request = recorded_request(incoming, request_id, received_at, None, signature, reply.status, flags)
    return Triage(request, parsed, (), False, reply)


def recorded_request(
    incoming: Incoming,
    request_id: str,
    received_at: str,
    event_type: str | None,
    signature: SignatureCheck | None,
    response_status: int | None,
    flags: list[str],
    encoded_body: tuple[str, str] | None = None,
) -> RecordedRequest:
    """The recording line for a received request, with what was decided about it."""
    text, encoding = encoded_body or encode_body(incoming.body)
    return RecordedRequest(
        id=request_id,
        received_at=received_at,
        method=incoming.method,
        path=incoming.path,
        query=incoming.query,
        headers=incoming.header_pairs,
        body=text,
        body_encoding=encoding,
        body_size=incoming.body_size,
        body_omitted=incoming.body_omitted,
        event_type=event_type,
        signature=signature,
        response_status=response_status,
        flags=flags,
    )


def forward_headers(incoming: Incoming, extra: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """The original headers (the Deliverer drops hop-by-hop ones), X-Forwarded-*, then `extra` (-H) replacing."""
    replaced = {name.lower() for name, _ in extra}
    dropped = NOT_FORWARDED_DECODED if incoming.body_decoded else NOT_FORWARDED
    forwarded: dict[str, str] = {}
    headers: list[tuple[str, str]] = []
    for name, value in incoming.header_pairs:
        lowered = name.lower()
        if lowered in FORWARDED_HEADERS:
            forwarded[lowered] = value  # a tunnel or proxy in front of us saw the real client
        elif lowered in dropped or lowered in replaced:
            continue
        else:
            headers.append((name, value))
    remote = incoming.remote or "unknown"
    prior_for = forwarded.get("x-forwarded-for")
    headers.append(("X-Forwarded-For", f"{prior_for}, {remote}" if prior_for else remote))
    headers.append(("X-Forwarded-Proto", forwarded.get("x-forwarded-proto") or incoming.scheme))
    host = forwarded.get("x-forwarded-host") or incoming.headers.get("Host")
    if host:
        headers.append(("X-Forwarded-Host", host))
    headers.extend(extra)
    return headers
