"""`listen`'s option values merged with the config file into its settings, every value checked before start."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whatsable_cli.commands.options import parse_headers
from whatsable_cli.config import DEFAULT_HOST, DEFAULT_PATH, DEFAULT_PORT, Config
from whatsable_cli.delivery.http_rules import check_http_url
from whatsable_cli.errors import BadInputError
from whatsable_cli.listen.forwarder import RetryPolicy, Routing, check_target_url, parse_route
from whatsable_cli.listen.model import RESPOND_200, RESPOND_RELAY, ListenSettings
from whatsable_cli.paths import new_recording_path
from whatsable_cli.tunnel.settings import TunnelSettings, basic_auth_policy, normalise_domain
from whatsable_cli.webhooks.events import EVENT_TYPES, KIND_NOT_JSON, KIND_UNKNOWN
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
    return Path(configured).expanduser() if configured not in (None, True, "") else new_recording_path()


def listen_settings(config: Config, options: ListenOptions) -> ListenSettings:
    """Flags over the config file over defaults; a bad value is bad input (exit 7) before anything starts."""
    forward_to = [check_target_url(url) for url in (options.forward_to or _as_list(config.get("forward_to")))]
    routes = [parse_route(spec) for spec in (options.route or _config_routes(config.get("routes")))]
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
    respond = options.respond or RESPOND_RELAY
    if respond not in (RESPOND_RELAY, RESPOND_200):
        raise BadInputError(
            f"unknown --respond {respond!r}", hint="use --respond relay or --respond 200", code="bad_respond"
        )
    path = str(config.pick(options.path, "path", DEFAULT_PATH))
    config.warnings += _unknown_event_warnings("--event", options.event or ())
    config.warnings += _unknown_event_warnings("--route", [event for event, _ in routes])
    return ListenSettings(
        host=str(config.pick(options.host, "host", DEFAULT_HOST)),
        port=config.pick_port(options.port, DEFAULT_PORT),
        path=path if path.startswith("/") else "/" + path,
        record_path=_record_path(config, options.record, options.no_record),
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
        public_url=_public_url(options.public_url),
    )


def _public_url(url: str | None) -> str | None:
    """`--public-url` is pasted into WhatsAble as shown: it must be a full http(s) URL (exit 7 otherwise)."""
    if url is None:
        return None
    hint = "give the full public address of your tunnel, e.g. --public-url https://hooks.example.com"
    return check_http_url(url, "--public-url", hint=hint)


def _unknown_event_warnings(option: str, events: Iterable[str]) -> list[str]:
    """A typo (`--event incomming_message`) would silently hide or misroute every event; a new event type
    WhatsAble adds later still matches by its name, so this warns rather than refuses."""
    known = (*EVENT_TYPES, KIND_UNKNOWN, KIND_NOT_JSON)
    return [
        f"{option} {event!r} is not an event type WhatsAble sends ({', '.join(EVENT_TYPES)}): "
        f'only a payload whose "event" is exactly {event!r} will match'
        for event in dict.fromkeys(events)
        if event not in known
    ]


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
