"""Signed WhatsAble requests for tests: any event, variant and scheme, as the exact body bytes and headers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from whatsable_cli.webhooks.fixtures import find_fixture
from whatsable_cli.webhooks.overrides import apply_overrides, apply_overrides_to_body, to_body
from whatsable_cli.webhooks.signing import DEFAULT_SCHEME, Clock, generate_secret, get_scheme, sign
from whatsable_cli.webhooks.synthetic import SyntheticEvents

if TYPE_CHECKING:
    from whatsable_cli.testing.answer import Answer

# Ways to get a request wrong, each one a verifying handler must refuse.
FORGERIES = ("tampered", "wrong_secret", "unsigned", "malformed", "stale", "future")
FORGED_SKEW_S = 600  # 10 minutes: outside the ±300 s every timestamped scheme allows
Overrides = Mapping[str, Any] | Iterable[str] | str | None


@dataclass(frozen=True)
class SignedRequest:
    """One request as WhatsAble would send it: POST, this exact body, these headers."""

    body: bytes
    headers: dict[str, str]
    scheme: str
    secret: str = field(repr=False)
    method: str = "POST"

    @property
    def payload(self) -> Any:
        """The body as JSON (None when it is not JSON)."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None

    @property
    def data(self) -> dict[str, Any]:
        payload = self.payload
        data = payload.get("data", payload) if isinstance(payload, dict) else None
        return data if isinstance(data, dict) else {}

    @property
    def event(self) -> str | None:
        payload = self.payload
        return payload.get("event") if isinstance(payload, dict) else None

    @property
    def message_id(self) -> str | None:
        return self.data.get("message_id")


def assignments(overrides: Overrides) -> tuple[str, ...]:
    """`--set`-style assignments from `{"data.status": "read"}` (any JSON value) or `["data.status=read"]`."""
    if overrides is None:
        return ()
    if isinstance(overrides, str):
        return (overrides,)
    if isinstance(overrides, Mapping):
        return tuple(f"{path}={json.dumps(value, ensure_ascii=False)}" for path, value in overrides.items())
    return tuple(overrides)


class WebhookRequests:
    """Builds signed WhatsAble requests (and forged ones), and posts them to an ASGI app, a WSGI app or a URL.

    The secret defaults to a fresh one of the right form for the scheme (`.secret`: give it to the app under
    test); a seed makes the bodies the same on every run.
    """

    def __init__(
        self,
        secret: str | None = None,
        scheme: str | None = None,
        seed: int | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.scheme = get_scheme(scheme or DEFAULT_SCHEME).name
        self.secret = secret if secret is not None else generate_secret(self.scheme)
        self.seed = seed
        self.clock = clock
        self._events = SyntheticEvents(seed, clock=clock)

    def event(
        self,
        event: str = "message_status",
        variant: str | None = None,
        *,
        set: Overrides = None,  # the CLI's --set, by name
        **signing: Any,
    ) -> SignedRequest:
        """A fresh synthetic event (new ids and times), `set` applied, signed. `signing`: see `sign`."""
        payload = apply_overrides(self._events.build(event, variant), assignments(set))
        return self.sign(to_body(payload), **signing)

    def status(self, status: str = "delivered", **options: Any) -> SignedRequest:
        """A message_status event: sent, delivered, read or failed."""
        return self.event("message_status", status, **options)

    def incoming(self, content_type: str = "text", **options: Any) -> SignedRequest:
        """An incoming_message event: text, image, audio, video, document or location."""
        return self.event("incoming_message", content_type, **options)

    def fixture(self, name: str, *, set: Overrides = None, **signing: Any) -> SignedRequest:
        """A bundled payload byte for byte (`whatsable fixtures list`), or re-serialised when `set` edits it."""
        body = apply_overrides_to_body(find_fixture(name).read_bytes(), assignments(set), name)
        return self.sign(body, **signing)

    def sign(
        self,
        body: bytes | str | Mapping[str, Any] | list[Any],
        *,
        secret: str | None = None,
        scheme: str | None = None,
        timestamp: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SignedRequest:
        """Sign any body (bytes as they are; anything else serialised as WhatsAble does) under the scheme."""
        raw = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else to_body(body)
        scheme_name = get_scheme(scheme).name if scheme else self.scheme
        key = self.secret if secret is None else secret  # a secret of the wrong form for the scheme: BadInputError
        when = int(self.clock()) if timestamp is None else timestamp
        signature = sign(scheme_name, key, raw, timestamp=when)
        return SignedRequest(
            raw, {"Content-Type": "application/json", **(headers or {}), **signature}, scheme_name, key
        )

    def forge(self, request: SignedRequest, how: str) -> SignedRequest:
        """The request spoilt one way (FORGERIES): a verifying handler must refuse it."""
        scheme = get_scheme(request.scheme)
        others = {k: v for k, v in request.headers.items() if k.lower() not in {h.lower() for h in scheme.header_names}}
        if how == "tampered":
            if not scheme.signs_body:
                raise ValueError(f"the {scheme.name} scheme does not sign the body: a changed body passes its check")
            from whatsable_cli.send_test.checks import tamper

            return SignedRequest(tamper(request.body), request.headers, request.scheme, request.secret)
        if how == "wrong_secret":
            return self.sign(request.body, secret=generate_secret(scheme.name), scheme=scheme.name, headers=others)
        if how == "unsigned":
            return SignedRequest(request.body, others, request.scheme, request.secret)
        if how == "malformed":
            bad = "v1,not-a-signature" if scheme.timestamped else "not-a-signature"
            headers = {**request.headers, scheme.signature_header: bad}
            return SignedRequest(request.body, headers, request.scheme, request.secret)
        if how in ("stale", "future"):
            if not scheme.timestamped:
                raise ValueError(f"the {scheme.name} scheme signs no timestamp: there is nothing to make {how}")
            skew = FORGED_SKEW_S if how == "future" else -FORGED_SKEW_S
            when = int(self.clock()) + skew
            return self.sign(request.body, secret=request.secret, scheme=scheme.name, timestamp=when, headers=others)
        raise ValueError(f"unknown forgery {how!r}: use one of {', '.join(FORGERIES)}")

    def post_asgi(self, app: Any, request: SignedRequest, path: str = "/webhook") -> Answer:
        """Post to an ASGI app in-process (no server), in a loop of its own; from an async test use apost_asgi."""
        from whatsable_cli.testing.transport import post_asgi

        return post_asgi(app, request, path)

    async def apost_asgi(self, app: Any, request: SignedRequest, path: str = "/webhook") -> Answer:
        """Post to an ASGI app in-process, in the running event loop."""
        from whatsable_cli.testing.transport import apost_asgi

        return await apost_asgi(app, request, path)

    def post_wsgi(self, app: Any, request: SignedRequest, path: str = "/webhook") -> Answer:
        """Post to a WSGI app in-process (no server)."""
        from whatsable_cli.testing.transport import post_wsgi

        return post_wsgi(app, request, path)

    def post_url(self, url: str, request: SignedRequest, *, timeout: float = 10.0) -> Answer:
        """Post over HTTP, redirects not followed (WhatsAble does not follow them either)."""
        from whatsable_cli.testing.transport import post_url

        return post_url(url, request, timeout=timeout)
