"""send-test's machine-readable outputs: the JSON report, JUnit XML, and the dry-run request list."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from whatsable_cli.errors import BadInputError
from whatsable_cli.recording.lines import encode_body
from whatsable_cli.send_test.sender import OutboundRequest
from whatsable_cli.send_test.verdicts import Outcome, Report, Verdict
from whatsable_cli.webhooks.redaction import shown_headers

JUNIT_SUITE = "whatsable send-test"


def outcome_to_dict(outcome: Outcome) -> dict[str, Any]:
    check, exchange = outcome.check, outcome.exchange
    return {
        "group": check.group,
        "check": check.name,
        "request": check.request,
        "expect": check.expect.value,
        "verdict": outcome.verdict.value,
        "code": outcome.code,
        "message": outcome.message,
        "hint": outcome.hint,
        "status": None if exchange is None else exchange.status,
        "connect_ms": None if exchange is None else exchange.connect_ms,
        "total_ms": None if exchange is None else exchange.total_ms,
        "retry_after": outcome.retry_after,
        "response_snippet": None if exchange is None or not exchange.snippet else exchange.snippet,
        "error": None if exchange is None else exchange.error,
    }


def report_to_dict(report: Report) -> dict[str, Any]:
    return {
        "url": report.url,
        "scheme": report.scheme,
        "signed": report.scheme is not None,
        "passed": int(report.exit_code) == 0,
        "exit_code": int(report.exit_code),
        "summary": {v.value: report.count(v) for v in Verdict} | {"total": len(report.outcomes)},
        "expect": report.criteria.expected_label,
        "timeout_s": report.criteria.timeout_s,
        "max_latency_s": report.criteria.max_latency_s,
        "notes": report.notes,
        "checks": [outcome_to_dict(o) for o in report.outcomes],
    }


def report_to_junit(report: Report) -> bytes:
    """One <testsuite>, one <testcase> per check: fail -> <failure>, unreachable -> <error>, skip -> <skipped>."""
    seconds = sum((o.exchange.total_ms if o.exchange else 0.0) for o in report.outcomes) / 1000
    suite = ET.Element(
        "testsuite",
        name=JUNIT_SUITE,
        tests=str(len(report.outcomes)),
        failures=str(report.count(Verdict.FAIL)),
        errors=str(report.count(Verdict.UNREACHABLE)),
        skipped=str(report.count(Verdict.SKIPPED)),
        time=f"{seconds:.3f}",
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="url", value=report.url)
    ET.SubElement(properties, "property", name="scheme", value=report.scheme or "unsigned")
    for outcome in report.outcomes:
        _testcase(suite, outcome)
    if report.notes:
        ET.SubElement(suite, "system-out").text = "\n".join(report.notes)
    root = ET.Element("testsuites", name=JUNIT_SUITE)
    root.append(suite)
    ET.indent(root)
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml + b"\n"


def _testcase(suite: ET.Element, outcome: Outcome) -> None:
    check = outcome.check
    seconds = (outcome.exchange.total_ms if outcome.exchange else 0.0) / 1000
    case = ET.SubElement(
        suite, "testcase", classname=f"send-test.{check.group}", name=f"{check.name} [{check.request}]"
    )
    case.set("time", f"{seconds:.3f}")
    text = outcome.message + (f"\nhint: {outcome.hint}" if outcome.hint else "")
    if outcome.verdict is Verdict.FAIL:
        ET.SubElement(case, "failure", message=outcome.message, type=outcome.code).text = text
    elif outcome.verdict is Verdict.UNREACHABLE:
        ET.SubElement(case, "error", message=outcome.message, type=outcome.code).text = text
    elif outcome.verdict is Verdict.SKIPPED:
        ET.SubElement(case, "skipped", message=outcome.message)
    else:
        ET.SubElement(case, "system-out").text = text


def request_to_dict(request: OutboundRequest, *, show_secrets: bool) -> dict[str, Any]:
    body, encoding = encode_body(request.body)
    return {
        "method": request.method,
        "url": request.url,
        "headers": [list(pair) for pair in shown_headers(request.headers, show_secrets=show_secrets)],
        "body": body,
        "body_encoding": encoding,
        "redacted": not show_secrets,
    }


def check_junit_path(path: Path) -> None:
    """Fail before any check is sent when the report could not be written afterwards."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        existed = path.exists()
        with path.open("ab"):  # opened as writing will open it: a folder or read-only file fails here
            pass
        if not existed:
            path.unlink()  # nothing is left behind should the run not finish
    except OSError as exc:
        raise _unwritable(path, exc) from None


def write_junit(path: Path, report: Report) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(report_to_junit(report))
    except OSError as exc:
        raise _unwritable(path, exc) from None


def _unwritable(path: Path, exc: OSError) -> BadInputError:
    return BadInputError(
        f"cannot write the JUnit report to {path}: {exc.strerror}",
        hint="pass a writable path to --junit",
        code="unwritable_file",
    )
