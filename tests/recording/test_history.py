"""The history database itself: its file, schema and rows, ids across runs, search, import, prune, and damage."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.helpers import run_cli
from tests.support.history_helpers import record_run, run_ids, stored_ids
from tests.support.recordings import incoming_body, recorded, status_body, write_recording
from whatsable_cli.errors import BadInputError
from whatsable_cli.paths import history_path
from whatsable_cli.recording import schema
from whatsable_cli.recording.history import History, RunRecorder
from whatsable_cli.recording.history_import import import_recording
from whatsable_cli.recording.history_index import index_for_search, indexed_through
from whatsable_cli.recording.history_queries import (
    Selection,
    export_lines,
    find_in_history,
    history_rows,
    list_runs,
    resolve_run,
)
from whatsable_cli.recording.history_retention import enforce_cap, prune, used_bytes
from whatsable_cli.recording.lines import RecordedRequest
from whatsable_cli.recording.query import Filters
from whatsable_cli.webhooks.events import SignatureCheck


def hostile_requests() -> list[RecordedRequest]:
    """Every shape a recording line takes: binary bodies, bytes that were not UTF-8 in the target and headers,
    non-ASCII, no signature, an omitted body, a base64 body that would decode, no event type."""
    odd = recorded(3, incoming_body(3), [("X-Bin", "v\udc81"), ("X-Ü", "é ñ"), ("X-Empty", "")])
    odd.path, odd.query, odd.flags = "/p\udcff/ü", "a=\udc80&b=ö", ["duplicate", "decoded"]
    omitted = recorded(4, b"")
    omitted.body_size, omitted.body_omitted, omitted.signature = 5_000_000, True, None
    omitted.response_status, omitted.flags, omitted.event_type = 413, ["too_large"], "too_large"
    marked = recorded(5, b"{}")
    marked.body, marked.body_encoding = "e30=", "base64"  # valid UTF-8, yet recorded in base64: kept so
    untyped = recorded(6, b'{"event": "something_new"}')
    untyped.event_type, untyped.response_status = None, None
    failed = recorded(7, status_body(7, "failed"))
    failed.signature = SignatureCheck("failed", "whatsable", "mismatch", "expected ab…, got cd…")
    binary = recorded(2, b"\xff\xfe binary \x00 body")
    return [recorded(1, status_body(1)), binary, odd, omitted, marked, untyped, failed]


def test_the_history_and_its_wal_files_are_private_and_versioned() -> None:
    os.umask(0o022)
    record_run([recorded(1, status_body(1))], finished=False)
    path = history_path()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA user_version").fetchone() == (schema.SCHEMA_VERSION,)
        conn.execute("SELECT 1 FROM requests").fetchall()  # a reader keeps the -wal and -shm files there
        for name in (path.name, path.name + "-wal", path.name + "-shm"):
            assert stat.S_IMODE((path.parent / name).stat().st_mode) == 0o600, name


def test_fsync_means_synchronous_full() -> None:
    with History.open(fsync=True) as durable, History.open() as default:
        assert durable.conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert default.conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL: survives a killed process


def test_a_history_from_a_newer_version_is_refused_clearly() -> None:
    path = history_path()
    path.parent.mkdir(parents=True)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    run = run_cli("events", "list")
    assert run.exit_code == 7 and "newer whatsable" in run.stderr and "Traceback" not in run.stderr


def test_each_request_comes_back_as_the_very_line_it_was_recorded_as() -> None:
    requests = hostile_requests()
    record_run(requests, forwards=True)
    with History.open() as history:
        exported = list(export_lines(history, Selection()))
        for request in requests:
            assert find_in_history(history, request.id)[0] == request
    assert exported[::2] == [request.to_json_line() for request in requests]  # each request, then its forward
    assert [json.loads(line)["request_id"] for line in exported[1::2]] == [request.id for request in requests]


def test_ids_resolve_across_runs_and_a_prefix_must_be_unique() -> None:
    first = record_run([recorded(1, status_body(1))])
    second = record_run([recorded(2, status_body(2))])
    with History.open() as history:
        assert find_in_history(history, "0001")[1] == first  # from the earlier run
        assert find_in_history(history, "0002abc")[1] == second
        assert resolve_run(history, "latest") == second
        with pytest.raises(BadInputError, match="more than one"):
            find_in_history(history, "000")
        with pytest.raises(BadInputError, match="no request with id"):
            find_in_history(history, "ffff")
        with pytest.raises(BadInputError, match="no run '9'"):
            resolve_run(history, "9")


def test_the_listener_leaves_ids_to_be_indexed_behind_it_and_lookups_find_them_either_way() -> None:
    record_run([recorded(1, status_body(1)), recorded(2, status_body(2))])
    with History.open() as history:
        conn = history.conn
        assert conn.execute("SELECT count(*) FROM request_ids").fetchone() == (0,)  # its commits index nothing
        before = [find_in_history(history, "0001")[0].id, find_in_history(history, "0002abc")[0].id]
        index_for_search(history)
        assert conn.execute("SELECT count(*) FROM request_ids").fetchone() == (2,)
        record_run([recorded(3, status_body(3))])  # one indexed and one not share the prefix "000"
        after = [find_in_history(history, "0001")[0].id, find_in_history(history, "0003")[0].id]
        with pytest.raises(BadInputError, match="more than one"):
            find_in_history(history, "000")
        assert find_in_history(history, before[1])[0].id == before[1]  # the exact id, indexed
        selected = history_rows(history, Selection(filters=Filters(ids=("0001", "0003"))))
        assert sorted(row.request.id[:4] for row in selected) == ["0001", "0003"]  # each once
    assert before[0] == after[0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ids=st.lists(st.text("0123abc", min_size=1, max_size=5), min_size=1, max_size=12, unique=True),
    indexed=st.integers(0, 12),
    prefix=st.text("0123abc", max_size=4),
)
def test_an_id_prefix_finds_what_a_scan_of_every_id_finds_wherever_the_index_stands(
    ids: list[str], indexed: int, prefix: str
) -> None:
    with tempfile.TemporaryDirectory() as folder, History.open(Path(folder) / "h.sqlite3") as history:
        recorder = RunRecorder(history)
        for number, request_id in enumerate(ids):
            request = recorded(number, status_body(number))
            request.id = request_id
            recorder.commit([(request, "delivered")], [])
            if number + 1 == indexed:
                index_for_search(history)
        exact = [request_id for request_id in ids if request_id == prefix]
        starting = [request_id for request_id in ids if request_id.startswith(prefix)]
        expected = exact or starting
        if not prefix or not expected:
            with pytest.raises(BadInputError):
                find_in_history(history, prefix)
        elif len(expected) > 1:
            with pytest.raises(BadInputError, match="more than one"):
                find_in_history(history, prefix)
        else:
            assert find_in_history(history, prefix)[0].id == expected[0]
        if prefix:
            selected = history_rows(history, Selection(filters=Filters(ids=(prefix,))))
            assert sorted(row.request.id for row in selected) == sorted(starting)


def test_pruned_requests_leave_no_id_behind_and_an_import_knows_unindexed_ones(tmp_path: Path) -> None:
    record_run([recorded(number, status_body(number)) for number in range(1, 6)])
    with History.open() as history:
        index_for_search(history)
        prune(history, keep=2)
        entries = [row[0] for row in history.conn.execute("SELECT id FROM request_ids ORDER BY seq")]
        assert entries == stored_ids() and len(entries) == 2
    record_run([recorded(9, status_body(9))])  # not indexed yet
    export = tmp_path / "export.jsonl"
    with History.open() as history:
        export.write_bytes(b"".join(export_lines(history, Selection())))
        found = import_recording(history, export)
    assert (found.added, found.known) == (0, 3)  # importing what the history holds adds nothing


def body_with(text: str, phone: str = "8801734363287") -> bytes:
    data = {"phone_number": phone, "last_message_of_user": text}
    return json.dumps({"event": "incoming_message", "data": data}).encode()


def searched(history: History, text: str) -> list[str]:
    return [row.request.id[:4] for row in history_rows(history, Selection(search=text))]


def test_search_is_full_text_over_bodies_and_is_indexed_behind_the_writes() -> None:
    record_run(
        [
            recorded(1, body_with("Hi\nmy order #4521 is late")),  # JSON writes the newline as \n
            recorded(2, body_with("thanks, café is fine", phone="447700900123")),
            recorded(3, status_body(3)),
        ]
    )
    with History.open() as history:
        assert indexed_through(history.conn) == 0  # the listener's commits do not index
        index_for_search(history)
        assert indexed_through(history.conn) == 3
        assert searched(history, "my order") == ["0001"]  # not "nmy"
        assert searched(history, "late 4521") == ["0001"]
        assert searched(history, "8801734363287") == ["0001"]
        assert searched(history, "4477*") == ["0002"]
        assert searched(history, "cafe") == ["0002"]  # diacritics folded
        assert searched(history, 'it"s AND "') == []  # the text is words, never query syntax
        assert searched(history, "wamid*") == ["0003"]


@settings(max_examples=80, deadline=None)
@given(text=st.text(st.characters(blacklist_categories=()), max_size=30))
def test_any_search_text_or_id_is_plain_text_never_an_error(text: str) -> None:
    """Whatever is typed (quotes, FTS5 operators, NUL, bytes that were not UTF-8) is words to look for."""
    with tempfile.TemporaryDirectory() as folder, History.open(Path(folder) / "h.sqlite3") as history:
        if text.replace("\x00", " ").split():
            assert list(history_rows(history, Selection(search=text))) == []
        else:
            with pytest.raises(BadInputError, match="--search needs some text"):
                list(history_rows(history, Selection(search=text)))
        with pytest.raises(BadInputError, match="id"):
            find_in_history(history, text)


def test_prune_by_age_by_count_and_by_size_keeps_the_index_consistent() -> None:
    old = datetime.now(UTC) - timedelta(days=40)
    aged = [recorded(i, body_with(f"old message {i}"), received_at=old.isoformat()) for i in range(1, 4)]
    fresh = [recorded(i, body_with(f"new message {i}")) for i in range(4, 10)]
    record_run(aged)
    record_run(fresh)
    with History.open() as history:
        index_for_search(history)
        result = prune(history, older_than=datetime.now(UTC) - timedelta(days=30))
        assert (result.requests, result.runs) == (3, 1)  # the emptied run goes too
        assert searched(history, "old") == []
        result = prune(history, keep=2)
        assert result.requests == 4 and [r.request.id[:4] for r in history_rows(history, Selection())] == [
            "0009",
            "0008",
        ]
        assert searched(history, "message") == ["0009", "0008"]
        history.conn.execute("INSERT INTO requests_fts (requests_fts) VALUES ('integrity-check')")
        assert enforce_cap(history, used_bytes(history) * 10) is None
        capped = prune(history, max_size=1)
        assert capped.requests == 2 and history.is_empty()


def test_importing_a_recording_twice_adds_nothing_and_forwards_come_with_their_request(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "rec.jsonl", hostile_requests(), forwards=True)
    with History.open() as history:
        first = import_recording(history, path)
        again = import_recording(history, path)
        assert (first.added, first.forwards, first.known) == (7, 7, 0)
        assert (again.added, again.forwards, again.known, again.run_id) == (0, 0, 7, None)
        assert [run.id for run in list_runs(history)] == [first.run_id]
        exported = b"".join(export_lines(history, Selection()))
    assert sorted(exported.splitlines()) == sorted(path.read_bytes().splitlines())


def test_old_recordings_in_the_data_dir_are_imported_once_on_first_use(isolated_dirs: Path) -> None:
    folder = isolated_dirs / "data" / "recordings"
    folder.mkdir(parents=True)
    write_recording(folder / "20260101T000000_000000Z.jsonl", [recorded(1, status_body(1))])
    (folder / "20260102T000000_000000Z.jsonl").write_bytes(b"")  # a start that failed: no run for it
    damaged = recorded(2, status_body(2)).to_json_line() + b'{"id": "cut off mid'
    (folder / "20260103T000000_000000Z.jsonl").write_bytes(damaged)
    listed = run_cli("events", "runs", "--json")
    assert listed.exit_code == 0, listed.stderr
    assert "imported 2 events from 2 earlier recordings" in listed.stderr
    assert [json.loads(line)["origin"].rsplit("/", 1)[1] for line in listed.stdout.splitlines()] == [
        "20260103T000000_000000Z.jsonl",
        "20260101T000000_000000Z.jsonl",
    ]
    write_recording(folder / "20260104T000000_000000Z.jsonl", [recorded(3, status_body(3))])
    again = run_cli("events", "list", "--json")
    assert "imported" not in again.stderr and len(again.stdout.splitlines()) == 2  # once only


def test_a_damaged_history_is_one_error_line_and_exit_7(tmp_path: Path) -> None:
    path = history_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database, just text that happens to sit here" * 100)
    for args in (["events", "list"], ["events", "runs"], ["events", "show", "ab12"], ["verify", "--id", "ab12"]):
        run = run_cli(*args)
        assert run.exit_code == 7, args
        lines = run.stderr.splitlines()
        assert lines[0].startswith("error: the history") and "damaged" in lines[0], run.stderr
        assert lines[1].startswith("hint: move it aside") and "Traceback" not in run.stderr


def test_a_truncated_history_is_one_error_line_and_exit_7() -> None:
    record_run([recorded(i, body_with("x" * 2000)) for i in range(300)])
    path = history_path()
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.truncate(size // 3)
    run = run_cli("events", "list", "--all", "--json")
    assert run.exit_code == 7 and "damaged" in run.stderr and "Traceback" not in run.stderr


def test_a_locked_history_is_a_clear_exit_7(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "BUSY_TIMEOUT_S", 0.2)
    record_run([recorded(1, status_body(1))])
    holder = sqlite3.connect(history_path(), isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("INSERT INTO meta (key, value) VALUES ('held', '1')")  # the lock is taken by a write
        for args in (["events", "list"], ["events", "prune", "--keep", "0"]):
            run = run_cli(*args)
            assert run.exit_code == 7, (args, run.stderr)
            assert "locked by another process" in run.stderr and "Traceback" not in run.stderr
    finally:
        holder.close()
    assert run_cli("events", "list").exit_code == 0


def test_a_data_dir_that_cannot_hold_the_history_is_a_clear_exit_7(isolated_dirs: Path) -> None:
    (isolated_dirs / "data").write_text("a file where the data dir should be")
    for args in (["events", "list"], ["events", "import", str(isolated_dirs / "nothing.jsonl")]):
        run = run_cli(*args)
        assert run.exit_code == 7 and "cannot use the history" in run.stderr, run.stderr
        assert "--no-history" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory anyway")
def test_a_read_only_data_dir_is_a_clear_exit_7() -> None:
    record_run([recorded(1, status_body(1))])
    folder = history_path().parent
    folder.chmod(0o500)
    try:
        run = run_cli("events", "import", str(folder / "absent.jsonl"))
        assert run.exit_code == 7 and "Traceback" not in run.stderr
    finally:
        folder.chmod(0o700)


# -- free-form lines ----------------------------------------------------------------------------------

_chars = st.characters(blacklist_categories=())  # surrogates included: what JSON's \udcxx escapes decode to
_text = st.text(_chars, max_size=12)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), _text)
_value = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3))
_request_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["request", "forward", "other"]), "id": _value, "received_at": _value},
    optional={
        name: _value
        for name in (
            "request_id",
            "method",
            "path",
            "query",
            "headers",
            "body",
            "body_encoding",
            "body_size",
            "body_omitted",
            "event_type",
            "signature",
            "response_status",
            "flags",
            "url",
            "status",
            "attempt",
            "latency_ms",
        )
    },
)
_line = st.one_of(_request_like.map(lambda raw: json.dumps(raw).encode()), st.binary(max_size=40))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_line, max_size=6), valid=st.lists(st.integers(0, 3), max_size=3))
def test_importing_free_form_lines_never_fails_and_what_it_keeps_exports_again(
    lines: list[bytes], valid: list[int]
) -> None:
    known = [recorded(number, status_body(number)).to_json_line() for number in valid]
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "free.jsonl"
        source.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in [*known, *lines]) + b"\n")
        with History.open(Path(folder) / "h.sqlite3") as history:
            first = import_recording(history, source)
            exported = b"".join(export_lines(history, Selection()))
            assert first.added >= len(set(valid))  # the well-formed lines are all in, whatever came around them
            assert import_recording(history, source).added == 0  # twice adds nothing
        copy = Path(folder) / "copy.jsonl"
        copy.write_bytes(exported)
        with History.open(Path(folder) / "h2.sqlite3") as again:
            assert import_recording(again, copy).added == first.added
            assert b"".join(export_lines(again, Selection())) == exported
    assert all(line in exported for line in known)


def test_ids_in_a_fresh_listen_history_are_recorded_in_order() -> None:
    with History.open() as history:
        recorder = RunRecorder(history)
        recorder.commit([(recorded(i, status_body(i)), "delivered") for i in range(3)], [])
    assert stored_ids() == [recorded(i, status_body(i)).id for i in range(3)]
    assert run_ids() == [1]
