"""Relays received requests to the developer's app(s): routes, fan-out, and an ordered queue while a target is down."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from whatsable_cli.delivery.http_rules import check_http_url
from whatsable_cli.delivery.results import CANCELLED, DeliveryResult
from whatsable_cli.errors import BadInputError

if TYPE_CHECKING:  # only types: settings and routes (listen_model) are checked without loading aiohttp
    from whatsable_cli.delivery.client import Deliverer, Delivery


CANCELLED_TEXT = "cancelled at shutdown"


def check_target_url(url: str) -> str:
    """A forward target must be an absolute http(s) URL (exit 7 otherwise)."""
    return check_http_url(
        url, "forward target", hint="write it in full, e.g. --forward-to http://localhost:3000/webhook"
    )


def parse_route(spec: str) -> tuple[str, str]:
    """`EVENT=URL` -> (event, url)."""
    event, sep, url = spec.partition("=")
    if not sep or not event.strip():
        raise BadInputError(
            f"malformed route {spec!r}",
            hint="write routes as --route EVENT=URL, e.g. --route incoming_message=http://localhost:3000/in",
            code="bad_route",
        )
    return event.strip(), check_target_url(url.strip())


@dataclass(frozen=True)
class Routing:
    """Which targets an event goes to: its routes if it has any, else every --forward-to target."""

    forward_to: tuple[str, ...] = ()
    routes: tuple[tuple[str, str], ...] = ()

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.forward_to, *(url for _, url in self.routes)]))

    def targets_for(self, kind: str, raw_event: str | None = None) -> tuple[str, ...]:
        if not self.routes:  # once per received request
            return self.forward_to
        routed = tuple(url for event, url in self.routes if event in (kind, raw_event))
        return routed or self.forward_to


@dataclass(slots=True)
class ForwardJob:
    """One received request on its way to the app: the exact bytes and the headers to send."""

    seq: int  # arrival order, which queued redeliveries keep
    request_id: str
    body: bytes
    headers: list[tuple[str, str]]
    query: str = ""  # the received query string, carried over to targets that have none of their own

    def url_for(self, target: str) -> str:
        return f"{target}?{self.query}" if self.query and "?" not in target else target


@dataclass(order=True, slots=True)
class _Queued:
    seq: int
    job: ForwardJob = field(compare=False)
    attempts: int = field(default=1, compare=False)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff between redelivery attempts to a target that is down."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0


class ForwardEvents(Protocol):
    """How the forwarder reports what happens in the background."""

    def target_down(self, url: str, error: str) -> None: ...

    def target_up(self, url: str, redelivered: int) -> None: ...

    def redelivered(self, job: ForwardJob, result: DeliveryResult, attempt: int) -> None: ...

    def queue_full(self, url: str, limit: int) -> None: ...

    def cancelled(self, job: ForwardJob, result: DeliveryResult) -> None:
        """A delivery still unanswered when the listener stopped (its result says so)."""


@dataclass
class _Target:
    url: str
    down: bool = False
    queue: list[_Queued] = field(default_factory=list)
    worker: asyncio.Task[None] | None = None
    redelivered: int = 0
    dropped: int = 0


@dataclass
class ForwardOutcome:
    deliveries: list[Delivery]  # the attempts made now, in target order
    queued_for: list[str]  # targets that were down: the job waits in their queue
    primary: Delivery | None = None  # the first target's attempt (None: queued)


@dataclass
class Forwarding:
    """One job's deliveries, under way to every target at once."""

    urls: Sequence[str]
    tasks: list[asyncio.Task[tuple[Delivery | None, bool]]]

    async def first(self) -> Delivery | None:
        """The first target's delivery as soon as it has one (relay mode answers with it)."""
        delivery, _ = await self.tasks[0]
        return delivery

    def done(self) -> bool:
        return all(task.done() for task in self.tasks)

    async def outcome(self) -> ForwardOutcome:
        """Every target's result, in the order of `urls`."""
        results = await asyncio.gather(*self.tasks)
        deliveries = [delivery for delivery, _ in results if delivery is not None]
        queued = [url for url, (_, was_queued) in zip(self.urls, results, strict=True) if was_queued]
        return ForwardOutcome(deliveries, queued, results[0][0])


class Forwarder:
    """Sends jobs to targets; with `queue_when_down`, a target that stops answering gets an ordered queue."""

    def __init__(
        self,
        deliverer: Deliverer,
        events: ForwardEvents,
        *,
        queue_when_down: bool,
        retry: RetryPolicy | None = None,
        queue_limit: int = 10_000,
    ) -> None:
        self._deliverer = deliverer
        self._events = events
        self._queue_when_down = queue_when_down
        self._retry = retry or RetryPolicy()
        self._queue_limit = queue_limit
        self._targets: dict[str, _Target] = {}
        self._closing = asyncio.Event()
        self._in_flight: set[asyncio.Task[tuple[Delivery | None, bool]]] = set()  # cancelled at close

    def _target(self, url: str) -> _Target:
        target = self._targets.get(url)
        if target is None:
            target = self._targets[url] = _Target(url)
        return target

    def start(self, job: ForwardJob, urls: Sequence[str]) -> Forwarding:
        """Start delivering to every target at once (a slow one does not hold the others up)."""
        tasks = [asyncio.ensure_future(self._to_target(job, url)) for url in urls]
        for task in tasks:
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return Forwarding(urls, tasks)

    async def _to_target(self, job: ForwardJob, url: str) -> tuple[Delivery | None, bool]:
        """(the attempt made now, or None; whether the job now waits in the target's queue)."""
        target = self._target(url)
        if self._queue_when_down and target.down:
            return None, self._enqueue(target, _Queued(job.seq, job, attempts=0))  # earlier events wait first
        try:
            delivery = await self._deliverer.deliver(job.url_for(url), job.body, job.headers)
        except asyncio.CancelledError:  # stopping (close(), or the server giving up on a relay request)
            self._events.cancelled(job, DeliveryResult(job.url_for(url), error=CANCELLED_TEXT, error_code=CANCELLED))
            raise
        queued = False
        if delivery.result.status is None and not delivery.refused:  # refused: not sent, the target is not down
            self._mark_down(target, delivery.result.error or "no answer")
            if self._queue_when_down:
                queued = self._enqueue(target, _Queued(job.seq, job, attempts=1))
        elif target.down and not target.queue:
            self._mark_up(target)
        return delivery, queued

    def _mark_down(self, target: _Target, error: str) -> None:
        if not target.down:
            target.down = True
            target.redelivered = 0
            self._events.target_down(target.url, error)

    def _mark_up(self, target: _Target) -> None:
        target.down = False
        self._events.target_up(target.url, target.redelivered)

    def _enqueue(self, target: _Target, entry: _Queued) -> bool:
        if len(target.queue) >= self._queue_limit:
            target.dropped += 1
            if target.dropped == 1:
                self._events.queue_full(target.url, self._queue_limit)
            return False
        heapq.heappush(target.queue, entry)
        if self._closing.is_set():  # stopping: it stays queued and is reported undelivered (no worker would
            return True  # outlive close(), and the outbound session it needs is closing)
        if target.worker is None or target.worker.done():
            target.worker = asyncio.create_task(self._redeliver(target))
        return True

    async def _pause(self, seconds: float) -> None:
        """Back off, but wake at once when the listener is stopping (one last try, then give up)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    async def _redeliver(self, target: _Target) -> None:
        """Drain the target's queue in arrival order once it answers again."""
        delay = self._retry.initial
        while target.queue:
            await self._pause(delay)
            while target.queue:
                entry = target.queue[0]
                job = entry.job
                delivery = await self._deliverer.deliver(job.url_for(target.url), job.body, job.headers)
                if delivery.result.status is None and not delivery.refused:  # refused: reported, never retried
                    delay = min(delay * self._retry.factor, self._retry.maximum)
                    break
                heapq.heappop(target.queue)
                entry.attempts += 1
                target.redelivered += 1
                self._events.redelivered(entry.job, delivery.result, entry.attempts)
            if self._closing.is_set() and target.queue:
                return
        self._mark_up(target)

    def pending(self) -> dict[str, int]:
        """Jobs still waiting per target (queued, plus dropped because a queue was full)."""
        return {t.url: len(t.queue) + t.dropped for t in self._targets.values() if t.queue or t.dropped}

    async def close(self, timeout: float) -> dict[str, int]:
        """Give each waiting target one more try (bounded), then stop; returns what is still undelivered.

        A first delivery still unanswered is cancelled, and reported through `cancelled` (so it is recorded)."""
        self._closing.set()
        workers = [t.worker for t in self._targets.values() if t.worker is not None and not t.worker.done()]
        if workers:
            _, still_running = await asyncio.wait(workers, timeout=timeout)
            for task in still_running:
                task.cancel()
            await asyncio.gather(*still_running, return_exceptions=True)
        unanswered = list(self._in_flight)  # first attempts the grace period was not enough for
        for attempt in unanswered:
            attempt.cancel()
        await asyncio.gather(*unanswered, return_exceptions=True)
        return self.pending()
