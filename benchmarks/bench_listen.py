"""Listener ingest (req/s against a bare aiohttp handler) and forwarding overhead (added latency)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.processes import bare_server, listen_recorded_lines, listener, load
from benchmarks.stats import median
from whatsable_cli.fixtures import SyntheticEvents, to_body
from whatsable_cli.signing import sign

SECRET = "benchmark-secret"
VARIANTS = [("message_status", s) for s in ("sent", "delivered", "read", "failed")] + [
    ("incoming_message", c) for c in ("text", "image", "audio", "location")
]


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
    runs, per_run, warmup = (1, 1_000, 200) if quick else (3, 15_000, 1_000)
    recording = workdir / "ingest.jsonl"
    base_rps: list[float] = []
    ours_rps: list[float] = []
    ours_p50: list[float] = []
    ours_p99: list[float] = []
    base_p50: list[float] = []
    base_p99: list[float] = []
    busy: dict[str, list[float]] = {"whatsable": [], "baseline": []}
    listen_args = ["--output", "compact", "--secret", SECRET, "--record", str(recording)]
    with bare_server() as base_url, listener(listen_args) as (our_url, _proc):
        load(base_url + "/webhook", bodies, requests=warmup, concurrency=32)
        load(our_url, bodies, requests=warmup, concurrency=32)
        for _ in range(runs):  # interleaved, so drift on the machine hits both alike
            base = load(base_url + "/webhook", bodies, requests=per_run, concurrency=32)
            ours = load(our_url, bodies, requests=per_run, concurrency=32)
            base_rps.append(base["rps"])
            ours_rps.append(ours["rps"])
            base_p50.append(base["latencies_ms"]["p50"])
            base_p99.append(base["latencies_ms"]["p99"])
            ours_p50.append(ours["latencies_ms"]["p50"])
            ours_p99.append(ours["latencies_ms"]["p99"])
            busy["baseline"].append(base["busy"])
            busy["whatsable"].append(ours["busy"])
    sent = warmup + runs * per_run
    recorded = listen_recorded_lines(recording)
    ratio = median(ours_rps) / median(base_rps)
    return {
        "metric": "listener ingest (record + verify + compact to a pipe), 32 concurrent",
        "unit": "req/s",
        "whatsable": median(ours_rps),
        "baseline": median(base_rps),
        "spread": {"whatsable": [min(ours_rps), max(ours_rps)], "baseline": [min(base_rps), max(base_rps)]},
        "latency_ms": {
            "whatsable": {"p50": median(ours_p50), "p99": median(ours_p99)},
            "baseline": {"p50": median(base_p50), "p99": median(base_p99)},
        },
        "loadgen_busy": {name: median(values) for name, values in busy.items()},  # ~1.0: the generator was the limit
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
