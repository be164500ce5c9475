"""Renders a replay: one line (or NDJSON object) per delivery, a progress bar on a TTY, and the summary.

One observer, kept whole: the delivery lines, the progress bar and the summary share its console and counts.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from whatsable_cli.delivery.http_rules import end_to_end_headers
from whatsable_cli.recording.lines import encode_body
from whatsable_cli.render.text import first_line, plural, short_id
from whatsable_cli.replay.request import WARNING_TEXT
from whatsable_cli.replay.service import ReplayOutcome
from whatsable_cli.replay.stats import ReplaySummary
from whatsable_cli.webhooks.redaction import display_header_value

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

# One encoder reused for every NDJSON line (json.dumps would rebuild its options per call).
_encode_json = json.JSONEncoder(ensure_ascii=False).encode
_quote: Any = json.encoder.encode_basestring  # the C string quoter json itself uses
_TRUE_FALSE = ("false", "true")
_OPTIONAL_TEXT_FIELDS = ("response_snippet", "error", "error_code", "retry_after")
# Lines to a pipe or file go out in batches, one write each (not one per line, even under PYTHONUNBUFFERED);
# a batch is written when a line comes this long after the last write, so a slow replay still streams.
BATCH_SECONDS = 0.1
BATCH_LINES = 512


def stderr_console() -> Console:
    """rich is imported only when something is shown on stderr: a --json run to a pipe never loads it."""
    from whatsable_cli.render.console import stderr_console as make_console

    return make_console()


def print_note(message: str) -> None:
    """render.console's note, rich loaded only when there is one."""
    from whatsable_cli.render.console import print_note as note

    note(message)


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else _quote(value)


def delivery_line(outcome: ReplayOutcome) -> str:
    """outcome_json(outcome) as one compact JSON line, built directly: this runs once per request."""
    request, result = outcome.request, outcome.result
    item = request.item
    line = (
        f'{{"type":"delivery","index":{outcome.index},"id":{_text_or_null(item.request_id)},'
        f'"origin":{_quote(item.origin)},"event":{_text_or_null(item.event_type)},'
        f'"passed":{_TRUE_FALSE[outcome.passed]},"resigned":{_TRUE_FALSE[request.resigned]},'
        f'"edited":{_TRUE_FALSE[request.edited]}'
    )
    if result is None:
        return line + "}\n"
    line += f',"url":{_quote(result.url)}'
    if result.status is not None:
        line += f',"status":{result.status}'
    if result.latency_ms is not None:
        line += f',"latency_ms":{result.latency_ms!r}'
    for name in _OPTIONAL_TEXT_FIELDS:
        value = getattr(result, name)
        if value is not None:
            line += f',"{name}":{_quote(value)}'
    return line + "}\n"


class LineBatcher:
    """Lines to a pipe, written in batches: one write per batch, a batch at most BATCH_SECONDS old."""

    def __init__(self, stream: TextIO, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._lines: list[str] = []
        self._written_at = -math.inf

    def add(self, line: str) -> None:
        self._lines.append(line)
        now = self._clock()
        if now - self._written_at >= BATCH_SECONDS or len(self._lines) >= BATCH_LINES:
            self.flush(now)

    def flush(self, now: float | None = None) -> None:
        if self._lines:
            self._stream.write("".join(self._lines))
            self._lines.clear()
        self._stream.flush()
        self._written_at = self._clock() if now is None else now


def _ident(outcome: ReplayOutcome) -> str:
    item = outcome.request.item
    return short_id(item.request_id)


def outcome_json(outcome: ReplayOutcome) -> dict[str, Any]:
    item, result = outcome.request.item, outcome.result
    raw: dict[str, Any] = {
        "type": "delivery",
        "index": outcome.index,
        "id": item.request_id,
        "origin": item.origin,
        "event": item.event_type,
        "passed": outcome.passed,
        "resigned": outcome.request.resigned,
        "edited": outcome.request.edited,
    }
    if result is not None:
        raw.update(result.to_dict())
    return raw


def dry_run_json(outcome: ReplayOutcome, url: str, show_secrets: bool) -> dict[str, Any]:
    request = outcome.request
    body, encoding = encode_body(request.body)
    return {
        "type": "dry_run",
        "index": outcome.index,
        "id": request.item.request_id,
        "origin": request.item.origin,
        "method": request.item.method,
        "url": url,
        "headers": [  # as the deliverer sends them: Host, Content-Length and the like belong to the new hop
            [k, display_header_value(k, v, show_secrets=show_secrets)] for k, v in end_to_end_headers(request.headers)
        ],
        "body": body,
        "body_encoding": encoding,
        "resigned": request.resigned,
        "edited": request.edited,
    }


def outcome_line(outcome: ReplayOutcome) -> str:
    """`✓ 200     3.1 ms  3f2a1b2c  message_status    rec.jsonl`: plain text, cheap to build."""
    result = outcome.result
    assert result is not None
    mark = "✓" if outcome.passed else "✗"
    answer = str(result.status) if result.status is not None else (result.error_code or "error")
    latency = f"{result.latency_ms:.1f} ms" if result.latency_ms is not None else "-"
    event = outcome.request.item.event_type or "-"
    tail = f"  {result.error}" if result.error else ""
    if result.status is not None and not 200 <= result.status < 300 and result.response_snippet:
        tail += f"  answered: {first_line(result.response_snippet)}"
    said = _event_summary(outcome.request.body)
    origin = outcome.request.item.origin
    return f"{mark} {answer:<11} {latency:>10}  {_ident(outcome):<8}  {event:<16}  {origin}{said}{tail}"


def _event_summary(body: bytes) -> str:
    """`  +8801734363287: Hello!`: the event's one-line summary (webhooks.summary), for the lines people read."""
    from whatsable_cli.webhooks.events import EVENT_KINDS, parse_body
    from whatsable_cli.webhooks.summary import shorten, summarize

    parsed = parse_body(body)
    return f"  {shorten(summarize(parsed), 80)}" if parsed.kind in EVENT_KINDS else ""


class ReplayPrinter:
    """The replay observer: prints each outcome as it happens (the service never prints)."""

    def __init__(
        self,
        *,
        url: str,
        json_output: bool,
        show_secrets: bool,
        progress: bool | None = None,
        resigning: str | None = None,
    ) -> None:
        self.url = url
        self.resigning = resigning  # how requests are re-signed (--resign), said on stderr; None: they are not
        self._resigned = 0
        self.json_output = json_output
        self.show_secrets = show_secrets
        self._stdout_tty = sys.stdout.isatty()
        # a terminal shows each line at once; a pipe or file gets them in batches (see LineBatcher)
        self._batcher = None if self._stdout_tty else LineBatcher(sys.stdout)
        self._write = sys.stdout.write if self._batcher is None else self._batcher.add
        self._stderr: Console | None = None
        show_bar = (not json_output and self._err.is_terminal) if progress is None else progress
        self._progress: Progress | None = self._make_progress() if show_bar else None
        self._task: Any = None
        self._failed = 0

    @property
    def _err(self) -> Console:
        if self._stderr is None:
            self._stderr = stderr_console()
        return self._stderr

    def _make_progress(self) -> Progress:
        # imported only on a terminal: piped and --json runs never pay for it
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        return Progress(
            SpinnerColumn(),
            TextColumn("replaying"),
            BarColumn(),
            TextColumn("{task.completed} sent · {task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=self._err,
            transient=True,
            # stdout is not redirected into the bar's console: `replay ... > out.txt` keeps its lines in the file
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def _terminal(self) -> Console:
        from whatsable_cli.render.console import stdout_console

        # While the bar is live, lines go through its console, which clears and redraws the bar around them.
        return self._progress.console if self._progress is not None else stdout_console()

    def __enter__(self) -> ReplayPrinter:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task("replay", total=None, failed=0)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
        self._flush()

    def _flush(self) -> None:
        if self._batcher is not None:
            self._batcher.flush()
        sys.stdout.flush()

    def on_warning(self, message: str) -> None:
        from whatsable_cli.render.console import print_warning

        print_warning(message, self._err)

    def on_skipped_line(self, path: Path, line_no: int, why: str) -> None:
        """The reader's on_skip callback (render.events' warning, loaded only when a line is skipped)."""
        from whatsable_cli.render.events import warn_skipped_line

        warn_skipped_line(path, line_no, why)

    def on_outcome(self, outcome: ReplayOutcome) -> None:
        if outcome.result is None:
            self._print_dry_run(outcome)
        elif self.json_output:
            self._write(delivery_line(outcome))
        elif self._stdout_tty:
            from rich.markup import escape

            style = "green" if outcome.passed else "red"
            self._terminal().print(f"[{style}]{escape(outcome_line(outcome))}[/]", soft_wrap=True)
        else:
            self._write(outcome_line(outcome) + "\n")
        if outcome.request.resigned:
            self._resigned += 1
        if not outcome.passed:
            self._failed += 1
        if self._progress is not None:
            self._progress.update(self._task, advance=1, failed=self._failed)

    def _print_dry_run(self, outcome: ReplayOutcome) -> None:
        shown = dry_run_json(outcome, self.url, self.show_secrets)
        if self.json_output:
            self._write(_encode_json(shown) + "\n")
            return
        from rich.markup import escape

        from whatsable_cli.render.console import stdout_console

        self._flush()  # a rich console writes to stdout itself: what is batched goes first
        console = self._terminal() if self._stdout_tty else stdout_console()
        console.print(f"[bold]{escape(shown['method'])} {escape(self.url)}[/]  ({escape(shown['origin'])})")
        for name, value in shown["headers"]:
            console.print(f"  {escape(name)}: {escape(value)}", soft_wrap=True)
        body = shown["body"] if shown["body_encoding"] == "utf-8" else f"(base64) {shown['body']}"
        console.print(f"  {escape(body)}\n", soft_wrap=True)

    def render_summary(self, summary: ReplaySummary) -> None:
        self._flush()  # every delivery line before the summary
        if self.json_output:
            sys.stdout.write(json.dumps({"type": "summary", "url": self.url, **summary.to_dict()}) + "\n")
        else:
            sys.stdout.write("".join(line + "\n" for line in summary_lines(summary, self.url)))
        sys.stdout.flush()
        if self.resigning is not None:  # never silent: a re-signed request arrives valid whatever was recorded
            would = "would be " if summary.dry_run else ""
            print_note(f"{plural(self._resigned, 'request')} {would}re-signed with {self.resigning} (--resign)")


def summary_lines(summary: ReplaySummary, url: str) -> list[str]:
    if summary.dry_run:
        return [f"dry run: {plural(summary.selected - summary.skipped, 'request')} would be sent to {url}"]
    rate = f", {summary.requests_per_second} req/s" if summary.requests_per_second else ""
    lines = [
        f"replayed {summary.sent} of {plural(summary.selected, 'request')} to {url} in {summary.elapsed_s:.2f} s{rate}",
        f"  passed {summary.passed} · failed {summary.failed} · unreachable {summary.unreachable}"
        f" · skipped {summary.skipped}" + (f" · not sent {summary.not_sent}" if summary.not_sent else ""),
    ]
    if summary.by_status:
        lines.append("  by status: " + ", ".join(f"{k} ×{v}" for k, v in sorted(summary.by_status.items())))
    latency = summary.latency.to_dict()
    if latency["p50"] is not None:
        lines.append(
            f"  latency: p50 {latency['p50']} ms · p95 {latency['p95']} ms · p99 {latency['p99']} ms"
            f" (max {latency['max']} ms)"
        )
    for kind, count in summary.signature_warnings.items():
        lines.append(f"  warning ×{count}: {WARNING_TEXT[kind]}")
    if summary.stopped_early:
        lines.append("  stopped at the first failure (--stop-on-failure)")
    if summary.interrupted:
        lines.append("  interrupted (Ctrl-C): the rest was not sent")
    if summary.selected == 0:
        lines.append("  nothing matched the sources and filters")
    return lines
