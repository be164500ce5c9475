"""`listen`'s option values merged with the config file into its settings, every value checked before start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whatsable_cli.commands.choices import EventKind, values
from whatsable_cli.commands.help import did_you_mean
from whatsable_cli.commands.options import parse_headers
from whatsable_cli.config import DEFAULT_HOST, DEFAULT_PATH, DEFAULT_PORT, Config
from whatsable_cli.delivery.http_rules import check_http_url
from whatsable_cli.errors import BadInputError
from whatsable_cli.listen.forwarder import RetryPolicy, Routing, check_target_url, parse_route
from whatsable_cli.listen.model import RESPOND_RELAY, ListenSettings
from whatsable_cli.paths import history_path, new_recording_path
from whatsable_cli.recording.history_retention import DEFAULT_MAX_SIZE
from whatsable_cli.tunnel.settings import TunnelSettings, basic_auth_policy, normalise_domain
from whatsable_cli.webhooks.signing import get_scheme, listener_secret_warning

SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20}


@dataclass(frozen=True)
class ListenOptions:
    """The `whatsable listen` options as typed (None: not given, so the config file or a default decides)."""

    port: int | None = None
    host: str | None = None
    path: str | None = None
    forward_to: list[str] | None = None
    route: list[str] | None = None
    respond: str | None = None
    forward_timeout: float = 10.0
    skip_verify: bool = False
    header: list[str] | None = None
    retry_backoff: float = 0.5
    secret: str | None = None
    scheme: str | None = None
    tolerance: int = 300
    require_signature: bool = False
    record: Path | None = None
    no_record: bool = False
    no_history: bool = False
    history_max_size: str | None = None
    fsync: bool = False
    event: list[str] | None = None
    max_body: str = "1MiB"
    no_tunnel: bool = False
    public_url: str | None = None
    domain: str | None = None
    basic_auth: str | None = None
    ngrok_path: str | None = None
    tunnel_timeout: float = 20.0


def parse_size(text: str) -> int:
    """`1048576`, `512k`, `1MiB` -> bytes."""
    stripped = text.strip().lower()
    digits = stripped.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = stripped[len(digits) :]
    if not digits.isdigit() or unit not in SIZE_UNITS or int(digits) <= 0:
        raise BadInputError(f"bad size {text!r}", hint="e.g. --max-body 1048576, 512k or 2MiB", code="bad_size")
    return int(digits) * SIZE_UNITS[unit]


def _config_routes(value: Any) -> list[str]:
    """Routes in the config file: a table {event = url} or a list of "EVENT=URL"."""
    if isinstance(value, dict):
        return [f"{event}={url}" for event, url in value.items()]
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _record_path(config: Config, record: Path | None, no_record: bool) -> Path | None:
    if no_record:
        return None
    configured = config.pick(record, "record")
    if configured is False:
        return None
    if configured in (None, ""):
        return None  # every run is in the history; a JSON Lines file only when asked for
    return new_recording_path() if configured is True else Path(configured).expanduser()


def forward_target(value: str, path: str = DEFAULT_PATH) -> str:
    """What Stripe's CLI accepts: `3000`, `:3000`, `localhost:3000`, `localhost:3000/hook` -> an http:// URL.

    A port or host:port without a path gets the listener's own webhook path; a URL with a scheme is taken as
    typed. Anything that is still no http(s) URL is bad input.
    """
    text = value.strip()
    if "://" not in text and not any(char.isspace() for char in text):
        host, slash, rest = text.partition("/")
        if host.isdigit() or (host.startswith(":") and host[1:].isdigit()):
            host = "localhost:" + host.lstrip(":")
        text = f"http://{host}/{rest}" if slash else f"http://{host}{path}"
    return check_target_url(text)


def route_target(spec: str, path: str = DEFAULT_PATH) -> tuple[str, str]:
    """`EVENT=URL`, the URL in any form forward_target takes; a typo in EVENT would misroute every event."""
    event, url = parse_route(spec) if "://" in spec else _route_parts(spec)
    known = values(EventKind)
    if event not in known:
        raise BadInputError(
            f"unknown event type {event!r} in route {spec!r}{did_you_mean(event, known)}",
            hint=f"event types: {', '.join(known)}",
            code="unknown_event",
        )
    return event, forward_target(url, path)


def _route_parts(spec: str) -> tuple[str, str]:
    event, _, url = spec.partition("=")
    parse_route(f"{event}=http://placeholder")  # the same error for a malformed EVENT=URL
    return event.strip(), url.strip()


def _history_cap(config: Config, flag: str | None) -> int | None:
    """--history-max-size or the config's history_max_size (0: no cap), else the default cap."""
    cap = config.pick(flag, "history_max_size")
    if cap is None:
        return DEFAULT_MAX_SIZE
    if str(cap).strip() == "0":
        return None
    try:
        return parse_size(str(cap))
    except BadInputError:
        raise BadInputError(
            f"bad history size cap {cap!r}", hint="e.g. --history-max-size 500MiB, or 0 for no cap", code="bad_size"
        ) from None


def listen_settings(config: Config, options: ListenOptions) -> ListenSettings:
    """Flags over the config file over defaults; a bad value is bad input (exit 7) before anything starts."""
    path = str(config.pick(options.path, "path", DEFAULT_PATH))
    path = path if path.startswith("/") else "/" + path
    targets = options.forward_to or _as_list(config.get("forward_to"))
    forward_to = [forward_target(url, path) for url in targets]
    routes = [route_target(spec, path) for spec in (options.route or _config_routes(config.get("routes")))]
    scheme = str(config.pick(options.scheme, "scheme", "auto")).lower()
    if scheme != "auto":
        get_scheme(scheme)  # an unknown scheme is exit 7 now, not a failure per request
    secret = config.pick(options.secret, "secret")
    if options.require_signature and not secret:
        raise BadInputError(
            "--require-signature needs a secret to verify with",
            hint="pass --secret or set WHATSABLE_SECRET",
            code="no_secret",
        )
    if secret:
        # A secret that cannot work is exit 7 now, not `bad_secret` on every request once serving.
        warning = listener_secret_warning(scheme, str(secret))
        if warning is not None:
            config.warnings.append(warning)
    respond = options.respond or RESPOND_RELAY  # click checked it: one of Respond's values
    return ListenSettings(
        host=str(config.pick(options.host, "host", DEFAULT_HOST)),
        port=config.pick_port(options.port, DEFAULT_PORT),
        path=path,
        record_path=_record_path(config, options.record, options.no_record),
        history_path=None if options.no_history or options.no_record else history_path(),
        history_max_size=_history_cap(config, options.history_max_size),
        fsync=options.fsync,
        secret=str(secret) if secret else None,
        scheme=scheme,
        tolerance=options.tolerance,
        require_signature=options.require_signature,
        routing=Routing(tuple(forward_to), tuple(routes)),
        forward_timeout=options.forward_timeout,
        extra_headers=tuple(parse_headers(options.header)),
        verify_tls=not options.skip_verify,
        respond=respond,
        event_filter=frozenset(options.event or ()),
        max_body=parse_size(options.max_body),
        retry=RetryPolicy(initial=options.retry_backoff),
        public_url=public_url(options.public_url),
    )


def public_url(url: str | None) -> str | None:
    """`--public-url` is pasted into WhatsAble as shown: it must be a full http(s) URL (exit 7 otherwise)."""
    if url is None:
        return None
    hint = "give the full public address of your tunnel, e.g. --public-url https://hooks.example.com"
    return check_http_url(url, "--public-url", hint=hint)


def tunnel_settings(config: Config, options: ListenOptions, path: str) -> TunnelSettings | None:
    """The ngrok tunnel's settings, checked before anything starts; None with --no-tunnel or --public-url."""
    if options.no_tunnel or options.public_url is not None:
        if options.domain or options.basic_auth:
            raise BadInputError(
                "--domain and --basic-auth apply to the ngrok tunnel",
                hint="drop them, or drop --no-tunnel / --public-url",
                code="no_tunnel_options",
            )
        return None
    domain = config.pick(options.domain, "domain")
    if options.basic_auth:
        basic_auth_policy(options.basic_auth)
    if options.tunnel_timeout <= 0:
        raise BadInputError(
            "--tunnel-timeout must be more than 0 seconds", hint="e.g. --tunnel-timeout 30", code="bad_timeout"
        )
    return TunnelSettings(
        ngrok_path=config.pick(options.ngrok_path, "ngrok_path"),
        domain=normalise_domain(str(domain)) if domain else None,
        basic_auth=options.basic_auth,
        start_timeout=options.tunnel_timeout,
        self_test_path=path,
    )
