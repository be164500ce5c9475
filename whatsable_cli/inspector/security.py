"""The inspector's guard: only this machine's own names in `Host`, and a per-run token plus the page's Origin on POST.

The page is served on a loopback port, but a web page from anywhere, open in the same browser, can still
send requests to it: a form posting to 127.0.0.1, or a host name of its own that it re-points at 127.0.0.1
after loading (DNS rebinding). A rebound name arrives in `Host`, so only the loopback names with this port
are served. Anything that sends or changes something is a POST that carries the run's token in a header
(another site cannot read the page that holds it, nor set a custom header without the CORS preflight this
server never grants) and comes from the page's own origin.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

TOKEN_HEADER = "X-Whatsable-Token"  # noqa: S105 (the header's name, not a token)
SAFE_METHODS = frozenset({"GET", "HEAD"})
TOKEN = web.AppKey("token", str)  # this run's token, given to the page it serves
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")

# Served with every answer: no framing (clickjacking), no scripts or styles but the page's own files, no
# loading of anything elsewhere (a payload's image URLs stay text), no referrer to a link the page shows.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def local_port(request: web.Request) -> int | None:
    """The port this connection arrived on (the Host header must name it)."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if isinstance(sockname, tuple) and len(sockname) >= 2 and isinstance(sockname[1], int):
        return sockname[1]
    return None


def allowed_hosts(port: int) -> frozenset[str]:
    return frozenset(f"{host}:{port}" for host in _LOOPBACK_HOSTS)


def host_allowed(request: web.Request) -> bool:
    port = local_port(request)
    host = request.headers.get("Host", "").lower()
    return port is not None and host in allowed_hosts(port)


def origin_allowed(request: web.Request) -> bool:
    """The request comes from the page itself: its Origin is this very scheme, host and port."""
    origin = request.headers.get("Origin")
    return origin is not None and origin.lower() == f"http://{request.headers.get('Host', '').lower()}"


def token_valid(request: web.Request, token: str) -> bool:
    given = request.headers.get(TOKEN_HEADER, "")
    return hmac.compare_digest(given.encode(), token.encode())


def _refusal(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=SECURITY_HEADERS)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The Host check on every request; on anything but GET and HEAD, the page's Origin and the run's token too."""
    if not host_allowed(request):
        # 421 Misdirected Request: this server does not answer for that name (a rebound domain, a proxy)
        return _refusal(421, "this inspector only answers to 127.0.0.1 and localhost on its own port")
    if request.method not in SAFE_METHODS:
        if not origin_allowed(request):
            return _refusal(403, "cross-origin request refused: actions come from the inspector page only")
        if not token_valid(request, request.app[TOKEN]):
            return _refusal(403, "missing or wrong inspector token: reload the page")
    return await handler(request)


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every answer (errors, files and the event stream included) gets the headers."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
