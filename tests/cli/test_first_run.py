"""The first five minutes: the banner's "Try it" command passes against that very listener, and forward targets
take what Stripe's CLI takes (`-f 3000`, `-f localhost:3000/webhook`)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.listen_helpers import read_line_matching
from whatsable_cli.commands.listen_settings import forward_target, route_target
from whatsable_cli.errors import BadInputError
from whatsable_cli.webhooks.signing import generate_secret

TRY_IT = re.compile(r"Try it\s+(whatsable send-test .*?)\s+\(in another terminal\)")
BIN = str(Path(sys.executable).parent)  # where the `whatsable` console script is installed


def _listener(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "whatsable_cli", "listen", "--no-tunnel", "--port", "0", "--no-record", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        bufsize=0,
        env={**os.environ, **env},
        cwd=cwd,
    )


def _try_it_against_listener(args: list[str], env: dict[str, str], cwd: Path, elsewhere: Path) -> tuple[str, int, str]:
    """Start a listener, run its printed "Try it" command in a shell (from another folder), stop the listener."""
    proc = _listener(args, env, cwd)
    try:
        assert proc.stderr is not None
        command = read_line_matching(proc.stderr, TRY_IT).group(1)
        shell_env = {**os.environ, **env, "PATH": BIN + os.pathsep + os.environ["PATH"]}
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=elsewhere,
            env=shell_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    return command, done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("source", "require", "scheme"),
    [
        ("env", False, "whatsable"),
        ("env", True, "standard"),
        ("local config", True, "whatsable"),
        ("local config", False, "standard"),
        ("--config", False, "whatsable"),
        ("--config", True, "svix"),
        ("none", False, "whatsable"),
    ],
)
def test_the_banner_command_passes_against_its_listener(
    tmp_path: Path, source: str, require: bool, scheme: str
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    secret = generate_secret(scheme)
    args = ["--scheme", scheme] if source != "none" else []
    args += ["--require-signature"] if require else []
    env: dict[str, str] = {}
    if source == "env":
        env["WHATSABLE_SECRET"] = secret
    elif source != "none":
        config = project / ("whatsable.toml" if source == "local config" else "listen.toml")
        config.write_text(f'secret = "{secret}"\n')
        if source == "--config":
            args += ["--config", str(config)]
    command, code, output = _try_it_against_listener(args, env, project, elsewhere)
    assert code == 0, f"{command}\n{output}"
    assert secret not in command  # the secret is named by where it lives, never printed
    if source in ("local config", "--config"):
        assert "--config" in command and "--secret" not in command
    if require:
        assert "--no-security-checks" not in command and "tampered body" in output  # the forgeries were sent


def test_a_secret_typed_on_the_command_line_is_not_repeated(tmp_path: Path) -> None:
    secret = generate_secret("whatsable")
    command, code, output = _try_it_against_listener(["--secret", secret], {}, tmp_path, tmp_path)
    assert code == 0, f"{command}\n{output}"
    assert secret not in command and "--secret" not in command


def test_the_banner_names_the_config_file_it_read(tmp_path: Path) -> None:
    (tmp_path / "whatsable.toml").write_text("port = 0\n")
    proc = _listener([], {}, tmp_path)
    try:
        assert proc.stderr is not None
        line = read_line_matching(proc.stderr, re.compile(r"Config\s+(\S+)")).group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
    assert line == str(tmp_path / "whatsable.toml")


@pytest.mark.parametrize(
    ("typed", "url"),
    [
        ("3000", "http://localhost:3000/webhook"),
        (":3000", "http://localhost:3000/webhook"),
        ("localhost:3000", "http://localhost:3000/webhook"),
        ("localhost:3000/webhook", "http://localhost:3000/webhook"),
        ("127.0.0.1:8080/hooks/wa?x=1", "http://127.0.0.1:8080/hooks/wa?x=1"),
        ("3000/in", "http://localhost:3000/in"),
        ("https://app.example.com/hook", "https://app.example.com/hook"),
        ("http://localhost:3000", "http://localhost:3000"),  # a full URL is taken as typed
    ],
)
def test_forward_targets_take_what_stripe_takes(typed: str, url: str) -> None:
    assert forward_target(typed) == url


def test_a_shorthand_target_gets_the_listeners_own_path() -> None:
    assert forward_target("3000", "/hooks/wa") == "http://localhost:3000/hooks/wa"
    assert route_target("incoming_message=3000/in") == ("incoming_message", "http://localhost:3000/in")


@pytest.mark.parametrize("typed", ["ftp://x/y", "local host:3000", "99999", "http://"])
def test_a_target_that_is_no_url_is_refused(typed: str) -> None:
    with pytest.raises(BadInputError):
        forward_target(typed)
