"""Recording lines are written per loop pass, before that pass's answers: order, failures and counts hold."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.support.listen_helpers import TargetApp, listen_settings, running_listener
from whatsable_cli.listen.forwarder import Routing
from whatsable_cli.recording.jsonl import RecordingWriter

DEADLINE = 10.0


def status_body(index: int) -> bytes:
    return json.dumps({"event": "message_status", "data": {"message_id": f"wamid.{index}", "status": "sent"}}).encode()


def incoming_body(index: int) -> bytes:
    return json.dumps({"event": "incoming_message", "data": {"phone_number": index, "user_timestamp": 1}}).encode()


def pipelined(port: int, bodies: list[bytes]) -> bytes:
    """Every request in one write: the listener takes them in one read, so one loop pass answers them."""
    return b"".join(
        b"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (port, len(body), body)
        for body in bodies
    )


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """One answer's status and headers (lower-case names); its body is read and dropped."""
    status_line = await asyncio.wait_for(reader.readline(), DEADLINE)
    headers: dict[str, str] = {}
    while (line := await asyncio.wait_for(reader.readline(), DEADLINE)) != b"\r\n":
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), DEADLINE)
    return int(status_line.split()[1]), headers


async def answer_statuses(port: int, bodies: list[bytes]) -> list[int]:
    """Send the bodies pipelined on one connection; the status of each answer, in order."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(pipelined(port, bodies))
    statuses = [(await read_answer(reader))[0] for _ in bodies]
    writer.close()
    return statuses


async def concurrent_answers(port: int, bodies: list[bytes]) -> list[tuple[int, dict[str, str]]]:
    """Each body on its own connection, all sent in one go (so one loop pass of the listener reads them)."""
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in bodies]
    for (_, writer), body in zip(connections, bodies, strict=True):
        writer.write(pipelined(port, [body]))
    answers = [await read_answer(reader) for reader, _ in connections]
    for _, writer in connections:
        writer.close()
    return answers


async def test_a_burst_is_written_in_fewer_writes_than_requests_in_the_order_they_came(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[bytes] = []
    real_append = RecordingWriter.append

    def counting_append(self: RecordingWriter, line: bytes) -> None:
        writes.append(line)
        real_append(self, line)

    monkeypatch.setattr(RecordingWriter, "append", counting_append)
    bodies = [status_body(index) for index in range(20)]
    async with running_listener(listen_settings(tmp_path)) as listener:
        answers = await concurrent_answers(listener.info.port, bodies)
        requests, _ = listener.recording()
    assert [status for status, _ in answers] == [200] * 20
    recorded = [request.body_bytes for request in requests]
    assert sorted(recorded) == sorted(bodies)
    assert len(writes) < len(bodies) and b"".join(writes).count(b"\n") == len(bodies)
    assert [report.request.body_bytes for report in listener.observer.events] == recorded  # shown once written


async def test_pipelined_requests_are_recorded_in_the_order_they_came(tmp_path: Path) -> None:
    bodies = [status_body(index) for index in range(20)]
    async with running_listener(listen_settings(tmp_path)) as listener:
        statuses = await answer_statuses(listener.info.port, bodies)
        requests, _ = listener.recording()
    assert statuses == [200] * 20
    assert [request.body_bytes for request in requests] == bodies


async def test_a_burst_that_cannot_be_written_is_answered_503_and_neither_counted_nor_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    bodies = [status_body(index) for index in range(8)]
    async with running_listener(listen_settings(tmp_path)) as listener:
        monkeypatch.setattr(RecordingWriter, "append", disk_full)
        failed = await answer_statuses(listener.info.port, bodies)
        monkeypatch.undo()
        recovered = await answer_statuses(listener.info.port, bodies[:1])
    assert failed == [503] * 8 and recovered == [200]
    summary = listener.observer.summary
    assert summary is not None and summary.record_failures == 8 and summary.total == 1
    assert len(listener.observer.events) == 1


async def test_a_pass_whose_write_fails_answers_each_of_its_requests_503_with_retry_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[bytes] = []

    def disk_full(_: RecordingWriter, line: bytes) -> None:
        attempts.append(line)
        raise OSError(28, "No space left on device")

    bodies = [status_body(index) for index in range(10)]
    async with running_listener(listen_settings(tmp_path)) as listener:
        monkeypatch.setattr(RecordingWriter, "append", disk_full)
        answers = await concurrent_answers(listener.info.port, bodies)
        monkeypatch.undo()
        requests, _ = listener.recording()
    assert [(status, headers.get("retry-after")) for status, headers in answers] == [(503, "1")] * 10
    assert len(attempts) < len(bodies) and b"".join(attempts).count(b"\n") == len(bodies)  # one write per pass
    assert requests == [] and listener.observer.events == []


async def test_a_forwarded_request_between_answered_ones_keeps_the_recording_in_arrival_order(
    tmp_path: Path,
) -> None:
    target = await TargetApp().start()
    try:
        routing = Routing(routes=(("incoming_message", target.url()),))
        bodies = [status_body(1), incoming_body(2), status_body(3)]
        async with running_listener(listen_settings(tmp_path, routing=routing)) as listener:
            statuses = await answer_statuses(listener.info.port, bodies)
            requests, forwards = listener.recording()
    finally:
        await target.stop()
    assert statuses == [200, 200, 200]
    assert [request.body_bytes for request in requests] == bodies
    assert [forward.request_id for forward in forwards] == [requests[1].id]
