"""The listener near the process's limits: as many file descriptors as allowed, and one warning, not a flood."""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

# asyncio reports these from accept() (and retries a second later): the process or the system is out of
# descriptors or memory for new connections, while the connections already open go on.
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class RateLimited:
    """Passes a warning on at most once per `interval` seconds; the next one says how many were held back."""

    def __init__(self, warn: Callable[[str], None], interval: float = 60.0) -> None:
        self._warn = warn
        self._interval = interval
        self._next = float("-inf")
        self._held = 0

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        if now < self._next:
            self._held += 1
            return
        if self._held:
            message += f" ({self._held} more like it in the last {self._interval:.0f} s)"
        self._held = 0
        self._next = now + self._interval
        self._warn(message)


def raise_open_file_limit() -> None:
    """Raise the soft limit on open files to the hard one: each connection holds a descriptor."""
    try:
        import resource
    except ImportError:  # not on this platform (Windows): nothing to raise
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):  # some systems cap it below an unlimited hard limit: keep the soft one
            return


def open_file_limit() -> int | None:
    try:
        import resource
    except ImportError:
        return None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def _is_stale_accept_retry(context: dict[str, Any]) -> bool:
    """The retry asyncio scheduled after an accept() error, run once the listening socket was closed (the
    listener stopped): there is nothing left to accept, so its error is no news."""
    exc = context.get("exception")
    return isinstance(exc, ValueError | OSError) and "_start_serving" in str(context.get("message", ""))


@contextmanager
def accept_errors_as_warnings(warn: Callable[[str], None], interval: float = 60.0) -> Iterator[None]:
    """While serving, an accept() out of descriptors is one warning line a minute instead of a traceback
    per attempt; everything else reaches the loop's previous exception handler. Afterwards only the
    late retry of such an accept() stays filtered."""
    loop = asyncio.get_running_loop()
    stale_retries_ignored = _passes_on(loop.get_exception_handler())
    limited = RateLimited(warn, interval)

    def handler(handler_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in _OUT_OF_RESOURCES:
            limit = open_file_limit()
            shown = f" (the limit is {limit})" if limit is not None else ""
            limited(
                f"cannot accept new connections: {exc.strerror}{shown}; they wait until others close "
                "(a higher limit: `ulimit -n` before starting the listener)"
            )
        else:
            stale_retries_ignored(handler_loop, context)

    loop.set_exception_handler(handler)
    try:
        yield
    finally:
        # asyncio retries a failed accept() a second later, and that retry may run after the listener has
        # stopped (while the history drains or the loop shuts down): it must stay quiet then too.
        loop.set_exception_handler(stale_retries_ignored)


def _passes_on(
    previous: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object] | None,
) -> Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]:
    def stale_retries_ignored(handler_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if _is_stale_accept_retry(context):
            return
        if previous is not None:
            previous(handler_loop, context)
        else:
            handler_loop.default_exception_handler(context)

    return stale_retries_ignored
