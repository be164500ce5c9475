"""The inspector's settings: where it listens, what it reads, and what re-signing and replays may use."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from whatsable_cli.config import DEFAULT_INSPECT_PORT
from whatsable_cli.errors import BadInputError
from whatsable_cli.webhooks.signing import DEFAULT_SCHEME

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class InspectorSettings:
    """Everything the inspector was asked to do; the history is its only source of events."""

    history_path: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_INSPECT_PORT
    show_secrets: bool = False  # the page may ask for signature values in full (--show-secrets)
    secret: str | None = None  # re-signing a replay; never sent to the page
    scheme: str = DEFAULT_SCHEME  # the scheme a re-signed replay uses when the event's own is unknown
    targets: tuple[str, ...] = ()  # the listener's forward targets: offered as replay destinations
    replay_timeout: float = 10.0
    verify_tls: bool = True
    poll_interval: float = 0.25  # how often a live page's stream looks for new rows in the history


def loopback_host(host: str) -> str:
    """The address to bind: only a loopback one (the inspector replays and shows signatures), else exit 7."""
    candidate = host.strip().strip("[]")
    if candidate == "localhost":
        return "127.0.0.1"  # one address, the one the Host check and the printed URL use
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise BadInputError(
            f"the inspector only listens on this machine, not on {host!r}",
            hint="leave --inspect-host out (127.0.0.1), or give ::1; it is never exposed through the tunnel",
            code="inspector_not_loopback",
        )
    return str(address)


def base_url(host: str, port: int) -> str:
    """The URL a browser on this machine opens."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"
