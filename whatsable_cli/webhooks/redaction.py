"""Displays redact signature header values unless the user asked for them (`--show-secrets`)."""

from __future__ import annotations

from collections.abc import Iterable

from whatsable_cli.webhooks.signing import SIGNATURE_HEADER_NAMES


def display_header_value(name: str, value: str, *, show_secrets: bool) -> str:
    """The value as a display shows it: a signature header's value redacted unless `show_secrets`."""
    return value if show_secrets or name.lower() not in SIGNATURE_HEADER_NAMES else redact(value)


def shown_headers(headers: Iterable[tuple[str, str]], *, show_secrets: bool) -> list[tuple[str, str]]:
    """Every header as a display shows it, in order (see display_header_value)."""
    return [(name, display_header_value(name, value, show_secrets=show_secrets)) for name, value in headers]


def has_signature(headers: Iterable[tuple[str, str]]) -> bool:
    """Whether any of the headers is one a display would redact."""
    return any(name.lower() in SIGNATURE_HEADER_NAMES for name, _ in headers)


def redact(value: str) -> str:
    """Show only enough of a secret-derived value to tell two apart."""
    if len(value) <= 8:
        return "****"
    return value[:4] + "…" + f"({len(value)} chars)"
