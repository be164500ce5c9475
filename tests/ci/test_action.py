"""The GitHub Action: action.yml is valid and wires every input through the environment; its scripts, run here
with the variables GitHub sets, pass against a good endpoint and fail (summary written) against a broken one."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import endpoints

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
RUN = ROOT / "action" / "run.py"
INSTALL = ROOT / "action" / "install.sh"
WHATSABLE = Path(sys.executable).parent / "whatsable"  # what the install step hands the run step
SECRET = "s3cret"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def action() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return loaded


def test_action_yml_is_a_composite_action_with_documented_inputs() -> None:
    spec = action()
    assert spec["name"] and spec["description"] and spec["runs"]["using"] == "composite"
    inputs = spec["inputs"]
    assert set(inputs) == {
        "url",
        "secret",
        "allow-unsigned",
        "scheme",
        "format",
        "scenario",
        "junit",
        "args",
        "version",
        "python",
    }
    assert inputs["url"]["required"] is True
    assert all(isinstance(i.get("description"), str) and i["description"] for i in inputs.values())
    assert all(isinstance(i.get("default", ""), str) for i in inputs.values())  # inputs are strings in GitHub
    steps = spec["runs"]["steps"]
    assert all(step["shell"] == "bash" for step in steps)
    ids = {step.get("id") for step in steps}
    for name, output in spec["outputs"].items():
        [expression] = EXPRESSION.findall(output["value"])
        step_id, output_name = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression).groups()  # type: ignore[union-attr]
        assert step_id in ids and output_name == name and output["description"]


def test_every_input_reaches_a_script_through_the_environment_only() -> None:
    spec = action()
    used: set[str] = set()
    for step in spec["runs"]["steps"]:
        assert not EXPRESSION.search(step["run"]), "expressions in a script are an injection risk: use env"
        for name, value in step.get("env", {}).items():
            for expression in EXPRESSION.findall(value):
                if expression.startswith("inputs."):
                    used.add(expression.removeprefix("inputs."))
                    assert name == "INPUT_" + expression.removeprefix("inputs.").upper().replace("-", "_")
                else:
                    assert re.fullmatch(r"steps\.install\.outputs\.\w+", expression)
        for script in re.findall(r"\$GITHUB_ACTION_PATH/([\w./-]+)", step["run"]):
            assert (ROOT / script).is_file(), script
    assert used == set(spec["inputs"])


class Job:
    """A job's files: the summary and outputs GitHub would read, and a runner temp folder."""

    def __init__(self, tmp_path: Path) -> None:
        self.dir = tmp_path
        self.summary = tmp_path / "summary.md"
        self.outputs = tmp_path / "outputs.txt"
        self.temp = tmp_path / "runner-temp"
        self.temp.mkdir()

    def env(self, **inputs: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_", "WHATSABLE_"))}
        env |= {
            "GITHUB_ACTION_PATH": str(ROOT),
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "GITHUB_OUTPUT": str(self.outputs),
            "GITHUB_WORKSPACE": str(self.dir),
            "RUNNER_TEMP": str(self.temp),
            "COLUMNS": "80",
        }
        return env | {f"INPUT_{name.upper()}": value for name, value in inputs.items()}

    def run(self, **inputs: str) -> subprocess.CompletedProcess[str]:
        """The run step exactly as action.yml has it: the installed CLI in WHATSABLE, the inputs as INPUT_*."""
        defaults = {
            "scheme": "",
            "format": "table",
            "junit": "whatsable-send-test.xml",
            "secret": "ci-secret",
            "allow_unsigned": "",
        }
        env = self.env(**defaults | inputs)
        env["WHATSABLE"] = str(WHATSABLE)
        return subprocess.run(
            [sys.executable, str(RUN)], cwd=self.dir, env=env, capture_output=True, text=True, timeout=120
        )

    def output(self) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.outputs.read_text().splitlines())


@pytest.fixture
def job(tmp_path: Path) -> Job:
    return Job(tmp_path)


def test_passes_against_a_good_endpoint(job: Job) -> None:
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", SECRET, r)) as endpoint:
        done = job.run(url=endpoint.url, secret=SECRET)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("PASS: ")
    assert "::error" not in done.stdout and SECRET not in done.stdout + done.stderr
    summary = job.summary.read_text()
    assert summary.startswith("## ✅ WhatsAble send-test passed")
    report = json.loads(Path(job.output()["report"]).read_text())
    rows = [line for line in summary.splitlines() if line.startswith("| ✅") or line.startswith("| ⏭️")]
    assert len(rows) == len(report["checks"]) and report["passed"]
    assert job.output()["exit-code"] == "0" and job.output()["passed"] == "true"
    junit = Path(job.output()["junit"])
    assert junit == (job.dir / "whatsable-send-test.xml").resolve() and 'failures="0"' in junit.read_text()
    assert SECRET not in summary + junit.read_text()


def test_fails_against_a_broken_endpoint_and_says_where(job: Job) -> None:
    with endpoints.serve(lambda r, _: endpoints.always_500(r)) as endpoint:
        done = job.run(url=endpoint.url, secret=SECRET, scenario="status-lifecycle")
    assert done.returncode == 4
    summary = job.summary.read_text()
    assert summary.startswith("## ❌ WhatsAble send-test failed: exit 4 (the endpoint failed a check)")
    assert "scenario <code>status-lifecycle</code>" in summary
    assert "| ❌ | scenario: 2. delivered | message_status/delivered | 500 |" in summary
    assert "answered 500, expected 2xx<br><em>hint: the endpoint failed while handling the event" in summary
    assert (
        "::error title=send-test scenario%3A 1. sent [message_status/sent]::answered 500, expected 2xx" in done.stdout
    )
    assert job.output()["exit-code"] == "4" and job.output()["passed"] == "false"
    assert "<failure" in Path(job.output()["junit"]).read_text()


def test_unreachable_endpoint_exits_5(job: Job) -> None:
    done = job.run(url=endpoints.closed_port_url(), secret=SECRET)
    assert done.returncode == 5
    assert "| ❌ | delivery: deliver | message_status/delivered | refused |" in job.summary.read_text()


def test_bad_input_exits_7_with_the_error_in_the_summary(job: Job, tmp_path: Path) -> None:
    bad = tmp_path / "mine.toml"
    bad.write_text('[[step]]\nevent = "message_status"\nstatus = "seen"\n')
    done = job.run(url="http://127.0.0.1:9/hook", scenario=str(bad))
    assert done.returncode == 7
    summary = job.summary.read_text()
    assert summary.startswith("## ❌ WhatsAble send-test did not report: exit 7 (bad input")
    assert f"> error: scenario file {bad}, line 3, step 1, key 'status': unknown status 'seen'<br>" in summary
    assert "> hint: valid: sent, delivered, read, failed<br>" in summary
    assert "::error title=whatsable send-test::scenario file" in done.stdout
    assert job.output() == {"exit-code": "7", "passed": "false"}


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"url": ""}, "the url input is empty"),
        ({"url": "http://127.0.0.1:9/hook", "format": "xml"}, "the format input is 'xml'"),
        ({"url": "http://127.0.0.1:9/hook", "args": "-H 'unclosed"}, "the args input does not parse"),
        ({"url": "http://127.0.0.1:9/hook", "secret": ""}, "no signing secret"),
    ],
)
def test_bad_inputs_of_the_action_itself(job: Job, inputs: dict[str, str], expected: str) -> None:
    done = job.run(**inputs)
    assert done.returncode == 7
    assert expected in done.stderr and expected in job.summary.read_text()


def test_json_format_and_extra_args(job: Job) -> None:
    with endpoints.serve(lambda r, _: endpoints.correct("standard", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", r)) as ep:
        done = job.run(
            url=ep.url,
            secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            scheme="standard",
            format="json",
            args="--no-semantics-checks -H 'X-Env: ci run'",
        )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[0])
    assert report["scheme"] == "standard" and report["passed"]
    assert ep.received.headers[0]["X-Env"] == "ci run"


def fake_python(folder: Path, version_ok: bool = True) -> Path:
    """A `python3` that records what it is asked to do; the venv it makes holds a python and a whatsable that
    record their calls too (so the install step runs offline). Returns the log of calls."""
    log = folder / "calls.log"
    recorder = folder / "recorder"
    recorder.write_text(f'#!/usr/bin/env bash\necho "$0 $*" >>"{log}"\n')
    script = recorder.read_text() + (
        'case "$1" in\n'
        f"  -c) exit {0 if version_ok else 1} ;;\n"
        "  -V) echo 'Python 3.9.0' ;;\n"
        f'  -m) mkdir -p "$3/bin" && cp "{recorder}" "$3/bin/python" && cp "{recorder}" "$3/bin/whatsable" ;;\n'
        "esac\n"
    )
    (folder / "bin").mkdir()
    python = folder / "bin" / "python3"
    python.write_text(script)
    for path in (python, recorder):
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return log


@pytest.mark.parametrize(
    ("version", "spec"), [("", str(ROOT)), ("1.2.3", "whatsable-cli==1.2.3"), ("latest", "whatsable-cli")]
)
def test_install_step_makes_its_own_venv(job: Job, version: str, spec: str) -> None:
    log = fake_python(job.dir)
    env = job.env(version=version, python="python3")
    env["PATH"] = f"{job.dir / 'bin'}:{env['PATH']}"
    done = subprocess.run(["bash", str(INSTALL)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    venv = job.temp / "whatsable-venv"
    calls = log.read_text().splitlines()
    assert f"{job.dir / 'bin' / 'python3'} -m venv {venv}" in calls
    assert f"{venv}/bin/python -m pip install --quiet --disable-pip-version-check {spec}" in calls
    assert f"{venv}/bin/whatsable --version" in calls
    assert job.output() == {"python": f"{venv}/bin/python", "whatsable": f"{venv}/bin/whatsable"}


def test_install_step_refuses_an_old_python(job: Job) -> None:
    fake_python(job.dir, version_ok=False)
    env = job.env(python="python3")
    env["PATH"] = f"{job.dir / 'bin'}:{env['PATH']}"
    done = subprocess.run(["bash", str(INSTALL)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 7
    assert "::error title=whatsable::whatsable needs Python 3.11 or newer" in done.stdout
    assert not job.outputs.exists()


def test_an_empty_secret_runs_unsigned_only_when_allowed(job: Job) -> None:
    refused = job.run(url="http://127.0.0.1:9/hook", secret="")
    assert refused.returncode == 7 and "no signing secret" in refused.stderr
    allowed = job.run(url="http://127.0.0.1:9/hook", secret="", allow_unsigned="true")
    assert allowed.returncode == 5  # it ran (unsigned, on purpose) and found nothing listening
