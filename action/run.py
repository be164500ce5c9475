"""The GitHub Action's run step: send-test with the inputs, then the log, job summary, outputs and exit code."""

# Standard library only, and it reads only send-test's documented JSON report, so it works with whichever
# version the install step installed. It runs the same on a laptop given the variables GitHub sets: INPUT_*
# (from action.yml), GITHUB_STEP_SUMMARY, GITHUB_OUTPUT, RUNNER_TEMP, and WHATSABLE (the CLI to run; default:
# `whatsable` on PATH). It exits with send-test's own code, so the documented codes fail the job.

from __future__ import annotations

import html
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

EXIT_MEANINGS = {
    0: "every check passed",
    1: "unexpected error",
    2: "usage error: check the args input",
    3: "signature failure",
    4: "the endpoint failed a check",
    5: "the endpoint was unreachable or timed out",
    7: "bad input: an input value, the scenario file or the config",
    130: "interrupted",
}
BAD_INPUT = 7
MARKS = {"pass": "✅", "warn": "⚠️", "fail": "❌", "unreachable": "❌", "skipped": "⏭️"}
LOG_MARKS = {"pass": "✓ pass", "warn": "! warn", "fail": "✗ FAIL", "unreachable": "✗ no answer", "skipped": "- skipped"}
FORMATS = ("table", "json")


def main() -> int:
    env = os.environ
    try:
        command = build_command(env)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return finish(env, BAD_INPUT, None, [f"error: {exc}"])
    child_env = dict(env)
    if env.get("INPUT_SECRET"):
        child_env["WHATSABLE_SECRET"] = env["INPUT_SECRET"]  # the environment, not argv: argv is visible to `ps`
    try:
        done = subprocess.run(command, env=child_env, capture_output=True, text=True, check=False)
    except OSError as exc:
        message = f"error: cannot run {command[0]}: {exc.strerror} (the action's install step puts it in WHATSABLE)"
        print(message, file=sys.stderr)
        return finish(env, 1, None, [message])
    sys.stderr.write(done.stderr)  # send-test's notes, warnings and errors, as they were
    report = parse_report(done.stdout)
    errors = error_lines(done.stdout) or done.stderr.splitlines()
    if report is None:
        sys.stdout.write(done.stdout)
    elif env.get("INPUT_FORMAT", "").strip() == "json":
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(log_table(report))
    return finish(env, done.returncode, report, errors)


def build_command(env: Mapping[str, str]) -> list[str]:
    url = env.get("INPUT_URL", "").strip()
    if not url:
        raise ValueError("the url input is empty: set it to the endpoint to test")
    output = env.get("INPUT_FORMAT", "").strip() or "table"
    if output not in FORMATS:
        raise ValueError(f"the format input is {output!r}: use table or json")
    whatsable = env.get("WHATSABLE") or shutil.which("whatsable") or "whatsable"
    command = [whatsable, "send-test", url, "--json"]
    unsigned_on_purpose = env.get("INPUT_ALLOW_UNSIGNED", "").strip().lower() == "true"
    if not env.get("INPUT_SECRET") and not env.get("WHATSABLE_SECRET"):
        if not unsigned_on_purpose:
            raise ValueError(
                "no signing secret: the secret input and WHATSABLE_SECRET are both empty (an unset repository "
                "secret, or a pull request from a fork?); set allow-unsigned: true to test unsigned on purpose"
            )
        command.append("--allow-unsigned")
    for flag, name in (("--scheme", "INPUT_SCHEME"), ("--scenario", "INPUT_SCENARIO"), ("--junit", "INPUT_JUNIT")):
        value = env.get(name, "").strip()
        if value:
            command += [flag, value]
    try:
        command += shlex.split(env.get("INPUT_ARGS", ""))
    except ValueError as exc:
        raise ValueError(f"the args input does not parse as a command line: {exc}") from None
    return command


def parse_report(stdout: str) -> dict[str, Any] | None:
    try:
        report = json.loads(stdout)
    except ValueError:
        return None
    return report if isinstance(report, dict) and isinstance(report.get("checks"), list) else None


def error_lines(stdout: str) -> list[str]:
    """The error document `--json` prints when send-test cannot run, as its `error:` and `hint:` lines."""
    try:
        document = json.loads(stdout)
    except ValueError:
        return []
    if not isinstance(document, dict) or document.get("type") != "error":
        return []
    lines = [f"error: {document.get('message')}"]
    return lines + ([f"hint: {document['hint']}"] if document.get("hint") else [])


def overall(report: dict[str, Any]) -> str:
    counts = report.get("summary", {})
    parts = [f"{counts.get(v, 0)} {label}" for v, label in _VERDICT_LABELS if counts.get(v) or v == "pass"]
    return f"{len(report['checks'])} checks: " + ", ".join(parts)


_VERDICT_LABELS = (
    ("pass", "passed"),
    ("warn", "warned"),
    ("fail", "failed"),
    ("unreachable", "unreachable"),
    ("skipped", "skipped"),
)


def _time(check: dict[str, Any]) -> str:
    total = check.get("total_ms")
    return "—" if total is None else f"{total:.0f} ms" if total < 1000 else f"{total / 1000:.2f} s"


def _status(check: dict[str, Any]) -> str:
    """The HTTP status, or why there was none (timeout, refused, ...)."""
    if check.get("verdict") == "skipped":
        return "—"
    return str(check.get("status") or check.get("code"))


def log_table(report: dict[str, Any]) -> str:
    rows = [
        (LOG_MARKS.get(c["verdict"], c["verdict"]), f"{c['group']}: {c['check']}", c["request"], _status(c), _time(c))
        for c in report["checks"]
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)] if rows else [0] * 5
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    word = "PASS" if report.get("passed") else "FAIL"
    lines.append(f"{word}: {overall(report)} against {report.get('url')} (exit {report.get('exit_code')})")
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text for a Markdown table cell: HTML-escaped (GitHub renders HTML), pipes and newlines neutralised."""
    return html.escape(text, quote=False).replace("|", "&#124;").replace("\n", "<br>")


def summary_markdown(code: int, report: dict[str, Any] | None, errors: list[str], env: Mapping[str, str]) -> str:
    meaning = EXIT_MEANINGS.get(code, "failed")
    if report is None:
        head = f"## {'✅' if code == 0 else '❌'} WhatsAble send-test did not report: exit {code} ({meaning})"
        lines = [head, ""]
        problems = [line for line in errors if line.startswith(("error:", "hint:"))] or errors[-5:]
        lines += [f"> {_cell(line)}<br>" for line in problems] or ["> (send-test printed nothing)"]
        return "\n".join(lines) + "\n"
    title = "passed" if code == 0 else f"failed: exit {code} ({meaning})"
    scheme = report.get("scheme") or "unsigned"
    facts = [f"<code>{_cell(str(report.get('url')))}</code>", f"scheme {_cell(str(scheme))}"]
    if env.get("INPUT_SCENARIO", "").strip():
        facts.append(f"scenario <code>{_cell(env['INPUT_SCENARIO'].strip())}</code>")
    facts.append(_cell(overall(report)))
    lines = [f"## {'✅' if code == 0 else '❌'} WhatsAble send-test {title}", "", " · ".join(facts), ""]
    lines += ["| | check | request | status | time | result |", "| --- | --- | --- | --- | --- | --- |"]
    for check in report["checks"]:
        result = _cell(check.get("message") or "")
        if check.get("hint"):
            result += f"<br><em>hint: {_cell(check['hint'])}</em>"
        lines.append(
            f"| {MARKS.get(check['verdict'], '')} | {_cell(check['group'] + ': ' + check['check'])} "
            f"| {_cell(check['request'])} | {_cell(_status(check))} | {_time(check)} | {result} |"
        )
    notes = report.get("notes") or []
    if notes:
        lines += ["", "<details><summary>Not checked</summary>", ""]
        lines += [*(f"- {_cell(note)}" for note in notes), "", "</details>"]
    return "\n".join(lines) + "\n"


def workflow_commands(report: dict[str, Any] | None, errors: list[str]) -> list[str]:
    """GitHub workflow commands: one ::error per failed check (or the error that stopped the run)."""
    if report is None:
        first = next((line for line in errors if line.startswith("error:")), None)
        return [f"::error title=whatsable send-test::{_escape_data(first.removeprefix('error: '))}"] if first else []
    found = []
    for check in report["checks"]:
        if check["verdict"] in ("fail", "unreachable"):
            title = _escape_property(f"send-test {check['group']}: {check['check']} [{check['request']}]")
            found.append(f"::error title={title}::{_escape_data(check.get('message') or check['code'])}")
    return found


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def finish(env: Mapping[str, str], code: int, report: dict[str, Any] | None, errors: list[str]) -> int:
    """Annotations, job summary and outputs; returns the exit code the step ends with."""
    for line in workflow_commands(report, errors):
        print(line)
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as file:
            file.write(summary_markdown(code, report, errors, env))
    outputs = {"exit-code": str(code), "passed": "true" if code == 0 else "false"}
    junit = env.get("INPUT_JUNIT", "").strip()
    if junit and Path(junit).is_file():
        outputs["junit"] = str(Path(junit).resolve())
    if report is not None:
        folder = Path(env.get("RUNNER_TEMP") or tempfile.gettempdir())
        path = folder / "whatsable-send-test.json"
        path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        outputs["report"] = str(path)
    if env.get("GITHUB_OUTPUT"):
        with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as file:
            file.writelines(f"{name}={value}\n" for name, value in outputs.items())
    return code


if __name__ == "__main__":
    sys.exit(main())
