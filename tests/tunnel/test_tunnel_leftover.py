"""A killed run leaves its agent behind (it keeps the session: ERR_NGROK_108); the pidfile lets the next run stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tunnel_helpers import Notices, agent_env, install_fake_agent, started_pids, wait_gone
from whatsable_cli.errors import TunnelError
from whatsable_cli.tunnel import pidfile as agent_pidfile
from whatsable_cli.tunnel.ngrok import NgrokTunnel, TunnelSettings

# A separate `whatsable` process that opens a tunnel and then hangs, so the test can SIGKILL it mid-run.
CHILD = """
import sys, threading
from whatsable_cli.tunnel.ngrok import NgrokTunnel, TunnelSettings
tunnel = NgrokTunnel(TunnelSettings(ngrok_path=sys.argv[1]))
print(tunnel.open(9), flush=True)
threading.Event().wait()
"""


def killed_run(agent: Path) -> int:
    """Start a run in a child process, wait for its tunnel, SIGKILL it; return the orphaned agent's pid."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(agent)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().startswith("http://127.0.0.1:")  # the readiness line
    record = agent_pidfile.read_record()
    assert record is not None and record.owner_pid == child.pid
    child.kill()
    child.wait()
    assert agent_pidfile.is_alive(record.pid)  # orphaned, as after a real SIGKILL
    return record.pid


@pytest.fixture
def shared_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in agents share one "account session": a second live agent gets ERR_NGROK_108."""
    agent_env(monkeypatch, tmp_path / "agent.jsonl")
    monkeypatch.setenv("FAKE_NGROK_SESSION", str(tmp_path / "session"))
    return install_fake_agent(tmp_path / "bin")


def test_next_run_stops_the_leftover_agent_found_through_the_pidfile(shared_session: Path) -> None:
    orphan = killed_run(shared_session)
    notices = Notices()
    tunnel = NgrokTunnel(TunnelSettings(ngrok_path=str(shared_session)), notices)
    try:
        assert tunnel.open(9).startswith("http://127.0.0.1:")
        assert f"stopped a leftover ngrok agent (pid {orphan})" in notices.wait_for("warning").message
        assert not agent_pidfile.is_alive(orphan)
        record = agent_pidfile.read_record()
        assert record is not None and record.owner_pid == os.getpid()
    finally:
        tunnel.close()


def test_without_the_pidfile_the_leftover_causes_108(shared_session: Path) -> None:
    orphan = killed_run(shared_session)
    agent_pidfile.pidfile_path().unlink()
    try:
        with pytest.raises(TunnelError) as caught:
            NgrokTunnel(TunnelSettings(ngrok_path=str(shared_session))).open(9)
        assert "ERR_NGROK_108" in caught.value.message
    finally:
        os.kill(orphan, signal.SIGKILL)
        wait_gone(orphan)


def test_an_agent_owned_by_a_live_run_is_left_alone(shared_session: Path, tmp_path: Path) -> None:
    first = NgrokTunnel(TunnelSettings(ngrok_path=str(shared_session)))
    first.open(9)
    try:
        record = agent_pidfile.read_record()
        assert record is not None
        # Pretend the record belongs to another live process (our parent): a concurrent `whatsable listen`.
        agent_pidfile.write_record(agent_pidfile.AgentRecord(record.pid, record.agent_path, os.getppid()))
        notices = Notices()
        second = install_fake_agent(tmp_path / "bin2")
        with pytest.raises(TunnelError):
            NgrokTunnel(TunnelSettings(ngrok_path=str(second)), notices).open(10)
        assert "another `whatsable listen`" in notices.wait_for("warning").message
        assert agent_pidfile.is_alive(record.pid)
    finally:
        first.close()
    for pid in started_pids(tmp_path / "agent.jsonl"):
        wait_gone(pid)


def test_a_stale_pidfile_for_a_reused_pid_is_ignored(tmp_path: Path) -> None:
    # Our own pid is alive but is not an ngrok agent: nothing may be killed, the record is dropped.
    agent_pidfile.write_record(agent_pidfile.AgentRecord(os.getpid(), str(tmp_path / "ngrok"), 999999))
    assert agent_pidfile.stop_leftover().status == "none"
    assert agent_pidfile.read_record() is None


def test_pidfile_is_private(tmp_path: Path) -> None:
    agent_pidfile.write_record(agent_pidfile.AgentRecord(1, "/x/ngrok", 2))
    assert agent_pidfile.pidfile_path().stat().st_mode & 0o777 == 0o600
