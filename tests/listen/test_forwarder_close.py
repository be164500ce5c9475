"""The forwarder's stop: what fails while it is stopping stays queued and reported, nothing starts anew."""

from __future__ import annotations

import asyncio

from whatsable_cli.delivery.client import Deliverer
from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.listen.forwarder import Forwarder, ForwardJob, RetryPolicy

DEADLINE = 10.0


class HangingUp:
    """A real loopback target that takes each request, then hangs up without an answer once released."""

    def __init__(self) -> None:
        self.requests = 0
        self.release = asyncio.Event()
        self._arrived = asyncio.Condition()
        self.url = ""

    async def start(self) -> HangingUp:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        async with self._arrived:
            self.requests += 1
            self._arrived.notify_all()
        await self.release.wait()
        writer.close()

    async def wait_for_requests(self, count: int) -> None:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: self.requests >= count), DEADLINE)


class Events:
    """What the forwarder reports (ForwardEvents)."""

    def target_down(self, url: str, error: str) -> None: ...

    def target_up(self, url: str, redelivered: int) -> None: ...

    def redelivered(self, job: ForwardJob, result: DeliveryResult, attempt: int) -> None: ...

    def queue_full(self, url: str, limit: int) -> None: ...

    def cancelled(self, job: ForwardJob, result: DeliveryResult) -> None: ...


def job(seq: int) -> ForwardJob:
    return ForwardJob(seq, f"id{seq}", b'{"event":"message_status"}', [("Content-Type", "application/json")])


async def test_a_first_attempt_failing_while_stopping_stays_queued_and_starts_no_new_redelivery() -> None:
    down, failing = await HangingUp().start(), await HangingUp().start()
    down.release.set()  # its first request fails at once: it is down, with a redelivery worker
    async with Deliverer(timeout=DEADLINE) as deliverer:
        forwarder = Forwarder(deliverer, Events(), queue_when_down=True, retry=RetryPolicy(initial=0.01))
        assert (await forwarder.start(job(1), [down.url]).outcome()).queued_for == [down.url]
        down.release.clear()
        await down.wait_for_requests(2)  # the worker's retry, held: stopping will wait for it
        in_flight = forwarder.start(job(2), [failing.url])
        await failing.wait_for_requests(1)
        stopping = asyncio.create_task(forwarder.close(DEADLINE))
        await asyncio.sleep(0)  # one loop pass: close() has begun and waits on the down target's worker
        failing.release.set()  # the first attempt fails now, while stopping
        assert (await in_flight.outcome()).queued_for == [failing.url]
        down.release.set()
        undelivered = await asyncio.wait_for(stopping, DEADLINE)
        workers = [target.worker for target in forwarder._targets.values()]
    assert undelivered == {down.url: 1, failing.url: 1}  # reported as undelivered (re-send with replay)
    assert all(worker is None or worker.done() for worker in workers)  # nothing left to use a closed session
    assert failing.requests == 1
