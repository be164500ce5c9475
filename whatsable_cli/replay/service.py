"""The replay service: N workers pull items from one stream and deliver them over one session."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from whatsable_cli.delivery.client import Deliverer
from whatsable_cli.delivery.http_rules import check_http_url
from whatsable_cli.delivery.results import UNSENDABLE, DeliveryResult
from whatsable_cli.errors import BadInputError, ExitCode, outcome_exit_code
from whatsable_cli.recording.query import Filters, accepts, take_last
from whatsable_cli.replay.read_ahead import ReadAhead
from whatsable_cli.replay.request import WARNING_TEXT, PreparedRequest, SigningPlan, prepare
from whatsable_cli.replay.sources import ReplayItem
from whatsable_cli.replay.stats import Pacer, ReplaySummary, StatusExpectation

Job = tuple[int, PreparedRequest]  # a prepared request and its place in the stream


@dataclass(frozen=True)
class ReplaySettings:
    """Everything a replay run needs besides its items."""

    url: str
    signing: SigningPlan = field(default_factory=SigningPlan)
    sets: tuple[str, ...] = ()
    filters: Filters = field(default_factory=Filters)
    concurrency: int = 1
    rate: float | None = None  # requests per second
    timeout: float = 10.0
    expect: StatusExpectation = field(default_factory=StatusExpectation)
    dry_run: bool = False
    stop_on_failure: bool = False

    def __post_init__(self) -> None:
        check_http_url(self.url, "--to", hint="e.g. --to http://localhost:3000/webhook")
        if self.concurrency < 1:
            raise BadInputError(
                f"--concurrency must be at least 1, not {self.concurrency}",
                hint="e.g. -c 8",
                code="invalid_concurrency",
            )
        if self.timeout <= 0:
            raise BadInputError(
                f"--timeout must be positive, not {self.timeout}", hint="e.g. --timeout 10", code="invalid_timeout"
            )


@dataclass(slots=True)
class ReplayOutcome:
    """One item's fate: what was sent, the answer (None in a dry run), and when it was planned and sent."""

    index: int
    request: PreparedRequest
    result: DeliveryResult | None
    passed: bool
    planned_at: float | None  # the pacer's slot (monotonic seconds), when --rate is set
    sent_at: float  # monotonic seconds


class ReplayObserver(Protocol):
    """How the service reports; the renderer implements it (the service never prints)."""

    def on_warning(self, message: str) -> None: ...

    def on_outcome(self, outcome: ReplayOutcome) -> None: ...


def exit_code(summary: ReplaySummary) -> ExitCode:
    """130 when interrupted, else the rule every sending command shares (errors.outcome_exit_code)."""
    if summary.interrupted:
        return ExitCode.INTERRUPTED
    return outcome_exit_code(failed=summary.failed, unreachable=summary.unreachable)


def _accepts_item(filters: Filters, item: ReplayItem) -> bool:
    body = item.body
    return accepts(
        filters,
        request_id=item.request_id,
        received_at=item.received_at,
        event_type=item.event_type,
        body=lambda: body,
    )


def select(items: Iterable[ReplayItem], filters: Filters) -> Iterable[ReplayItem]:
    """The items that pass the filters (`--last N` keeps a bounded deque of N)."""
    if filters == Filters():
        return items  # no filter: no per-item check at all
    return take_last((item for item in items if _accepts_item(filters, item)), filters.last)


class ReplayRun:
    """One run: workers pull items from one stream, pace, deliver and report each outcome."""

    def __init__(
        self, settings: ReplaySettings, observer: ReplayObserver, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.observer = observer
        self.summary = ReplaySummary(dry_run=settings.dry_run)
        self._monotonic = monotonic
        self._pacer = Pacer(settings.rate) if settings.rate else None
        self._stop = False
        self._warned: set[str] = set()
        self._failure: Exception | None = None
        self._unmatched_ids = set(settings.filters.ids)  # --id values no selected request has matched yet

    async def run(
        self, items: Iterable[ReplayItem], *, stop_reading: Callable[[], None] | None = None
    ) -> ReplaySummary:
        """`stop_reading` given: reading the items may wait (a live stdin), so they are read on a thread, not the
        loop, and the run calls it (it must end a read that waits) before it returns."""
        started = self._monotonic()
        if self.settings.dry_run:
            for index, prepared in enumerate(self._prepared(items)):
                self._report(index, prepared, None, None, self._monotonic())
        else:
            await self._deliver_all(items, stop_reading)
        self.summary.elapsed_s = self._monotonic() - started
        if self._unmatched_ids and not self._stop:  # every item was read: these ids are in none of them
            self._report_unmatched_ids()
        return self.summary

    def _report_unmatched_ids(self) -> None:
        """A typo in --id is named: a warning, or bad input (exit 7) when it left nothing to replay at all."""
        names = ", ".join(prefix for prefix in self.settings.filters.ids if prefix in self._unmatched_ids)
        if self.summary.selected == 0:
            raise BadInputError(
                f"--id matched no request: {names}; nothing to replay",
                hint="list the recorded ids with `whatsable events list` (--record PATH for another recording)",
                code="unknown_id",
            )
        self.observer.on_warning(f"--id matched no request: {names}")

    def _prepared(self, items: Iterable[ReplayItem]) -> Iterable[PreparedRequest]:
        for item in select(items, self.settings.filters):
            if self._stop:
                break  # --stop-on-failure: read no further
            self.summary.selected += 1
            if self._unmatched_ids and item.request_id is not None:
                self._unmatched_ids -= {prefix for prefix in self._unmatched_ids if item.request_id.startswith(prefix)}
            if item.skip_reason is not None:
                self.summary.skipped += 1
                self.observer.on_warning(f"{item.skip_reason}; skipped")
                continue
            try:
                prepared = prepare(item, self.settings.sets, self.settings.signing)
            except BadInputError as err:
                self.summary.skipped += 1
                self.observer.on_warning(f"{err.message}; skipped")
                continue
            if prepared.warning is not None:
                self._signature_warning(prepared.warning)
            yield prepared

    def _signature_warning(self, kind: str) -> None:
        self.summary.signature_warnings[kind] += 1
        if kind not in self._warned:  # once per kind; the summary carries the count
            self._warned.add(kind)
            self.observer.on_warning(WARNING_TEXT[kind])

    async def _deliver_all(self, items: Iterable[ReplayItem], stop_reading: Callable[[], None] | None) -> None:
        # A fixed pool of workers pulls from one shared iterator: each reads its next item only when it is free,
        # so nothing is read ahead of the in-flight requests (bounded memory) and no queue hand-off per request.
        # Sharing is safe: next() is synchronous, so no two workers are ever inside the generator at once.
        # Reads that may wait (a live stdin) go to a thread instead, a few items ahead, so the loop never waits;
        # that thread is stopped and joined before the run returns, however it ends (Ctrl-C included).
        jobs = enumerate(self._prepared(items))
        reader: ReadAhead[Job] | None = None
        pull: Callable[[], Awaitable[Job | None]]
        if stop_reading is not None:
            reader = ReadAhead(jobs, ahead=self.settings.concurrency, stop_reading=stop_reading)
            pull = reader.next
        else:

            async def pull() -> Job | None:
                return next(jobs, None)

        try:
            await self._deliver_pulled(pull)
        finally:
            if reader is not None:
                reader.close()
        if self._failure is not None:
            raise self._failure

    async def _deliver_pulled(self, pull: Callable[[], Awaitable[Job | None]]) -> None:
        async with Deliverer(timeout=self.settings.timeout, connections=self.settings.concurrency) as deliverer:
            workers = [asyncio.create_task(self._worker(pull, deliverer)) for _ in range(self.settings.concurrency)]
            try:
                await asyncio.gather(*workers)
            except asyncio.CancelledError:  # Ctrl-C: stop at once, in-flight requests included
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                raise

    async def _worker(self, pull: Callable[[], Awaitable[Job | None]], deliverer: Deliverer) -> None:
        url, pacer = self.settings.url, self._pacer
        while not self._stop:
            try:
                job = await pull()
            except Exception as exc:  # a reading error (--strict on a corrupt line): raised once in-flight ones end
                self._fail(exc)
                return
            if job is None:
                return  # every item was taken (a generator that raised also ends here for the other workers)
            index, prepared = job
            try:
                planned = None if pacer is None else await self._wait_for_slot(pacer)
                if self._stop:  # stopped (--stop-on-failure) while this one waited for its --rate slot
                    self.summary.not_sent += 1
                    return
                sent_at = self._monotonic()
                delivery = await deliverer.deliver(url, prepared.body, prepared.headers, method=prepared.item.method)
                self._report(index, prepared, delivery.result, planned, sent_at)
            except Exception as exc:  # a bug in an observer: stop the run, then re-raise it
                self._fail(exc)
                return

    def _fail(self, exc: Exception) -> None:
        self._failure = self._failure or exc
        self._stop = True

    async def _wait_for_slot(self, pacer: Pacer) -> float:
        slot = pacer.next_slot(self._monotonic())
        delay = slot - self._monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        return slot

    def _report(
        self, index: int, prepared: PreparedRequest, result: DeliveryResult | None, planned: float | None, sent: float
    ) -> None:
        summary = self.summary
        passed = True
        if result is not None:
            if result.status is None:
                passed = False
                if result.error_code == UNSENDABLE:  # refused before sending: not sent, and not the target's fault
                    summary.failed += 1
                else:
                    summary.sent += 1
                    summary.unreachable += 1
                summary.by_status[result.error_code or "error"] += 1
            else:
                summary.sent += 1
                passed = self.settings.expect.matches(result.status)
                summary.by_status[str(result.status)] += 1
                if not passed:
                    summary.failed += 1
                if result.latency_ms is not None:  # answers only: a refused connection says nothing of latency
                    summary.latency.add(result.latency_ms)
        if passed:
            summary.passed += 1
        elif self.settings.stop_on_failure and not self._stop:
            self._stop = True
            summary.stopped_early = True
        self.observer.on_outcome(ReplayOutcome(index, prepared, result, passed, planned, sent))


def replay(
    items: Iterable[ReplayItem],
    settings: ReplaySettings,
    observer: ReplayObserver,
    *,
    stop_reading: Callable[[], None] | None = None,
) -> ReplaySummary:
    """Run a replay to completion on a fresh event loop (the command layer's one service call).

    Ctrl-C ends the run but not the report: the summary of what was sent comes back marked interrupted.
    `stop_reading`: the items come from a read that may wait (see ReplayRun.run).
    """
    run = ReplayRun(settings, observer)
    started = time.monotonic()
    try:
        return asyncio.run(run.run(items, stop_reading=stop_reading))
    except KeyboardInterrupt:
        run.summary.interrupted = True
        run.summary.elapsed_s = time.monotonic() - started
        return run.summary
    finally:
        if stop_reading is not None:  # a second Ctrl-C can land before the run's own stop: no read goes on
            stop_reading()
