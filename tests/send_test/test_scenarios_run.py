"""`send-test --scenario` against real loopback endpoints: shared ids, delays, per-step expectations, and a
broken endpoint failing the step it breaks on (in the table, the JSON report and JUnit)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.support import endpoints
from tests.support.helpers import Run, run_cli
from whatsable_cli.webhooks.signing import verify

SECRET = "s3cret"
Decide = Callable[[dict[str, Any], dict[str, Any]], web.StreamResponse | None]


def endpoint_that(
    decide: Decide, memory: dict[str, Any] | None = None
) -> Callable[[endpoints.Received, Any], endpoints.Handler]:
    """A verifying endpoint (401 on a bad signature) whose answer to a valid event `decide` picks from the
    event's data and the endpoint's `memory` (None: 200 with the event's status); arrival times kept there."""
    memory = {} if memory is None else memory
    memory["arrivals"] = []

    def make(received: endpoints.Received, _: Any) -> endpoints.Handler:
        async def handler(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            received.bodies.append(body)
            received.headers.append(dict(request.headers))
            memory["arrivals"].append(time.monotonic())
            if not verify("whatsable", SECRET, body, request.headers).ok:
                return web.json_response({"error": "bad signature"}, status=401)
            data = json.loads(body)["data"]
            answer = decide(data, memory)
            return answer if answer is not None else web.json_response({"ok": True, "status": data.get("status")})

        return handler

    return make


def scenario(url: str, name: str, *args: str) -> Run:
    return run_cli("send-test", url, "--scenario", name, "--secret", SECRET, *args)


def report_of(run: Run) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(run.stdout)
    return report


def steps_of(run: Run) -> list[dict[str, Any]]:
    return [c for c in report_of(run)["checks"] if c["group"] == "scenario"]


def payloads(endpoint: endpoints.Endpoint, count: int) -> list[dict[str, Any]]:
    return [json.loads(body)["data"] for body in endpoint.received.bodies[:count]]


@pytest.mark.parametrize(
    "name", ["status-lifecycle", "failed-delivery", "read-before-delivered", "redelivered-status", "conversation"]
)
def test_bundled_scenarios_pass_against_a_correct_endpoint(name: str) -> None:
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", SECRET, r)) as endpoint:
        run = scenario(endpoint.url, name, "--json")
    assert run.exit_code == 0, run.stdout + run.stderr
    report = report_of(run)
    steps = steps_of(run)
    assert steps and all(c["verdict"] == "pass" for c in steps)
    assert report["checks"][: len(steps)] == steps  # the scenario first, then the security and semantics checks
    assert {"security", "idempotency"} <= {c["group"] for c in report["checks"]}
    statuses = [d for d in payloads(endpoint, len(steps)) if "status" in d]
    assert len({d["message_id"] for d in statuses}) == 1  # one message through all its statuses


def test_conversation_shares_the_contact_and_the_reply_id() -> None:
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", SECRET, r)) as endpoint:
        run = scenario(endpoint.url, "conversation", "--json", "--no-security-checks", "--no-semantics-checks")
    assert run.exit_code == 0
    assert [c["check"] for c in steps_of(run)] == [
        "1. customer writes",
        "2. reply sent",
        "3. reply delivered",
        "4. reply read",
        "5. customer answers",
    ]
    first, sent, delivered, read, answer = payloads(endpoint, 5)
    assert [sent["status"], delivered["status"], read["status"]] == ["sent", "delivered", "read"]
    assert sent["message_id"] == delivered["message_id"] == read["message_id"]
    assert (first["phone_number"], first["user_id"]) == (answer["phone_number"], answer["user_id"])
    assert answer["user_timestamp"] > first["user_timestamp"]  # not a redelivery of the first message
    assert answer["last_message_of_user"] == "Thanks, that was quick!"


def test_an_endpoint_that_breaks_on_the_second_status_fails_from_that_step() -> None:
    """A naive handler: INSERT the message with a unique message_id, so its next status is a 500."""

    def unique_message_id(data: dict[str, Any], memory: dict[str, Any]) -> web.StreamResponse | None:
        seen = memory.setdefault("ids", set())
        if data["message_id"] in seen:
            return web.Response(status=500, text="UNIQUE constraint failed: messages.message_id")
        seen.add(data["message_id"])
        return None

    with endpoints.serve(endpoint_that(unique_message_id)) as endpoint:
        run = scenario(endpoint.url, "status-lifecycle", "--no-security-checks", "--no-semantics-checks", "--json")
    assert run.exit_code == 4
    assert [(c["check"], c["verdict"], c["status"]) for c in steps_of(run)] == [
        ("1. sent", "pass", 200),
        ("2. delivered", "fail", 500),
        ("3. read", "fail", 500),
    ]
    assert steps_of(run)[1]["message"] == "answered 500, expected 2xx"
    assert len(endpoint.received.bodies) == 3


def test_an_endpoint_rejecting_read_before_delivered_fails_only_that_step(tmp_path: Path) -> None:
    def strict_order(data: dict[str, Any], memory: dict[str, Any]) -> web.StreamResponse | None:
        delivered = memory.setdefault("delivered", set())
        if data["status"] == "delivered":
            delivered.add(data["message_id"])
        if data["status"] == "read" and data["message_id"] not in delivered:
            return web.json_response({"error": "read before delivered"}, status=409)
        return None

    junit = tmp_path / "report.xml"
    with endpoints.serve(endpoint_that(strict_order)) as endpoint:
        table = scenario(endpoint.url, "read-before-delivered", "--no-security-checks", "--no-semantics-checks")
        run = scenario(
            endpoint.url,
            "read-before-delivered",
            "--no-security-checks",
            "--no-semantics-checks",
            "--json",
            "--junit",
            str(junit),
        )
    assert table.exit_code == run.exit_code == 4
    assert "2. read" in table.stdout and "✗ FAIL" in table.stdout
    assert [c["verdict"] for c in steps_of(run)] == ["pass", "fail", "pass"]
    suite = ET.parse(junit).getroot().find("testsuite")  # noqa: S314 (the report this run just wrote)
    assert suite is not None and suite.get("failures") == "1"
    cases = [case for case in suite.iter("testcase") if case.get("classname") == "send-test.scenario"]
    assert [case.get("name") for case in cases] == [
        "1. sent [message_status/sent]",
        "2. read [message_status/read]",
        "3. delivered late [message_status/delivered]",
    ]
    assert [case.find("failure") is not None for case in cases] == [False, True, False]


def test_per_step_expectations_delays_and_shared_ids_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "order.toml"
    path.write_text(
        """
description = "two messages, checked answers"

[[step]]
name = "confirmation sent"
event = "message_status"
status = "sent"
message = "confirmation"
expect = { status = 200, json = { ok = true, status = "sent" } }

[[step]]
name = "receipt sent"
event = "message_status"
status = "sent"
message = "receipt"
delay = 0.2

[[step]]
name = "confirmation read"
event = "message_status"
status = "read"
message = "confirmation"
[step.expect]
json = { status = "delivered" }
"""
    )
    memory: dict[str, Any] = {}
    with endpoints.serve(endpoint_that(lambda data, memory: None, memory)) as endpoint:
        run = scenario(endpoint.url, str(path), "--json", "--no-security-checks", "--no-semantics-checks")
    arrivals = memory["arrivals"]
    assert run.exit_code == 4
    first, second, third = steps_of(run)
    assert first["verdict"] == second["verdict"] == "pass"
    assert third["verdict"] == "fail" and third["code"] == "unexpected_answer"
    assert third["message"] == 'answered 200, but the answer\'s status is "read", expected "delivered"'
    assert third["hint"] == 'the step expects an answer with status = "delivered" (its expect.json)'
    confirmation, receipt, read = payloads(endpoint, 3)
    assert confirmation["message_id"] == read["message_id"] != receipt["message_id"]
    assert arrivals[1] - arrivals[0] >= 0.2  # the delay before the second step


def test_step_status_and_latency_override_the_run(tmp_path: Path) -> None:
    path = tmp_path / "accepted.toml"
    path.write_text(
        '[[step]]\nevent = "message_status"\nexpect = { status = 202 }\n'
        '[[step]]\nevent = "message_status"\nstatus = "read"\nexpect = { status = "2xx", max_latency = 1e-9 }\n'
    )
    with endpoints.serve(lambda r, _: endpoints.status(202, r)) as endpoint:
        run = run_cli("send-test", endpoint.url, "--scenario", str(path), "--expect", "200", "--json")
    assert run.exit_code == 4
    accepted, slow = steps_of(run)
    assert accepted["verdict"] == "pass"  # the step's 202 over the run's --expect 200
    assert slow["code"] == "too_slow" and "over the step's max_latency 1e-09 s" in slow["message"]


def test_unreachable_endpoint_fails_the_first_step_and_skips_the_rest() -> None:
    run = scenario(endpoints.closed_port_url(), "status-lifecycle", "--json")
    assert run.exit_code == 5
    verdicts = [c["verdict"] for c in report_of(run)["checks"]]
    assert verdicts[0] == "unreachable" and set(verdicts[1:]) == {"skipped"}


def test_dry_run_shows_the_shared_ids_and_repeat_makes_new_ones() -> None:
    argv = (
        "send-test",
        "http://127.0.0.1:9/hook",
        *("--scenario", "status-lifecycle", "--repeat", "2"),
        *("--no-security-checks", "--no-semantics-checks", "--dry-run", "--json", "--seed", "7"),
    )
    run = run_cli(*argv)
    assert run.exit_code == 0, run.stderr
    requests = json.loads(run.stdout)["requests"]
    assert [r["check"] for r in requests] == [
        "1. sent #1",
        "2. delivered #1",
        "3. read #1",
        "1. sent #2",
        "2. delivered #2",
        "3. read #2",
    ]
    ids = [json.loads(r["body"])["data"]["message_id"] for r in requests]
    assert ids[0] == ids[1] == ids[2] != ids[3] == ids[4] == ids[5]
    again = run_cli(*argv)
    assert json.loads(again.stdout)["requests"] == requests  # --seed: the same bytes


def test_set_applies_to_every_step_before_the_steps_own(tmp_path: Path) -> None:
    path = tmp_path / "tagged.toml"
    path.write_text('[[step]]\nevent = "message_status"\n[[step]]\nevent = "message_status"\nset = ["data.tag=own"]\n')
    run = run_cli(
        "send-test",
        "http://127.0.0.1:9/hook",
        "--scenario",
        str(path),
        "--set",
        "data.tag=run",
        "--no-semantics-checks",
        "--dry-run",
        "--json",
    )
    assert [json.loads(r["body"])["data"]["tag"] for r in json.loads(run.stdout)["requests"]] == ["run", "own"]


@pytest.mark.parametrize("flag", [("--event", "message_status"), ("--fixture", "read"), ("--all-variants",)])
def test_scenario_conflicts_with_other_sources(flag: tuple[str, ...]) -> None:
    run = run_cli("send-test", "http://127.0.0.1:9/hook", "--scenario", "conversation", *flag)
    assert run.exit_code == 7
    assert "error: choose one of --body-file, --fixture, --scenario" in run.stderr


def test_bad_scenario_file_exits_7_before_sending(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[step]]\nevent = "message_status"\nstatus = "seen"\n')
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", SECRET, r)) as endpoint:
        run = scenario(endpoint.url, str(path))
    assert run.exit_code == 7
    assert f"scenario file {path}, line 3, step 1, key 'status': unknown status 'seen'" in run.stderr
    assert endpoint.received.bodies == []


def test_end_to_end_as_a_subprocess(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", SECRET, r)) as endpoint:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "whatsable_cli",
                "send-test",
                endpoint.url,
                "--scenario",
                "conversation",
                "--junit",
                str(junit),
            ],
            env={**os.environ, "WHATSABLE_SECRET": SECRET, "COLUMNS": "80"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5. customer answers" in done.stdout
    assert done.stdout.strip().splitlines()[-1].startswith("PASS: ")
    assert 'failures="0"' in junit.read_text() and "send-test.scenario" in junit.read_text()
