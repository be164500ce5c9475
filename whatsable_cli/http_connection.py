"""One HTTP/1.1 client connection of the lean server: parsing, pipelining in order, bodies, flow control."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Coroutine
from typing import Any, Protocol

from aiohttp.http import HttpProcessingError, HttpRequestParser, HttpVersion11, RawRequestMessage
from aiohttp.streams import StreamReader

from whatsable_cli.http_messages import Dispatch, Reply, Request, unavailable_reply
from whatsable_cli.socket_reads import BufferedReads

LINGER_S = 10.0  # as aiohttp.web: how long the rest of an oversized body is read and dropped after the 413
MAX_PIPELINED = 32  # parsed requests waiting on one connection before it stops reading
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class ConnectionHost(Protocol):
    """What a connection needs from its server (`HttpServer`)."""

    loop: asyncio.AbstractEventLoop
    dispatch: Dispatch
    max_body: int
    connections: set[Connection]

    def send_soon(
        self,
        connection: Connection,
        data: Reply | bytes,
        *,
        head_only: bool = False,
        connection_header: str | None = None,
    ) -> None: ...

    def track(self, work: Coroutine[Any, Any, None]) -> None: ...


class Connection(BufferedReads):
    """One client connection: requests are answered in the order they came (pipelining kept in order).

    Also the flow-control peer of aiohttp's StreamReader (a body being read): `pause_reading`,
    `resume_reading`, `_reading_paused` and `connected` are what it calls.
    """

    def __init__(self, server: ConnectionHost) -> None:
        self._server = server
        self._loop = server.loop
        # The parser only hands the protocol to each body's StreamReader, for the flow control above.
        self._http_parser = HttpRequestParser(
            self,  # type: ignore[arg-type]
            self._loop,
            2**16,
            max_line_size=8190,
            max_field_size=8190,
            # One message per feed_data call (the rest is kept as the parser's tail): when a later request
            # in the same read is malformed, feed_data raises and would drop the requests parsed before it.
            max_msg_queue_size=1,
        )
        self._pending: deque[tuple[RawRequestMessage, StreamReader] | HttpProcessingError] = deque()
        self._busy = False  # a request is being read or answered
        self._close_after = False  # answer the request in hand, then close
        self._broken = False  # unparseable input: nothing after it is read
        self._body: StreamReader | None = None  # the body being read, woken with an error if the client goes
        self._advancing = False  # inside _next: an answer given there must not recurse into it
        self._parsed_body: StreamReader | None = None  # the body the parser is in the middle of
        self._remote: str | None = None
        self._reading_paused = False
        self._writing_paused = False
        self.transport: asyncio.Transport | None = None
        self.last_active = self._loop.time()
        self.head_started: float | None = None  # when the first bytes of a head not yet complete came
        self._unread_body = False  # an oversized body is still coming: linger after the answer
        self._linger: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol and flow control ---------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.transport is not None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self._remote = str(peer[0]) if isinstance(peer, tuple | list) and peer else None
        self._server.connections.add(self)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.transport = None
        if self._linger is not None:
            self._linger.cancel()
        self._server.connections.discard(self)
        self._pending.clear()
        if self._body is not None:
            self._body.set_exception(ConnectionResetError("the client closed the connection"))

    def pause_reading(self) -> None:
        """Only the body's StreamReader calls this, while the parser feeds it: the parser pauses too.

        Otherwise it goes on decompressing the rest of what it was given into the reader: a 200 KB gzip
        body held 260 MB before the cap was checked. The parser keeps the rest until `resume_reading`.
        """
        self._http_parser.pause_reading()
        self._pause_transport()

    def _pause_transport(self) -> None:
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self, resume_parser: bool = True) -> None:
        if self._reading_paused and self.transport is not None and not self._writing_paused:
            self._reading_paused = False
            self.transport.resume_reading()
            if resume_parser:  # what the parser held back while paused (aiohttp.web does the same)
                self.data_received(b"")

    def pause_writing(self) -> None:
        self._writing_paused = True
        self._pause_transport()  # the client is not reading its answers: stop taking requests

    def resume_writing(self) -> None:
        self._writing_paused = False
        if len(self._pending) <= MAX_PIPELINED:
            self.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.last_active = now = self._loop.time()
        if data and self.head_started is None and self._parsed_body is None:
            self.head_started = now  # cleared when the parser hands out the request
        # Closing still reads the body of the request in hand (a graceful stop lets it finish); only a
        # body left unread on purpose (over the cap), or input after garbage, is dropped.
        if self._broken or (self._close_after and self._body is None):
            return
        try:
            self._feed(data)
        except HttpProcessingError as exc:  # answered 400 once the earlier requests are answered
            self._broken = True
            self._pending.append(exc)
        if len(self._pending) > MAX_PIPELINED:
            self._pause_transport()  # back-pressure: a client must read its answers before sending more
        self._next()

    def _feed(self, data: bytes) -> None:
        """Parse what came. The parser pauses after each message it completes (max_msg_queue_size=1) and
        keeps the rest: go on while a call hands out a message or completes the body of an earlier one.
        A call that did neither ran out of input, or paused because the body's reader is full."""
        parser = self._http_parser
        messages, _upgraded, _tail = parser.feed_data(data)
        while messages or self._parsed_body_completed():
            for message, payload in messages:
                self.head_started = None
                self._pending.append((message, payload))
                self._parsed_body = None if payload.is_eof() else payload
            parser.message_consumed()
            messages, _upgraded, _tail = parser.feed_data(b"")

    def _parsed_body_completed(self) -> bool:
        if self._parsed_body is None or not self._parsed_body.is_eof():
            return False
        self._parsed_body = None
        return True

    # -- requests ----------------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        return not self._busy and not self._pending

    @property
    def waiting_on_client(self) -> bool:
        """Idle, or a body still coming: a client silent now has stalled (or left) rather than us."""
        return self.idle or self._body is not None

    def close_when_idle(self) -> None:
        """Stop after the request in hand; close at once when there is none."""
        self._close_after = True
        if self.idle and self.transport is not None:
            self.transport.close()

    def _next(self) -> None:
        """Answer what can be answered now; a request whose body is still coming continues in a task."""
        if self._advancing:  # called back from an answer given below: the loop carries on (no recursion,
            return  # which a few hundred pipelined requests in one read would otherwise overflow)
        self._advancing = True
        try:
            self._advance()
        finally:
            self._advancing = False

    def _advance(self) -> None:
        while self._pending and not self._busy and not self._close_after and self.transport is not None:
            item = self._pending.popleft()
            if isinstance(item, HttpProcessingError):
                self._send(Reply(400, f"Bad Request: {item.message}".encode(), "text/plain"), close=True)
                return
            if self._reading_paused and len(self._pending) <= MAX_PIPELINED // 2:
                self.resume_reading()
            message, payload = item
            if payload.is_eof():  # the whole body came with the headers: answered without a task
                body = payload.read_nowait(-1)
                request = self._request(message, body) if len(body) <= self._server.max_body else None
                self._dispatch(message, request or self._omitted(message, len(body)))
            else:
                self._busy = True
                self._body = payload  # set now: the client may go, or a close begin, before the task runs
                self._server.track(self._read_then_dispatch(message, payload))

    def _request(self, message: RawRequestMessage, body: bytes, *, omitted: bool = False) -> Request:
        return Request(
            method=message.method,
            url=message.url,
            headers=message.headers,
            body=body,
            body_size=len(body),
            body_omitted=omitted,
            remote=self._remote,
        )

    def _omitted(self, message: RawRequestMessage, size: int) -> Request:
        """A request over the body cap, without its body; the connection closes after its answer."""
        self._close_after = True  # the unread rest of the body is still on the connection
        self._unread_body = True
        request = self._request(message, b"", omitted=True)
        request.body_size = size
        return request

    async def _read_then_dispatch(self, message: RawRequestMessage, payload: StreamReader) -> None:
        try:
            request = await self._read(message, payload)
        finally:
            self._body = None  # what follows on the connection is not this body any more
        self._busy = False
        if request is not None:
            self._dispatch(message, request)
        else:  # the client went away mid-body (nobody to answer), or its body was unreadable (400 queued)
            self._next()

    async def _read(self, message: RawRequestMessage, payload: StreamReader) -> Request | None:
        """Read the body up to the cap; an oversized one is not read (its declared size is kept)."""
        cap = self._server.max_body
        declared = _declared_length(message)
        if declared is not None and declared > cap:
            return self._omitted(message, declared)
        if _expects_continue(message) and self.transport is not None:
            self._server.send_soon(self, _CONTINUE)  # after any answer still in the outbox
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := await payload.readany():
                size += len(chunk)
                if size > cap:  # chunked, or decompressed, past the cap: found out while reading
                    return self._omitted(message, max(declared or 0, size))  # decoded size if compressed
                chunks.append(chunk)
        except ConnectionResetError:
            return None
        except HttpProcessingError as exc:  # e.g. a bad Content-Encoding: the client still waits for an answer
            self._broken = True
            self._pending.appendleft(exc)
            return None
        return self._request(message, b"".join(chunks)) if self.transport is not None else None

    def _dispatch(self, message: RawRequestMessage, request: Request) -> None:
        try:
            result = self._server.dispatch(request)
        except Exception:  # the dispatcher answers its own failures; this is the last line of defence
            result = unavailable_reply()
        if isinstance(result, Reply):
            self._answer(message, result)
        else:
            self._busy = True
            self._server.track(self._await_answer(message, result))

    async def _await_answer(self, message: RawRequestMessage, result: Awaitable[Reply]) -> None:
        try:
            reply = await result
        except Exception:
            reply = unavailable_reply()
        finally:
            self._busy = False
        self._answer(message, reply)

    def _answer(self, message: RawRequestMessage, reply: Reply) -> None:
        # A request to switch protocols (websocket, CONNECT) is answered as a plain one, then the connection
        # closes: the parser has switched and would read nothing after it as HTTP (the client would hang).
        close = message.should_close or message.upgrade or self._close_after
        keep_alive_10 = not close and message.version < HttpVersion11  # HTTP/1.0 keeps alive only when told
        self._send(reply, head_only=message.method == "HEAD", close=close, keep_alive=keep_alive_10)
        self._next()

    def _send(self, reply: Reply, *, head_only: bool = False, close: bool = False, keep_alive: bool = False) -> None:
        # Queued even when the client has gone: a provisional answer's recording line is written at the flush.
        connection = "close" if close else "keep-alive" if keep_alive else None
        self._server.send_soon(self, reply, head_only=head_only, connection_header=connection)
        self.last_active = self._loop.time()
        if close:
            self._close_after = True

    def flush(self, data: bytes, close: bool) -> None:
        """Write what `send_soon` held (the server's outbox, in order); close after it when asked."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        if not close:
            return
        if self._unread_body and transport.can_write_eof():
            # Closing now, with the client still sending its oversized body, would reset the connection,
            # and a reset can overtake the 413 on a real network. So: end our side (the answer is whole),
            # read and drop what still comes, and close when the client does or LINGER_S has passed.
            transport.write_eof()
            self._linger = self._loop.call_later(LINGER_S, transport.close)
            self._reading_paused = False
            transport.resume_reading()  # a full body buffer may have paused it
            return
        transport.close()


def _declared_length(message: RawRequestMessage) -> int | None:
    value = message.headers.get("Content-Length")
    return int(value) if value is not None and value.isdigit() else None


def _expects_continue(message: RawRequestMessage) -> bool:
    return message.version == HttpVersion11 and message.headers.get("Expect", "").lower() == "100-continue"
