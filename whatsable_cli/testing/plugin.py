"""The `whatsable` pytest plugin (entry point pytest11): signed WhatsAble webhook requests in any test suite."""

# Loaded in every pytest run of an environment that has whatsable-cli: nothing heavy is imported up front.

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from whatsable_cli.testing.requests import WebhookRequests


@pytest.fixture
def whatsable_secret() -> str | None:
    """The secret the `whatsable` fixture signs with; None: a fresh one per test. Override it in a conftest.py."""
    return None


@pytest.fixture
def whatsable_scheme() -> str | None:
    """The signature scheme (`whatsable secret generate --help` lists them); None: the default. Override it."""
    return None


@pytest.fixture
def whatsable_seed() -> int | None:
    """A seed makes the synthetic bodies the same on every run; None: fresh ones."""
    return None


@pytest.fixture
def whatsable(
    whatsable_secret: str | None, whatsable_scheme: str | None, whatsable_seed: int | None
) -> WebhookRequests:
    """Builds signed (and forged) WhatsAble requests and posts them to an ASGI or WSGI app or a URL."""
    from whatsable_cli.testing.requests import WebhookRequests

    return WebhookRequests(secret=whatsable_secret, scheme=whatsable_scheme, seed=whatsable_seed)
