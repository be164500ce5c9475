"""The `listen` service: record -> parse -> verify -> forward -> answer, reporting to an observer (never prints)."""

from __future__ import annotations

import asyncio
import functools
import gc
import itertools
import random
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from whatsable_cli.delivery.client import Deliverer
from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.listen.exchange import Incoming, Reply
from whatsable_cli.listen.forwarder import Forwarder, ForwardEvents, Forwarding, ForwardJob
from whatsable_cli.listen.limits import accept_errors_as_warnings, raise_open_file_limit
from whatsable_cli.listen.model import (
    RESPOND_200,
    EventReport,
    ListenInfo,
    ListenObserver,
    ListenSettings,
    PublicUrlProvider,
)
from whatsable_cli.listen.recorder import Recorder
from whatsable_cli.listen.run_history import run_finished, run_history, run_ready
from whatsable_cli.listen.server import ServerSettings, start_server
from whatsable_cli.listen.stats import DuplicateTracker, RunSummary
from whatsable_cli.listen.triage import (
    Triage,
    forward_headers,
    received_reply,
    recording_failed_reply,
    relay_reply,
    triage,
    untriaged,
)
from whatsable_cli.recording.history import RunRecorder
from whatsable_cli.recording.jsonl import RecordingWriter
from whatsable_cli.recording.lines import ForwardRecord

__all__ = ["ListenService", "StoppedAtOnce", "run", "serve"]


class _UtcClock:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-25T12:00:00.123Z, as datetime's isoformat writes it.

    Once per request on the hot path: the date and time of day are formatted once per second, the whole
    value once per millisecond (a burst shares it), instead of a datetime per request.
    """

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""
        self._millisecond = -1
        self._value = ""

    def __call__(self) -> str:
        millisecond = int(time.time() * 1000)
        if millisecond != self._millisecond:
            second = millisecond // 1000
            if second != self._second:
                self._second, self._prefix = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._millisecond, self._value = millisecond, f"{self._prefix}.{millisecond % 1000:03d}Z"
        return self._value


_now_iso = _UtcClock()
_random_bits = random.Random().getrandbits  # its own instance: seeded from os.urandom, unaffected by random.seed()


class ListenService(ForwardEvents):
    """Handles each request in order: record it (before any answer), then forward and answer."""

    def __init__(
        self,
        settings: ListenSettings,
        observer: ListenObserver,
        writer: RecordingWriter | None,
        history: RunRecorder | None = None,
    ) -> None:
        self.settings = settings
        self.observer = observer
        self.summary = RunSummary(recording=settings.record_path, started_at=time.time())
        self.history = history
        self.recorder = Recorder(writer, history, self.summary, observer.warning)
        # The requests answered without a forward are counted and shown once the batch they joined is
        # written (never when it failed: they were answered 503): the batch being staged and its list.
        self._batch: asyncio.Future[bool] | None = None
        self._batch_shown: list[Triage] = []
        self._dupes = DuplicateTracker()
        self._seq = itertools.count()
        self._forwarder: Forwarder | None = None
        self._background: set[asyncio.Task[object]] = set()

    # -- the pipeline -------------------------------------------------------------------------------

    def handle(self, incoming: Incoming) -> Reply | Awaitable[Reply]:
        """An awaitable of the answer: given once the request is recorded, or once forwarded (relay)."""
        # Unique, not secret (it is in the answer): Python's generator, seeded from os.urandom, without a
        # getrandom syscall per request.
        request_id = _random_bits(64).to_bytes(8, "big").hex()
        try:
            found = triage(self.settings, incoming, request_id, _now_iso(), self._dupes)
        except Exception as exc:  # a bug while parsing must not lose the request: keep it raw
            found = self._untriaged(incoming, request_id, exc)
        written = self._stage(found)
        if not found.targets:  # answered once the batch it joined is written
            return self._once_written(written, found.reply or received_reply(request_id))
        headers = forward_headers(incoming, self.settings.extra_headers)
        job = ForwardJob(next(self._seq), request_id, incoming.body, headers, incoming.query)
        return self._forward_once_written(written, found, job)

    def _stage(self, found: Triage) -> asyncio.Future[bool]:
        """Stage the request for the next batch; the future says whether that batch was written."""
        written = self.recorder.stage(found.request, found.parsed.status)
        if not found.targets:
            if written is not self._batch:
                self._batch, self._batch_shown = written, []
                written.add_done_callback(functools.partial(self._written, self._batch_shown))
            self._batch_shown.append(found)
        return written

    @staticmethod
    async def _once_written(written: asyncio.Future[bool], reply: Reply) -> Reply:
        return reply if await written else recording_failed_reply()

    def _untriaged(self, incoming: Incoming, request_id: str, exc: Exception) -> Triage:
        found = untriaged(self.settings, incoming, request_id, _now_iso(), exc)
        self.observer.warning(f"could not parse request {request_id}: {type(exc).__name__}: {exc} (recorded raw)")
        return found

    def _written(self, staged: list[Triage], written: asyncio.Future[bool]) -> None:
        """A batch was written: its requests answered without a forward are counted and shown."""
        if not written.result():
            return
        try:
            for found in staged:
                self._count(found)
                self._report(found, found.reply.status if found.reply else 200, [], [])
        except Exception as exc:  # a display bug must not stop the listener; the answers are settled already
            self.observer.warning(f"after recording: {type(exc).__name__}: {exc}")

    async def _forward_once_written(self, written: asyncio.Future[bool], found: Triage, job: ForwardJob) -> Reply:
        """A request to forward is recorded before its forward starts; a failed write is answered 503."""
        if not await written:
            return recording_failed_reply()
        self._count(found)
        if found.shown:  # shown now: a slow app (a breakpoint in it) must not hide the event
            self.observer.received(EventReport(found.request, found.parsed, 200, found.duplicate, [], []))
        if self.settings.respond == RESPOND_200:
            self._in_background(self._forward(found, job, 200))
            return found.reply or received_reply(job.request_id)
        return await self._forward(found, job, None)

    def _count(self, found: Triage) -> None:
        summary = self.summary
        summary.events[found.parsed.kind] += 1
        flags = found.request.flags
        if flags:
            summary.duplicates += "duplicate" in flags
            summary.rejected += "rejected" in flags
            summary.other_path += "other_path" in flags or "other_method" in flags
            summary.too_large += "too_large" in flags
            summary.filtered += "filtered" in flags
        if found.request.signature is not None:
            summary.signatures[found.request.signature.result] += 1

    async def _forward(self, found: Triage, job: ForwardJob, answered: int | None) -> Reply:
        """Forward to the event's targets; relay mode answers with the first target's answer as soon as it
        has one (the other targets finish in the background); the results are recorded and reported."""
        assert self._forwarder is not None
        forwarding = self._forwarder.start(job, found.targets)
        if answered is not None:  # --respond 200: the sender has its answer; this runs in the background
            await self._complete(found, job, forwarding, answered)
            return received_reply(job.request_id)
        try:
            primary = await forwarding.first()
        except Exception as exc:  # never a 500 because of us
            self.observer.warning(f"forwarding {job.request_id} failed: {type(exc).__name__}: {exc}")
            primary = None
        reply = relay_reply(primary, job.request_id)
        if forwarding.done():
            await self._complete(found, job, forwarding, reply.status)
        else:
            self._in_background(self._complete(found, job, forwarding, reply.status))
        return reply

    async def _complete(self, found: Triage, job: ForwardJob, forwarding: Forwarding, status: int) -> None:
        """Once every target has answered (or the job is queued): record each result, then report."""
        try:
            outcome = await forwarding.outcome()
        except Exception as exc:
            self.observer.warning(f"forwarding {job.request_id} failed: {type(exc).__name__}: {exc}")
            self._report(found, status, [], [])
            return
        results = [delivery.result for delivery in outcome.deliveries]
        for result in results:
            self.recorder.stage(ForwardRecord(job.request_id, result, 1, _now_iso()))
            self.summary.count_forward(result)
        primary_body = outcome.primary.body if outcome.primary else b""
        self._report(found, status, results, outcome.queued_for, primary_body)

    def _in_background(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)  # kept until done: the loop holds tasks weakly; shutdown waits for them
        task.add_done_callback(self._background.discard)

    def _report(
        self, found: Triage, status: int, forwards: list[DeliveryResult], queued: list[str], body: bytes = b""
    ) -> None:
        if found.shown:
            report = EventReport(found.request, found.parsed, status, found.duplicate, forwards, queued, body)
            self.observer.event(report)

    # -- ForwardEvents: the forwarder's background news -----------------------------------------------

    def target_down(self, url: str, error: str) -> None:
        queued = " (events are queued and redelivered in order)" if self.settings.respond == RESPOND_200 else ""
        self.observer.warning(f"forward target {url} is down: {error}{queued}")

    def target_up(self, url: str, redelivered: int) -> None:
        extra = f", {redelivered} queued events redelivered" if redelivered else ""
        self.observer.warning(f"forward target {url} is answering again{extra}")

    def redelivered(self, job: ForwardJob, result: DeliveryResult, attempt: int) -> None:
        self.recorder.stage(ForwardRecord(job.request_id, result, attempt, _now_iso()))
        self.summary.redelivered += 1
        self.summary.count_forward(result)
        self.observer.redelivered(job.request_id, result, attempt)

    def cancelled(self, job: ForwardJob, result: DeliveryResult) -> None:
        self.recorder.stage(ForwardRecord(job.request_id, result, 1, _now_iso()))
        self.summary.forwards_cancelled += 1

    def queue_full(self, url: str, limit: int) -> None:
        self.observer.warning(
            f"the queue for {url} is full ({limit} events): newer events are only in the recording "
            "(re-send them with `whatsable replay`)"
        )

    # -- lifecycle -------------------------------------------------------------------------------------

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Open the outbound session while serving; on the way out, finish forwards within the grace period."""
        if not self.settings.routing.targets:
            yield
            return
        async with Deliverer(timeout=self.settings.forward_timeout, verify_tls=self.settings.verify_tls) as deliverer:
            self._forwarder = Forwarder(
                deliverer,
                self,
                queue_when_down=self.settings.respond == RESPOND_200,
                retry=self.settings.retry,
                queue_limit=self.settings.queue_limit,
            )
            try:
                yield
            finally:
                grace = self.settings.shutdown_grace
                if self._background:
                    await asyncio.wait(list(self._background), timeout=grace)
                self.summary.still_queued = await self._forwarder.close(grace)

    def health(self) -> dict[str, Any]:
        # No file paths here: through a tunnel this route is reachable from the internet.
        return {"events": self.summary.total, "uptime_s": round(time.time() - self.summary.started_at, 1)}


async def serve(
    settings: ListenSettings,
    observer: ListenObserver,
    stop: asyncio.Event,
    *,
    tunnel: PublicUrlProvider | None = None,
) -> RunSummary:
    """Listen until `stop` is set; then stop accepting, finish in-flight work (bounded) and return the summary.

    Raises BadInputError (exit 7) before listening when the recording or the port is unusable, and
    whatever the tunnel raises (TunnelError, exit 6) when it cannot open.
    """
    with run_history(settings, observer.warning) as history:
        writer = RecordingWriter(settings.record_path, fsync=settings.fsync) if settings.record_path else None
        try:
            service = ListenService(settings, observer, writer, history)
            try:
                with accept_errors_as_warnings(observer.warning):
                    async with service.lifespan():  # the outbound session is open before the first request
                        await _serve_until(service, settings, observer, stop, tunnel)
                await service.recorder.drain()  # the forward results recorded last
                _warn(observer, run_finished(history, service.summary))
            finally:
                service.recorder.close()
        finally:
            if writer is not None:
                writer.close()
    service.summary.duration_s = time.time() - service.summary.started_at
    observer.finished(service.summary)
    return service.summary


async def _serve_until(
    service: ListenService,
    settings: ListenSettings,
    observer: ListenObserver,
    stop: asyncio.Event,
    tunnel: PublicUrlProvider | None,
) -> None:
    server_settings = ServerSettings(settings.path, settings.max_body, settings.shutdown_grace)
    server, port = await start_server(service, server_settings, settings.host, settings.port, observer.warning)
    try:
        public_url = settings.public_url
        if tunnel is not None:
            public_url = await asyncio.to_thread(tunnel.open, port)
        inspector_url = getattr(tunnel, "inspector_url", None)  # optional on a PublicUrlProvider
        info = _info(settings, port, public_url, inspector_url)
        # the run is in the history once ready (before the banner says so): `events runs` shows it
        async with service.recorder.paused():
            _warn(observer, run_ready(service.history, info))
        observer.ready(info)
        await stop.wait()
        observer.stopping()
    finally:
        try:
            await server.close()  # stops accepting, finishes in-flight requests within the grace period
        finally:  # even when a second Ctrl-C cut that short: no ngrok agent is left behind
            if tunnel is not None:
                await asyncio.to_thread(tunnel.close)


def _warn(observer: ListenObserver, message: str | None) -> None:
    if message is not None:
        observer.warning(message)


def _info(settings: ListenSettings, port: int, public_url: str | None, inspector_url: str | None) -> ListenInfo:
    return ListenInfo(
        host=settings.host,
        port=port,
        path=settings.path,
        recording=settings.record_path,
        history=settings.history_path,
        secret_set=bool(settings.secret),
        scheme=settings.scheme,
        require_signature=settings.require_signature,
        routing=settings.routing,
        respond=settings.respond,
        event_filter=settings.event_filter,
        public_url=public_url,
        inspector_url=inspector_url,
    )


async def _serve_until_signalled(
    settings: ListenSettings, observer: ListenObserver, tunnel: PublicUrlProvider | None
) -> RunSummary:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    serving = asyncio.current_task()

    def on_signal() -> None:
        if not stop.is_set():
            stop.set()  # the first: stop accepting, finish what is in flight (bounded by the grace period)
        elif serving is not None:
            serving.cancel()  # another, while that drains: quit now (run() raises StoppedAtOnce)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        return await serve(settings, observer, stop, tunnel=tunnel)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


@contextmanager
def server_gc(young_threshold: int = 10_000) -> Iterator[None]:
    """Garbage collection tuned for a long-running server, restored afterwards.

    What is alive now (modules, the app) lives until exit: frozen, the collector stops walking it again
    and again. Requests free almost everything they allocate, yet the default young-generation threshold
    (700) ran a collection every ~60 requests, with events queued for the display promoted along. Under
    load that was ~8% of the listener's CPU; with these settings, well under 1%. Cycles are still collected.
    """
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(young_threshold, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


class StoppedAtOnce(Exception):
    """A second Ctrl-C (or SIGTERM) while the listener was finishing in-flight work: it quit without waiting."""


def run(settings: ListenSettings, observer: ListenObserver, *, tunnel: PublicUrlProvider | None = None) -> RunSummary:
    """Serve until Ctrl-C or SIGTERM (both a normal stop), in a fresh event loop; a second one while stopping
    raises StoppedAtOnce (what was recorded is kept)."""
    raise_open_file_limit()  # each connection holds a file descriptor
    with server_gc():
        try:
            return asyncio.run(_serve_until_signalled(settings, observer, tunnel))
        except asyncio.CancelledError:
            raise StoppedAtOnce from None
