"""A forward that cannot go out as given (a header aiohttp refuses) is reported, never queued, and does not mark
its target down: retrying the same bytes could only fail the same way, and the next event goes through."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from whatsable_cli.delivery.client import Deliverer
from whatsable_cli.delivery.results import UNSENDABLE, DeliveryResult
from whatsable_cli.listen.forwarder import Forwarder, ForwardJob, RetryPolicy


class Events:
    """What the forwarder reports (ForwardEvents), kept."""

    def __init__(self) -> None:
        self.down: list[str] = []
        self.up = asyncio.Event()
        self.redelivered_results: list[tuple[str, DeliveryResult]] = []

    def target_down(self, url: str, error: str) -> None:
        self.down.append(url)

    def target_up(self, url: str, redelivered: int) -> None:
        self.up.set()

    def redelivered(self, job: ForwardJob, result: DeliveryResult, attempt: int) -> None:
        self.redelivered_results.append((job.request_id, result))

    def queue_full(self, url: str, limit: int) -> None: ...

    def cancelled(self, job: ForwardJob, result: DeliveryResult) -> None: ...


async def test_a_refused_forward_is_not_queued_and_its_target_stays_up(aiohttp_server: Any) -> None:
    bodies: list[bytes] = []

    async def handler(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", handler)
    server = await aiohttp_server(app)
    url = str(server.make_url("/hook"))
    events = Events()
    async with Deliverer(timeout=5) as deliverer:
        forwarder = Forwarder(deliverer, events, queue_when_down=True)
        refused = await forwarder.start(ForwardJob(1, "id1", b"one", [("X-Raw", "caf\udce9")]), [url]).outcome()
        delivered = await forwarder.start(ForwardJob(2, "id2", b"two", []), [url]).outcome()
        undelivered = await forwarder.close(5)
    assert refused.queued_for == [] and refused.primary is not None
    assert refused.primary.result.error_code == UNSENDABLE
    assert delivered.primary is not None and delivered.primary.result.status == 200
    assert events.down == [] and undelivered == {}
    assert bodies == [b"two"]


async def test_a_queued_forward_refused_on_redelivery_is_reported_once_and_does_not_hold_the_queue() -> None:
    arrived: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
        body = await reader.readexactly(length)
        arrived.append(body)
        if len(arrived) > 1:  # the very first request gets no answer: the target is down
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    events = Events()
    async with Deliverer(timeout=5) as deliverer:
        forwarder = Forwarder(deliverer, events, queue_when_down=True, retry=RetryPolicy(initial=0.01))
        first = await forwarder.start(ForwardJob(1, "id1", b"first-try", []), [url]).outcome()
        # the target is down: these wait in its queue, in order, without a try of their own
        refused = await forwarder.start(ForwardJob(2, "id2", b"bad", [("X-A", "a\x00b")]), [url]).outcome()
        after = await forwarder.start(ForwardJob(3, "id3", b"after", []), [url]).outcome()
        assert first.queued_for == refused.queued_for == after.queued_for == [url]
        await asyncio.wait_for(events.up.wait(), 10)  # the queue drained
        undelivered = await forwarder.close(5)
    server.close()
    assert [request_id for request_id, _ in events.redelivered_results] == ["id1", "id2", "id3"]
    assert events.redelivered_results[1][1].error_code == UNSENDABLE
    assert arrived == [b"first-try", b"first-try", b"after"]  # the refused one never went out
    assert undelivered == {}
