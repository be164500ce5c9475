"""One outbound delivery's result (a forward, a replay, a send-test request) and the error-code vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Why no HTTP answer came: the one vocabulary of delivery error codes (forwarding, replay and send-test),
# shown and recorded as is.
REFUSED = "refused"  # nothing listens on that port
DNS = "dns"  # the host name does not resolve
TLS = "tls"  # the TLS handshake failed (certificate, protocol)
TIMEOUT = "timeout"
PROTOCOL = "protocol"  # the endpoint broke the HTTP exchange (hung up mid-answer, sent garbage)
CONNECTION = "connection"  # any other failure of the connection
UNSENDABLE = "unsendable"  # the request could not be put on the wire as recorded (a header the client refuses)
CANCELLED = "cancelled"  # the listener stopped before the target answered


@dataclass
class DeliveryResult:
    """One outbound delivery (a forward, a replay, a send-test request) and how it went."""

    url: str
    status: int | None = None
    latency_ms: float | None = None
    response_snippet: str | None = None
    error: str | None = None  # set when no HTTP answer came (refused, timeout, ...)
    error_code: str | None = None
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def to_dict(self) -> dict[str, Any]:
        # Flat fields only, so no deep copy (asdict's): this runs once per replayed or forwarded request.
        return {k: v for k in self.__dataclass_fields__ if (v := getattr(self, k)) is not None}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DeliveryResult:
        fields = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        return cls(**fields)
