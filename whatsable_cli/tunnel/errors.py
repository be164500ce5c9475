"""Turns what the ngrok agent reports into one-line TunnelErrors (exit 6) with a hint; never shows the token."""

from __future__ import annotations

import json
import re

from whatsable_cli.errors import TunnelError
from whatsable_cli.tunnel.agent import AUTHTOKEN_PAGE, DOWNLOAD_PAGE

ERROR_CODE = re.compile(r"ERR_NGROK_\d+")
AGENTS_PAGE = "https://dashboard.ngrok.com/agents"
DOMAINS_PAGE = "https://dashboard.ngrok.com/domains"
# What the agent logs when it cannot reach ngrok's servers; it would retry for ever, so one such line at
# start-up is answer enough. Matched lower-cased; "EOF" (a connection cut before the session started) is a
# word of its own, matched as written.
_OFFLINE_SIGNS = (
    "failed to dial",
    "no such host",
    "server misbehaving",  # a DNS server that could not answer
    "network is unreachable",
    "connection refused",
    "connection reset",
    "i/o timeout",
    "tls handshake",
    "x509:",  # a certificate refused: often a proxy that intercepts TLS
    "temporary failure in name resolution",
)
_EOF = re.compile(r"(?<![\w/])EOF\b")
_TOKEN_ECHO = re.compile(r"(Your authtoken:\s*)\S+", re.IGNORECASE)
_TOKEN_FLAG = re.compile(r"(--authtoken[ =])\S+")
REDACTED = "[REDACTED]"

# code -> (message, hint); `{domain}` is filled in when the user asked for one.
KNOWN_ERRORS: dict[str, tuple[str, str]] = {
    "ERR_NGROK_4018": (
        "ngrok refused the session: no authtoken",
        f"get yours at {AUTHTOKEN_PAGE}, then `export NGROK_AUTHTOKEN=<token>` or `ngrok config add-authtoken <token>`",
    ),
    "ERR_NGROK_105": (
        "ngrok rejected the authtoken: it does not look like an ngrok authtoken",
        f"copy it again, whole, from {AUTHTOKEN_PAGE} into NGROK_AUTHTOKEN or `ngrok config add-authtoken <token>`",
    ),
    "ERR_NGROK_107": (
        "ngrok rejected the authtoken: it is well formed but invalid (reset, revoked, or from a team you left)",
        f"copy your current token from {AUTHTOKEN_PAGE} into NGROK_AUTHTOKEN or `ngrok config add-authtoken <token>`",
    ),
    "ERR_NGROK_108": (
        "your ngrok account already has an agent session online (the free plan allows one)",
        f"stop the other ngrok agent (find it with `ps aux | grep ngrok`, then `kill <pid>`), "
        f"or end its session at {AGENTS_PAGE}",
    ),
    "ERR_NGROK_334": (
        "the domain {domain} is already online elsewhere",
        "stop the other endpoint on it (another ngrok agent or `whatsable listen`), or use another --domain",
    ),
    "ERR_NGROK_320": (
        "the domain {domain} is reserved for another ngrok account",
        f"check --domain (or `domain` in whatsable.toml) against {DOMAINS_PAGE}, and that NGROK_AUTHTOKEN is "
        "this account's",
    ),
    "ERR_NGROK_7118": (
        "the domain {domain} is not reserved by your ngrok account",
        f"check --domain (or `domain` in whatsable.toml) against {DOMAINS_PAGE}, or leave it out for a random URL",
    ),
}
OFFLINE_HINT = (
    "check your network, proxy or firewall; or use --no-tunnel, or --public-url URL with a tunnel of your own"
)


def unescape(text: str) -> str:
    """pyngrok keeps the agent's escapes: literal backslash-n, backslash-r and backslash-quote."""
    return text.replace("\\r\\n", "\n").replace("\\n", "\n").replace("\\r", "").replace('\\"', '"').replace("\r", "")


def redact(text: str, token: str | None) -> str:
    """Remove the authtoken from anything shown: ERR_NGROK_105 and 107 echo it, and argv carries it."""
    if token:
        text = text.replace(token, REDACTED)
    return _TOKEN_FLAG.sub(rf"\g<1>{REDACTED}", _TOKEN_ECHO.sub(rf"\g<1>{REDACTED}", text))


def clean(text: str, token: str | None) -> str:
    return redact(unescape(text), token)


def first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line and not ERROR_CODE.fullmatch(line):
            return line[:300]
    return "no details"


def looks_offline(text: str) -> bool:
    lowered = text.lower()
    return any(sign in lowered for sign in _OFFLINE_SIGNS) or _EOF.search(text) is not None


def offline_error(detail: str = "") -> TunnelError:
    suffix = f" ({detail})" if detail else ""
    return TunnelError(f"cannot reach ngrok's servers: offline or blocked{suffix}", hint=OFFLINE_HINT, code="offline")


def agent_failure(
    text: str, token: str | None, *, domain: str | None = None, what: str = "ngrok failed"
) -> TunnelError:
    """One line for what the agent said: a known ERR_NGROK code, offline, or its first line."""
    shown = clean(text, token)
    match = ERROR_CODE.search(shown)
    code = match.group(0) if match else None
    if code in KNOWN_ERRORS:
        message, hint = KNOWN_ERRORS[code]
        return TunnelError(
            f"{message.format(domain=domain or 'you asked for')} ({code})",
            hint=hint,
            code=code.lower().removeprefix("err_"),
        )
    if looks_offline(shown):
        return offline_error(first_line(shown))
    suffix = f" ({code})" if code else ""
    return TunnelError(
        f"{what}: {first_line(shown)}{suffix}",
        hint="run `whatsable doctor`; or use --no-tunnel, or --public-url URL with a tunnel of your own",
        code="tunnel_failed",
    )


def too_old_error() -> TunnelError:
    return TunnelError(
        "the ngrok agent has no /api/endpoints: it is too old for this tool (need 3.30 or newer)",
        hint=f"run `ngrok update`, or install a current agent from {DOWNLOAD_PAGE}",
        code="ngrok_too_old",
    )


def api_error_text(body: str) -> str:
    """The agent's API errors are JSON with the useful part in details.err; fall back to the raw body."""
    try:
        value = json.loads(body)
        return str(value.get("details", {}).get("err") or value.get("msg") or body)
    except (ValueError, AttributeError):
        return body
