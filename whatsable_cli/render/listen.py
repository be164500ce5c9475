"""Shows a `listen` run: the banner, each event (pretty, compact, json or quiet), warnings and the summary.

One observer, kept whole: the banner, event lines and summary share its console and output mode; how one event
looks is `listen_format.py`'s job.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.listen.model import RESPOND_200, EventReport, ListenInfo
from whatsable_cli.listen.stats import RunSummary
from whatsable_cli.render import listen_format as fmt
from whatsable_cli.render.pump import Output, RenderPump
from whatsable_cli.render.text import display_path, plural
from whatsable_cli.tunnel.health import TunnelNotice

OUTPUT_MODES = ("pretty", "compact", "json", "quiet")
# How many events may wait for the display before the rest are coalesced into one "… N more" line.
MAX_PENDING = {"pretty": 200, "compact": 2000, "json": 10_000, "quiet": 2000}  # json: each holds a body


@dataclass(frozen=True)
class Origin:
    """What the command knows and the listener does not: which config file was read, where the secret came from."""

    config_file: Path | None = None
    secret_source: str | None = None  # "--secret", "WHATSABLE_SECRET" or "config PATH"; None: no secret
    web_inspector: str | None = None  # the local inspector's URL (None: --no-inspect, or its port was taken)


def banner(info: ListenInfo, origin: Origin | None = None) -> list[str]:
    """Rich markup lines for stderr."""
    origin = origin or Origin()
    lines = ["[bold green]whatsable listen[/] ready", f"  Webhook URL  [bold]{escape(info.local_webhook_url)}[/]"]
    if info.public_webhook_url:
        lines.append(f"  Public URL   [bold]{escape(info.public_webhook_url)}[/]  (paste this into WhatsAble)")
    if origin.web_inspector:
        lines.append(
            f"  Inspector    [bold]{escape(origin.web_inspector)}[/]  (watch, search, compare and replay events)"
        )
    if info.inspector_url:
        lines.append(f"  ngrok agent  {escape(info.inspector_url)}  (ngrok's view of each request)")
    history = f"{escape(display_path(info.history))} (`whatsable events list`)" if info.history else ""
    recording = escape(display_path(info.recording)) if info.recording else ""
    kept = " + ".join(filter(None, [history, recording]))
    lines.append(f"  Recording    {kept or 'off (--no-record)'}")
    if info.secret_set:
        how = "auto-detected per request" if info.scheme == "auto" else info.scheme
        source = f", secret from {origin.secret_source}" if origin.secret_source else ""
        required = "; unverified requests get 401" if info.require_signature else ""
        lines.append(f"  Signatures   verified (scheme {how}{escape(source)}){required}")
    else:
        lines.append("  Signatures   not checked: no secret (--secret or WHATSABLE_SECRET)")
    lines.extend(_forwarding_lines(info))
    if info.event_filter:
        lines.append(f"  Showing      only {', '.join(sorted(info.event_filter))} (everything is recorded)")
    config = escape(display_path(origin.config_file)) if origin.config_file else "none (defaults, flags, environment)"
    lines.append(f"  Config       {config}")
    lines.append(f"  Health       {escape(info.health_url)}")
    lines.append(f"  Try it       [bold]{escape(try_it(info, origin))}[/]  (in another terminal)")
    lines.append("[dim]Ctrl-C to stop[/]")
    return lines


def try_it(info: ListenInfo, origin: Origin) -> str:
    """The next step on a first run: a send-test command that passes against this very listener.

    It signs with the listener's own secret, named by where it came from (never shown): the environment
    variable, or the config file. A listener that does not refuse unverified requests accepts forged ones
    too, so the forged-request checks are left out unless it does (--require-signature).
    """
    words = ["whatsable", "send-test", info.public_webhook_url or info.local_webhook_url]  # through the tunnel
    source = origin.secret_source or ""
    if info.secret_set:
        if source.startswith("config ") and origin.config_file is not None:
            words += ["--config", shlex.quote(str(origin.config_file))]
        elif source == "WHATSABLE_SECRET" or info.require_signature:
            # a secret typed on listen's command line is not repeated here: export it to run this as is
            words += ["--secret", '"$WHATSABLE_SECRET"']
        if info.scheme not in ("auto", "whatsable"):
            words += ["--scheme", info.scheme]
    if not (info.secret_set and info.require_signature):
        words.append("--no-security-checks")
    return " ".join(words)


def _forwarding_lines(info: ListenInfo) -> list[str]:
    routing = info.routing
    if not routing.targets:
        return ["  Forwarding   off (--forward-to URL, --route EVENT=URL); every event is answered 200"]
    label = "all events" if not routing.routes else "other events"
    lines = [f"  Forwarding   {label} → {escape(url)}" for url in routing.forward_to]
    lines += [f"  Forwarding   {escape(event)} → {escape(url)}" for event, url in routing.routes]
    answer = "200 once recorded (down targets: queued, redelivered in order)"
    if info.respond != RESPOND_200:
        answer = "relay the first target's answer (502 when it is down)"
    lines.append(f"  Answer       {answer}")
    return lines


def summary_lines(summary: RunSummary) -> list[str]:
    by_type = ", ".join(f"{kind} {count}" for kind, count in summary.events.most_common())
    lines = [
        f"[bold]Stopped.[/] {plural(summary.total, 'event')} in {summary.duration_s:.1f} s"
        + (f": {by_type}" if by_type else "")
    ]
    if summary.forwards_ok or summary.forwards_failed or summary.forwards_cancelled:
        redelivered = f" ({summary.redelivered} redelivered)" if summary.redelivered else ""
        cancelled = f", {summary.forwards_cancelled} cancelled at stop" if summary.forwards_cancelled else ""
        ok, failed = summary.forwards_ok, summary.forwards_failed
        lines.append(f"  forwards     {ok} ok, {failed} failed{cancelled}{redelivered}")
    signatures = ", ".join(f"{count} {result}" for result, count in summary.signatures.items() if result != "unchecked")
    if signatures:
        lines.append(f"  signatures   {signatures}")
    lines.append(f"  duplicates   {summary.duplicates}")
    extras = {
        "rejected": summary.rejected,
        "other paths": summary.other_path,
        "too large": summary.too_large,
        "filtered": summary.filtered,
        "not recorded (write failed)": summary.record_failures,
    }
    shown = " · ".join(f"{name} {count}" for name, count in extras.items() if count)
    if shown:
        lines.append(f"  {shown}")
    for url, count in summary.still_queued.items():
        lines.append(
            f"  [yellow]undelivered[/]  {count} to {escape(url)} (in the recording: re-send with `whatsable replay`)"
        )
    if summary.recording:
        lines.append(f"  recording    {escape(str(summary.recording))} ({plural(summary.lines_recorded, 'line')})")
    return lines


def _is_problem(report: EventReport) -> bool:
    signature = report.request.signature
    return (
        report.answer_status >= 400
        or (signature is not None and signature.result == "failed")
        or any(not result.ok for result in report.forwards)
    )


def _plain(console: Console) -> bool:
    """Not a terminal and no colour: its lines are plain text (styles would be dropped anyway)."""
    return console.color_system is None and not console.is_terminal


class ListenRenderer:
    """The observer a terminal user sees; drawn on the render thread, except event lines that are text.

    A JSON line, or a compact (or quiet) one bound for a pipe or file, is formatted at once, on the event
    loop: the render thread then only writes text, and what waits for it is a string, not the event with
    its parsed body. At thousands of events a second, handing the events over cost the listener more than
    formatting them where they happen.
    """

    def __init__(
        self,
        mode: str,
        out: Console,
        err: Console,
        *,
        show_body: bool = False,
        max_pending: int | None = None,
        start: bool = True,
        origin: Origin | None = None,
    ) -> None:
        self.mode = mode
        self.out, self.err = out, err
        self.show_body = show_body
        self.origin = origin or Origin()
        self._recording: str | None = None
        # Render thread only: pretty events whose headline is out while their forwards are pending,
        # and the event the last stdout line belonged to (to label results that arrive interleaved).
        self._headlined: set[str] = set()
        self._last_event: str | None = None
        self.pump = RenderPump(self._draw, self._coalesced, max_pending=max_pending or MAX_PENDING[mode], start=start)
        # Where a compact line goes when it is formatted on the spot (None: drawn on the render thread).
        events_to = out if mode == "compact" else err if mode == "quiet" else None
        self._plain_events_to = events_to if events_to is not None and _plain(events_to) else None

    # -- ListenObserver (called on the event loop: only hands over) -------------------------------------

    def ready(self, info: ListenInfo) -> None:
        self._recording = str(info.recording) if info.recording else None
        # quiet still says where it listens (one line): with --port 0 nothing else would tell.
        self.pump.submit(("banner" if self.mode != "quiet" else "ready_line", info), droppable=False)
        if self.mode == "json":  # the first stdout line: a script learns the port (--port 0) and URLs
            ready = {**fmt.ready_json(info), "web_inspector_url": self.origin.web_inspector}
            self.pump.submit(("text", (self.out, fmt.dumps(ready))), droppable=False)

    def received(self, report: EventReport) -> None:
        if self.mode == "pretty":  # the headline at once; the forward lines when the app has answered
            self.pump.submit(("received", report))

    def event(self, report: EventReport) -> None:
        if self.mode == "quiet" and not _is_problem(report):
            return
        plain_to = self.out if self.mode == "json" else self._plain_events_to  # NDJSON is text on a terminal too
        if plain_to is None:
            self.pump.submit(("event", report))
            return
        try:
            text = fmt.dumps(fmt.event_json(report)) if self.mode == "json" else fmt.compact_line(report).plain
            line = (plain_to, text)
        except Exception as exc:  # a display bug must not reach the service that reports the event
            line = (self.err, f"(could not display event {report.request.id}: {type(exc).__name__}: {exc})")
        self.pump.submit(("text", line))

    def redelivered(self, request_id: str, result: DeliveryResult, attempt: int) -> None:
        if self.mode != "quiet" or not result.ok:
            self.pump.submit(("redelivery", (request_id, result, attempt)))

    def warning(self, message: str) -> None:
        self.pump.submit(("warning", message), droppable=False)

    def tunnel_notice(self, notice: TunnelNotice) -> None:
        """Tunnel news, from the tunnel's own threads (the pump's queue is thread-safe); drops are loud."""
        if notice.kind == "info" and self.mode == "quiet":
            return
        kind = {"info": "note", "down": "alert", "recovered": "good"}.get(notice.kind, "warning")
        self.pump.submit((kind, notice.message), droppable=False)

    def stopping(self) -> None:
        if self.mode != "quiet":
            note = "stopping: finishing in-flight requests… (press Ctrl-C again to quit now)"
            self.pump.submit(("note", note), droppable=False)

    def stopped_at_once(self) -> None:
        """A second Ctrl-C: the listener quit without waiting (called on the command's thread, after the loop)."""
        message = "quit at once: requests still in flight got no answer (their senders retry); all else is recorded"
        self.pump.submit(("warning", message), droppable=False)

    def finished(self, summary: RunSummary) -> None:
        if self.mode != "quiet":
            self.pump.submit(("summary", summary), droppable=False)
        if self.mode == "json":  # the last stdout line
            self.pump.submit(("text", (self.out, fmt.dumps({"type": "summary", **summary.to_dict()}))), droppable=False)

    def close(self) -> None:
        self.pump.close()

    # -- drawing (render thread) -------------------------------------------------------------------

    def _draw(self, item: tuple[str, Any]) -> Sequence[Output]:
        kind, payload = item
        if kind == "text":
            return [payload]
        if kind == "event":
            return self._draw_event(payload)
        if kind == "received":
            return self._draw_received(payload)
        self._last_event = None
        if kind == "redelivery":
            request_id, result, attempt = payload
            if self.mode == "json":
                return [(self.out, fmt.dumps(fmt.redelivery_json(request_id, result, attempt)))]
            line = fmt.forward_line(result, redelivery_attempt=attempt)
            line.append(f"  (event {request_id})", "dim")
            return [(self.out if self.mode != "quiet" else self.err, line)]
        if kind == "warning":
            return [(self.err, Text.from_markup(f"[yellow]warning:[/] {escape(payload)}"))]
        if kind == "note":
            return [(self.err, Text(payload, "dim"))]
        if kind in ("alert", "good"):
            return [(self.err, Text(payload, "bold red" if kind == "alert" else "bold green"))]
        if kind == "ready_line":
            return [(self.err, Text(f"Webhook URL  {payload.public_webhook_url or payload.local_webhook_url}"))]
        lines = banner(payload, self.origin) if kind == "banner" else summary_lines(payload)
        return [(self.err, Text.from_markup(line)) for line in lines]

    def _draw_event(self, report: EventReport) -> Sequence[Output]:
        if self.mode in ("compact", "quiet"):
            return [(self.out if self.mode == "compact" else self.err, fmt.compact_line(report))]
        request_id = report.request.id
        outputs: list[Output] = []
        interleaved = False
        if request_id in self._headlined:
            self._headlined.discard(request_id)
            interleaved = self._last_event != request_id
        else:
            outputs.append((self.out, fmt.headline(report)))
        lines = [fmt.forward_line(result) for result in report.forwards]
        lines += [fmt.queued_line(url) for url in report.queued_for]
        for line in lines:
            if interleaved:  # other events were shown since this one's headline: say whose results these are
                line.append(f"  ({fmt.short_request_id(request_id)})", "dim")
            outputs.append((self.out, line))
        if self.show_body:
            outputs.append((self.out, fmt.body_details(report)))
        self._last_event = request_id
        return outputs

    def _draw_received(self, report: EventReport) -> Sequence[Output]:
        if len(self._headlined) > MAX_PENDING["pretty"] * 10:
            self._headlined.clear()  # results that were coalesced away never come: forget them
        self._headlined.add(report.request.id)
        self._last_event = report.request.id
        return [(self.out, fmt.headline(report))]

    def _coalesced(self, skipped: int) -> Sequence[Output]:
        where = self._recording or "the recording"
        if self.mode == "json":
            return [(self.out, fmt.dumps({"type": "skipped", "count": skipped, "recording": self._recording}))]
        more = plural(skipped, "more event")
        return [(self.out, Text(f"… {more} not shown (display too slow), see {where}", "yellow"))]
