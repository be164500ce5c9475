"""`whatsable listen` bad configuration, in-process: one-line errors with hints and their exit codes."""

from __future__ import annotations

import dataclasses
import inspect
import socket
from pathlib import Path

import pytest

from tests.support.helpers import run_cli
from whatsable_cli.commands import listen as listen_cmd
from whatsable_cli.commands.listen_settings import ListenOptions, parse_size
from whatsable_cli.listen.model import ListenSettings
from whatsable_cli.listen.stats import RunSummary


def test_without_no_tunnel_it_needs_an_ngrok_authtoken() -> None:
    run = run_cli("listen", "--port", "0")
    assert run.exit_code == 6
    assert "no ngrok authtoken" in run.stderr
    assert "--no-tunnel" in run.stderr


def test_forward_url_must_be_http(tmp_path: Path) -> None:
    run = run_cli("listen", "--no-tunnel", "--port", "0", "--forward-to", "ftp://example.com/hook")
    assert run.exit_code == 2  # a bad option value: click's usage error
    assert "not an http(s) URL" in run.stderr


def test_listen_public_url_that_is_not_http_is_bad_input() -> None:
    # The banner showed "notaurl/webhook  (paste this into WhatsAble)".
    run = run_cli("listen", "--public-url", "hooks.example.com", "--port", "0")
    assert run.exit_code == 2, run.stderr
    said = " ".join(run.stderr.replace("│", " ").split())
    assert "Invalid value for '--public-url': --public-url 'hooks.example.com' is not an http(s) URL" in said


def test_malformed_route(tmp_path: Path) -> None:
    run = run_cli("listen", "--no-tunnel", "--port", "0", "--route", "http://localhost:3000/in")
    assert run.exit_code == 2
    assert "EVENT=URL" in run.stderr


def test_a_typo_in_an_event_type_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    # It was a warning, and every event was then hidden (--event) or misrouted (--route).
    for option in ("--event", "--route"):
        value = "incomming_message" + ("=3000" if option == "--route" else "")
        run = run_cli("listen", "--no-tunnel", option, value)
        said = " ".join(run.stderr.replace("│", " ").split())
        assert run.exit_code == 2, said
        assert "did you mean 'incoming_message'?" in said.lower()
    config = tmp_path / "c.toml"  # the same typo in the config file: bad config, exit 7
    config.write_text('[routes]\nincomming_message = "http://localhost:3000/in"\n')
    run = run_cli("listen", "--no-tunnel", "--config", str(config))
    assert run.exit_code == 7 and "did you mean 'incoming_message'?" in run.stderr


def test_unwritable_recording_exits_7_before_listening(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    run = run_cli("listen", "--no-tunnel", "--port", "0", "--record", str(blocker / "rec.jsonl"))
    assert run.exit_code == 7
    assert "cannot write the recording" in run.stderr
    assert "Webhook URL" not in run.stderr


def test_port_in_use_exits_7_with_a_hint(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = run_cli("listen", "--no-tunnel", "--port", str(port), "--no-record")
    assert run.exit_code == 7
    assert f"port {port}" in run.stderr and "--port 0" in run.stderr
    assert "Traceback" not in run.stderr


def test_require_signature_needs_a_secret() -> None:
    run = run_cli("listen", "--no-tunnel", "--port", "0", "--require-signature")
    assert run.exit_code == 7
    assert "needs a secret" in run.stderr


def test_unknown_scheme_and_output_are_usage_errors() -> None:
    assert run_cli("listen", "--no-tunnel", "--scheme", "nope").exit_code == 2
    assert run_cli("listen", "--no-tunnel", "--output", "fancy").exit_code == 2


def test_an_unknown_scheme_in_the_config_file_is_bad_input(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('scheme = "nope"\n')
    assert run_cli("listen", "--no-tunnel", "--config", str(config)).exit_code == 7


def test_a_port_in_the_config_file_that_is_not_a_number_is_bad_input(tmp_path: Path) -> None:
    config = tmp_path / "whatsable.toml"
    config.write_text('port = "abc"\n')
    run = run_cli("listen", "--no-tunnel", "--config", str(config))
    assert run.exit_code == 7, run.stderr
    assert "invalid port 'abc'" in run.stderr


@pytest.mark.parametrize(("text", "size"), [("1048576", 1 << 20), ("512k", 512 * 1024), ("2MiB", 2 << 20)])
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_every_listen_option_reaches_the_settings_builder() -> None:
    """Every listen parameter is passed to ListenOptions: one missing there would be dropped silently."""
    display_only = {"ctx", "output", "json_output", "show_body", "config_path", "yes"}
    inspector = {"inspect_port", "inspect_host", "no_inspect", "open_page", "show_secrets"}  # not the listener's
    parameters = set(inspect.signature(listen_cmd.listen).parameters) - display_only - inspector
    assert parameters == {field.name for field in dataclasses.fields(ListenOptions)}


def test_bad_max_body() -> None:
    run = run_cli("listen", "--no-tunnel", "--max-body", "lots")
    assert run.exit_code == 2
    assert "bad size" in run.stderr


def test_config_file_keys_and_flag_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[ListenSettings] = []

    def fake_run(settings: ListenSettings, observer: object, **_: object) -> RunSummary:
        seen.append(settings)
        return RunSummary()

    monkeypatch.setattr("whatsable_cli.listen.service.run", fake_run)
    config = tmp_path / "whatsable.toml"
    config.write_text(
        'secret = "whsec_ZnJvbS1jb25maWc="\nscheme = "standard"\nforward_to = ["http://localhost:3000/webhook"]\n'
        'port = 5001\nhost = "0.0.0.0"\npath = "hooks/wa"\n'
        f'record = "{tmp_path / "rec.jsonl"}"\n'
        '[routes]\nincoming_message = "http://localhost:3000/in"\n'
    )
    assert run_cli("listen", "--no-tunnel", "--config", str(config)).exit_code == 0
    assert run_cli("listen", "--no-tunnel", "--config", str(config), "--port", "6000", "--no-record").exit_code == 0
    from_file, overridden = seen
    assert from_file.secret == "whsec_ZnJvbS1jb25maWc=" and from_file.scheme == "standard"
    assert from_file.routing.forward_to == ("http://localhost:3000/webhook",)
    assert from_file.routing.routes == (("incoming_message", "http://localhost:3000/in"),)
    assert (from_file.host, from_file.port, from_file.path) == ("0.0.0.0", 5001, "/hooks/wa")
    assert from_file.record_path == tmp_path / "rec.jsonl"
    assert overridden.port == 6000 and overridden.record_path is None


def test_malformed_forward_header() -> None:
    run = run_cli("listen", "--no-tunnel", "-H", "no colon here")
    assert run.exit_code == 2
    assert "malformed header" in run.stderr
