"""The history at scale: `events show ID` and `events list --search` on 1,000,000 events, and the size per event.

The history is generated straight into a temporary database with the listener's own row builder and
inserts (executemany-style, a transaction per chunk): a hundred runs of realistic signed WhatsAble
events, one in ten forwarded, incoming messages carrying phone numbers and customers' words; then the
full-text index is built as a search would build it. Each figure is measured in-process (opening the
history, resolving, reading) and as the whole command a user runs (which adds the interpreter's start).

python benchmarks/bench_history.py                 # 1,000,000 events (a few minutes on 2 cores)
python benchmarks/bench_history.py --events 50000  # a smaller one
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stats import median
from whatsable_cli.delivery.results import DeliveryResult
from whatsable_cli.recording.history import History
from whatsable_cli.recording.history_index import index_for_search
from whatsable_cli.recording.history_queries import Selection, find_in_history, forwards_of_request, history_rows
from whatsable_cli.recording.history_rows import INSERT_FORWARD, forward_row, request_row
from whatsable_cli.recording.lines import ForwardRecord, RecordedRequest, encode_body
from whatsable_cli.webhooks.events import parse_body
from whatsable_cli.webhooks.overrides import to_body
from whatsable_cli.webhooks.signing import sign
from whatsable_cli.webhooks.synthetic import SyntheticEvents

SECRET = "benchmark-secret"
FULL_EVENTS = 1_000_000
QUICK_EVENTS = 20_000
RUNS = 100
CHUNK = 20_000  # rows per transaction while generating
NEEDLE_PHONE = "8801999000042"  # in one event only: a search for a phone number
WORDS = [
    "hello",
    "hi",
    "order",
    "delivery",
    "refund",
    "invoice",
    "tomorrow",
    "today",
    "please",
    "thanks",
    "shipped",
    "late",
    "address",
    "payment",
    "receipt",
    "cancel",
    "status",
    "help",
    "price",
    "size",
    "colour",
    "return",
    "exchange",
    "photo",
    "number",
    "call",
    "morning",
    "evening",
    "urgent",
    "confirm",
]
SHOW_TARGET_MS = 50.0
SEARCH_TARGET_MS = 1000.0


def _templates(rng: random.Random) -> list[tuple[RecordedRequest, str | None]]:
    """A few hundred distinct signed events, as `listen` records them (ids and times filled in per row)."""
    events = SyntheticEvents(seed=3)
    templates = []
    for index in range(400):
        if index % 2:
            payload = events.build("message_status", ("sent", "delivered", "read", "failed")[index % 4])
        else:
            payload = events.build("incoming_message", "text")
            payload["data"]["phone_number"] = f"8801{rng.randrange(10**9):09d}"
            payload["data"]["last_message_of_user"] = " ".join(rng.choices(WORDS, k=rng.randrange(3, 12)))
        body = to_body(payload)
        text, encoding = encode_body(body)
        headers = [("Host", "hooks.example.test"), ("User-Agent", "WhatsAble-Webhook/1.0")]
        headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        headers += list(sign("whatsable", SECRET, body).items())
        parsed = parse_body(body)
        request = RecordedRequest(
            id="",
            received_at="",
            method="POST",
            path="/webhook",
            query="",
            headers=headers,
            body=text,
            body_encoding=encoding,
            body_size=len(body),
            event_type=parsed.kind,
            response_status=200,
        )
        templates.append((request, parsed.status))
    return templates


def generate(path: Path, count: int, *, seed: int = 7) -> dict[str, Any]:
    """`count` events in RUNS runs; returns the needle's id, ids to show, and how long it took."""
    rng = random.Random(seed)
    templates = [request_row(None, None, request, status, None) for request, status in _templates(rng)]
    needle_at = count // 3
    data = {"phone_number": NEEDLE_PHONE, "last_message_of_user": "where is it"}
    needle_body = to_body({"event": "incoming_message", "data": data})
    needle = RecordedRequest("", "", "POST", "/webhook", "", [], needle_body.decode(), body_size=len(needle_body))
    needle.event_type, needle.response_status = "incoming_message", 200
    needle_template = request_row(None, None, needle, None, None)
    started = time.perf_counter()
    sample_ids: list[str] = []
    needle_id = ""
    epoch = 1_764_000_000_000  # ms: late 2025
    with History.open(path) as history:
        conn = history.conn
        per_run = max(1, count // RUNS)
        for first in range(0, count, CHUNK):
            with history.transaction():
                rows = []
                forwards = []
                for index in range(first, min(count, first + CHUNK)):
                    run = index // per_run + 1
                    if index % per_run == 0:
                        conn.execute(
                            "INSERT OR IGNORE INTO runs (id, source, started_at, ended_at, host, port, path, events) "
                            "VALUES (?, 'listen', ?, ?, '127.0.0.1', 4242, '/webhook', ?)",
                            (run, _iso(epoch + index * 100), _iso(epoch + (index + per_run) * 100), per_run),
                        )
                    request_id = f"{rng.getrandbits(64):016x}"
                    when_ms = epoch + index * 100
                    template = needle_template if index == needle_at else templates[index % len(templates)]
                    rows.append((None, request_id, run, _iso(when_ms), when_ms, *template[5:]))
                    if index == needle_at:
                        needle_id = request_id
                    if index % 10 == 0:
                        result = DeliveryResult("http://localhost:3000/webhook", 200, 3.2, '{"ok":true}')
                        forwards.append(forward_row(ForwardRecord(request_id, result, 1, _iso(when_ms + 4))))
                    if index % (count // 20 or 1) == 0:
                        sample_ids.append(request_id)
                history.insert_requests(rows)
                conn.executemany(INSERT_FORWARD, forwards)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        index_for_search(history)
        indexed = time.perf_counter() - started
    return {"needle": needle_id, "samples": sample_ids, "generate_s": generated, "index_s": indexed}


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def _timed_ms(call: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return median(times)


def _show(path: Path, request_id: str) -> None:
    """What `events show ID` does before rendering: open the history, resolve the prefix, read the forwards."""
    with History.open(path) as history:
        request, _ = find_in_history(history, request_id[:8])
        forwards_of_request(history, request.id)


def _search(path: Path, text: str) -> int:
    """What `events list --search TEXT` does before rendering: the newest 50 matches, with their forwards."""
    with History.open(path) as history:
        return sum(1 for _ in history_rows(history, Selection(search=text), limit=50))


def _command_ms(data_dir: Path, *args: str, repeat: int = 3) -> float:
    env = {**os.environ, "WHATSABLE_DATA_DIR": str(data_dir)}
    argv = [sys.executable, "-m", "whatsable_cli", *args]

    def call() -> None:
        subprocess.run(argv, env=env, check=True, capture_output=True, timeout=120)

    return _timed_ms(call, repeat)


def run(workdir: Path, *, quick: bool, events: int | None = None) -> dict[str, Any]:
    count = events or (QUICK_EVENTS if quick else FULL_EVENTS)
    data_dir = workdir / "history-data"
    path = data_dir / "history.sqlite3"
    made = generate(path, count)
    size = path.stat().st_size
    with History.open(path) as history:
        index_bytes = _index_bytes(history)
    show_ms = median([_timed_ms(lambda i=i: _show(path, i), 3) for i in made["samples"]])
    searches = {
        "phone number (1 match)": NEEDLE_PHONE,
        "a common word": "refund",
        "two words": "late delivery",
        "a prefix": "8801999*",
    }
    search_ms = {name: _timed_ms(lambda text=text: _search(path, text), 3) for name, text in searches.items()}
    worst_search = max(search_ms.values())
    command = {
        "events show ID": _command_ms(data_dir, "events", "show", made["needle"][:8], "--json"),
        "events list --search PHONE": _command_ms(data_dir, "events", "list", "--search", NEEDLE_PHONE, "--json"),
        "whatsable --help (the interpreter's start)": _command_ms(data_dir, "--help"),
    }
    return {
        "metric": f"history of {count:,} events: events show ID and events list --search (in-process)",
        "unit": "ms",
        "whatsable": {"show": show_ms, "search": worst_search},
        "baseline": {"show": SHOW_TARGET_MS, "search": SEARCH_TARGET_MS},
        "ratio": max(show_ms / SHOW_TARGET_MS, worst_search / SEARCH_TARGET_MS),
        "target": "show < 50 ms, search < 1 s (1,000,000 events)",
        "met": show_ms < SHOW_TARGET_MS and worst_search < SEARCH_TARGET_MS,
        "events": count,
        "search_ms": search_ms,
        "command_ms": command,
        "bytes_per_event": round(size / count),
        "index_bytes_per_event": round(index_bytes / count),
        "database_mb": round(size / (1 << 20), 1),
        "generate_s": round(made["generate_s"], 1),
        "index_s": round(made["index_s"], 1),
    }


def _index_bytes(history: History) -> int:
    """The full-text index's share of the file (0 where SQLite was built without its dbstat table)."""
    try:
        (pages,) = history.conn.execute("SELECT count(*) FROM dbstat WHERE name LIKE 'requests_fts%'").fetchone()
    except sqlite3.OperationalError:
        return 0
    (page_size,) = history.conn.execute("PRAGMA page_size").fetchone()
    return int(pages) * int(page_size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=FULL_EVENTS, help="how many events the history holds")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="whatsable-bench-history-") as workdir:
        result = run(Path(workdir), quick=False, events=args.events)
    print(json.dumps(result, indent=2))
    return 0 if result["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
