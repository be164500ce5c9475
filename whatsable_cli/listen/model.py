"""The nouns of `listen`: its settings, what it tells its observer, and the pluggable public-URL provider."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from whatsable_cli.config import DEFAULT_HOST, DEFAULT_MAX_BODY, DEFAULT_PATH, DEFAULT_PORT
from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.listen.forwarder import RetryPolicy, Routing
from whatsable_cli.listen.stats import RunSummary
from whatsable_cli.recording.lines import RecordedRequest
from whatsable_cli.webhooks.events import ParsedEvent

RESPOND_RELAY = "relay"
RESPOND_200 = "200"
HEALTH_PATH = "/_whatsable/health"  # the listener answers it itself (readiness checks, never recorded)


@dataclass
class ListenSettings:
    """Everything `whatsable listen` was asked to do (flags, environment and config already merged)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    path: str = DEFAULT_PATH
    record_path: Path | None = None  # the --record JSON Lines file; None: none
    history_path: Path | None = None  # the history database; None: --no-history (or --no-record)
    history_max_size: int | None = None  # the history's size cap in bytes, applied when the run starts
    fsync: bool = False
    secret: str | None = None
    scheme: str = "auto"  # auto: detected per request from the headers
    tolerance: int = 300
    require_signature: bool = False
    routing: Routing = field(default_factory=Routing)
    forward_timeout: float = 10.0
    verify_tls: bool = True  # False (--skip-verify): accept an https target's self-signed certificate
    extra_headers: tuple[tuple[str, str], ...] = ()  # -H: added to (or replacing) every forwarded request's
    respond: str = RESPOND_RELAY  # relay: the primary target's answer; 200: always 200 once recorded
    event_filter: frozenset[str] = frozenset()  # empty: every event is shown and forwarded
    max_body: int = DEFAULT_MAX_BODY
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    queue_limit: int = 10_000
    shutdown_grace: float = 5.0  # bounded wait for in-flight requests and forwards when stopping
    public_url: str | None = None  # shown in the banner (--public-url, or what a tunnel opened)


class PublicUrlProvider(Protocol):
    """A tunnel (or anything) that makes the local port reachable from the internet.

    `open` may block (it runs in a worker thread); it returns the public base URL, without the webhook
    path. Failures raise `TunnelError` (exit 6). `close` is called once when the listener stops.
    """

    def open(self, port: int) -> str: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ListenInfo:
    """What the banner shows once the listener is ready."""

    host: str
    port: int
    path: str
    recording: Path | None
    secret_set: bool
    scheme: str
    require_signature: bool
    routing: Routing
    respond: str
    event_filter: frozenset[str]
    public_url: str | None = None
    inspector_url: str | None = None  # the ngrok agent's local inspector, when a tunnel is open
    history: Path | None = None  # the history database the run records into

    @property
    def local_base(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host  # noqa: S104 (displayed only)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def local_webhook_url(self) -> str:
        return self.local_base + self.path

    @property
    def health_url(self) -> str:
        return self.local_base + HEALTH_PATH

    @property
    def public_webhook_url(self) -> str | None:
        return None if self.public_url is None else self.public_url.rstrip("/") + self.path


@dataclass(slots=True)
class EventReport:
    """One received request, once the sender has been answered (and, in relay mode, forwarded)."""

    request: RecordedRequest
    parsed: ParsedEvent
    answer_status: int
    duplicate: bool
    forwards: list[DeliveryResult]
    queued_for: list[str]
    relay_body: bytes = b""


class ListenObserver(Protocol):
    """What the listen service reports; renderers implement it. Called on the event loop: return quickly."""

    def ready(self, info: ListenInfo) -> None: ...

    def received(self, report: EventReport) -> None:
        """An event about to be forwarded, as soon as it is recorded; `event` follows with the results."""

    def event(self, report: EventReport) -> None: ...

    def redelivered(self, request_id: str, result: DeliveryResult, attempt: int) -> None: ...

    def warning(self, message: str) -> None: ...

    def stopping(self) -> None: ...

    def finished(self, summary: RunSummary) -> None: ...


class NullObserver:
    """Sees everything, shows nothing (tests and embedding subclass it)."""

    def ready(self, info: ListenInfo) -> None:
        pass

    def received(self, report: EventReport) -> None:
        pass

    def event(self, report: EventReport) -> None:
        pass

    def redelivered(self, request_id: str, result: DeliveryResult, attempt: int) -> None:
        pass

    def warning(self, message: str) -> None:
        pass

    def stopping(self) -> None:
        pass

    def finished(self, summary: RunSummary) -> None:
        pass
