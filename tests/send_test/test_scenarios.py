"""Scenario files: the bundled ones, the TOML format, one-line errors naming line, step and key (exit 7),
and `whatsable scenarios list|show`."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.helpers import run_cli
from whatsable_cli.errors import BadInputError, ExitCode
from whatsable_cli.send_test.answers import json_mismatch, same_json
from whatsable_cli.send_test.scenario_lines import locate_key
from whatsable_cli.send_test.scenarios import (
    MAX_STEPS,
    Expectation,
    bundled_names,
    list_bundled,
    load_scenario,
    parse_scenario,
)

README = Path(__file__).resolve().parents[2] / "README.md"
BUNDLED = {"conversation", "failed-delivery", "read-before-delivered", "redelivered-status", "status-lifecycle"}


def parse(text: str):  # type: ignore[no-untyped-def]
    return parse_scenario(text, name="test", origin="test.toml")


def error_of(text: str) -> str:
    with pytest.raises(BadInputError) as caught:
        parse(text)
    assert caught.value.exit_code is ExitCode.BAD_INPUT
    assert "\n" not in caught.value.message
    return caught.value.message


def test_bundled_scenarios_load_and_share_one_message() -> None:
    assert set(bundled_names()) == BUNDLED
    scenarios = {s.name: s for s in list_bundled()}
    lifecycle = scenarios["status-lifecycle"]
    assert [s.variant for s in lifecycle.steps] == ["sent", "delivered", "read"]
    assert len({s.message for s in lifecycle.steps}) == 1
    assert [s.variant for s in scenarios["read-before-delivered"].steps] == ["sent", "read", "delivered"]
    conversation = scenarios["conversation"].steps
    assert [s.event for s in conversation] == ["incoming_message", *["message_status"] * 3, "incoming_message"]
    assert conversation[0].contact == conversation[-1].contact == "customer"
    assert all(scenario.description for scenario in scenarios.values())


def test_full_step_format() -> None:
    scenario = parse(
        """
description = "everything a step can say"

[[step]]
name = "first"
event = "message_status"
status = "failed"
message = "order-confirmation"
set = ['data.error={"code":"131047"}']
delay = 0.25

[step.expect]
status = 200
max_latency = 1.5
json = { ok = true, data = { status = "failed" }, "items.0.id" = 7 }

[[step]]
event = "incoming_message"
content_type = "image"
contact = "alice"
expect = { status = "2xx" }
"""
    )
    first, second = scenario.steps
    assert (first.index, first.name, first.label, first.message) == (
        1,
        "first",
        "message_status/failed",
        "order-confirmation",
    )
    assert first.overrides == ('data.error={"code":"131047"}',) and first.delay_s == 0.25
    assert first.expect == Expectation(200, 1.5, (("ok", True), ("data.status", "failed"), ("items.0.id", 7)))
    assert (second.name, second.label, second.contact, second.expect.status) == (
        "image",
        "incoming_message/image",
        "alice",
        "2xx",
    )
    assert scenario.description == "everything a step can say"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[step]]\nevent = "message_status"\n\n[[step]]\nevent = "message_status"\nstauts = "read"\n',
            "line 6, step 2, key 'stauts': unknown key",
        ),
        ('[[step]]\nevent = "message_status"\n[step.expect]\nstatus = 99\n', "line 4, step 1, key 'expect.status'"),
        (
            '[[step]]\nevent = "message_status"\nstatus = "readd"\n',
            "line 3, step 1, key 'status': unknown status 'readd'",
        ),
        ('[[step]]\nevent = "bogus"\n', "line 2, step 1, key 'event': unknown event 'bogus'"),
        ('[[step]]\nstatus = "read"\n', "line 1, step 1, key 'event': missing"),
        (
            '[[step]]\nevent = "message_status"\ncontent_type = "image"\n',
            "key 'content_type': applies to incoming_message",
        ),
        ('[[step]]\nevent = "incoming_message"\nmessage = "m"\n', "key 'message': applies to message_status"),
        ('[[step]]\nevent = "message_status"\nset = ["data.status.x=1"]\n', "line 3, step 1, key 'set': invalid --set"),
        ('[[step]]\nevent = "message_status"\nset = "data.status=read"\n', "key 'set': must be an array"),
        ('[[step]]\nevent = "message_status"\ndelay = -1\n', "key 'delay': -1 s is out of range"),
        ('[[step]]\nevent = "message_status"\ndelay = "1s"\n', "key 'delay': must be a number of seconds"),
        ('[[step]]\nevent = "message_status"\ndelay = true\n', "key 'delay': must be a number of seconds"),
        (
            '[[step]]\nevent = "message_status"\nexpect = { max_latency = 0 }\n',
            "line 3, step 1, key 'expect.max_latency'",
        ),
        ('[[step]]\nevent = "message_status"\nexpect = { json = {} }\n', "key 'expect.json': must be a non-empty"),
        ('[[step]]\nevent = "message_status"\nexpect = { json = { at = 1979-05-27 } }\n', "a TOML date or time"),
        ('[[step]]\nevent = "message_status"\nexpect = 200\n', "key 'expect': must be a table"),
        (
            '[[step]]\nevent = "message_status"\n[step.expect]\nbody = 1\n',
            "line 4, step 1, key 'expect.body': unknown key",
        ),
        ('[[step]]\nevent = "message_status"\nname = 3\n', "key 'name': must be a non-empty string, not an integer"),
        ('descriptio = "x"\n[[step]]\nevent = "message_status"\n', "line 1, key 'descriptio': unknown key"),
        ('description = 1\n[[step]]\nevent = "message_status"\n', "key 'description': must be a string"),
        ('description = "no steps"\n', "test.toml: no steps"),
        ("step = 1\n", "key 'step': must be an array of tables"),
        ("step = []\n", f"a scenario has 1 to {MAX_STEPS} steps, this one 0"),
        ('step = [{ event = "message_status", delay = 1000 }]\n', "step 1, key 'delay': 1000 s is out of range"),
        ('[[step]]\nevent = "message_status\n', "not valid TOML: Illegal character '\\n' (at line 2, column 24)"),
        (
            '[[step]]\nevent = "message_status"\nevent = "incoming_message"\n',
            "not valid TOML: Cannot overwrite a value",
        ),
    ],
)
def test_bad_files_get_one_line_naming_line_step_and_key(text: str, expected: str) -> None:
    message = error_of(text)
    assert message.startswith("scenario file test.toml")
    assert expected in message


def test_too_many_steps() -> None:
    text = '[[step]]\nevent = "message_status"\n' * (MAX_STEPS + 1)
    assert f"a scenario has 1 to {MAX_STEPS} steps, this one {MAX_STEPS + 1}" in error_of(text)


def test_key_lines_are_found_in_each_spelling() -> None:
    text = (
        'description = "x"\n'  # 1
        "[[step]]\n"  # 2
        'event = "message_status"\n'  # 3
        "expect.json.ok = true\n"  # 4
        "[[step]]\n"  # 5
        'event = "message_status"\n'  # 6
        "[step.expect]\n"  # 7
        "max_latency = 1\n"  # 8
        "[step.expect.json]\n"  # 9
        '"data.status" = "read"\n'  # 10
        "[other]\n"  # 11
        "status = 1\n"  # 12
    )
    assert locate_key(text, None, ("description",), 2) == 1
    assert locate_key(text, 0, ("expect", "json", "ok"), 2) == 4
    assert locate_key(text, 1, ("expect", "max_latency"), 2) == 8
    assert locate_key(text, 1, ("expect", "json", "data.status"), 2) == 10
    assert locate_key(text, 1, ("status",), 2) == 5  # not there: the step's own line, never [other]'s
    assert locate_key(text, 1, ("event",), 3) is None  # the count does not add up: say nothing rather than guess


def test_file_problems(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"# " + b"x" * (1024 * 1024) + b"\n")
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'description = "caf\xe9"\n')
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    for path, expected in (
        (big, "is over 1024 KiB"),
        (latin, "line 1: not UTF-8"),
        (folder, "is not a file"),
        (tmp_path / "missing.toml", "does not exist"),
    ):
        with pytest.raises(BadInputError, match=expected):
            load_scenario(str(path))
    with pytest.raises(BadInputError, match="unknown scenario 'nope'") as caught:
        load_scenario("nope")
    assert "status-lifecycle" in (caught.value.hint or "")


def test_a_file_wins_over_a_bundled_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "status-lifecycle").write_text('[[step]]\nevent = "incoming_message"\n')
    assert load_scenario("status-lifecycle").steps[0].event == "incoming_message"


# Text that is nearly a scenario: keys and values drawn from the real vocabulary, plus noise.
_KEYS = st.sampled_from(
    ["event", "status", "content_type", "message", "contact", "set", "delay", "expect", "name", "x", "json", "step"]
)
_VALUES = st.sampled_from(
    [
        '"message_status"',
        '"incoming_message"',
        '"read"',
        '"text"',
        "1",
        "-1",
        "1e9",
        "true",
        "[]",
        '["a=1"]',
        "{}",
        "{ status = 200 }",
        "{ json = { ok = true } }",
        "nan",
        "inf",
        '"data.status=read"',
        "1979-05-27",
        '"\\u0000"',
    ]
)
_LINES = st.one_of(
    st.builds(lambda k, v: f"{k} = {v}", _KEYS, _VALUES),
    st.sampled_from(["[[step]]", "[step.expect]", "[step.expect.json]", "[other]", "", "# comment", "[[step", "= 1"]),
    st.text(alphabet=string.printable, max_size=30),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_LINES, max_size=12))
def test_any_text_is_a_scenario_or_one_clear_error(lines: list[str]) -> None:
    error: BadInputError | None = None
    try:
        scenario = parse("\n".join(lines))
    except BadInputError as err:
        error = err
    if error is not None:
        assert error.exit_code is ExitCode.BAD_INPUT and error.code in ("invalid_toml", "invalid_scenario")
        assert error.message.startswith("scenario file test.toml") and "\n" not in error.message
    else:
        assert 1 <= len(scenario.steps) <= MAX_STEPS
        assert all(0 <= step.delay_s <= 300 for step in scenario.steps)


@pytest.mark.parametrize(
    ("body", "expected", "problem"),
    [
        (b'{"ok": true, "data": {"status": "read"}}', (("ok", True), ("data.status", "read")), None),
        (b'{"items": [{"id": 7}]}', (("items.0.id", 7.0), ("items.-1.id", 7)), None),
        (b'{"ok": 1}', (("ok", True),), "the answer's ok is 1, expected true"),
        (b'{"ok": true}', (("data.status", "read"),), "the answer has no data.status"),
        (b'{"items": []}', (("items.0", 1),), "the answer has no items.0"),
        (b"ok", (("ok", True),), "the answer is not JSON"),
        (b"", (("ok", True),), "the answer is empty, not JSON"),
        (b"\xff\xfe", (("ok", True),), "the answer is not JSON"),
        (b'{"n": {"a": 1, "b": 2}}', (("n", {"a": 1}),), 'the answer\'s n is {"a": 1, "b": 2}, expected {"a": 1}'),
        (b"[" * 30000 + b"]" * 30000, (("ok", True),), "the answer's JSON is nested too deeply to check"),
        (b"{" * 70000, (("ok", True),), "the answer is over 64 KiB, too long to check"),
    ],
)
def test_json_expectations(body: bytes, expected: tuple[tuple[str, object], ...], problem: str | None) -> None:
    assert json_mismatch(expected, body) == problem


def test_json_equality_keeps_booleans_apart() -> None:
    assert same_json(1, 1.0) and same_json([1, {"a": True}], [1.0, {"a": True}])
    assert not same_json(True, 1) and not same_json(0, False) and not same_json("1", 1)


def test_scenarios_list_and_show() -> None:
    listed = run_cli("scenarios", "list")
    assert listed.exit_code == 0
    assert all(name in listed.stdout for name in BUNDLED)
    assert "sent → delivered → read" in listed.stdout
    as_json = [json.loads(line) for line in run_cli("scenarios", "list", "--json").stdout.splitlines()]
    assert {s["name"] for s in as_json} == BUNDLED
    shown = run_cli("scenarios", "show", "status-lifecycle")
    assert shown.exit_code == 0
    assert shown.stdout == load_scenario("status-lifecycle").text  # as bundled, to copy and edit
    parsed = json.loads(run_cli("scenarios", "show", "conversation", "--json").stdout)
    assert [s["variant"] for s in parsed["steps"]] == ["text", "sent", "delivered", "read", "text"]
    assert parsed["steps"][1]["message"] == "reply" and parsed["steps"][0]["contact"] == "customer"


def test_scenarios_show_checks_a_file(tmp_path: Path) -> None:
    bad = tmp_path / "mine.toml"
    bad.write_text('[[step]]\nevent = "message_status"\nstauts = "read"\n')
    run = run_cli("scenarios", "show", str(bad))
    assert run.exit_code == 7
    assert f"error: scenario file {bad}, line 3, step 1, key 'stauts': unknown key" in run.stderr
    assert "Traceback" not in run.stderr
    assert run_cli("scenarios", "show", "nope").exit_code == 7


def test_the_readme_example_is_a_valid_scenario() -> None:
    section = README.read_text(encoding="utf-8").split("#### Scenario files", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    scenario = parse(example)
    assert [s.name for s in scenario.steps] == ["confirmation sent", "customer asks", "confirmation read"]
    sent, asks, read = scenario.steps
    assert sent.message == read.message == "confirmation" and asks.contact == "alice" and asks.delay_s == 0.5
    assert read.expect == Expectation("2xx", None, (("data.status", "read"),))
    message = error_of(example.replace('status = "sent"', 'stauts = "sent"'))
    assert "step 1, key 'stauts': unknown key" in message
