"""Statechart constructs as data: each document in statecharts/ is a machine plus cases.

A case starts the machine (``start()``, or from ``start_state``), checks what the
start says, then sends each step's event (or, with ``fire: true``, the next pending
timer) through ``step()`` (or ``async_step()``: every case runs through both drivers)
and checks whatever the step states: the state string, exited and entered states,
the actions the host runs, the internal events raised, the microsteps (by the event
each handled), history, timers, refusals, and the datamodel (the snapshot's data,
the step's context, what was assigned and logged, the timers cancelled).

Written from SCXML 1.0's algorithm (Appendix D) and checked by hand; the comments
in the files say why each expectation holds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from pystator import Event, StateMachine
from pystator.config.source import read_source
from pystator.snapshot import Snapshot, Timer
from pystator.step import RaiseEvent, Step

HERE = Path(__file__).parent / "statecharts"


def _cases() -> list[Any]:
    out = []
    for path in sorted(HERE.glob("*.yaml")):
        for text in path.read_text(encoding="utf-8").split("\n---\n"):
            doc = read_source(text).data  # our reader: `on`/`off` stay names
            for case in doc["cases"]:
                out.append(pytest.param(doc["machine"], case, id=f"{path.stem}: {case['name']}"))
    return out


def _drive(machine: StateMachine, driver: str, snapshot: Snapshot, event: Any, **kw: Any) -> Step:
    if driver == "sync":
        return machine.step(snapshot, event, **kw)
    return asyncio.run(machine.async_step(snapshot, event, **kw))


def _check(machine: StateMachine, step: Step, expected: dict[str, Any]) -> None:
    if "refused" in expected:
        assert step.refusal is not None, "expected a refusal"
        assert step.refusal.code == expected["refused"], step.refusal
    elif step.refusal is not None:
        pytest.fail(f"refused: {step.refusal.message}")
    if "error" in expected:
        assert step.refusal is not None and expected["error"] in step.refusal.message
    if "state" in expected:
        assert machine.state_string(step.configuration) == expected["state"]
    if "exited" in expected:
        assert list(step.exited) == expected["exited"]
    if "entered" in expected:
        assert list(step.entered) == expected["entered"]
    if "actions" in expected:
        assert [a.name for a in step.actions] == expected["actions"]
    if "raised" in expected:
        raised = [e.event for e in step.effects if isinstance(e, RaiseEvent)]
        assert raised == expected["raised"]
    if "microsteps" in expected:
        assert [m.event for m in step.microsteps] == expected["microsteps"]
    if "handled" in expected:
        assert [bool(m.transitions) for m in step.microsteps] == expected["handled"]
    if "history" in expected:
        history = {k: sorted(v) for k, v in step.snapshot.history.items()}
        assert history == {k: sorted(v) for k, v in expected["history"].items()}
    if "timers" in expected:
        timers = [[t.trigger, t.due_ms] for t in step.snapshot.timers]
        assert timers == expected["timers"]
    if "data" in expected:
        assert dict(step.snapshot.data) == expected["data"]
    if "context" in expected:
        assert {k: step.context.get(k) for k in expected["context"]} == expected["context"]
    if "assigned" in expected:
        assert [[a.location, a.value] for a in step.assignments] == expected["assigned"]
    if "logs" in expected:
        assert [[x.label, x.value] for x in step.logs] == expected["logs"]
    if "cancelled" in expected:
        assert [t.trigger for t in step.timers_cancelled] == expected["cancelled"]


@pytest.mark.parametrize("driver", ["sync", "async"])
@pytest.mark.parametrize(("definition", "case"), _cases())
def test_statechart(definition: dict[str, Any], case: dict[str, Any], driver: str) -> None:
    machine = StateMachine.from_dict(definition)
    context = case.get("context", {})
    if "start_state" in case:
        snapshot = machine.snapshot_of(case["start_state"])
    else:
        start = (
            machine.start(case.get("start_context", context))
            if driver == "sync"
            else asyncio.run(machine.async_start(case.get("start_context", context)))
        )
        _check(machine, start, case.get("start", {}))
        snapshot = start.snapshot
    for expected in case.get("steps", []):
        event: Any = expected.get("event")
        if expected.get("fire"):  # the next pending timer (an after, a timeout, a send)
            event = snapshot.next_timer
            assert event is not None, "no timer is pending"
        if "payload" in expected:
            event = Event(event, expected["payload"])
        now = expected.get("now", event.due_ms if isinstance(event, Timer) else 0)
        step = _drive(machine, driver, snapshot, event, context=context, now=now)
        _check(machine, step, expected)
        snapshot = step.snapshot
        # The snapshot survives its JSON form exactly (stores and share links keep it).
        assert Snapshot.from_dict(step.snapshot.to_dict()) == step.snapshot
