"""Listener ingest (req/s against a bare aiohttp handler) and forwarding overhead (added latency)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.processes import bare_server, interleaved, listen_recorded_lines, listener, load
from benchmarks.stats import median, summarise, throughput_fields
from whatsable_cli.webhooks.overrides import to_body
from whatsable_cli.webhooks.signing import sign
from whatsable_cli.webhooks.synthetic import SyntheticEvents

SECRET = "benchmark-secret"
VARIANTS = [("message_status", s) for s in ("sent", "delivered", "read", "failed")] + [
    ("incoming_message", c) for c in ("text", "image", "audio", "location")
]


# The ingest load, shared with the Express peer row so both face the same one: (runs, requests per run,
# warm-up requests) and the concurrency.
INGEST_QUICK = (1, 1_000, 200)
INGEST_FULL = (3, 15_000, 1_000)
INGEST_CONCURRENCY = 32


def ingest_args(recording: Path) -> list[str]:
    """`whatsable listen` as the ingest rows run it: recording, verifying, compact output."""
    return ["--output", "compact", "--secret", SECRET, "--record", str(recording)]


def write_bodies(path: Path, count: int = 256) -> Path:
    """Realistic signed WhatsAble bodies (the whatsable scheme), one request per line."""
    events = SyntheticEvents(seed=1)
    with path.open("w") as out:
        for index in range(count):
            body = to_body(events.build(*VARIANTS[index % len(VARIANTS)]))
            headers = {"Content-Type": "application/json", **sign("whatsable", SECRET, body)}
            out.write(json.dumps({"body": body.decode(), "headers": headers}) + "\n")
    return path


def ingest(workdir: Path, *, quick: bool) -> dict[str, Any]:
    bodies = write_bodies(workdir / "bodies.jsonl")
    runs, per_run, warmup = INGEST_QUICK if quick else INGEST_FULL
    recording = workdir / "ingest.jsonl"
    with bare_server() as base_url, listener(ingest_args(recording)) as (our_url, _proc):
        loads = interleaved(
            {"baseline": base_url + "/webhook", "whatsable": our_url},
            bodies,
            runs=runs,
            requests=per_run,
            warmup=warmup,
            concurrency=INGEST_CONCURRENCY,
        )
    sent = warmup + runs * per_run
    recorded = listen_recorded_lines(recording)
    base, ours = summarise(loads["baseline"]), summarise(loads["whatsable"])
    ratio = ours["rps"] / base["rps"]
    return {
        "metric": f"listener ingest (record + verify + compact to a pipe), {INGEST_CONCURRENCY} concurrent",
        **throughput_fields(ours, base),
        "ratio": ratio,
        "target": ">= 0.5x",
        "met": ratio >= 0.5 and recorded == sent,
        "recorded": {"sent": sent, "recorded": recorded, "all_recorded": recorded == sent},
    }


def forwarding(workdir: Path, *, quick: bool) -> dict[str, Any]:
    bodies = write_bodies(workdir / "bodies.jsonl")
    runs, per_run = (1, 200) if quick else (3, 2_000)
    direct_p50: list[float] = []
    direct_p99: list[float] = []
    via_p50: list[float] = []
    via_p99: list[float] = []
    with bare_server() as target:
        listen_args = ["--output", "compact", "--secret", SECRET, "--record", str(workdir / "forward.jsonl")]
        with listener([*listen_args, "--forward-to", target + "/webhook"]) as (our_url, _proc):
            load(target + "/webhook", bodies, requests=200, concurrency=1)
            load(our_url, bodies, requests=200, concurrency=1)
            for _ in range(runs):
                direct = load(target + "/webhook", bodies, requests=per_run, concurrency=1)
                via = load(our_url, bodies, requests=per_run, concurrency=1)
                direct_p50.append(direct["latencies_ms"]["p50"])
                direct_p99.append(direct["latencies_ms"]["p99"])
                via_p50.append(via["latencies_ms"]["p50"])
                via_p99.append(via["latencies_ms"]["p99"])
    added_p50 = median(via_p50) - median(direct_p50)
    added_p99 = median(via_p99) - median(direct_p99)
    return {
        "metric": "forwarding: latency added by the listener, concurrency 1",
        "unit": "ms",
        "whatsable": {"p50": median(via_p50), "p99": median(via_p99)},
        "baseline": {"p50": median(direct_p50), "p99": median(direct_p99)},
        "added": {"p50": added_p50, "p99": added_p99},
        "ratio": None,
        "target": "added p50 <= 1 ms, p99 <= 5 ms",
        "met": added_p50 <= 1.0 and added_p99 <= 5.0,
    }
