"""Replay throughput against a plain aiohttp-client loop, and peak memory replaying a huge recording."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.processes import HERE, bare_server
from benchmarks.stats import median
from whatsable_cli.recording.lines import RecordedRequest
from whatsable_cli.webhooks.overrides import to_body
from whatsable_cli.webhooks.signing import sign
from whatsable_cli.webhooks.synthetic import SyntheticEvents

SECRET = "benchmark-secret"
CONCURRENCY = 16
MEMORY_CONCURRENCY = 64


def write_recording(path: Path, count: int) -> Path:
    """A recording like `listen` writes: `count` signed request lines (a few templates, fresh ids)."""
    events = SyntheticEvents(seed=2)
    templates = []
    for variant in (("message_status", "delivered"), ("message_status", "read"), ("incoming_message", "text")):
        body = to_body(events.build(*variant))
        headers = [("Host", "example.test"), ("Content-Type", "application/json")]
        headers += list(sign("whatsable", SECRET, body).items())
        templates.append((body.decode(), headers, variant[0]))
    with path.open("wb", buffering=1 << 20) as out:
        for index in range(count):
            body, headers, event_type = templates[index % len(templates)]
            line = RecordedRequest(
                id=f"{index:016x}",
                received_at="2026-11-25T12:00:00.000000Z",
                method="POST",
                path="/webhook",
                query="",
                headers=headers,
                body=body,
                body_size=len(body),
                event_type=event_type,
            ).to_json_line()
            out.write(line)
    return path


def timed_run(argv: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process, its output drained to a pipe."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    for _ in proc.stdout:  # drain: output to a pipe, as a user piping to jq would
        pass
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        raise RuntimeError(f"{argv!r} exited {proc.returncode}: {stderr[-2000:]}")
    return seconds, int(usage.ru_maxrss)


def ours(recording: Path, url: str, concurrency: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "whatsable_cli",
        "replay",
        str(recording),
        "--to",
        url,
        "--concurrency",
        str(concurrency),
        "--json",
    ]


def throughput(workdir: Path, *, quick: bool) -> dict[str, Any]:
    runs, count = (1, 2_000) if quick else (3, 20_000)
    recording = write_recording(workdir / "replay.jsonl", count)
    plain_rps: list[float] = []
    our_rps: list[float] = []
    with bare_server() as target:
        url = target + "/webhook"
        plain = [sys.executable, str(HERE / "plain_replay.py"), str(recording), url, "--concurrency", str(CONCURRENCY)]
        timed_run(plain)  # warm-up both, untimed
        timed_run(ours(recording, url, CONCURRENCY))
        for _ in range(runs):
            plain_rps.append(count / timed_run(plain)[0])
            our_rps.append(count / timed_run(ours(recording, url, CONCURRENCY))[0])
    ratio = median(our_rps) / median(plain_rps)
    return {
        "metric": f"replay throughput, concurrency {CONCURRENCY} ({count} events, whole process)",
        "unit": "req/s",
        "whatsable": median(our_rps),
        "baseline": median(plain_rps),
        "spread": {"whatsable": [min(our_rps), max(our_rps)], "baseline": [min(plain_rps), max(plain_rps)]},
        "ratio": ratio,
        "target": ">= 0.8x",
        "met": ratio >= 0.8,
    }


def memory(workdir: Path, *, quick: bool) -> dict[str, Any]:
    small_count, big_count = (2_000, 20_000) if quick else (20_000, 1_000_000)
    small = write_recording(workdir / "small.jsonl", small_count)
    big = write_recording(workdir / "big.jsonl", big_count)
    with bare_server() as target:
        url = target + "/webhook"
        _, small_kib = timed_run(ours(small, url, MEMORY_CONCURRENCY))
        seconds, big_kib = timed_run(ours(big, url, MEMORY_CONCURRENCY))
    big.unlink()
    big_mb = big_kib / 1024
    return {
        "metric": f"replay peak memory, {big_count:,} events (vs {small_count:,})",
        "unit": "MB",
        "whatsable": big_mb,
        "baseline": small_kib / 1024,
        "ratio": big_kib / small_kib,
        "target": "< 100 MB, flat in the recording's size",
        "met": big_mb < 100,
        "seconds": seconds,
    }
