"""The replay baseline: a plain aiohttp-client loop over a recording, the same concurrency, nothing else.

python benchmarks/plain_replay.py RECORDING URL --concurrency C
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
from pathlib import Path

import aiohttp

SKIP = {"host", "content-length", "connection", "transfer-encoding"}


async def replay(recording: Path, url: str, concurrency: int) -> int:
    queue: asyncio.Queue[tuple[bytes, list[tuple[str, str]]] | None] = asyncio.Queue(maxsize=concurrency * 4)
    sent = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal sent
        while (item := await queue.get()) is not None:
            body, headers = item
            async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                await response.read()
            sent += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        workers = [asyncio.create_task(worker(session)) for _ in range(concurrency)]
        with recording.open("rb") as handle:
            for line in handle:
                entry = json.loads(line)
                if entry.get("type", "request") != "request":
                    continue
                text = entry["body"]
                body = base64.b64decode(text) if entry.get("body_encoding") == "base64" else text.encode()
                headers = [(k, v) for k, v in entry["headers"] if k.lower() not in SKIP]
                await queue.put((body, headers))
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("recording", type=Path)
    parser.add_argument("url")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    print(json.dumps({"sent": asyncio.run(replay(args.recording, args.url, args.concurrency))}))


if __name__ == "__main__":
    main()
