"""The listener's aiohttp.web server, whose connections still answer a client that half-closed after its request."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import StreamReader, web

# Loop passes a half-closed connection stays open with no request in hand before it is closed: aiohttp
# starts the next pipelined request a pass or two after answering one, and must find the connection open.
IDLE_PASSES = 3


class Connection(asyncio.Protocol):
    """The protocol aiohttp.web makes for one connection, wrapped to change one thing: the end of input.

    `web.Server` is documented as a protocol factory for `loop.create_server`; what it makes is driven
    here through asyncio's Protocol interface only. aiohttp.web closes a connection as soon as the client
    shuts down its sending side, though an answer may still be due (aio-libs/aiohttp#3659): a client that
    half-closes after its request gets nothing. Here the connection stays open for writing instead, the
    requests received are answered, and it closes once none has been in hand for IDLE_PASSES loop passes.
    """

    def __init__(
        self,
        inner: asyncio.Protocol,
        registry: dict[asyncio.BaseTransport, Connection],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._inner = inner
        self._registry = registry
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._in_hand = 0  # requests whose handler is running
        self.ended = False  # the client will send nothing more
        self.reading: StreamReader | None = None  # a body being read, while it is still coming

    # -- asyncio.Protocol, passed on to aiohttp's ---------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._registry[transport] = self
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._registry.pop(self._transport, None)
        self._transport = None
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def eof_received(self) -> bool | None:
        self._inner.eof_received()
        if self.reading is not None and not self.reading.is_eof():
            return False  # the request in hand ends before its body does: nothing to answer, close
        self.ended = True
        self._close_when_idle(0)
        return True  # keep the connection open for the answers still due

    # -- what the request handler reports -------------------------------------------------------------

    def started(self) -> None:
        self._in_hand += 1

    def finished(self) -> None:
        self._in_hand -= 1
        if self.ended:
            self._close_when_idle(0)

    def _close_when_idle(self, quiet_passes: int) -> None:
        transport = self._transport
        if self._in_hand or transport is None or transport.is_closing():
            return  # a request in hand calls again when it is finished
        if quiet_passes < IDLE_PASSES:
            self._loop.call_soon(self._close_when_idle, quiet_passes + 1)
        else:
            transport.close()  # what is written goes out first


class ListenerServer(web.Server):
    """aiohttp.web's low-level server, each of its connections a `Connection`."""

    def __init__(self, handler: Any, connections: dict[asyncio.BaseTransport, Connection], **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.listener_connections = connections  # each open connection by its transport (what a request names)

    def __call__(self) -> Any:  # the protocol factory that loop.create_server calls per connection
        return Connection(super().__call__(), self.listener_connections, asyncio.get_running_loop())
