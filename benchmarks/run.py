"""Run every benchmark, print the table (metric, whatsable, baseline, ratio, target, met) and write JSON.

python benchmarks/run.py            # the full run (a few minutes on 2 cores)
python benchmarks/run.py --quick    # a smoke run (what the test suite runs)
python benchmarks/run.py --only startup

Same footing for each pair, explained where it is decided: the load generator (loadgen.py: cheap
enough per request that the bare server, not the generator, is the limit; its busy share is reported),
start-up (bench_startup.py: both apps behind the same console-script launcher), replay (bench_replay.py:
whole processes, both aiohttp clients, same recording, concurrency and target).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bench_listen, bench_replay, bench_startup

Benchmark = Callable[..., dict[str, Any]]
BENCHMARKS: dict[str, Benchmark] = {
    "ingest": bench_listen.ingest,
    "forwarding": bench_listen.forwarding,
    "replay": bench_replay.throughput,
    "replay-memory": bench_replay.memory,
    "startup": bench_startup.run,
}


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return "-" if value is None else str(value)


def print_table(results: dict[str, dict[str, Any]]) -> None:
    header = ("benchmark", "whatsable", "baseline", "ratio", "target", "met")
    rows = [header]
    for name, result in results.items():
        ours = result.get("added", result["whatsable"]) if "added" in result else result["whatsable"]
        label = "added " if "added" in result else ""
        rows.append(
            (
                name,
                label + _fmt(ours) + f" {result['unit']}",
                _fmt(result["baseline"]) + f" {result['unit']}",
                _fmt(result["ratio"]) + ("x" if result["ratio"] is not None else ""),
                result["target"],
                "yes" if result["met"] else "NO",
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: small loads, one run each")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run just these")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/latest.json"), help="where to write")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    for name, bench in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        print(f"running {name}…", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix=f"whatsable-bench-{name}-") as workdir:
            results[name] = bench(Path(workdir), quick=args.quick)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": __import__("os").cpu_count(),
        },
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print_table(results)
    print(f"\n{'quick' if args.quick else 'full'} run in {report['seconds']} s; JSON: {args.json}", file=sys.stderr)
    return 0 if all(r["met"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
