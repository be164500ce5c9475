"""A load generator: POST a set of bodies at fixed concurrency with aiohttp, report req/s and latencies.

Run as a subprocess so that it does not share a process (or a GIL) with the server under test:
    python benchmarks/loadgen.py URL BODIES.jsonl --requests N --concurrency C
prints one JSON object: {"requests", "ok", "errors", "seconds", "rps", "latencies_ms": {...}, "busy"}.
"busy" is this process's CPU time over the wall time of the run: near 1.0 means the load generator,
not the server, was the limit (on 2 cores the server and the generator each get about one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.stats import median, percentile


def load_requests(path: Path) -> list[tuple[bytes, dict[str, str]]]:
    """Each line: {"body": "...", "headers": {...}} (bodies and signatures prepared by the harness)."""
    prepared = []
    for line in path.read_text().splitlines():
        item = json.loads(line)
        prepared.append((item["body"].encode(), item["headers"]))
    return prepared


async def run(
    url: str, prepared: list[tuple[bytes, dict[str, str]]], total: int, concurrency: int
) -> dict[str, object]:
    latencies: list[float] = []
    errors = 0
    ok = 0
    counter = iter(range(total))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors, ok
            for index in counter:
                body, headers = prepared[index % len(prepared)]
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        ok += response.status < 300
                        errors += response.status >= 300
                except aiohttp.ClientError:
                    errors += 1
                latencies.append((time.perf_counter() - started) * 1000)

        began, cpu_began = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - began
        busy = (time.process_time() - cpu_began) / seconds
    return {
        "requests": total,
        "ok": ok,
        "errors": errors,
        "seconds": seconds,
        "rps": total / seconds,
        "busy": busy,
        "latencies_ms": {
            "p50": median(latencies),
            "p99": percentile(latencies, 0.99),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("bodies", type=Path)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    result = asyncio.run(run(args.url, load_requests(args.bodies), args.requests, args.concurrency))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
