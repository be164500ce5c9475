"""Peer rows against mitmproxy's mitmdump: record-and-forward throughput, and replay rate.

Record-and-forward: `whatsable listen --forward-to TARGET --record FILE` (verifying, compact output)
against `mitmdump --mode reverse:TARGET -w FILE`, the same load at concurrency 1 and 32, the same bare
aiohttp.web target; both print a line per request to a drained pipe. Each answers only after the target
did, so a request's round trip includes the forward.

Replay: `mitmdump -nC FLOWS` (client replay) against `whatsable replay RECORDING`, the same events
(each tool's own recording of the same load), both at their default concurrency of one request in
flight, to the same target. Whole processes; the rate is taken once started (a run of N events less a
run of one), since mitmdump takes about a second to start and that would otherwise depend on N.
"""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks import peer_install
from benchmarks.bench_listen import SECRET, write_bodies
from benchmarks.processes import bare_server, interleaved, listen_recorded_lines, listener, load, server, timed
from benchmarks.stats import median, ratio, steady_rate, summarise, throughput_fields

READY = r"listening at [^\s:]+:(\d+)"  # mitmdump: "reverse proxy to URL listening at 127.0.0.1:PORT."
FORWARD_TARGET = ">= 2x"
REPLAY_TARGET = ">= 10x"

# Run inside mitmproxy's own environment (its public mitmproxy.io API): count the flows of a file and
# copy the first one to a second file (the one-event run that measures start-up).
FLOWS_SCRIPT = """
import sys
from mitmproxy import io
with open(sys.argv[1], "rb") as source:
    flows = list(io.FlowReader(source).stream())
if len(sys.argv) > 2:
    with open(sys.argv[2], "wb") as target:
        io.FlowWriter(target).add(flows[0])
print(len(flows))
"""


def mitmdump_argv(peer: peer_install.Mitmproxy, *args: str) -> list[str]:
    return [str(peer.mitmdump), "--set", f"confdir={peer.confdir}", *args]


def reverse_proxy(peer: peer_install.Mitmproxy, target: str, flows: Path) -> list[str]:
    mode = ["--mode", f"reverse:{target}", "--listen-host", "127.0.0.1", "--listen-port", "0"]
    return mitmdump_argv(peer, *mode, "-w", str(flows))


def count_flows(peer: peer_install.Mitmproxy, flows: Path, first_to: Path | None = None) -> int:
    argv = [str(peer.python), "-c", FLOWS_SCRIPT, str(flows), *([str(first_to)] if first_to else [])]
    return int(subprocess.run(argv, capture_output=True, text=True, check=True, timeout=120).stdout)


def _forward_args(recording: Path, target: str) -> list[str]:
    return ["--output", "compact", "--secret", SECRET, "--record", str(recording), "--forward-to", target]


def forward(workdir: Path, *, quick: bool, concurrency: int) -> dict[str, Any]:
    metric = f"record-and-forward throughput vs mitmdump reverse -w, concurrency {concurrency}"
    try:
        peer = peer_install.mitmproxy(peer_install.log)
    except peer_install.PeerUnavailable as exc:
        return peer_install.skipped(metric, "req/s", FORWARD_TARGET, str(exc))
    bodies = write_bodies(workdir / "bodies.jsonl")
    if concurrency == 1:
        runs, per_run, warmup = (1, 200, 50) if quick else (3, 1_000, 100)
    else:
        runs, per_run, warmup = (1, 500, 100) if quick else (3, 1_500, 200)
    recording, flows = workdir / "forward.jsonl", workdir / "forward.mitm"
    with (
        bare_server() as target,
        server(reverse_proxy(peer, target, flows), READY) as ready,
        listener(_forward_args(recording, target + "/webhook")) as (our_url, _proc),
    ):
        loads = interleaved(
            {"peer": f"http://127.0.0.1:{ready.group(1)}/webhook", "whatsable": our_url},
            bodies,
            runs=runs,
            requests=per_run,
            warmup=warmup,
            concurrency=concurrency,
        )
    sent = warmup + runs * per_run
    recorded = {"whatsable": listen_recorded_lines(recording), "mitmdump": count_flows(peer, flows)}
    theirs, ours = summarise(loads["peer"]), summarise(loads["whatsable"])
    value = ratio(ours["rps"], theirs["rps"])
    return {
        "metric": metric,
        "peer": f"mitmdump {peer.version}",
        **throughput_fields(ours, theirs),
        "ratio": value,
        "target": FORWARD_TARGET,
        "met": value >= 2.0 and recorded["whatsable"] == sent and ours["errors"] == 0,
        "recorded": {"sent": sent, **recorded, "all_recorded": recorded["whatsable"] == sent},
    }


forward_c1 = partial(forward, concurrency=1)
forward_c32 = partial(forward, concurrency=32)


def _first_request_line(recording: Path, into: Path) -> Path:
    with recording.open("rb") as handle:
        into.write_bytes(next(iter(handle)))
    return into


def _our_replay(recording: Path, url: str) -> list[str]:
    replay = ["replay", str(recording), "--to", url, "--concurrency", "1", "--json"]
    return [sys.executable, "-m", "whatsable_cli", *replay]


def replay(workdir: Path, *, quick: bool) -> dict[str, Any]:
    metric = "replay rate once started vs mitmdump client replay, 1 in flight (both defaults)"
    try:
        peer = peer_install.mitmproxy(peer_install.log)
    except peer_install.PeerUnavailable as exc:
        return peer_install.skipped(metric, "req/s", REPLAY_TARGET, str(exc))
    # mitmdump's runs last seconds each, so one is precise; whatsable's work is a fraction of its own
    # start-up, so it gets more runs for a steady median of both its timings.
    count, peer_runs, our_runs = (500, 1, 3) if quick else (2_000, 1, 5)
    bodies = write_bodies(workdir / "bodies.jsonl")
    recording, flows = workdir / "replay.jsonl", workdir / "replay.mitm"
    seconds: dict[str, list[float]] = {"whatsable": [], "peer": [], "whatsable_one": [], "peer_one": []}
    with bare_server() as target:
        url = target + "/webhook"
        # Each tool records the same load through itself: its own file format, the same events.
        with server(reverse_proxy(peer, target, flows), READY) as ready:
            load(f"http://127.0.0.1:{ready.group(1)}/webhook", bodies, requests=count, concurrency=32)
        with listener(["--output", "quiet", "--secret", SECRET, "--record", str(recording)]) as (our_url, _proc):
            load(our_url, bodies, requests=count, concurrency=32)
        flows_count = count_flows(peer, flows, first_to=workdir / "one.mitm")
        recorded = listen_recorded_lines(recording)
        if flows_count != count or recorded != count:
            raise RuntimeError(f"recorded {recorded} and {flows_count} flows of {count} requests")
        one = _first_request_line(recording, workdir / "one.jsonl")
        argv = {
            "whatsable": _our_replay(recording, url),
            "peer": mitmdump_argv(peer, "-n", "-C", str(flows)),
            "whatsable_one": _our_replay(one, url),
            "peer_one": mitmdump_argv(peer, "-n", "-C", str(workdir / "one.mitm")),
        }
        for name in ("whatsable_one", "peer_one"):  # warm-up, untimed: a warm disk cache for both
            timed(argv[name])
        for round_ in range(max(peer_runs, our_runs)):  # interleaved: drift hits both alike
            for name, command in argv.items():
                if round_ >= (peer_runs if name.startswith("peer") else our_runs):
                    continue
                took, output = timed(command)
                answered = output.count(b"<< 200 OK")  # mitmdump prints each replayed answer
                if name.startswith("peer") and answered != (count if name == "peer" else 1):
                    raise RuntimeError(f"mitmdump replayed {answered} of {count} requests:\n{output[-2000:]!r}")
                seconds[name].append(took)
    t = {name: median(values) for name, values in seconds.items()}
    ours = steady_rate(count, t["whatsable"], t["whatsable_one"])
    theirs = steady_rate(count, t["peer"], t["peer_one"])
    value = ratio(ours, theirs)
    return {
        "metric": metric,
        "peer": f"mitmdump {peer.version}",
        "unit": "req/s",
        "whatsable": ours,
        "baseline": theirs,
        "events": count,
        "seconds": t,
        "whole_process_rps": {"whatsable": count / t["whatsable"], "baseline": count / t["peer"]},
        "ratio": value,
        "target": REPLAY_TARGET,
        "met": value >= 10.0,
    }
