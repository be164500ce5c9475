"""The inspector's JSON API over a real history: list, filters, search, one event, diff, runs, the live stream."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from importlib.resources import files
from pathlib import Path

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.inspector_helpers import (
    SIGNATURE,
    forward,
    inspector_settings,
    live_setup,
    record,
    request,
    running_inspector,
)
from tests.support.listen_helpers import fixture_bytes
from whatsable_cli.inspector.event_query import EventQuery, QueryError, parse_query
from whatsable_cli.inspector.events_stream import resume_point
from whatsable_cli.inspector.history_view import HistoryReader
from whatsable_cli.render.text import SHORT_ID
from whatsable_cli.webhooks.events import SignatureCheck


def _history(tmp_path: Path) -> Path:
    path = tmp_path / "history.sqlite3"
    record(
        path,
        (
            request("a1", "message_status/delivered", at="2026-11-25T12:00:00.000Z"),
            [forward("a1", "http://127.0.0.1:3000/hooks", 200, 4.5)],
        ),
        (
            request("b2", "message_status/read", signature=SignatureCheck("failed", "whatsable-hmac", "mismatch")),
            [forward("b2", "http://127.0.0.1:3000/hooks", None, 1.0)],
        ),
        (request("c3", "incoming_message/text", at="2026-11-25T12:00:02.000Z"), []),
    )
    return path


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, object]]:
    async with session.get(url) as response:
        return response.status, await response.json()


async def test_the_list_is_newest_first_and_each_filter_narrows_it(tmp_path: Path) -> None:
    history = _history(tmp_path)
    async with running_inspector(inspector_settings(history)) as inspector, aiohttp.ClientSession() as session:

        async def ids(query: str) -> list[str]:
            status, page = await _get(session, f"{inspector.url}api/events{query}")
            assert status == 200, page
            return [str(row["id"]) for row in page["events"]]  # type: ignore[attr-defined]

        assert await ids("") == ["c3", "b2", "a1"]
        assert await ids("?event=message_status") == ["b2", "a1"]
        assert await ids("?status=read") == ["b2"]
        assert await ids("?signature=failed") == ["b2"]
        assert await ids("?forward=ok") == ["a1"]
        assert await ids("?forward=failed") == ["b2"]
        assert await ids("?forward=none") == ["c3"]
        assert await ids("?q=4521") == ["c3"]  # a word of the chat inside last_messages
        assert await ids("?q=4521&event=message_status") == []
        assert await ids("?run=1&limit=2") == ["c3", "b2"]
        assert await ids("?before=3") == ["b2", "a1"]
        status, page = await _get(session, f"{inspector.url}api/events?signature=maybe")
        assert status == 400 and "unknown signature 'maybe'" in str(page["error"])


async def test_an_event_page_has_chat_verdict_forwards_and_redacted_headers(tmp_path: Path) -> None:
    history = _history(tmp_path)
    async with running_inspector(inspector_settings(history)) as inspector, aiohttp.ClientSession() as session:
        status, shown = await _get(session, f"{inspector.url}api/events/c3")
        assert status == 200
        assert [(m["from"], m["text"]) for m in shown["chat"]] == [  # type: ignore[attr-defined]
            ("bot", "Hi there! How can we help you today?"),
            ("user", "Hello! Is my order #4521 shipped yet?"),
        ]
        assert shown["body_kind"] == "json" and '\n  "event": "incoming_message"' in str(shown["body"])
        assert ["X-Webhook-Signature", SIGNATURE] not in shown["headers"]  # type: ignore[operator]
        assert shown["redacted"] is True and SIGNATURE not in json.dumps(shown)
        _, failed = await _get(session, f"{inspector.url}api/events/b2")
        assert failed["signature"] == {
            "result": "failed",
            "scheme": "whatsable-hmac",
            "reason": "mismatch",
            "detail": None,
        }
        assert failed["forwards"][0]["error_code"] == "refused"  # type: ignore[index]
        _, ok = await _get(session, f"{inspector.url}api/events/a1")
        assert ok["forwards"][0]["answer"] == '{"ok":true}' and ok["forwards"][0]["latency_ms"] == 4.5  # type: ignore[index]
        missing, _ = await _get(session, f"{inspector.url}api/events/nope")
        assert missing == 404


async def test_signature_values_need_show_secrets_and_the_page_asking(tmp_path: Path) -> None:
    history = _history(tmp_path)
    async with running_inspector(inspector_settings(history)) as inspector, aiohttp.ClientSession() as session:
        _, asked = await _get(session, f"{inspector.url}api/events/a1?secrets=1")
        assert SIGNATURE not in json.dumps(asked)  # asked, but the user did not start it with --show-secrets
        _, curl = await _get(session, f"{inspector.url}api/events/a1/curl?url=http://127.0.0.1:9/x&secrets=1")
        assert SIGNATURE not in str(curl["curl"]) and "'http://127.0.0.1:9/x'" in str(curl["curl"])
    async with (
        running_inspector(inspector_settings(history, show_secrets=True)) as inspector,
        aiohttp.ClientSession() as session,
    ):
        _, unasked = await _get(session, f"{inspector.url}api/events/a1")
        assert SIGNATURE not in json.dumps(unasked)
        _, asked = await _get(session, f"{inspector.url}api/events/a1?secrets=1")
        assert ["X-Webhook-Signature", SIGNATURE] in asked["headers"]  # type: ignore[operator]
        _, curl = await _get(session, f"{inspector.url}api/events/a1/curl?secrets=1")
        assert SIGNATURE in str(curl["curl"])


async def test_diff_shows_the_changed_lines_of_bodies_and_headers(tmp_path: Path) -> None:
    history = _history(tmp_path)
    async with running_inspector(inspector_settings(history)) as inspector, aiohttp.ClientSession() as session:
        status, diff = await _get(session, f"{inspector.url}api/diff?a=a1&b=b2")
        assert status == 200
        body = diff["body"]["lines"]  # type: ignore[index]
        assert '-    "status": "delivered",' in body and '+    "status": "read",' in body
        assert diff["headers"]["same"] is True  # type: ignore[index]
        _, same = await _get(session, f"{inspector.url}api/diff?a=a1&b=a1")
        assert same["body"]["same"] is True  # type: ignore[index]


async def test_runs_and_a_runs_forward_latencies(tmp_path: Path) -> None:
    history = _history(tmp_path)
    async with running_inspector(inspector_settings(history)) as inspector, aiohttp.ClientSession() as session:
        _, runs = await _get(session, f"{inspector.url}api/runs")
        assert [(r["id"], r["events"], r["forwards_ok"], r["forwards_failed"]) for r in runs["runs"]] == [(1, 3, 1, 1)]  # type: ignore[attr-defined]
        _, points = await _get(session, f"{inspector.url}api/runs/1/latencies")
        assert [(p["request_id"], p["ok"], p["latency_ms"]) for p in points["points"]] == [  # type: ignore[attr-defined]
            ("a1", True, 4.5),
            ("b2", False, 1.0),
        ]


async def test_no_history_yet_is_an_empty_list_and_a_damaged_one_is_503(tmp_path: Path) -> None:
    async with (
        running_inspector(inspector_settings(tmp_path / "none.sqlite3")) as inspector,
        aiohttp.ClientSession() as session,
    ):
        status, page = await _get(session, f"{inspector.url}api/events")
        assert status == 200 and page["events"] == []
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"this is not a database at all" * 100)
    async with running_inspector(inspector_settings(broken)) as inspector, aiohttp.ClientSession() as session:
        status, page = await _get(session, f"{inspector.url}api/events")
        assert status == 503 and "cannot read the history" in str(page["error"])


async def _read_stream(response: aiohttp.ClientResponse, kind: str) -> dict[str, object]:
    """The data of the next message of this kind on an event stream."""
    current = None
    async for raw in response.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            current = line.removeprefix("event: ")
        elif line.startswith("data: ") and current == kind:
            return dict(json.loads(line.removeprefix("data: ")))
    raise AssertionError(f"the stream ended before an {kind!r} message")


async def test_the_stream_sends_new_matching_events_and_later_forwards(tmp_path: Path) -> None:
    async with live_setup(tmp_path) as setup, aiohttp.ClientSession() as session:
        stream_url = f"{setup.inspector.url}api/stream?event=incoming_message&after_seq=0&after_forward=0"
        async with session.get(stream_url, timeout=aiohttp.ClientTimeout(total=20)) as response:
            assert response.headers["Content-Type"].startswith("text/event-stream")
            await setup.send(fixture_bytes("message_status/delivered"))  # filtered out
            sent = await setup.send(fixture_bytes("incoming_message/text"))
            added = await asyncio.wait_for(_read_stream(response, "added"), 20)
        assert added["id"] == sent and added["event"] == "incoming_message"
        forwarded = added["forward"] or {}
        assert isinstance(forwarded, dict) and forwarded.get("status") == 200  # relay mode: forwarded before answered


def test_resume_point_reads_last_event_id_first() -> None:
    from aiohttp.test_utils import make_mocked_request

    resumed = make_mocked_request("GET", "/api/stream?after_seq=3&after_forward=1", headers={"Last-Event-ID": "9.4"})
    assert (resume_point(resumed).seq, resume_point(resumed).forward) == (9, 4)
    fresh = make_mocked_request("GET", "/api/stream?after_seq=3&after_forward=1")
    assert (resume_point(fresh).seq, resume_point(fresh).forward) == (3, 1)
    garbage = make_mocked_request("GET", "/api/stream?after_seq=x", headers={"Last-Event-ID": "a.b"})
    assert (resume_point(garbage).seq, resume_point(garbage).forward) == (0, 0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from(["event", "status", "signature", "forward", "run", "q", "before", "limit", "x"]),
        st.lists(st.text(max_size=30), max_size=3),
    )
)
def test_any_query_is_a_query_or_a_query_error(params: dict[str, list[str]]) -> None:
    try:
        query = parse_query(lambda name: params.get(name, []))
    except QueryError:
        return
    assert isinstance(query, EventQuery) and 1 <= query.limit <= 500


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(search=st.text(min_size=1, max_size=40).filter(str.strip))
def test_any_search_text_runs_as_a_search(tmp_path_factory: pytest.TempPathFactory, search: str) -> None:
    path = tmp_path_factory.getbasetemp() / "search.sqlite3"
    if not path.exists():
        record(path, (request("s1", "incoming_message/text"), []))
    reader = HistoryReader(path)
    try:
        reader.page(EventQuery(search=search))  # quoted for FTS5: never a syntax error
    finally:
        reader.close()


async def test_bodies_that_are_not_text_or_not_kept_are_shown_for_what_they_are(tmp_path: Path) -> None:
    binary = b"\xff\xfe\x00 not UTF-8"
    omitted = request("om", "incoming_message/text", body=b"")
    omitted.body_omitted, omitted.body_size = True, 5 << 20
    path = tmp_path / "history.sqlite3"
    odd = [("Content-Type", "application/json"), ("X-Odd", "caf\udce9"), ("X-Webhook-Signature", SIGNATURE)]
    record(path, (request("bin", "incoming_message/text", body=binary, headers=odd), []), (omitted, []))
    async with running_inspector(inspector_settings(path)) as inspector, aiohttp.ClientSession() as session:
        _, shown = await _get(session, f"{inspector.url}api/events/bin")
        assert shown["body_kind"] == "base64" and shown["raw_body"] is None  # not editable as text
        assert base64.b64decode(str(shown["body"])) == binary
        assert "\\377\\376\\000" in str(shown["curl"])  # printf escapes: the exact bytes
        assert ["X-Odd", "caf\udce9"] in shown["headers"]  # type: ignore[operator]
        _, kept = await _get(session, f"{inspector.url}api/events/om")
        assert kept["body_kind"] == "omitted" and "5242880 bytes" in str(kept["body"])
        status, diff = await _get(session, f"{inspector.url}api/diff?a=bin&b=om")
        assert status == 200 and diff["body"]["same"] is False  # type: ignore[index]


def test_the_page_shows_ids_as_long_as_the_terminal_does() -> None:
    script = files("whatsable_cli.inspector").joinpath("static/app.js").read_text(encoding="utf-8")
    found = re.search(r"^const SHORT_ID = (\d+);$", script, re.MULTILINE)
    assert found is not None and int(found.group(1)) == SHORT_ID
