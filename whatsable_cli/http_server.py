"""A lean HTTP/1.1 server on asyncio and aiohttp's own HTTP parser: requests in, one `Reply` each out.

Why not aiohttp.web: its request and response objects cost about 40 µs of CPU per request, most of a
bare handler's budget, and the listener's ingest target is half a bare handler's throughput with
recording, verification and display on top. Parsing stays aiohttp's (its llhttp-based C parser, the
one aiohttp.web uses, with its limits), so only the plumbing around it is ours: keep-alive, pipelining
in order, `Expect: 100-continue`, a body size cap that never reads an oversized body, back-pressure,
an idle timeout and a graceful stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from whatsable_cli.http_connection import Connection
from whatsable_cli.http_messages import Dispatch, Reply, encode_reply, unavailable_reply

KEEPALIVE_TIMEOUT_S = 75.0  # as aiohttp.web: idle keep-alive connections are closed after this
# A request's head must be complete this long after its first byte, however slowly the rest trickles in
# (each byte would otherwise keep the connection fresh: a few such clients could hold every socket).
HEADER_TIMEOUT_S = 30.0


class HttpServer:
    """Serves `dispatch` on a socket until `close(grace)`: in-flight requests finish within the grace period."""

    def __init__(
        self,
        dispatch: Dispatch,
        *,
        max_body: int,
        before_send: Callable[[], Reply | None] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.dispatch = dispatch
        # Called before a batch of answers goes out; returns the answer to send instead of each provisional
        # one (Reply.provisional) when what they depend on failed.
        self._before_send = before_send
        self.max_body = max_body
        self.loop = loop or asyncio.get_running_loop()
        self.connections: set[Connection] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        # Answers given while the loop handles the sockets that are ready go out together once it is done
        # with them: the client is woken once for the batch instead of once per answer (on loopback a send
        # that wakes a sleeping client is the dearest call a request makes). Each answer's recording line
        # was written before it was queued here, so write-before-acknowledge holds.
        self._outbox: list[tuple[Connection, Reply | bytes, bool, str | None]] = []

    async def start(self, host: str, port: int) -> int:
        """Listen (OSError when the address is unusable); returns the port actually bound."""
        self._server = await self.loop.create_server(lambda: Connection(self), host, port)
        self._sweeper = self.loop.create_task(self._close_idle())
        return int(self._server.sockets[0].getsockname()[1])

    def send_soon(
        self,
        connection: Connection,
        data: Reply | bytes,
        *,
        head_only: bool = False,
        connection_header: str | None = None,
    ) -> None:
        if not self._outbox:
            self.loop.call_soon(self._flush_outbox)
        self._outbox.append((connection, data, head_only, connection_header))

    def _flush_outbox(self) -> None:
        try:
            substitute = self._before_send() if self._before_send is not None else None
        except Exception:  # the answers must still go out: a retry later rather than a client left hanging
            substitute = unavailable_reply()
        outbox, self._outbox = self._outbox, []
        for connection, data, head_only, header in outbox:
            if isinstance(data, Reply):
                reply = substitute if substitute is not None and data.provisional else data
                data = encode_reply(reply, head_only=head_only, connection=header)
            connection.flush(data, close=header == "close")

    def track(self, work: Coroutine[Any, Any, None]) -> None:
        task = self.loop.create_task(work)
        self._tasks.add(task)  # kept until done: the loop holds tasks weakly; close() waits for them
        task.add_done_callback(self._tasks.discard)

    async def _close_idle(self) -> None:
        while True:
            await asyncio.sleep(min(KEEPALIVE_TIMEOUT_S, HEADER_TIMEOUT_S) / 4)
            now = self.loop.time()
            for connection in list(self.connections):
                # A body stalled mid-way counts too: else a client could hold a socket and a task for ever.
                stale = connection.waiting_on_client and connection.last_active < now - KEEPALIVE_TIMEOUT_S
                head = connection.head_started
                trickling = connection.idle and head is not None and head < now - HEADER_TIMEOUT_S
                if (stale or trickling) and connection.transport is not None:
                    connection.transport.close()

    async def close(self, grace: float) -> None:
        """Stop accepting, close idle connections, let in-flight requests finish (bounded), then cut the rest."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            self._server.close()
        self._flush_outbox()  # answers already given go out before their idle connections close
        for connection in list(self.connections):
            connection.close_when_idle()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        for task in list(self._tasks):
            task.cancel()
        self._flush_outbox()
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), timeout=1.0)
