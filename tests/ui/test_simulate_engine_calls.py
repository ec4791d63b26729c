"""The Simulate panel asks the engine once per event: once per input it replays, once per
event button it shows.

Counted at the engine's one entry point (``pystator.macrostep.stepper``), for a request
that replays a trace of k inputs on a machine with T triggers: k + 1 (the action) + T.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pystator import StateMachine, macrostep
from tests.engine.simulator_machines import TRADING
from ui.simulating import simulate


@pytest.fixture()
def counted(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    real = macrostep.stepper

    def stepper(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[2])  # the event
        return real(*args, **kwargs)

    monkeypatch.setattr(macrostep, "stepper", stepper)
    return calls


def test_one_engine_call_per_replayed_event_and_per_event_button(counted: list[Any]) -> None:
    machine = StateMachine.from_yaml(TRADING)
    triggers = list(dict.fromkeys(t.trigger for t in machine.all_transitions if not t.eventless))
    trace = json.dumps([{"e": "open"}, {"e": "signal"}])
    counted.clear()
    view = simulate(machine, trace, "send:-:warn", {})
    assert view.message is None, view.message
    replayed_and_sent = 3
    assert len(counted) == replayed_and_sent + len(triggers)
    # every event button and every disabled reason came from that single pass
    shown = {b.event for b in view.enabled} | {e for e, _ in view.disabled}
    assert shown == set(triggers)


def test_a_machine_that_never_settles_at_its_start_gets_a_sentence_not_an_error() -> None:
    machine = StateMachine.from_yaml(
        """
states:
  - {name: A, type: initial}
  - {name: B}
transitions:
  - {source: A, dest: B, always: true}
  - {source: B, dest: A, always: true}
"""
    )
    view = simulate(machine, "[]", "show", {})
    assert view.machine_problem is not None
    assert "cannot be simulated" in view.machine_problem and "A -> B" in view.machine_problem
