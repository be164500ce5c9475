"""The inspector's replay: one recorded event re-sent to a URL, byte for byte or re-signed, edited or not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from whatsable_cli.delivery.client import Deliverer
from whatsable_cli.delivery.http_rules import check_http_url
from whatsable_cli.errors import BadInputError
from whatsable_cli.inspector.model import InspectorSettings
from whatsable_cli.recording.history_replays import ReplayRecord
from whatsable_cli.recording.history_rows import now_iso
from whatsable_cli.recording.lines import RecordedRequest
from whatsable_cli.replay.request import EDITED_SIGNATURE, STALE_SIGNATURE, SigningPlan, prepare
from whatsable_cli.replay.sources import ReplayItem
from whatsable_cli.webhooks.redaction import has_signature, shown_headers
from whatsable_cli.webhooks.signing import AUTO, DEFAULT_SCHEME, get_scheme

MAX_BODY_CHARS = 1 << 20
MAX_ANSWER_BYTES = 64 << 10
WARNINGS = {
    EDITED_SIGNATURE: "the body was edited but the recorded signature was kept: a receiver that checks it will "
    "refuse this request (re-sign to send a valid one)",
    STALE_SIGNATURE: "the recorded signature's timestamp is older than a receiver's ±300 s tolerance: it will be "
    "refused as stale (re-sign to send a fresh one)",
}


class ReplayRefused(ValueError):
    """The replay cannot be sent as asked (a bad URL, no secret to re-sign with, an unsendable header)."""


@dataclass(frozen=True)
class ReplayAsk:
    """What the page asked for."""

    url: str
    resign: bool = False
    body: str | None = None  # the edited body (None: the recorded bytes)

    @classmethod
    def from_json(cls, raw: Any) -> ReplayAsk:
        if not isinstance(raw, dict):
            raise ReplayRefused("send a JSON object: {url, resign, body}")
        url, resign, body = raw.get("url"), raw.get("resign", False), raw.get("body")
        if not isinstance(url, str) or not url.strip():
            raise ReplayRefused("give the URL to replay to")
        if not isinstance(resign, bool):
            raise ReplayRefused("resign is true or false")
        if body is not None and (not isinstance(body, str) or len(body) > MAX_BODY_CHARS):
            raise ReplayRefused(f"the body is text of at most {MAX_BODY_CHARS} characters")
        return cls(url.strip(), resign, body)


def _scheme(request: RecordedRequest, settings: InspectorSettings) -> str:
    """Re-sign as the event was signed when that is known, else with the configured scheme."""
    recorded = request.signature.scheme if request.signature is not None else None
    for candidate in (recorded, settings.scheme):
        if candidate and candidate != AUTO:
            try:
                get_scheme(candidate)
            except BadInputError:
                continue
            return candidate
    return DEFAULT_SCHEME


def prepared_for(
    request: RecordedRequest, ask: ReplayAsk, settings: InspectorSettings
) -> tuple[bytes, list[tuple[str, str]], bool, str | None]:
    """(body, headers, edited, warning) that will go out."""
    try:
        check_http_url(ask.url, "the replay URL", hint="an http:// or https:// URL")
    except BadInputError as exc:
        raise ReplayRefused(exc.message) from None
    if request.body_omitted:
        raise ReplayRefused("this request's body was not kept (it was over --max-body): nothing to replay")
    if ask.resign and not settings.secret:
        raise ReplayRefused(
            "no secret to re-sign with: start the inspector with --secret or WHATSABLE_SECRET (or replay as recorded)"
        )
    recorded = request.body_bytes
    body = recorded if ask.body is None else ask.body.encode("utf-8")
    edited = body != recorded
    item = ReplayItem(
        origin="history",
        body=body,
        headers=list(request.headers),
        method=request.method,
        request_id=request.id,
        received_at=request.received_at,
        event_type=request.event_type,
    )
    plan = SigningPlan(secret=settings.secret, scheme=_scheme(request, settings)) if ask.resign else SigningPlan()
    try:
        prepared = prepare(item, (), plan)
    except BadInputError as exc:
        raise ReplayRefused(exc.message) from None
    warning = prepared.warning
    if edited and not ask.resign and has_signature(prepared.headers):
        warning = EDITED_SIGNATURE
    return prepared.body, prepared.headers, edited, warning


async def replay(
    deliverer: Deliverer, request: RecordedRequest, ask: ReplayAsk, settings: InspectorSettings
) -> tuple[dict[str, Any], ReplayRecord]:
    """Send it (redirects are never followed): the answer described for the page, and the replay to keep."""
    body, headers, edited, warning = prepared_for(request, ask, settings)
    delivery = await deliverer.deliver(ask.url, body, headers, method=request.method)
    result = delivery.result
    answer = delivery.body[:MAX_ANSWER_BYTES].decode("utf-8", errors="replace")
    kept = ReplayRecord(request.id, now_iso(), result, resigned=ask.resign, edited=edited)
    return {
        "url": result.url,
        "ok": result.ok,
        "status": result.status,
        "latency_ms": result.latency_ms,
        "answer": answer + ("…" if len(delivery.body) > MAX_ANSWER_BYTES else ""),
        "content_type": delivery.content_type,
        "error": result.error,
        "error_code": result.error_code,
        "resigned": ask.resign,
        "edited": edited,
        "warning": WARNINGS.get(warning or ""),
        "sent_headers": [list(pair) for pair in shown_headers(headers, show_secrets=False)],
    }, kept
