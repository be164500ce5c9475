"""What `listen` asks of the tunnel: the resolved settings, and checks of --domain and --basic-auth."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from whatsable_cli.errors import BadInputError

DEFAULT_START_TIMEOUT = 20.0
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@dataclass(frozen=True)
class TunnelSettings:
    """What `listen` asks of the tunnel (flags and config already resolved)."""

    ngrok_path: str | None = None
    domain: str | None = None
    basic_auth: str | None = None  # "user:password"
    start_timeout: float = DEFAULT_START_TIMEOUT
    health_interval: float = 5.0
    self_test_path: str | None = None  # when set, open() checks that a request through the tunnel arrives


def normalise_domain(value: str) -> str:
    """`my.ngrok-free.app` or `https://my.ngrok-free.app/` -> `my.ngrok-free.app`; anything else is bad input."""
    name = value.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    if not _DOMAIN.match(name):
        raise BadInputError(
            f"--domain {value!r} is not a domain name",
            hint="pass your static ngrok domain, e.g. --domain my-app.ngrok-free.app",
            code="bad_domain",
        )
    return name


def basic_auth_policy(credentials: str) -> dict[str, Any]:
    """The traffic policy that puts HTTP basic auth in front of the endpoint (ngrok: 8-128 char passwords)."""
    user, sep, password = credentials.partition(":")
    if not sep or not user or not 8 <= len(password) <= 128:
        raise BadInputError(
            "--basic-auth wants user:password with a password of 8 to 128 characters",
            hint="e.g. --basic-auth dev:correct-horse-battery",
            code="bad_basic_auth",
        )
    return {"on_http_request": [{"actions": [{"type": "basic-auth", "config": {"credentials": [credentials]}}]}]}
