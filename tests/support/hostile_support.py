"""Helpers for the hostile-input suite: raw requests out, strictly parsed answers in, and the invariants to check."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import struct
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.listen_helpers import CapturingObserver, listen_settings
from whatsable_cli.listen.model import ListenSettings
from whatsable_cli.listen.service import serve
from whatsable_cli.recording.jsonl import iter_entries, iter_entry_lines
from whatsable_cli.recording.lines import RecordedRequest
from whatsable_cli.webhooks.signing import sign

HOST = "127.0.0.1"
DEADLINE = 10.0  # a listener that neither answers nor closes fails the case instead of stalling the suite
SECRET = "hostile_suite_secret"
BODY = b'{"event":"message_status","data":{"message_id":"wamid.hostile","status":"delivered"}}'

# Any HTTP/x.y: aiohttp.web answers a request in the version it came in (HTTP/1.0, HTTP/0.9, HTTP/2.0...).
STATUS_LINE = re.compile(rb"HTTP/[0-9]\.[0-9] ([1-5][0-9][0-9])(?: [^\r\n]*)?")
TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class MalformedAnswer(AssertionError):
    """The listener sent bytes that are not a well-formed HTTP answer."""


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]  # as sent, names lower-cased
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    def json(self) -> object:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def acknowledged_id(self) -> str | None:
        """The id a 2xx to a webhook delivery carries: `{"received":true,"id":"..."}`."""
        payload = self.json()
        if 200 <= self.status < 300 and isinstance(payload, dict) and payload.get("received") is True:
            return str(payload.get("id"))
        return None

    @property
    def request_id(self) -> str | None:
        """The id of the recorded request the answer names (acknowledgements and the listener's own errors)."""
        payload = self.json()
        return str(payload["id"]) if isinstance(payload, dict) and "id" in payload else None


@dataclass
class Exchange:
    """What came back on one connection: interim (1xx) and final answers, and how the connection ended."""

    interim: list[Answer] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    closed: bool = False  # the listener closed (EOF or reset) before the exchange ended
    timed_out: bool = False  # neither the expected answers nor a close came before the deadline
    rest: bytes = b""  # bytes after the last complete answer (a truncated one, when closed)

    @property
    def statuses(self) -> list[int]:
        return [a.status for a in self.answers]


def _parse_head(head: bytes) -> tuple[int, list[tuple[str, str]]]:
    status_line, *lines = head.split(b"\r\n")
    match = STATUS_LINE.fullmatch(status_line)
    if match is None:
        raise MalformedAnswer(f"bad status line {status_line!r}")
    headers: list[tuple[str, str]] = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or TOKEN.fullmatch(name) is None or re.search(rb"[\x00\r\n]", value):
            raise MalformedAnswer(f"bad header line {line!r}")
        headers.append((name.decode("ascii").lower(), value.strip(b" \t").decode("latin-1")))
    return int(match.group(1)), headers


def _framing(status: int, headers: list[tuple[str, str]], head_only: bool) -> int | str:
    """The body's length, "chunked", or "close" (read to the end of the connection)."""
    if head_only or status < 200 or status in (204, 304):
        return 0
    encodings = [v for k, v in headers if k == "transfer-encoding"]
    lengths = {v for k, v in headers if k == "content-length"}
    if encodings:
        if lengths:
            raise MalformedAnswer("an answer with both Transfer-Encoding and Content-Length")
        if encodings[-1].split(",")[-1].strip().lower() != "chunked":
            return "close"
        return "chunked"
    if len(lengths) > 1 or (lengths and not next(iter(lengths)).isdigit()):
        raise MalformedAnswer(f"bad Content-Length {sorted(lengths)}")
    return int(next(iter(lengths))) if lengths else "close"


def _chunked_body(data: bytes) -> tuple[bytes, int] | None:
    """The decoded body and the bytes it took, or None when incomplete."""
    body, at = b"", 0
    while True:
        end = data.find(b"\r\n", at)
        if end < 0:
            return None
        size_text = data[at:end].split(b";")[0].strip()
        if not re.fullmatch(rb"[0-9a-fA-F]{1,16}", size_text):
            raise MalformedAnswer(f"bad chunk size {size_text!r}")
        size = int(size_text, 16)
        at = end + 2
        if size == 0:
            trailer_end = data.find(b"\r\n\r\n", at - 2)
            return (body, trailer_end + 4) if trailer_end >= 0 else None
        if len(data) < at + size + 2:
            return None
        if data[at + size : at + size + 2] != b"\r\n":
            raise MalformedAnswer("chunk not followed by CRLF")
        body += data[at : at + size]
        at += size + 2


def parse_answers(data: bytes, into: Exchange, *, eof: bool, head_only: Iterable[int] = ()) -> bytes:
    """Move every complete answer at the start of `data` into `into`; return what is left.

    `head_only`: the positions (among final answers) of answers to HEAD requests, which have no body.
    """
    heads = set(head_only)
    while True:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return data
        status, headers = _parse_head(data[:end])
        framing = _framing(status, headers, len(into.answers) in heads)
        body_start = end + 4
        if framing == "close":
            if not eof:
                return data
            body, used = data[body_start:], len(data) - body_start
        elif framing == "chunked":
            found = _chunked_body(data[body_start:])
            if found is None:
                return data
            body, used = found
        else:
            assert isinstance(framing, int)
            if len(data) < body_start + framing:
                return data
            body, used = data[body_start : body_start + framing], framing
        answer = Answer(status, headers, body)
        (into.interim if status < 200 else into.answers).append(answer)
        data = data[body_start + used :]


def _closing(result: Exchange) -> bool:
    """The last answer said the connection closes: read on to see it close."""
    return bool(result.answers) and (result.answers[-1].header("connection") or "").lower() == "close"


async def exchange(
    port: int,
    *parts: bytes,
    expect: int | None = None,
    half_close: bool = False,
    head_only: Iterable[int] = (),
    timeout: float = DEADLINE,
) -> Exchange:
    """Send `parts` (each its own write) on a new connection, then read until `expect` final answers have
    come (and, when the last one announced a close, shut our side and read on until that close), or,
    without `expect`, until the listener closes the connection. `half_close`: shut our sending side once
    everything is sent."""
    heads = tuple(head_only)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
    result = Exchange()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        with contextlib.suppress(ConnectionError):  # the listener may close on a malformed start
            for part in parts:
                writer.write(part)
                await writer.drain()
            if half_close:
                writer.write_eof()
        data, shut = b"", half_close
        while expect is None or len(result.answers) < expect or _closing(result):
            if expect is not None and len(result.answers) >= expect and not shut:
                # Done, as a client would be: aiohttp.web reads on ("lingering close") until the client
                # closes or its lingering time ends, so the answer cannot be lost to a reset.
                shut = True
                with contextlib.suppress(ConnectionError):
                    writer.write_eof()
            try:
                chunk = await asyncio.wait_for(reader.read(1 << 16), max(0.0, deadline - loop.time()))
            except ConnectionError:
                chunk = b""
            except TimeoutError:
                result.timed_out = True
                break
            data = parse_answers(data + chunk, result, eof=not chunk, head_only=heads)
            if not chunk:
                result.closed = True
                break
        result.rest = data
    finally:
        writer.transport.abort()
    return result


async def reset_after(port: int, *parts: bytes) -> None:
    """Send `parts`, then drop the connection with a TCP reset (SO_LINGER 0) instead of a clean close."""
    _, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), DEADLINE)
    for part in parts:
        writer.write(part)
        await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# -- requests -----------------------------------------------------------------------------------------


def raw_request(
    method: bytes = b"POST",
    target: bytes = b"/webhook",
    headers: Iterable[tuple[bytes, bytes]] = (),
    body: bytes = b"",
    *,
    version: bytes = b"HTTP/1.1",
    eol: bytes = b"\r\n",
) -> bytes:
    """Exactly these bytes: no header is added (not even Content-Length)."""
    head = [method + b" " + target + b" " + version, *(name + b": " + value for name, value in headers)]
    return eol.join(head) + eol + eol + body


def signed_headers(body: bytes = BODY) -> list[tuple[bytes, bytes]]:
    """WhatsAble's signature of `body` under the listener's secret."""
    return [(k.encode(), v.encode()) for k, v in sign("whatsable", SECRET, body).items()]


def signed_post(body: bytes = BODY, *extra: tuple[bytes, bytes], close: bool = False) -> bytes:
    """A well-formed signed delivery, as WhatsAble would send it."""
    headers = [
        (b"Host", b"127.0.0.1"),
        (b"Content-Type", b"application/json"),
        (b"Content-Length", str(len(body)).encode()),
        *signed_headers(body),
        *extra,
    ]
    if close:
        headers.append((b"Connection", b"close"))
    return raw_request(b"POST", b"/webhook", headers, body)


# -- the recording and the invariants -------------------------------------------------------------------


def recorded(path: Path) -> list[RecordedRequest]:
    """The requests in the recording. Only a last line still being written may be incomplete."""
    if not path.exists():  # nothing recorded yet
        return []
    skipped: list[int] = []
    entries = list(iter_entries(path, on_skip=lambda _p, line_no, _why: skipped.append(line_no)))
    if skipped:
        lines = path.read_bytes().split(b"\n")
        assert skipped == [len(lines)] and lines[-1], f"corrupt recording lines {skipped} in {path}"
    return [e for e in entries if isinstance(e, RecordedRequest)]


_read_so_far: dict[Path, tuple[int, int, set[str]]] = {}  # path -> (bytes read, lines read, request ids)


def recorded_ids(path: Path) -> set[str]:
    """The ids of the recorded requests, reading only what was added since the last call (a long property
    test would otherwise parse the whole recording again for every example). Every complete line must parse."""
    offset, line_count, ids = _read_so_far.get(path, (0, 0, set()))
    if not path.exists():
        return ids
    with path.open("rb") as handle:
        handle.seek(offset)
        added = handle.read()
    complete = added[: added.rfind(b"\n") + 1]  # a last line still being written is read next time
    lines = complete.splitlines(keepends=True)
    for entry in iter_entry_lines(lines, path, strict=True, first_line=line_count + 1):
        if isinstance(entry, RecordedRequest):
            ids.add(entry.id)
    _read_so_far[path] = (offset + len(complete), line_count + len(lines), ids)
    return ids


def assert_invariants(result: Exchange, record_path: Path) -> None:
    """Never a 5xx (every fault here is the client's), and every request an answer names is recorded:
    above all every acknowledged (2xx) delivery."""
    statuses = [a.status for a in [*result.interim, *result.answers]]
    assert all(s < 500 for s in statuses), f"a 5xx answer: {result.answers}"
    named = [a.request_id for a in result.answers if a.request_id is not None]
    ids = recorded_ids(record_path)
    missing = [i for i in named if i not in ids]
    assert not missing, f"answered but not recorded: {missing} in {result.answers}"


async def assert_still_up(port: int, record_path: Path) -> None:
    """A normal signed delivery on a new connection is answered 200 and recorded."""
    result = await exchange(port, signed_post(close=True), expect=1)
    assert result.statuses == [200], f"the listener did not recover: {result}"
    answer_id = result.answers[0].acknowledged_id
    assert answer_id is not None and answer_id in recorded_ids(record_path)


# -- a listener on its own thread (for synchronous tests such as hypothesis's) ------------------------------


class ListenerThread:
    """`serve` on a background thread with its own event loop, until `stop()`."""

    def __init__(self, settings: ListenSettings) -> None:
        self.settings = settings
        self.observer = CapturingObserver()
        self.port = 0
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="hostile-listener", daemon=True)

    @property
    def record_path(self) -> Path:
        assert self.settings.record_path is not None
        return self.settings.record_path

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test thread by start()/stop()
            self._failure = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        task = asyncio.create_task(serve(self.settings, self.observer, self._stop))
        ready = asyncio.create_task(self.observer.wait_until(lambda: self.observer.info is not None))
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if self.observer.info is not None:
            self.port = self.observer.info.port
        self._ready.set()
        await task

    def start(self) -> ListenerThread:
        self._thread.start()
        if not self._ready.wait(DEADLINE) or self._failure is not None or not self.port:
            raise AssertionError(f"the listener did not start: {self._failure!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended already
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(DEADLINE)
        assert not self._thread.is_alive(), "the listener did not stop"
        if self._failure is not None:
            raise AssertionError(f"the listener failed: {self._failure!r}")


@contextlib.contextmanager
def listener_thread(tmp_path: Path, **changes: object) -> Iterator[ListenerThread]:
    listener = ListenerThread(listen_settings(tmp_path, **{"secret": SECRET, **changes})).start()
    try:
        yield listener
    finally:
        listener.stop()
