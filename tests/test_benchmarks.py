"""The benchmark harness: row selection, verdicts, the table, peer installs and skips (no peer is installed
or measured here), and a --quick smoke run of the project's own rows (how fast is not asserted)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import peer_install, run  # noqa: E402
from benchmarks.stats import percentile, ratio, steady_rate, summarise, throughput_fields  # noqa: E402

PEERS = ["express-ingest", "mitm-forward-c1", "mitm-forward-c32", "mitm-replay"]
OWN = ["ingest", "forwarding", "replay", "replay-memory", "startup", "history"]


def measured(met: bool, **extra: Any) -> dict[str, Any]:
    return {"metric": "m", "unit": "req/s", "whatsable": 10.0, "baseline": 4.0, "ratio": 2.5, "target": ">= 2x"} | {
        "met": met,
        **extra,
    }


def test_select_expands_groups_in_table_order() -> None:
    assert run.select(None) == OWN + PEERS
    assert run.select(["peers"]) == PEERS
    assert run.select(["own"]) == OWN
    assert run.select(["mitm-replay", "ingest", "ingest"]) == ["ingest", "mitm-replay"]
    assert run.select(["all", "startup"]) == OWN + PEERS


def test_select_refuses_an_unknown_row_naming_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown benchmark 'ingest2'.*express-ingest.*peers"):
        run.select(["ingest2"])


def test_unknown_only_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run.main(["--only", "nope"])
    assert exited.value.code == 2
    assert "unknown benchmark 'nope'" in capsys.readouterr().err


def test_verdicts_and_exit_code() -> None:
    skipped = peer_install.skipped("m", "req/s", ">= 2x", "npm not found")
    crashed = {"metric": "m", "target": "", "met": False, "error": "RuntimeError: boom"}
    assert [run.verdict(r) for r in (measured(True), measured(False), skipped, crashed)] == [
        "PASS",
        "MISS",
        "SKIP",
        "ERROR",
    ]
    assert run.exit_code({"a": measured(True), "b": skipped}) == 0  # a skipped peer is not a miss
    assert run.exit_code({"a": measured(True), "b": measured(False)}) == 1
    assert run.exit_code({"a": measured(True), "b": crashed}) == 1


def test_table_shows_ratio_verdict_peer_and_why_a_row_was_skipped() -> None:
    results = {
        "express-ingest": measured(True, peer="Express 5.3.0"),
        "mitm-replay": measured(False, ratio=float("nan"), whatsable=float("nan")),
        "mitm-forward-c1": peer_install.skipped("m", "req/s", ">= 2x", "mitmproxy could not be installed"),
        "forwarding": measured(True, added={"p50": 0.5, "p99": 0.8}, unit="ms", ratio=None),
    }
    text = run.table(results)
    lines = text.splitlines()
    assert lines[0].split() == ["benchmark", "whatsable", "against", "ratio", "target", "result"]
    assert "Express 5.3.0: 4.00 req/s" in lines[1]
    assert "2.50x" in lines[1]
    assert lines[1].endswith("PASS")
    assert "n/a" in lines[2]
    assert lines[2].endswith("MISS")
    assert lines[3].endswith("SKIP")
    assert "added p50=0.50 p99=0.80 ms" in lines[4]
    assert "sent direct" in lines[4]  # an own row names its baseline
    assert lines[-1] == "mitm-forward-c1: mitmproxy could not be installed"


def test_json_safe_turns_nan_into_null() -> None:
    report = {"a": float("nan"), "b": [1.0, float("nan")], "c": {"d": float("nan"), "e": "x"}}
    assert json.loads(json.dumps(run.json_safe(report), allow_nan=False)) == {
        "a": None,
        "b": [1.0, None],
        "c": {"d": None, "e": "x"},
    }


def test_stats_helpers() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.5) == 3.0
    assert math.isnan(percentile([], 0.5))
    assert ratio(10.0, 4.0) == 2.5
    assert math.isnan(ratio(1.0, 0.0))
    # 1,001 events in 3 s, one event in 1 s: 1,000 events in 2 s once started.
    assert steady_rate(1_001, 3.0, 1.0) == 500.0
    assert math.isnan(steady_rate(100, 1.0, 1.2))  # start-up noise larger than the work: no figure
    loads = [
        {"rps": rps, "latencies_ms": {"p50": 1.0, "p99": 2.0}, "busy": 0.1, "errors": errors}
        for rps, errors in ((100.0, 0), (300.0, 1), (200.0, 0))
    ]
    assert summarise(loads) == {
        "rps": 200.0,
        "spread": [100.0, 300.0],
        "p50": 1.0,
        "p99": 2.0,
        "busy": 0.1,
        "errors": 1,
    }
    ours, theirs = summarise(loads), summarise(loads[:1])
    fields = throughput_fields(ours, theirs)
    assert (fields["whatsable"], fields["baseline"]) == (200.0, 100.0)
    assert fields["spread"] == {"whatsable": [100.0, 300.0], "baseline": [100.0, 100.0]}
    assert fields["errors"] == {"whatsable": 1, "baseline": 0} and fields["unit"] == "req/s"


def test_cache_dir_and_install_switch_from_the_environment(tmp_path: Path) -> None:
    assert peer_install.cache_dir({}) == ROOT / "benchmarks" / ".cache"
    assert peer_install.cache_dir({"WHATSABLE_BENCH_CACHE": str(tmp_path)}) == tmp_path
    assert peer_install.installs_allowed({})
    assert peer_install.installs_allowed({"WHATSABLE_BENCH_NO_INSTALL": "0"})
    assert not peer_install.installs_allowed({"WHATSABLE_BENCH_NO_INSTALL": "1"})
    assert peer_install.express_folder(tmp_path).name == f"express-{peer_install.EXPRESS_VERSION}"
    assert peer_install.MITMPROXY_VERSION in peer_install.mitmproxy_folder(tmp_path).name


def test_ensure_installs_once_and_marks_the_folder_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WHATSABLE_BENCH_NO_INSTALL", raising=False)
    calls: list[Path] = []

    def install(into: Path) -> None:
        assert not (into / peer_install.MARKER).exists()  # the marker is written after the install
        (into / "thing").write_text("installed")
        calls.append(into)

    folder = tmp_path / "peer-1.0"
    assert peer_install.ensure(folder, install, "peer 1.0") == (folder, True)
    assert peer_install.ensure(folder, install, "peer 1.0") == (folder, False)
    assert calls == [folder]
    assert (folder / "thing").read_text() == "installed"


def test_an_install_cut_short_is_removed_and_done_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WHATSABLE_BENCH_NO_INSTALL", raising=False)
    folder = tmp_path / "peer-1.0"

    def failing(into: Path) -> None:
        (into / "half").write_text("")
        raise peer_install.PeerUnavailable("pip install exited 1: no such version")

    with pytest.raises(peer_install.PeerUnavailable, match="no such version"):
        peer_install.ensure(folder, failing, "peer 1.0")
    assert not folder.exists()
    folder.mkdir()
    (folder / "stale").write_text("")  # a run killed mid-install: no marker
    peer_install.ensure(folder, lambda into: (into / "fresh").touch(), "peer 1.0")
    assert sorted(p.name for p in folder.iterdir()) == [peer_install.MARKER, "fresh"]


def test_no_install_skips_a_peer_missing_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSABLE_BENCH_NO_INSTALL", "1")
    with pytest.raises(peer_install.PeerUnavailable, match="not in the cache"):
        peer_install.ensure(tmp_path / "peer", lambda into: None, "peer 1.0")
    assert not (tmp_path / "peer").exists()


def test_express_without_node_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: neither node nor npm
    with pytest.raises(peer_install.PeerUnavailable, match=r"node and npm not found on PATH"):
        peer_install.express(peer_install.log)


def test_peer_rows_skip_with_the_reason_when_peers_cannot_be_had(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WHATSABLE_BENCH_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("WHATSABLE_BENCH_NO_INSTALL", "1")
    out = tmp_path / "bench.json"
    assert run.main(["--only", "peers", "--json", str(out)]) == 0  # skips are not misses
    results = json.loads(out.read_text())["results"]
    assert list(results) == PEERS
    for result in results.values():
        assert result["skipped"]
        assert result["met"] is None
    table = capsys.readouterr().out
    assert table.count("SKIP") == len(PEERS)
    assert "not in the cache" in table or "not found on PATH" in table
    assert not (tmp_path / "empty-cache").exists()  # nothing installed


@pytest.mark.slow
def test_quick_run_of_own_rows_produces_every_metric(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--quick", "--only", "own", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    # Exit 1 only means a target was missed on this (possibly busy) machine; anything else is a crash.
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(out.read_text())
    results = report["results"]
    assert list(results) == OWN
    for name, result in results.items():
        assert "error" not in result, (name, result["error"])
        assert {"metric", "whatsable", "baseline", "target", "met"} <= set(result), name
    assert results["ingest"]["recorded"]["all_recorded"] is True  # every acknowledged request was recorded
    assert results["replay"]["whatsable"] > 0
    assert results["replay-memory"]["whatsable"] > 0
    for name in results:
        assert name in done.stdout  # the table names every benchmark
