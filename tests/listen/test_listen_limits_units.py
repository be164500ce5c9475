"""Accept errors become one rate-limited warning; everything else still reaches the loop's exception handler."""

from __future__ import annotations

import asyncio
import errno
from typing import Any

import pytest

from whatsable_cli.listen import limits as listen_limits
from whatsable_cli.listen.limits import RateLimited, accept_errors_as_warnings


def test_rate_limited_passes_one_warning_per_interval_and_counts_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(listen_limits.time, "monotonic", lambda: now[0])
    shown: list[str] = []
    limited = RateLimited(shown.append, interval=60.0)
    for _ in range(5):
        limited("out of descriptors")
    now[0] += 61
    limited("out of descriptors")
    assert shown == ["out of descriptors", "out of descriptors (4 more like it in the last 60 s)"]


async def test_accept_errors_are_warnings_and_other_errors_go_to_the_previous_handler() -> None:
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    warnings: list[str] = []
    emfile = OSError(errno.EMFILE, "Too many open files")
    try:
        with accept_errors_as_warnings(warnings.append):
            for _ in range(128):  # what one burst of failed accepts reports
                loop.call_exception_handler({"message": "socket.accept() out of system resource", "exception": emfile})
            stale_retry = ValueError("Invalid file descriptor: -1")
            loop.call_exception_handler({"message": "Exception in callback _start_serving()", "exception": stale_retry})
            loop.call_exception_handler({"message": "something else", "exception": RuntimeError("x")})
        loop.call_exception_handler({"message": "after", "exception": emfile})
        # asyncio's retry a second after the failed accept(), run once the listener has stopped
        late_retry = "Exception in callback BaseSelectorEventLoop._start_serving(<Server>, <socket fd=-1>)"
        loop.call_exception_handler({"message": late_retry, "exception": ValueError("Invalid file descriptor: -1")})
        loop.call_exception_handler({"message": "later", "exception": RuntimeError("y")})
    finally:
        loop.set_exception_handler(None)
    assert len(warnings) == 1 and warnings[0].startswith("cannot accept new connections: Too many open files")
    # the previous handler is back for everything but the late retry
    assert [context["message"] for context in seen] == ["something else", "after", "later"]
