"""The ngrok agent's log lines: kept in a ring of our own with the authtoken taken out, never on the terminal."""

from __future__ import annotations

import logging
import re
from collections import deque

from whatsable_cli.tunnel.errors import redact

# pyngrok logs every agent line; without a handler of ours Python's last-resort handler prints them on stderr.
RECENT_AGENT_LINES: deque[str] = deque(maxlen=50)
_LOG_MESSAGE = re.compile(r'\bmsg="((?:[^"\\]|\\.)*)"')
_LOG_ERROR = re.compile(r'\berr="((?:[^"\\]|\\.)*)"')


class _AgentLogSink(logging.Handler):
    """Keeps the agent's recent lines with the authtoken already taken out (ERR_NGROK_105 echoes it)."""

    def __init__(self, token: str | None) -> None:
        super().__init__(level=logging.INFO)
        self.token = token

    def emit(self, record: logging.LogRecord) -> None:
        RECENT_AGENT_LINES.append(redact(record.getMessage(), self.token))


def capture_pyngrok_logging(token: str | None) -> None:
    """Route pyngrok's log into RECENT_AGENT_LINES (INFO and up: its DEBUG lines carry the endpoint options)."""
    logger = logging.getLogger("pyngrok")
    sink = next((h for h in logger.handlers if isinstance(h, _AgentLogSink)), None)
    if sink is None:
        logger.addHandler(_AgentLogSink(token))
        logger.setLevel(logging.INFO)
        logger.propagate = False
    else:
        sink.token = token  # a later run in the same process may use another token


def last_agent_message() -> str | None:
    """The `msg=` of the agent's most recent line, still escaped as the agent wrote it."""
    said = _LOG_MESSAGE.search(RECENT_AGENT_LINES[-1]) if RECENT_AGENT_LINES else None
    return said.group(1) if said else None


def logged_errors(text: str) -> list[str]:
    """Every `err=` in raw agent output (lines pyngrok did not read)."""
    return [found.group(1) for found in _LOG_ERROR.finditer(text)]
