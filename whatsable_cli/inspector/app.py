"""The inspector's aiohttp.web application: the page, its static files, and the JSON API over the history."""

from __future__ import annotations

import asyncio
import html
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from whatsable_cli.delivery.client import Deliverer
from whatsable_cli.errors import BadInputError
from whatsable_cli.inspector import event_query as eq
from whatsable_cli.inspector.actions import ReplayAsk, ReplayRefused, replay
from whatsable_cli.inspector.events_stream import stream_events
from whatsable_cli.inspector.history_view import HistoryReader
from whatsable_cli.inspector.model import InspectorSettings
from whatsable_cli.inspector.security import TOKEN, Handler, add_security_headers, guard, new_token
from whatsable_cli.inspector.views import curl_text, diff_json, event_json, replay_json, row_json, run_json
from whatsable_cli.recording.lines import ForwardRecord, RecordedRequest

STATIC = Path(__file__).resolve().parent / "static"

SETTINGS = web.AppKey("settings", InspectorSettings)
READER = web.AppKey("reader", HistoryReader)
DELIVERER = web.AppKey("deliverer", Deliverer)
CLOSING = web.AppKey("closing", asyncio.Event)
MAX_REQUEST_BYTES = 2 << 20  # an edited body to replay, as JSON
Found = tuple[RecordedRequest, int | None, list[ForwardRecord]]


def _json(value: Any, status: int = 200) -> web.Response:
    # ASCII-escaped: a header or path recorded with bytes that were not UTF-8 holds lone surrogates, which
    # only survive as \u escapes (the page shows them as replacement characters)
    return web.json_response(value, status=status)


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


def _query(request: web.Request) -> eq.EventQuery:
    try:
        return eq.parse_query(lambda name: request.query.getall(name, []))
    except eq.QueryError as exc:
        raise web.HTTPBadRequest(text=json.dumps({"error": str(exc)}), content_type="application/json") from None


def _secrets(request: web.Request) -> bool:
    """Signature values in full: only when the page asks and the user started the inspector with --show-secrets."""
    return request.app[SETTINGS].show_secrets and request.query.get("secrets") == "1"


async def index(request: web.Request) -> web.Response:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    page = page.replace("__TOKEN__", html.escape(request.app[TOKEN], quote=True))
    return web.Response(text=page, content_type="text/html", charset="utf-8")


async def config(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    return _json(
        {
            "show_secrets_allowed": settings.show_secrets,
            "can_resign": bool(settings.secret),
            "targets": list(settings.targets),
            "choices": {
                "event": eq.EVENT_CHOICES,
                "status": eq.STATUS_CHOICES,
                "signature": eq.VERDICT_CHOICES,
                "forward": eq.FORWARD_CHOICES,
            },
            "runs": [run_json(run) for run in await asyncio.to_thread(request.app[READER].runs)],
        }
    )


async def events(request: web.Request) -> web.Response:
    query = _query(request)
    reader = request.app[READER]
    tops = await asyncio.to_thread(reader.tops)  # before the page: what is newer comes on the stream
    rows = await asyncio.to_thread(reader.page, query)
    more = len(rows) == query.limit
    return _json(
        {
            "events": [row_json(row) for row in rows],
            "tops": {"seq": tops.seq, "forward": tops.forward},
            "next_before": rows[-1].seq if rows and more else None,
        }
    )


async def stream(request: web.Request) -> web.StreamResponse:
    app = request.app
    return await stream_events(request, _query(request), app[READER], app[CLOSING], app[SETTINGS].poll_interval)


async def _found(request: web.Request, name: str = "id") -> Found:
    wanted = request.match_info.get(name) or request.query.get(name, "")
    found = await asyncio.to_thread(request.app[READER].event, wanted)
    if found is None:
        raise web.HTTPNotFound(
            text=json.dumps({"error": f"no event {wanted[:40]!r} in the history"}), content_type="application/json"
        )
    return found


@web.middleware
async def _history_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A damaged or locked history is a 503 with the reason, not a 500."""
    try:
        return await handler(request)
    except sqlite3.Error as exc:
        return _error(503, f"cannot read the history: {exc}")


async def event(request: web.Request) -> web.Response:
    tops = await asyncio.to_thread(request.app[READER].tops)  # before the event: a later forward comes on the stream
    recorded, run, forwards = await _found(request)
    settings = request.app[SETTINGS]
    replays = await asyncio.to_thread(request.app[READER].replays, recorded.id)
    shown = event_json(recorded, run, forwards, show_secrets=_secrets(request), targets=settings.targets)
    shown["replays"] = [replay_json(record) for record in replays]
    shown["can_resign"] = bool(settings.secret)
    shown["tops"] = {"seq": tops.seq, "forward": tops.forward}
    return _json(shown)


async def curl(request: web.Request) -> web.Response:
    recorded, _, _ = await _found(request)
    url = request.query.get("url") or None
    return _json({"curl": curl_text(recorded, url, show_secrets=_secrets(request))})


async def replay_event(request: web.Request) -> web.Response:
    recorded, _, _ = await _found(request)
    try:
        ask = ReplayAsk.from_json(await request.json())
    except ValueError as exc:  # ReplayRefused, or not JSON at all
        return _error(400, str(exc) if isinstance(exc, ReplayRefused) else "send a JSON object: {url, resign, body}")
    try:
        result, kept = await replay(request.app[DELIVERER], recorded, ask, request.app[SETTINGS])
    except ReplayRefused as exc:
        return _error(400, str(exc))
    result["at"], result["not_kept"] = kept.at, None
    try:
        await asyncio.to_thread(request.app[READER].add_replay, kept)
    except (sqlite3.Error, BadInputError) as exc:  # sent and answered all the same: the page says so
        result["not_kept"] = f"not kept in the history: {exc}"
    return _json(result)


async def diff(request: web.Request) -> web.Response:
    left, _, _ = await _found(request, "a")
    right, _, _ = await _found(request, "b")
    return _json(diff_json(left, right, show_secrets=_secrets(request)))


async def runs(request: web.Request) -> web.Response:
    return _json({"runs": [run_json(run) for run in await asyncio.to_thread(request.app[READER].runs)]})


async def latencies(request: web.Request) -> web.Response:
    run_id = request.match_info["run"]
    if not run_id.isdigit():
        return _error(400, "a run is a number")
    points = await asyncio.to_thread(request.app[READER].latencies, int(run_id))
    return _json({"run": int(run_id), "points": [vars(point) for point in points]})


async def _resources(app: web.Application) -> AsyncIterator[None]:
    """The history reader and the replay session, open while the application runs."""
    settings = app[SETTINGS]
    reader = HistoryReader(settings.history_path)
    app[READER] = reader
    async with Deliverer(timeout=settings.replay_timeout, verify_tls=settings.verify_tls) as deliverer:
        app[DELIVERER] = deliverer
        try:
            yield
        finally:
            reader.close()


async def _closing(app: web.Application) -> None:
    app[CLOSING].set()  # live streams end now, so stopping does not wait for the browser to hang up


def create_app(settings: InspectorSettings, *, token: str | None = None) -> web.Application:
    """The inspector, reading `settings.history_path`; `token` is the per-run secret its page's actions carry."""
    chosen = token or new_token()
    app = web.Application(middlewares=[guard, _history_errors], client_max_size=MAX_REQUEST_BYTES)
    app[SETTINGS] = settings
    app[TOKEN] = chosen
    app[CLOSING] = asyncio.Event()
    app.cleanup_ctx.append(_resources)
    app.on_shutdown.append(_closing)
    app.on_response_prepare.append(add_security_headers)
    app.router.add_get("/", index)
    app.router.add_get("/api/config", config)
    app.router.add_get("/api/events", events)
    app.router.add_get("/api/stream", stream)
    app.router.add_get("/api/events/{id}", event)
    app.router.add_get("/api/events/{id}/curl", curl)
    app.router.add_post("/api/events/{id}/replay", replay_event)
    app.router.add_get("/api/diff", diff)
    app.router.add_get("/api/runs", runs)
    app.router.add_get("/api/runs/{run}/latencies", latencies)
    app.router.add_static("/static/", STATIC, append_version=False)
    return app
