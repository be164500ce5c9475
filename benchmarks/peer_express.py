"""Peer row: listener ingest against the seed documentation's own Express handler, same load, same run.

The handler is the documentation's example as published (peer_express_server.js): `express.json()`,
a switch on the event, `console.log` of the data, `res.status(200).send('OK')`. Its console output goes
to a drained pipe, as the listener's compact output does. NODE_ENV=production, as a deployed Express
app runs (that is Express's faster setting, so the comparison does not flatter the listener).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from benchmarks import peer_install
from benchmarks.bench_listen import INGEST_CONCURRENCY, INGEST_FULL, INGEST_QUICK, ingest_args, write_bodies
from benchmarks.processes import HERE, interleaved, listen_recorded_lines, listener, server
from benchmarks.stats import ratio, summarise, throughput_fields

METRIC = f"listener ingest vs the seed docs' Express handler, {INGEST_CONCURRENCY} concurrent"
TARGET = ">= 2x"


def ingest(workdir: Path, *, quick: bool) -> dict[str, Any]:
    try:
        peer = peer_install.express(peer_install.log)
    except peer_install.PeerUnavailable as exc:
        return peer_install.skipped(METRIC, "req/s", TARGET, str(exc))
    node_version = subprocess.run([peer.node, "--version"], capture_output=True, text=True, check=True).stdout
    env = {**os.environ, "NODE_PATH": str(peer.node_modules), "NODE_ENV": "production"}
    bodies = write_bodies(workdir / "bodies.jsonl")
    runs, per_run, warmup = INGEST_QUICK if quick else INGEST_FULL
    recording = workdir / "ingest.jsonl"
    express_argv = [peer.node, str(HERE / "peer_express_server.js")]
    with (
        server(express_argv, r"running on port (\d+)", env=env) as ready,
        listener(ingest_args(recording)) as (our_url, _proc),
    ):
        loads = interleaved(
            {"peer": f"http://127.0.0.1:{ready.group(1)}/webhook", "whatsable": our_url},
            bodies,
            runs=runs,
            requests=per_run,
            warmup=warmup,
            concurrency=INGEST_CONCURRENCY,
        )
    sent = warmup + runs * per_run
    recorded = listen_recorded_lines(recording)
    theirs, ours = summarise(loads["peer"]), summarise(loads["whatsable"])
    value = ratio(ours["rps"], theirs["rps"])
    return {
        "metric": METRIC,
        "peer": f"Express {peer.version} (node {node_version.strip()})",
        **throughput_fields(ours, theirs),
        "ratio": value,
        "target": TARGET,
        "met": value >= 2.0 and recorded == sent and ours["errors"] == 0,
        "recorded": {"sent": sent, "recorded": recorded, "all_recorded": recorded == sent},
    }
