"""Every way the tunnel can fail, through the real pyngrok path: one-line error, hint, exit code 6, no leftovers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.tunnel_helpers import Notices, agent_env, install_fake_agent, started_pids, wait_gone
from whatsable_cli.errors import BadInputError, ExitCode, TunnelError
from whatsable_cli.tunnel import pidfile as agent_pidfile
from whatsable_cli.tunnel.agent_log import RECENT_AGENT_LINES
from whatsable_cli.tunnel.errors import REDACTED
from whatsable_cli.tunnel.ngrok import NgrokTunnel, TunnelSettings

TOKEN = "2bXsecretTOKENvalue_abcdefghijklmnop"


def failing_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario: str, **settings: Any) -> TunnelError:
    agent_env(monkeypatch, tmp_path / "agent.jsonl", scenario=scenario, token=TOKEN)
    agent = install_fake_agent(tmp_path / "bin")
    tunnel = NgrokTunnel(TunnelSettings(ngrok_path=str(agent), **settings))
    with pytest.raises(TunnelError) as caught:
        tunnel.open(9)
    tunnel.close()
    for pid in started_pids(tmp_path / "agent.jsonl"):
        wait_gone(pid)  # every failure leaves no agent running
    assert agent_pidfile.read_record() is None
    error = caught.value
    assert error.exit_code == ExitCode.TUNNEL == 6
    assert "\n" not in error.message and "\\n" not in error.message
    assert error.hint
    return error


def test_agent_reports_missing_token_4018(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = failing_open(tmp_path, monkeypatch, "4018")
    assert error.message == "ngrok refused the session: no authtoken (ERR_NGROK_4018)"
    assert error.hint is not None and "ngrok config add-authtoken" in error.hint
    assert error.code == "ngrok_4018"


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("105", "ngrok rejected the authtoken: it does not look like an ngrok authtoken (ERR_NGROK_105)"),
        (
            "107",
            "ngrok rejected the authtoken: it is well formed but invalid (reset, revoked, or from a team you left) "
            "(ERR_NGROK_107)",
        ),
    ],
)
def test_bad_token_is_named_and_redacted_everywhere(
    scenario: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = failing_open(tmp_path, monkeypatch, scenario)
    assert error.message == message
    assert error.code == f"ngrok_{scenario}"
    assert error.hint is not None and "dashboard.ngrok.com/get-started/your-authtoken" in error.hint
    assert TOKEN not in f"{error.message} {error.hint}"
    # the agent did echo it ("Your authtoken: ..."); not even our in-memory ring of its lines keeps it
    assert any(f"Your authtoken: {REDACTED}" in line for line in RECENT_AGENT_LINES)
    assert not any(TOKEN in line for line in RECENT_AGENT_LINES)


def test_session_limit_108_says_how_to_stop_the_other_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = failing_open(tmp_path, monkeypatch, "108")
    assert "already has an agent session online (the free plan allows one) (ERR_NGROK_108)" in error.message
    assert error.hint is not None and "kill <pid>" in error.hint and "dashboard.ngrok.com/agents" in error.hint


def test_domain_in_use_334(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = failing_open(tmp_path, monkeypatch, "domain_in_use", domain="mine.ngrok-free.app")
    assert error.message == "the domain mine.ngrok-free.app is already online elsewhere (ERR_NGROK_334)"


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("domain_not_yours", "the domain theirs.ngrok.app is reserved for another ngrok account (ERR_NGROK_320)"),
        ("domain_not_reserved", "the domain theirs.ngrok.app is not reserved by your ngrok account (ERR_NGROK_7118)"),
    ],
)
def test_domain_not_yours(scenario: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = failing_open(tmp_path, monkeypatch, scenario, domain="theirs.ngrok.app")
    assert error.message == message
    assert error.hint is not None and "--domain" in error.hint and "dashboard.ngrok.com/domains" in error.hint


# The agent retries an unreachable server for ever; these runs allow it a minute, and must fail long before.
OFFLINE_DEADLINE_S = 60


@pytest.mark.parametrize(
    ("scenario", "said"),
    [
        ("offline", "no such host"),
        ("offline_dns", "server misbehaving"),
        ("offline_eof", "EOF"),
        ("offline_x509", "x509: certificate signed by unknown authority"),
    ],
)
def test_offline_fails_fast_instead_of_retrying(
    scenario: str, said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = time.monotonic()
    error = failing_open(tmp_path, monkeypatch, scenario, start_timeout=OFFLINE_DEADLINE_S)
    assert time.monotonic() - started < OFFLINE_DEADLINE_S / 2  # at the first such line, not at the deadline
    assert error.message.startswith("cannot reach ngrok's servers: offline or blocked")
    assert said in error.message
    assert error.code == "offline"
    assert error.hint is not None and "--no-tunnel" in error.hint


# The agent's first line takes about 0.06 s to arrive on an idle machine; a deadline well beyond that keeps the
# assertions on what the agent said (which needs that line) from failing on a busy one.
AGENT_SPEAKS_WITHIN_S = 1.5


def test_silent_agent_hits_our_deadline_and_is_killed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = failing_open(tmp_path, monkeypatch, "silent", start_timeout=AGENT_SPEAKS_WITHIN_S)
    assert error.message.startswith("the ngrok agent was not ready within 1.5 s, so it was stopped")
    assert "starting web service" in error.message
    assert error.hint is not None and "--tunnel-timeout" in error.hint


def test_api_error_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = failing_open(tmp_path, monkeypatch, "api_error")
    assert error.message == "the ngrok agent refused the endpoint: yaml: unmarshal errors:"


def test_too_old_agent_is_refused_before_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = failing_open(tmp_path, monkeypatch, "too_old")
    assert "ngrok agent 3.20.0" in error.message and "is too old (need 3.30.0 or newer)" in error.message
    assert error.hint is not None and "update" in error.hint
    assert started_pids(tmp_path / "agent.jsonl") == []


def test_agent_without_endpoints_api_is_named_at_our_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An agent that passes the version check but has no /api/endpoints: pyngrok would wait for ever.
    error = failing_open(tmp_path, monkeypatch, "old_api", start_timeout=AGENT_SPEAKS_WITHIN_S)
    assert error.message.startswith("the ngrok agent has no /api/endpoints: it is too old for this tool")
    assert error.hint is not None and "ngrok update" in error.hint


def test_missing_token_fails_before_starting_the_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    agent_env(monkeypatch, tmp_path / "agent.jsonl", token=None)
    tunnel = NgrokTunnel(TunnelSettings(ngrok_path=str(install_fake_agent(tmp_path / "bin"))))
    with pytest.raises(TunnelError) as caught:
        tunnel.open(9)
    assert caught.value.message.startswith("no ngrok authtoken: NGROK_AUTHTOKEN is not set and ")
    assert caught.value.hint is not None and "dashboard.ngrok.com/get-started/your-authtoken" in caught.value.hint
    assert started_pids(tmp_path / "agent.jsonl") == []


def test_named_binary_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    agent_env(monkeypatch, tmp_path / "agent.jsonl")
    with pytest.raises(TunnelError) as caught:
        NgrokTunnel(TunnelSettings(ngrok_path=str(tmp_path / "nowhere" / "ngrok"))).open(9)
    assert caught.value.message.startswith("ngrok agent not found at ")
    assert "(from --ngrok-path)" in caught.value.message


def test_binary_missing_everywhere_is_our_error_and_nothing_is_downloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pyngrok import installer

    agent_env(monkeypatch, tmp_path / "agent.jsonl")
    monkeypatch.setenv("PATH", str(Path(installer.__file__).parents[3] / "bin"))  # holds pyngrok's shim only
    notices = Notices()
    with pytest.raises(TunnelError) as caught:  # the autouse fixture fails the test on any download attempt
        NgrokTunnel(notify=notices).open(9)
    default = tmp_path / "home" / ".config" / "ngrok" / "ngrok"
    assert caught.value.message == f"ngrok agent not found at {default} (from default location)"
    assert caught.value.code == "ngrok_not_found"
    assert caught.value.hint is not None and "ngrok.com/download" in caught.value.hint
    assert not default.exists()
    assert notices.items == []
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("field", "value"), [("domain", "not a domain"), ("basic_auth", "nocolon"), ("basic_auth", "dev:short")]
)
def test_bad_options_are_bad_input(field: str, value: str, tmp_path: Path) -> None:
    bad: dict[str, Any] = {field: value}
    tunnel = NgrokTunnel(TunnelSettings(**bad))
    with pytest.raises(BadInputError) as caught:
        tunnel.open(9)
    assert caught.value.exit_code == 7
