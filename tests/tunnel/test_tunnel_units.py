"""The pieces around the agent without starting it: finding the binary, its version, the token, error texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tunnel_helpers import install_fake_agent
from whatsable_cli.errors import BadInputError
from whatsable_cli.tunnel import agent as ngrok_agent
from whatsable_cli.tunnel import errors as tunnel_errors
from whatsable_cli.tunnel.settings import basic_auth_policy, normalise_domain

SHIM = "#!/usr/bin/python3\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom pyngrok.ngrok import main\n"


def test_agent_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shim_dir, real_dir = tmp_path / "venv-bin", tmp_path / "usr-bin"
    shim_dir.mkdir()
    (shim_dir / "ngrok").write_text(SHIM, encoding="utf-8")
    (shim_dir / "ngrok").chmod(0o755)
    real = install_fake_agent(real_dir)
    monkeypatch.setenv("PATH", f"{shim_dir}:{real_dir}")
    monkeypatch.delenv("PYNGROK_NGROK_PATH", raising=False)
    assert ngrok_agent.find_agent() == ngrok_agent.AgentBinary(real, "PATH")  # pyngrok's shim is skipped
    monkeypatch.setenv("PYNGROK_NGROK_PATH", "/opt/ngrok")
    assert ngrok_agent.find_agent() == ngrok_agent.AgentBinary(Path("/opt/ngrok"), "PYNGROK_NGROK_PATH")
    assert ngrok_agent.find_agent("/x/ngrok").source == "--ngrok-path"
    monkeypatch.delenv("PYNGROK_NGROK_PATH")
    monkeypatch.setenv("PATH", str(shim_dir))
    found = ngrok_agent.find_agent()
    assert found.source == "default location"
    assert found.path == tmp_path / "home" / ".config" / "ngrok" / "ngrok"


def test_version_is_read_from_the_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    agent = ngrok_agent.AgentBinary(install_fake_agent(tmp_path), "--ngrok-path")
    assert ngrok_agent.agent_version(agent) == (3, 30, 0)
    monkeypatch.setenv("FAKE_NGROK_SCENARIO", "too_old")
    assert ngrok_agent.agent_version(agent) == (3, 20, 0)


def test_something_else_is_not_the_agent(tmp_path: Path) -> None:
    other = tmp_path / "ngrok"
    other.write_text("#!/bin/sh\necho hello\n", encoding="utf-8")
    other.chmod(0o755)
    with pytest.raises(Exception, match="does not look like the ngrok agent"):
        ngrok_agent.agent_version(ngrok_agent.AgentBinary(other, "--ngrok-path"))


def test_authtoken_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ngrok.yml"
    assert ngrok_agent.find_authtoken(config) is None
    config.write_text("version: 2\nauthtoken: 'v2token'  # old layout\n", encoding="utf-8")
    found = ngrok_agent.find_authtoken(config)
    assert found is not None and found.value == "v2token" and str(config) in found.source
    assert "v2token" not in repr(found)
    monkeypatch.setenv("NGROK_AUTHTOKEN", "envtoken")
    assert ngrok_agent.find_authtoken(config) == ngrok_agent.Authtoken("NGROK_AUTHTOKEN", "envtoken")


def test_error_text_is_unescaped_redacted_and_one_line() -> None:
    raw = (
        "authentication failed: The authtoken you specified does not look like a proper ngrok tunnel authtoken."
        "\\nYour authtoken: abc123SECRET\\nInstructions...\\r\\n\\r\\nERR_NGROK_105\\r\\n"
    )
    assert "\\n" not in tunnel_errors.unescape(raw)
    shown = tunnel_errors.clean(raw, token=None)  # even without knowing the token, its echo is redacted
    assert "abc123SECRET" not in shown and "Your authtoken: [REDACTED]" in shown
    assert "--authtoken [REDACTED]" in tunnel_errors.redact("ngrok start --authtoken tok_1", "tok_1")
    error = tunnel_errors.agent_failure("something odd\\nmore detail", None)
    assert error.message == "ngrok failed: something odd"
    assert error.exit_code == 6


def test_domain_and_basic_auth_checks() -> None:
    assert normalise_domain("https://Hooks.Example.com/") == "hooks.example.com"
    with pytest.raises(BadInputError):
        normalise_domain("http://bad_domain")
    policy = basic_auth_policy("dev:longenough")
    assert policy["on_http_request"][0]["actions"][0]["config"]["credentials"] == ["dev:longenough"]
    with pytest.raises(BadInputError):
        basic_auth_policy(":longenough")


def test_an_offline_dial_error_that_carries_the_token_is_shown_without_it() -> None:
    from types import SimpleNamespace

    from whatsable_cli.tunnel.ngrok import NgrokTunnel

    token = "2bXsecretTOKENvalue_abcdefghijklmnop"
    tunnel = NgrokTunnel()
    tunnel._token, tunnel._starting, tunnel._agent_pid = token, True, -1  # as during start-up
    line = f'failed to dial ngrok server with address \\"connect.ngrok-agent.com:443\\": --authtoken {token}'
    tunnel._on_agent_log(SimpleNamespace(lvl="ERROR", err=line, msg="failed to reconnect session"))
    assert tunnel._abort is not None and tunnel._abort.code == "offline"
    assert token not in tunnel._abort.message and tunnel_errors.REDACTED in tunnel._abort.message


@pytest.mark.parametrize(
    "line",
    [
        "lookup connect.ngrok-agent.com on 127.0.0.53:53: server misbehaving",
        "EOF",
        "session closed: unexpected EOF",
        "x509: certificate signed by unknown authority",
        'failed to dial ngrok server with address "connect.ngrok-agent.com:443": i/o timeout',
    ],
)
def test_offline_lines_are_recognised(line: str) -> None:
    assert tunnel_errors.looks_offline(line)
    assert tunnel_errors.agent_failure(line, None).code == "offline"


@pytest.mark.parametrize("line", ["the GEOFENCE policy refused", "invalid tunnel configuration", "see /tmp/EOF.log"])
def test_other_lines_are_not_taken_for_offline(line: str) -> None:
    assert not tunnel_errors.looks_offline(line)


def test_the_undocumented_313_is_no_longer_mapped() -> None:
    assert "ERR_NGROK_313" not in tunnel_errors.KNOWN_ERRORS
    assert {"ERR_NGROK_107", "ERR_NGROK_320", "ERR_NGROK_7118"} <= set(tunnel_errors.KNOWN_ERRORS)
