"""`listen` recording into the history: runs, write-before-acknowledge, two listeners, a reader, a tail, failures."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import aiohttp
import pytest

from tests.support.helpers import run_cli
from tests.support.history_helpers import record_run, run_ids, stored_ids
from tests.support.listen_helpers import (
    DEADLINE,
    CapturingObserver,
    TargetApp,
    fixture_bytes,
    listen_settings,
    read_line_matching,
    running_listener,
    spawn_listener,
)
from tests.support.recordings import recorded
from whatsable_cli.errors import TunnelError
from whatsable_cli.listen.forwarder import Routing
from whatsable_cli.listen.model import ListenSettings
from whatsable_cli.listen.service import serve
from whatsable_cli.paths import history_path
from whatsable_cli.recording import schema

BODY = b'{"event":"message_status","data":{"message_id":"wamid.%d","status":"read"}}'


def history_settings(tmp_path: Path, **changes: object) -> ListenSettings:
    return listen_settings(tmp_path, history_path=history_path(), **changes)


async def post_all(url: str, bodies: list[bytes]) -> list[tuple[int, dict[str, object]]]:
    async with aiohttp.ClientSession() as session:

        async def one(body: bytes) -> tuple[int, dict[str, object]]:
            async with session.post(url, data=body) as response:
                return response.status, await response.json()

        return await asyncio.gather(*(one(body) for body in bodies))


def runs_json() -> list[dict[str, object]]:
    run = run_cli("events", "runs", "--json")
    assert run.exit_code == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


async def test_a_run_is_recorded_with_its_requests_forwards_and_counts(tmp_path: Path) -> None:
    target = await TargetApp().start()
    try:
        routing = Routing(routes=(("incoming_message", target.url()),))
        async with running_listener(history_settings(tmp_path, routing=routing)) as listener:
            answers = await post_all(listener.url, [fixture_bytes("message_status/delivered")])
            answers += await post_all(listener.url, [fixture_bytes("incoming_message/text")])  # the app answers
            port = listener.info.port
    finally:
        await target.stop()
    assert [status for status, _ in answers] == [200, 200]
    (run,) = runs_json()
    assert (run["port"], run["events"], run["kept"], run["forwards_ok"]) == (port, 2, 2, 1)
    assert run["ended_at"] is not None and run["source"] == "listen"
    listed = run_cli("events", "list", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [row["event"] for row in rows] == ["incoming_message", "message_status"]  # newest first
    assert rows[0]["forwards"][0]["status"] == 200 and rows[0]["run"] == run["id"]
    assert rows[1]["id"] == answers[0][1]["id"] and rows[1]["status"] == "delivered"


async def test_the_run_exists_once_the_listener_is_ready(tmp_path: Path) -> None:
    async with running_listener(history_settings(tmp_path)):
        (run,) = runs_json()  # a second terminal sees it before any event
        assert run["ended_at"] is None and run["events"] == 0


async def test_a_run_that_never_became_ready_leaves_nothing_behind(tmp_path: Path) -> None:
    class FailingTunnel:
        def open(self, port: int) -> str:
            raise TunnelError("the agent did not start", hint="check ngrok", code="tunnel_failed")

        def close(self) -> None:
            pass

    with pytest.raises(TunnelError):
        await serve(history_settings(tmp_path), CapturingObserver(), asyncio.Event(), tunnel=FailingTunnel())
    opening, gate = threading.Event(), threading.Event()

    class SlowTunnel(FailingTunnel):
        def open(self, port: int) -> str:
            opening.set()
            gate.wait(DEADLINE)  # Ctrl-C comes while the tunnel is still opening
            return "https://example.test"

    settings = history_settings(tmp_path)
    task = asyncio.create_task(serve(settings, CapturingObserver(), asyncio.Event(), tunnel=SlowTunnel()))
    assert await asyncio.to_thread(opening.wait, DEADLINE)  # listening, not ready
    task.cancel()
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert run_ids() == []


def test_a_port_in_use_leaves_no_run(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "whatsable_cli", "listen", "--no-tunnel", "--port", str(port)],
            capture_output=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 7 and b"Traceback" not in done.stderr
    assert run_ids() == []


async def test_two_listeners_record_into_one_history_at_once(tmp_path: Path) -> None:
    procs = []
    try:
        urls = []
        for name in ("a", "b"):
            with (tmp_path / f"{name}.out").open("wb") as out:
                proc, url = spawn_listener("-o", "quiet", stdout=out)
            procs.append(proc)
            urls.append(url)
        first, second = await asyncio.gather(
            post_all(urls[0], [BODY % i for i in range(150)]), post_all(urls[1], [BODY % i for i in range(150, 300)])
        )
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=DEADLINE)
    answered = [answer["id"] for status, answer in [*first, *second] if status == 200]
    assert len(answered) == 300 and set(answered) == set(stored_ids())
    runs = runs_json()
    assert sorted(run["events"] for run in runs) == [150, 150]


async def test_events_reads_the_history_while_listen_writes_it(tmp_path: Path) -> None:
    with (tmp_path / "out").open("wb") as out:
        proc, url = spawn_listener("-o", "quiet", stdout=out)
    try:
        readers = []
        burst = asyncio.create_task(post_all(url, [BODY % i for i in range(400)]))
        while not burst.done():
            reader = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "whatsable_cli", "events", "list", "--json", "--last", "5",
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
            readers.append(await asyncio.wait_for(reader.communicate(), DEADLINE) + (reader.returncode,))
        answers = await burst
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=DEADLINE)
    assert readers and all(code == 0 and b"locked" not in err for _, err, code in readers)
    assert all(status == 200 for status, _ in answers)
    assert len(stored_ids()) == 400


def test_follow_tails_new_events_from_a_second_terminal(tmp_path: Path) -> None:
    with (tmp_path / "out").open("wb") as out:
        listener, url = spawn_listener("-o", "quiet", stdout=out)
    follower = subprocess.Popen(
        [sys.executable, "-m", "whatsable_cli", "events", "list", "--follow", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    try:
        assert follower.stdout is not None
        for number in (1, 2):
            status, answer = asyncio.run(post_all(url, [BODY % number]))[0]
            assert status == 200
            line = read_line_matching(follower.stdout, re.compile(re.escape(str(answer["id"]))), timeout=DEADLINE)
            assert json.loads(line.string)["status"] == "read"
        follower.send_signal(signal.SIGINT)  # Ctrl-C ends a tail
        assert follower.wait(timeout=DEADLINE) == 0
    finally:
        follower.kill()
        follower.wait()
        listener.send_signal(signal.SIGINT)
        listener.wait(timeout=DEADLINE)


async def test_a_history_locked_by_another_process_answers_503_then_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "BUSY_TIMEOUT_S", 0.3)
    async with running_listener(history_settings(tmp_path)) as listener:
        holder = sqlite3.connect(history_path(), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another writer (an import, a prune) holds the write lock
        try:
            held = await post_all(listener.url, [BODY % 1, BODY % 2])
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        after = await post_all(listener.url, [BODY % 3])
    assert [status for status, _ in held] == [503, 503] and all(a["retry"] for _, a in held)
    assert [status for status, _ in after] == [200]
    assert stored_ids() == [after[0][1]["id"]]
    assert any("cannot write the recording to the history" in w for w in listener.observer.warnings)


def test_export_jsonl_writes_the_lines_listen_record_wrote(tmp_path: Path) -> None:
    recording = tmp_path / "rec.jsonl"
    with (tmp_path / "out").open("wb") as out:
        proc, url = spawn_listener("-o", "quiet", "--record", str(recording), stdout=out)
    try:
        asyncio.run(post_all(url, [fixture_bytes("incoming_message/image"), b"\xff\xfe not json", BODY % 7]))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=DEADLINE)
    exported = run_cli("events", "export", "--format", "jsonl")
    assert exported.exit_code == 0, exported.stderr
    assert exported.stdout.encode() == recording.read_bytes()


def test_no_history_keeps_the_run_out_of_it(tmp_path: Path) -> None:
    with (tmp_path / "out").open("wb") as out:
        proc, url = spawn_listener("-o", "quiet", "--no-history", stdout=out)
    try:
        assert asyncio.run(post_all(url, [BODY % 1]))[0][0] == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=DEADLINE)
    assert not history_path().exists()


@pytest.mark.skipif(sys.platform != "linux", reason="resource limits of another process: Linux")
def test_a_disk_that_fills_during_a_commit_answers_503_and_loses_no_acknowledged_event(tmp_path: Path) -> None:
    resource = pytest.importorskip("resource")

    def full_disk() -> None:  # writes past 256 KiB fail with EFBIG, as on a full disk (not killed by SIGXFSZ)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, resource.RLIM_INFINITY))

    proc, url = spawn_listener("-o", "quiet", stdout=subprocess.DEVNULL, preexec_fn=full_disk)
    acknowledged: list[str] = []
    statuses: list[int] = []
    try:
        while statuses.count(503) < 3:  # until the disk has been full for a few requests
            assert len(statuses) < 500, "the file-size limit never took effect"
            ((status, answer),) = asyncio.run(post_all(url, [BODY % len(statuses)]))
            statuses.append(status)
            if status == 200:
                acknowledged.append(str(answer["id"]))
            else:
                assert answer == {"error": "recording_failed", "retry": True}
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        for number in range(5):  # space came back
            ((status, answer),) = asyncio.run(post_all(url, [BODY % (1000 + number)]))
            assert status == 200
            acknowledged.append(str(answer["id"]))
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=DEADLINE)
    assert statuses[0] == 200 and proc.returncode == 0
    assert b"cannot write the recording to the history" in err and b"works again" in err
    assert stored_ids() == acknowledged  # every 2xx, in order, and nothing that was answered 503
    with sqlite3.connect(history_path()) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_an_idle_listener_indexes_what_it_recorded_for_search(tmp_path: Path) -> None:
    async with running_listener(history_settings(tmp_path)) as listener:
        body = b'{"event":"incoming_message","data":{"phone_number":"8801700000001","last_message_of_user":"hi"}}'
        assert (await post_all(listener.url, [body]))[0][0] == 200
        deadline = asyncio.get_running_loop().time() + DEADLINE
        with sqlite3.connect(history_path()) as conn:  # the indexer thread catches up once the listener is idle
            while conn.execute("SELECT value FROM meta WHERE key = 'indexed_seq'").fetchone() != ("1",):
                assert asyncio.get_running_loop().time() < deadline, "never indexed"
                await asyncio.sleep(0.05)
            (found,) = conn.execute(
                "SELECT count(*) FROM requests_fts WHERE requests_fts MATCH '8801700000001'"
            ).fetchone()
    assert found == 1


async def test_listen_holds_the_history_under_its_size_cap_and_says_so(tmp_path: Path) -> None:
    record_run([recorded(i, b'{"event":"message_status","pad":"%s"}' % (b"x" * 3000)) for i in range(200)])
    before = len(stored_ids())
    async with running_listener(history_settings(tmp_path, history_max_size=256 * 1024)) as listener:
        pass
    assert any("over its size cap" in warning for warning in listener.observer.warnings)
    assert 0 < len(stored_ids()) < before


def test_a_bad_size_cap_is_bad_input() -> None:
    run = run_cli("listen", "--no-tunnel", "--history-max-size", "lots")
    assert run.exit_code == 7 and "bad history size cap" in run.stderr


def test_a_damaged_history_stops_listen_before_it_listens() -> None:
    path = history_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database " * 500)
    done = subprocess.run(
        [sys.executable, "-m", "whatsable_cli", "listen", "--no-tunnel", "--port", "0"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 7 and b"Webhook URL" not in done.stderr
    assert b"damaged" in done.stderr
    assert b"Traceback" not in done.stderr
