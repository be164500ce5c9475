"""The listener at the process's limits, as a subprocess: a file-size limit (a full disk) and too few descriptors."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.listen_helpers import DEADLINE, port_of, read_line_matching, spawn_listener
from whatsable_cli.recording.jsonl import iter_entries

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="resource limits of another process: Linux")
resource = pytest.importorskip("resource")

BODY = b'{"event":"message_status","data":{"message_id":"wamid.%d","status":"read"}}'


def limited(kind: int, soft: int, hard: int) -> Callable[[], None]:
    """A preexec_fn: the child starts with this limit (and, for file size, SIGXFSZ ignored: a write past the
    limit then fails with EFBIG instead of killing the process, as a full disk would)."""

    def apply() -> None:
        if kind == resource.RLIMIT_FSIZE:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(kind, (soft, hard))

    return apply


def post(index: int) -> bytes:
    body = BODY % index
    return b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def exchange(port: int, request: bytes) -> tuple[int, bytes]:
    """One request on its own connection: the answer's status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE) as sock:
        return exchange_on(sock, request)


def exchange_on(sock: socket.socket, request: bytes) -> tuple[int, bytes]:
    sock.sendall(request)
    answer = b""
    while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    return int(answer.split(b" ", 2)[1]), answer.split(b"\r\n\r\n", 1)[1]


def _length(answer: bytes) -> int:
    match = re.search(rb"(?im)^content-length:\s*(\d+)", answer)
    return int(match.group(1)) if match else 0


def stop(proc: subprocess.Popen[bytes]) -> bytes:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0, err
    return err


def test_a_disk_that_fills_mid_line_loses_no_acknowledged_event_and_leaves_whole_lines(tmp_path: Path) -> None:
    record = tmp_path / "rec.jsonl"
    fsize = limited(resource.RLIMIT_FSIZE, 4000, resource.RLIM_INFINITY)  # a few lines, then the disk is "full"
    proc, url = spawn_listener(  # the JSON Lines file alone: the history has its own disk-full test
        "--record", str(record), "--no-history", "-o", "quiet", stdout=subprocess.DEVNULL, preexec_fn=fsize
    )
    port = port_of(url)
    acknowledged: list[str] = []
    statuses: list[int] = []
    try:
        index = 0
        while statuses.count(503) < 3:  # until the disk has been full for a few requests
            assert index < 100, "the file-size limit never took effect"
            status, body = exchange(port, post(index))
            statuses.append(status)
            if status == 200:
                acknowledged.append(json.loads(body)["id"])
            else:
                assert (status, json.loads(body)["error"]) == (503, "recording_failed")
            index += 1
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        for later in range(index, index + 5):  # space came back
            status, body = exchange(port, post(later))
            assert status == 200
            acknowledged.append(json.loads(body)["id"])
    finally:
        err = stop(proc)
    assert statuses[0] == 200 and b"cannot write the recording" in err and b"works again" in err
    assert record.read_bytes().endswith(b"\n")
    recorded = [entry.id for entry in iter_entries(record, strict=True)]  # type: ignore[union-attr]
    assert recorded == acknowledged  # every 2xx, and only those: no half line swallowed one


def test_the_soft_open_file_limit_is_raised_to_the_hard_one(tmp_path: Path) -> None:
    soft, hard = 64, min(4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    nofile = limited(resource.RLIMIT_NOFILE, soft, hard)
    proc, _url = spawn_listener("--no-record", "-o", "quiet", stdout=subprocess.DEVNULL, preexec_fn=nofile)
    try:
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
    finally:
        stop(proc)
    (line,) = [line for line in limits.splitlines() if line.startswith("Max open files")]
    assert line.split()[3:5] == [str(hard), str(hard)]


def test_running_out_of_descriptors_is_one_warning_line_and_the_listener_recovers(tmp_path: Path) -> None:
    nofile = limited(resource.RLIMIT_NOFILE, 40, 40)  # the listener itself needs about a dozen
    record = tmp_path / "rec.jsonl"
    proc, url = spawn_listener("--record", str(record), "-o", "compact", stdout=subprocess.DEVNULL, preexec_fn=nofile)
    port = port_of(url)
    held: list[socket.socket] = []
    try:
        for _ in range(70):  # more than it can accept: the rest wait in the backlog
            held.append(socket.create_connection(("127.0.0.1", port), timeout=DEADLINE))
        assert proc.stderr is not None
        read_line_matching(proc.stderr, re.compile("cannot accept new connections"), timeout=DEADLINE)
        status, _ = exchange_on(held[0], post(1))  # the connections it has are still served
        assert status == 200
        for sock in held:
            sock.close()
        held.clear()
        status, _ = exchange(port, post(2))  # once the others are gone, a new connection is served
        assert status == 200
    finally:
        for sock in held:
            sock.close()
        err = stop(proc)
    assert b"Traceback" not in err
    assert b"cannot accept new connections" not in err  # one line (read above), however many accepts failed
    assert len(list(iter_entries(record, strict=True))) == 2
