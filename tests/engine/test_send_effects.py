"""What a ``send`` action puts in a step: a raised event for an internal send, a timer
for a delayed one, ``error.communication`` (and nothing else) for a session that cannot
be reached, and a fresh id for each send that names none."""

from __future__ import annotations

from typing import Any

from pystator import StateMachine
from pystator.step import RaiseEvent, ScheduleTimer, Step


def _started(on_enter: list[Any]) -> tuple[StateMachine, Step]:
    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "sender"},
            "data": {"first": None, "second": None},
            "states": [{"name": "a", "type": "initial", "on_enter": on_enter}, {"name": "b"}],
            "transitions": [
                {"trigger": "ping", "source": "a", "dest": "b"},
                {"trigger": "error.communication", "source": "a", "dest": "b"},
            ],
        }
    )
    return machine, machine.start()


def _kinds(step: Step) -> list[tuple[str, str]]:
    out = []
    for effect in step.effects:
        if isinstance(effect, RaiseEvent):
            out.append(("raise", effect.event))
        elif isinstance(effect, ScheduleTimer):
            out.append(("timer", effect.timer.trigger))
    return out


def test_an_internal_send_raises_its_event_and_arms_no_timer() -> None:
    machine, step = _started([{"send": "ping", "internal": True, "data": {"n": "1"}}])
    assert _kinds(step) == [("raise", "ping")]
    (raised,) = [e for e in step.effects if isinstance(e, RaiseEvent)]
    assert raised.data == {"n": 1}
    assert step.snapshot.timers == ()
    assert machine.state_string(step.configuration) == "b"


def test_a_delayed_send_arms_a_timer_with_its_data() -> None:
    _, step = _started([{"send": "ping", "delay": "2s", "content": "'hi'"}])
    assert _kinds(step) == [("timer", "ping")]
    (timer,) = step.snapshot.timers
    assert (timer.due_ms, timer.data) == (2000, "hi")


def test_an_unreachable_session_gets_error_communication_only() -> None:
    machine, step = _started([{"send": "ping", "target": "#_parent"}])
    assert _kinds(step) == [("raise", "error.communication")]
    assert step.snapshot.timers == ()
    assert machine.state_string(step.configuration) == "b"


def test_each_send_without_an_id_gets_its_own() -> None:
    _, step = _started(
        [
            {"send": "ping", "delay": "1s", "id_location": "first"},
            {"send": "ping", "delay": "1s", "id_location": "second"},
        ]
    )
    data = step.snapshot.data
    assert data["first"] and data["second"] and data["first"] != data["second"]
    first, second = step.snapshot.timers
    assert (first.send_id, second.send_id) == (data["first"], data["second"])
    assert first.id != second.id


def test_a_delay_expression_sets_the_due_time() -> None:
    _, step = _started([{"send": "ping", "delay_expr": "'3s'"}])
    assert [t.due_ms for t in step.snapshot.timers] == [3000]


def test_an_unsupported_target_or_processor_is_error_execution_with_why() -> None:
    for send, why in (
        ({"send": "ping", "target": "http://x"}, "send: the target 'http://x' is not supported"),
        ({"send": "ping", "type": "http"}, "send: the event processor 'http' is not supported"),
    ):
        _, step = _started([send])
        assert _kinds(step) == [("raise", "error.execution")]
        (raised,) = [e for e in step.effects if isinstance(e, RaiseEvent)]
        assert raised.data == why
        assert step.snapshot.timers == ()
