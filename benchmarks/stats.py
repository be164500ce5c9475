"""Small statistics helpers shared by the benchmarks (percentiles, medians, spreads)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which `fraction` of the sorted values fall (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarise(loads: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The medians (and the req/s spread) of several load-generator results against one server."""
    rps = [load["rps"] for load in loads]
    return {
        "rps": median(rps),
        "spread": [min(rps), max(rps)] if rps else [],
        "p50": median([load["latencies_ms"]["p50"] for load in loads]),
        "p99": median([load["latencies_ms"]["p99"] for load in loads]),
        "busy": median([load["busy"] for load in loads]),
        "errors": sum(load["errors"] for load in loads),
    }


def steady_rate(count: int, seconds: float, startup_seconds: float) -> float:
    """Events per second once started: a run of `count` events less a run of one (the start-up)."""
    work = seconds - startup_seconds
    return (count - 1) / work if count > 1 and work > 0 else float("nan")


def ratio(ours: float, theirs: float) -> float:
    return ours / theirs if theirs > 0 else float("nan")


def throughput_fields(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """The fields every req/s row reports for its two sides (each a `summarise` result): the medians, the
    spreads, the latencies, the load generator's busy share and the errors."""
    return {
        "unit": "req/s",
        "whatsable": ours["rps"],
        "baseline": theirs["rps"],
        "spread": {"whatsable": ours["spread"], "baseline": theirs["spread"]},
        "latency_ms": {
            "whatsable": {"p50": ours["p50"], "p99": ours["p99"]},
            "baseline": {"p50": theirs["p50"], "p99": theirs["p99"]},
        },
        "loadgen_busy": {"whatsable": ours["busy"], "baseline": theirs["busy"]},  # ~1.0: the generator was the limit
        "errors": {"whatsable": ours["errors"], "baseline": theirs["errors"]},
    }
