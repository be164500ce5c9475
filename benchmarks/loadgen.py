"""A load generator: POST a set of bodies at fixed concurrency over keep-alive connections, report req/s.

Run as a subprocess so that it does not share a process (or a GIL) with the server under test:
    python benchmarks/loadgen.py URL BODIES.jsonl --requests N --concurrency C
prints one JSON object: {"requests", "ok", "errors", "seconds", "rps", "latencies_ms": {...}, "busy"}.

Each request is written as prepared HTTP/1.1 bytes on a plain asyncio stream and its answer read by
Content-Length (both servers measured send one): a few µs of client work per request. An aiohttp client
costs ~100 µs of CPU per request here, and on 2 cores that capped the bare baseline (the generator was
~98% busy) and flattered the ratio. "busy" is this process's CPU time over the wall time of the run:
near 1.0 means the load generator, not the server, was the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.stats import median, percentile


def load_requests(url: str, path: Path) -> list[bytes]:
    """Each line: {"body": "...", "headers": {...}} (bodies and signatures prepared by the harness)."""
    target = urlsplit(url)
    request_target = (target.path or "/") + (f"?{target.query}" if target.query else "")
    prepared = []
    for line in path.read_text().splitlines():
        item = json.loads(line)
        body = item["body"].encode()
        head = f"POST {request_target} HTTP/1.1\r\nHost: {target.netloc}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in item["headers"].items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        prepared.append(head.encode() + body)
    return prepared


async def _read_response(reader: asyncio.StreamReader) -> int:
    """The status of one answer, its body read and dropped (by Content-Length: no chunked answers here)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, _, header_block = head.partition(b"\r\n")
    length = None
    for header in header_block.split(b"\r\n"):
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise RuntimeError(f"an answer without Content-Length: {head!r}")
    await reader.readexactly(length)
    return int(status_line.split(b" ", 2)[1])


async def run(url: str, prepared: list[bytes], total: int, concurrency: int) -> dict[str, object]:
    target = urlsplit(url)
    latencies: list[float] = []
    errors = 0
    ok = 0
    counter = iter(range(total))

    async def worker() -> None:
        nonlocal errors, ok
        reader, writer = await asyncio.open_connection(target.hostname, target.port)
        try:
            for index in counter:
                started = time.perf_counter()
                writer.write(prepared[index % len(prepared)])
                status = await _read_response(reader)
                ok += status < 300
                errors += status >= 300
                latencies.append((time.perf_counter() - started) * 1000)
        finally:
            writer.close()

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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("bodies", type=Path)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    result = asyncio.run(run(args.url, load_requests(args.url, args.bodies), args.requests, args.concurrency))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
