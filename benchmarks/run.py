"""Run the benchmarks, print the table (each row's figures, ratio, target and PASS/MISS/SKIP) and write JSON.

python benchmarks/run.py                  # every row (a few minutes on 2 cores; peers installed once)
python benchmarks/run.py --quick          # a smoke run: small loads, one run each
python benchmarks/run.py --only startup   # a row, or a group: own, peers (repeatable)
python benchmarks/run.py --list           # the rows and groups

Two kinds of row, each a ratio measured in the same run: against a bare baseline (own: ingest, forwarding,
replay, replay-memory, startup) and against a peer tool (peers: the seed documentation's Express handler,
mitmproxy's mitmdump). Peers are installed by the benchmarks into benchmarks/.cache (once); a peer that
cannot be had here is skipped with the reason, and a skip is not a miss.

Same footing for each pair, explained where it is decided: the load generator (loadgen.py: cheap
enough per request that the bare server, not the generator, is the limit; its busy share is reported),
start-up (bench_startup.py: both apps behind the same console-script launcher), replay (bench_replay.py:
whole processes, both aiohttp clients, same recording, concurrency and target), the peers
(peer_express.py, peer_mitmproxy.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bench_listen, bench_replay, bench_startup, peer_express, peer_mitmproxy

Benchmark = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class Row:
    run: Benchmark
    against: str  # what the ratio is taken against (a peer's result names its version instead)
    group: str


ROWS: dict[str, Row] = {
    "ingest": Row(bench_listen.ingest, "bare aiohttp.web", "own"),
    "forwarding": Row(bench_listen.forwarding, "sent direct", "own"),
    "replay": Row(bench_replay.throughput, "ClientSession loop", "own"),
    "replay-memory": Row(bench_replay.memory, "fewer events", "own"),
    "startup": Row(bench_startup.run, "bare Typer app", "own"),
    "express-ingest": Row(peer_express.ingest, "Express", "peers"),
    "mitm-forward-c1": Row(peer_mitmproxy.forward_c1, "mitmdump", "peers"),
    "mitm-forward-c32": Row(peer_mitmproxy.forward_c32, "mitmdump", "peers"),
    "mitm-replay": Row(peer_mitmproxy.replay, "mitmdump", "peers"),
}
GROUPS = ("own", "peers", "all")


def select(wanted: Iterable[str] | None) -> list[str]:
    """Row names for --only values (rows or groups), in the table's order; none given means every row."""
    chosen: set[str] = set()
    for name in wanted or ["all"]:
        if name == "all":
            chosen.update(ROWS)
        elif name in GROUPS:
            chosen.update(row for row, spec in ROWS.items() if spec.group == name)
        elif name in ROWS:
            chosen.add(name)
        else:
            raise ValueError(f"unknown benchmark {name!r}: choose from {', '.join([*ROWS, *GROUPS])}")
    return [name for name in ROWS if name in chosen]


def verdict(result: dict[str, Any]) -> str:
    if result.get("error"):
        return "ERROR"
    if result.get("skipped"):
        return "SKIP"
    return "PASS" if result["met"] else "MISS"


def exit_code(results: dict[str, dict[str, Any]]) -> int:
    """0 when every row that ran met its target (a skipped peer is not a miss), else 1."""
    return 0 if all(verdict(result) in ("PASS", "SKIP") for result in results.values()) else 1


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    if isinstance(value, float):
        if value != value:  # NaN: nothing to divide by
            return "n/a"
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return "-" if value is None else str(value)


def table(results: dict[str, dict[str, Any]]) -> str:
    """The results as an aligned text table, then a line per skipped or failed row saying why."""
    header = ("benchmark", "whatsable", "against", "ratio", "target", "result")
    rows = [header]
    notes = []
    for name, result in results.items():
        unit = result.get("unit", "")
        against = result.get("peer") or (ROWS[name].against if name in ROWS else "baseline")
        if result.get("skipped") or result.get("error"):
            ours, theirs, ratio = "-", f"{against}: -", "-"
            notes.append(f"{name}: {result.get('skipped') or result.get('error')}")
        else:
            label = "added " if "added" in result else ""
            ours = label + _fmt(result.get("added", result["whatsable"])) + f" {unit}"
            theirs = f"{against}: {_fmt(result['baseline'])} {unit}"
            ratio = _fmt(result["ratio"]) + ("x" if result["ratio"] is not None else "")
        rows.append((name, ours, theirs, ratio, str(result.get("target", "")), verdict(result)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines + (["", *notes] if notes else []))


def json_safe(value: Any) -> Any:
    """NaN (a ratio with nothing to divide by) as null, so the report is strict JSON."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value


def run_row(name: str, *, quick: bool) -> dict[str, Any]:
    """One row in its own temporary folder; a crash becomes an ERROR row and the run goes on."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"whatsable-bench-{name}-") as workdir:
        try:
            result = ROWS[name].run(Path(workdir), quick=quick)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            result = {"metric": name, "target": "", "met": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
    result["row_seconds"] = round(time.perf_counter() - started, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: small loads, one run each")
    parser.add_argument("--only", action="append", metavar="ROW", help=f"a row or a group ({', '.join(GROUPS)})")
    parser.add_argument("--list", action="store_true", help="list the rows and their groups, run nothing")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/latest.json"), help="where to write")
    args = parser.parse_args(argv)
    if args.list:
        for name, row in ROWS.items():
            print(f"{name:<18} {row.group:<6} against {row.against}")
        return 0
    try:
        names = select(args.only)
    except ValueError as exc:
        parser.error(str(exc))
    results: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    for name in names:
        print(f"running {name}…", file=sys.stderr, flush=True)
        results[name] = run_row(name, quick=args.quick)
        print(f"  {name}: {verdict(results[name])} in {results[name]['row_seconds']} s", file=sys.stderr, flush=True)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(json_safe(report), indent=2, allow_nan=False) + "\n")
    print(table(results))
    print(f"\n{'quick' if args.quick else 'full'} run in {report['seconds']} s; JSON: {args.json}", file=sys.stderr)
    return exit_code(results)


# -- the history row (bench_history.py), among the project's own, before the peers' ----------------------

from benchmarks import bench_history  # noqa: E402


def _own_data_dir(benchmark: Benchmark) -> Benchmark:
    """A row's listeners keep their history in the row's temporary folder, not in the user's data dir."""

    def run_in(workdir: Path, **options: Any) -> dict[str, Any]:
        previous = os.environ.get("WHATSABLE_DATA_DIR")
        os.environ["WHATSABLE_DATA_DIR"] = str(workdir / "data")
        try:
            return benchmark(workdir, **options)
        finally:
            if previous is None:
                os.environ.pop("WHATSABLE_DATA_DIR", None)
            else:
                os.environ["WHATSABLE_DATA_DIR"] = previous

    return run_in


ROWS = {
    **{name: Row(_own_data_dir(row.run), row.against, row.group) for name, row in ROWS.items() if row.group == "own"},
    "history": Row(bench_history.run, "its targets", "own"),
    **{name: Row(_own_data_dir(row.run), row.against, row.group) for name, row in ROWS.items() if row.group != "own"},
}


if __name__ == "__main__":
    sys.exit(main())
