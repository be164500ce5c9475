"""The live list: server-sent events for requests the history gains, and for earlier ones whose forwards arrive.

The listener writes the history from another connection (often another process), so the stream polls it
by its insertion order: a cheap look at the newest request and forward every short interval, a query only
when one of them moved. An `id:` on each message lets the browser's EventSource resume where it was.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from whatsable_cli.inspector.event_query import EventQuery
from whatsable_cli.inspector.history_view import HistoryReader, Tops
from whatsable_cli.inspector.views import row_json

KEEPALIVE_S = 15.0  # a comment line this often: proxies and the browser keep an idle stream open
RETRY_MS = 1000  # how soon the browser reconnects after the stream broke


def resume_point(request: web.Request) -> Tops:
    """Where the page is: `Last-Event-ID` on a reconnect, else the `after_seq` and `after_forward` it was given."""
    last = request.headers.get("Last-Event-ID", "")
    seq, _, forward = last.partition(".")
    if not (seq.isdigit() and forward.isdigit()):
        seq, forward = request.query.get("after_seq", "0"), request.query.get("after_forward", "0")
    return Tops(int(seq) if seq.isdigit() else 0, int(forward) if forward.isdigit() else 0)


def message(kind: str, data: Any, event_id: str | None = None) -> bytes:
    lines = [f"event: {kind}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    # json.dumps escapes line breaks inside strings, so the data is one line as the format needs; ASCII, so
    # text holding bytes that were not UTF-8 (lone surrogates) goes out as escapes
    lines.append("data: " + json.dumps(data))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


async def stream_events(
    request: web.Request, query: EventQuery, reader: HistoryReader, closing: asyncio.Event, interval: float
) -> web.StreamResponse:
    """Send each new matching row as it is recorded, until the page goes away or the inspector stops."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    await response.prepare(request)
    seen = resume_point(request)
    idle = 0.0
    try:
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        while not closing.is_set():
            now = await asyncio.to_thread(reader.tops)
            if now != seen:
                added, updated = await asyncio.to_thread(reader.newer, query, seen, now)
                mark = f"{now.seq}.{now.forward}"
                batch = [("added", row) for row in added] + [("updated", row) for row in updated]
                for index, (kind, row) in enumerate(batch):
                    await response.write(message(kind, row_json(row), mark if index == len(batch) - 1 else None))
                if not batch:
                    await response.write(message("seen", {"seq": now.seq, "forward": now.forward}, mark))
                seen, idle = now, 0.0
            elif idle >= KEEPALIVE_S:
                await response.write(b": keep-alive\n\n")
                idle = 0.0
            try:
                await asyncio.wait_for(closing.wait(), interval)
            except TimeoutError:
                idle += interval
    except ConnectionResetError:  # the page was closed or reloaded
        pass
    return response
