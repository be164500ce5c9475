"""Renders the scenario list and a single scenario (its TOML, or its parsed steps as JSON)."""

from __future__ import annotations

import sys
from typing import Any

from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from whatsable_cli.render.console import print_json, stdout_console
from whatsable_cli.send_test.scenarios import Scenario, ScenarioStep


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    return {
        "name": scenario.name,
        "description": scenario.description,
        "origin": scenario.origin,
        "steps": [_step_to_dict(step) for step in scenario.steps],
    }


def _step_to_dict(step: ScenarioStep) -> dict[str, Any]:
    expect = step.expect
    return {
        "index": step.index,
        "name": step.name,
        "event": step.event,
        "variant": step.variant,
        "message" if step.event == "message_status" else "contact": (
            step.message if step.event == "message_status" else step.contact
        ),
        "set": list(step.overrides),
        "delay_s": step.delay_s,
        "expect": {
            "status": expect.status,
            "max_latency_s": expect.max_latency_s,
            "json": dict(expect.json),
        },
    }


def _chain(scenario: Scenario) -> str:
    return " → ".join(step.variant for step in scenario.steps)


def render_scenario_list(scenarios: list[Scenario], *, json_output: bool) -> None:
    if json_output:
        for scenario in scenarios:
            print_json(scenario_to_dict(scenario))
        return
    table = Table(title="Bundled scenarios (send-test URL --scenario NAME)", title_justify="left")
    # The name is what --scenario takes: never cut. The description gives way on a narrow terminal.
    table.add_column("name", no_wrap=True, min_width=max((len(s.name) for s in scenarios), default=4))
    table.add_column("steps")
    table.add_column("description", ratio=1)
    for scenario in scenarios:
        table.add_row(escape(scenario.name), escape(_chain(scenario)), escape(scenario.description))
    stdout_console().print(table)


def render_scenario(scenario: Scenario, *, json_output: bool) -> None:
    if json_output:
        print_json(scenario_to_dict(scenario))
        return
    if not sys.stdout.isatty():
        sys.stdout.write(scenario.text)  # as written, so `scenarios show NAME > mine.toml` starts a new one
        sys.stdout.flush()
        return
    stdout_console().print(Syntax(scenario.text, "toml"))
