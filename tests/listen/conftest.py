"""Fixtures the listener's raw-socket tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.listen_helpers import RawClient


@pytest.fixture
async def clients() -> AsyncIterator[list[RawClient]]:
    """Raw connections a test opens; closed after it."""
    opened: list[RawClient] = []
    yield opened
    for client in opened:
        client.close()
