"""The replay service's parts: pacing (rate limit), latency histogram, filters, row merging, --expect."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.support.recordings import numbered_bodies, recorded, status_body, write_recording
from whatsable_cli.errors import BadInputError
from whatsable_cli.recording.jsonl import iter_entries
from whatsable_cli.recording.query import build_filters, event_rows, parse_time
from whatsable_cli.replay.service import ReplayOutcome, ReplayRun, ReplaySettings
from whatsable_cli.replay.sources import ReplayItem
from whatsable_cli.replay.stats import LatencyHistogram, Pacer, StatusExpectation, parse_rate


class Collect:
    def __init__(self) -> None:
        self.outcomes: list[ReplayOutcome] = []
        self.warnings: list[str] = []

    def on_warning(self, message: str) -> None:
        self.warnings.append(message)

    def on_outcome(self, outcome: ReplayOutcome) -> None:
        self.outcomes.append(outcome)


def test_pacer_plans_slots_one_interval_apart_and_never_bursts_after_a_stall() -> None:
    pacer = Pacer(10.0)  # one every 100 ms
    assert pacer.next_slot(now=5.0) == 5.0
    assert pacer.next_slot(now=5.0) == pytest.approx(5.1)
    assert pacer.next_slot(now=5.01) == pytest.approx(5.2)
    # the target stalled for a second: the next slot is "now", then spacing resumes (no catch-up burst)
    assert pacer.next_slot(now=6.5) == 6.5
    assert pacer.next_slot(now=6.5) == pytest.approx(6.6)


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_rate_limit_holds_on_the_planned_send_times(aiohttp_server: Any, concurrency: int) -> None:
    """Asserts lower bounds only (slots spaced >= 1/rate, nothing sent before its slot): never flaky."""

    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", ok)
    server = await aiohttp_server(app)
    rate, count = 50.0, 12
    items = [ReplayItem("test", body) for body in numbered_bodies(count)]
    observer = Collect()
    settings = ReplaySettings(url=str(server.make_url("/hook")), rate=rate, concurrency=concurrency)
    started = time.monotonic()
    summary = await ReplayRun(settings, observer).run(items)
    elapsed = time.monotonic() - started
    assert summary.passed == count
    planned = sorted(o.planned_at for o in observer.outcomes if o.planned_at is not None)
    assert len(planned) == count
    gaps = [b - a for a, b in itertools.pairwise(planned)]
    assert min(gaps) >= 1 / rate - 1e-9
    clock_slack = 0.001  # the event loop may wake a hair before the exact instant
    assert all(o.sent_at >= (o.planned_at or 0) - clock_slack for o in observer.outcomes)
    assert elapsed >= (count - 1) / rate - clock_slack  # so at most `rate` per second were sent


def test_latency_histogram_quantiles_within_one_percent_in_constant_memory() -> None:
    histogram = LatencyHistogram()
    for value in range(1, 1001):  # 1..1000 ms
        histogram.add(float(value))
    quantiles = histogram.to_dict()
    assert quantiles["p50"] == pytest.approx(500, rel=0.011)
    assert quantiles["p95"] == pytest.approx(950, rel=0.011)
    assert quantiles["p99"] == pytest.approx(990, rel=0.011)
    assert quantiles["min"] == 1.0 and quantiles["max"] == 1000.0
    size_before = len(histogram._counts)
    for _ in range(10_000):
        histogram.add(3.0)
    assert len(histogram._counts) == size_before
    assert LatencyHistogram().quantile(0.5) is None


def test_expect_and_rate_parsing() -> None:
    assert StatusExpectation().matches(204) and not StatusExpectation().matches(302)
    assert StatusExpectation("200,4xx").matches(409) and not StatusExpectation("200,4xx").matches(201)
    assert parse_rate("50/s") == 50 and parse_rate("600/m") == 10 and parse_rate("7") == 7
    for bad in ("0/s", "fast", "5/d"):
        with pytest.raises(BadInputError):
            parse_rate(bad)
    with pytest.raises(BadInputError):
        StatusExpectation("2xx,abc")


def test_relative_and_absolute_times() -> None:
    now = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    assert parse_time("90m", now=now) == datetime(2026, 11, 25, 18, 30, tzinfo=UTC)
    # without an offset: local time, as every display shows times
    assert parse_time("2026-11-25T19:00", now=now) == datetime(2026, 11, 25, 19, 0).astimezone()
    assert parse_time("2026-11-25T19:00:00+01:00").hour == 19


def test_event_rows_attach_forwards_and_last_n_keeps_only_n(tmp_path: Path) -> None:
    requests = [recorded(i, status_body(i, "read" if i % 2 else "sent")) for i in range(10)]
    path = write_recording(tmp_path / "rec.jsonl", requests, forwards=True)
    rows = list(event_rows(iter_entries(path), build_filters()))
    assert [r.request.id for r in rows] == [r.id for r in requests]
    assert all(len(r.forwards) == 1 and r.forwards[0].result.status == 200 for r in rows)
    last = list(event_rows(iter_entries(path), build_filters(statuses=["read"], last=2)))
    assert [r.request.id[:4] for r in last] == ["0007", "0009"]
    assert all(r.forwards for r in last)


def test_event_rows_window_bounds_memory_but_keeps_order(tmp_path: Path) -> None:
    requests = [recorded(i, status_body(i)) for i in range(50)]
    path = write_recording(tmp_path / "rec.jsonl", requests)
    rows = list(event_rows(iter_entries(path), build_filters(), window=5))
    assert [r.request.id for r in rows] == [r.id for r in requests]


async def test_the_reader_stays_a_bounded_distance_ahead_of_the_deliveries(aiohttp_server: Any) -> None:
    """Streaming, shown without timing: an endless source is read no further than the requests in flight."""
    answered = 0

    async def fail_on_the_tenth(request: web.Request) -> web.Response:
        nonlocal answered
        await request.read()
        answered += 1
        return web.Response(status=500 if answered == 10 else 200)

    app = web.Application()
    app.router.add_post("/hook", fail_on_the_tenth)
    server = await aiohttp_server(app)
    pulled = 0

    def endless() -> Iterator[ReplayItem]:
        nonlocal pulled
        while True:
            pulled += 1
            yield ReplayItem("endless", b'{"event":"message_status","data":{"status":"sent"}}')

    settings = ReplaySettings(url=str(server.make_url("/hook")), concurrency=2, stop_on_failure=True)
    summary = await ReplayRun(settings, Collect()).run(endless())
    assert summary.stopped_early and summary.failed == 1
    assert pulled <= summary.sent + 1  # each worker reads its next item only when free: at most one read unsent
