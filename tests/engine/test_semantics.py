"""Statechart semantics as data: each file in semantics/ is a machine plus scenarios.

A case starts in ``start`` (a state string, default: the initial configuration),
sends each step's event and checks whatever the step states: the resulting state
string, exited/entered states, the action order, success and error text. Every case
runs through ``process`` and through ``async_process``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pystator import Event, StateMachine
from pystator.config.source import read_source
from tests.drivers import ENGINE_DRIVERS, EngineDriver

HERE = Path(__file__).parent / "semantics"


def _cases() -> list[Any]:
    out = []
    for path in sorted(HERE.glob("*.yaml")):
        doc = read_source(path).data  # our reader: `on`/`off` stay names
        for case in doc["cases"]:
            out.append(pytest.param(doc["machine"], case, id=f"{path.stem}: {case['name']}"))
    return out


@pytest.mark.parametrize("drive", ENGINE_DRIVERS)
@pytest.mark.parametrize(("definition", "case"), _cases())
def test_semantics(drive: EngineDriver, definition: dict[str, Any], case: dict[str, Any]) -> None:
    machine = StateMachine.from_dict(definition)
    state = case.get("start") or machine.initial_state_string()
    for step in case["steps"]:
        event: str | Event = step["event"]
        if "payload" in step:
            event = Event(step["event"], step["payload"])
        result = drive.process(machine, state, event, step.get("context", {}))
        assert result.success is step.get("success", True), result.error
        if "error" in step:
            assert step["error"] in str(result.error)
        if "state" in step:
            assert result.target_state == step["state"]
        if "exited" in step:
            assert list(result.exited_states) == step["exited"]
        if "entered" in step:
            assert list(result.entered_states) == step["entered"]
        if "actions" in step:
            assert list(result.all_actions) == step["actions"]
        if "ignored" in step:
            assert result.ignored is step["ignored"]
        if result.success and result.target_state:
            state = result.target_state
