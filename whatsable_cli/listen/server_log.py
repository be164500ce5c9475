"""aiohttp.web's own log while the listener runs: one rate-limited warning line each, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable

from whatsable_cli.listen.limits import RateLimited

LOGGER_NAME = "whatsable_cli.listen.server"  # the logger the listener's aiohttp.web server is given


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's text on one line, cut at `limit` characters."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "…"


class _Warnings(logging.Handler):
    """aiohttp.web's own log (a request it could not parse, a handler that failed) as one-line warnings."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self._warn = RateLimited(warn, interval=10.0)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message += f": {one_line(record.exc_info[1])}"
        self._warn(message)


class ServerLog:
    """Routes aiohttp.web's log to `warn` while a server runs; never a traceback on stderr for a client's
    malformed request."""

    def __init__(self, warn: Callable[[str], None]) -> None:
        self.logger = logging.getLogger(LOGGER_NAME)
        self.logger.propagate = False
        self.logger.setLevel(logging.WARNING)
        self._handler = _Warnings(warn)
        self.logger.addHandler(self._handler)

    def close(self) -> None:
        self.logger.removeHandler(self._handler)
