"""What a simulation's steps say, pinned where a mutation run of the simulator found it loose.

``pystator/simulator/run.py`` replays each input through the engine, ``values.py`` holds the
steps it writes down and ``trace.py`` the inputs a trace carries (JSON in designer links).
The simulator's other tests follow the designer's path; these pin the details a mutation
run showed no test read: the configuration a clock, guard or context step carries, what a
context edit counts as a change, the error naming the guards a machine uses, a timer
step's payload, and the text of an advance to the present.
"""

from __future__ import annotations

import json

import pytest

from pystator import StateMachine
from pystator.limits import MAX_JSON_CHARS
from pystator.simulator import MAX_STEPS, Simulation, SimulationError
from pystator.simulator.trace import Input
from tests.engine.simulator_machines import HIERARCHY, ORDER
from tests.invoke_machines import session_machine

TWO_TIMERS = """
meta: {machine_name: two timers}
states:
  - {name: a, type: initial}
  - {name: b}
  - {name: c}
transitions:
  - {source: a, dest: b, after: 1s, guards: [to_b]}
  - {source: a, dest: c, after: 1s, guards: [to_c]}
  - {source: b, dest: c, after: 1s}
"""


def order() -> Simulation:
    return Simulation(StateMachine.from_yaml(ORDER))


# --------------------------------------------------------------- plain steps
def test_clock_guard_and_context_steps_carry_the_configuration_they_leave_unchanged() -> None:
    sim = order()
    sim.send("exchange_ack")
    advance = sim.advance("1s")[-1]
    guard = sim.set_guard("is_full_fill", True)
    context = sim.set_context({"fill_qty": 1})
    for step in (advance, guard, context):
        assert step.configuration == frozenset({"OPEN"}), step.kind
        assert step.state == "OPEN"


def test_an_advance_to_the_present_reads_as_a_zero_clock() -> None:
    (step,) = order().advance(0)
    assert step.summary == "clock -> 0ms (0 timer(s) fired)"


def test_a_timer_step_has_an_empty_payload() -> None:
    step = order().fire_next_timer()
    assert step.kind == "timer" and step.payload == {}
    assert step.summary == "timer timeout:PENDING: PENDING -> TIMED_OUT"


def test_an_advance_counts_every_timer_it_fires() -> None:
    sim = Simulation(StateMachine.from_yaml(TWO_TIMERS))
    sim.set_guard("to_b", True)
    steps = sim.advance("5s")
    assert [s.kind for s in steps] == ["timer", "timer", "advance"]
    assert steps[-1].summary == "clock -> 5s (2 timer(s) fired)"
    assert sim.state == "c"


def test_a_timer_takes_its_own_transition_where_two_timers_share_one_trigger() -> None:
    """Both delayed transitions of `a` arm `after:1s:a`; the undecided named guards are
    decided by which transition the timer belongs to, not left to a choice."""
    step = Simulation(StateMachine.from_yaml(TWO_TIMERS)).fire_next_timer()
    assert step.summary == "timer after:1s:a: a -> b"
    [check] = step.guards
    assert (check.guard, check.passed, check.decided_by) == ("to_b", True, "timer")
    assert check.detail == "the timer's own transition"


def test_a_child_machines_timer_step_records_no_choice() -> None:
    sim = Simulation(session_machine())
    sim.send("enter")
    step = sim.fire_next_timer()
    assert step.kind == "timer" and step.event == "ding"
    assert step.via is None


def test_undoing_the_first_input_keeps_the_actions_of_the_start() -> None:
    machine = StateMachine.from_yaml(
        ORDER.replace("type: initial", "type: initial\n    on_enter: [greet]")
    )
    sim = Simulation(machine)
    sim.send("exchange_ack")
    assert [a.name for a in sim.action_log] == ["greet", "update_order_id", "notify_ui"]
    sim.undo()
    assert [a.name for a in sim.action_log] == ["greet"]


def test_the_trace_keeps_where_a_fired_timer_led() -> None:
    sim = order()
    sim.fire_next_timer()
    assert json.loads(sim.to_json())["trace"] == [{"f": 1, "s": "TIMED_OUT"}]


def test_a_trace_that_moves_the_clock_back_diverges_there() -> None:
    text = '{"trace":[{"a":2000,"s":"PENDING"},{"a":1000,"s":"PENDING"}]}'
    sim = Simulation.from_json(StateMachine.from_yaml(ORDER), text)
    assert (
        str(sim.divergence) == "step 2: advance to 1000 ms: cannot move the clock back to 1000 ms"
    )


# --------------------------------------------------------------- context edits
def test_a_context_edit_lists_only_the_keys_whose_value_or_type_changed() -> None:
    sim = Simulation(StateMachine.from_yaml(ORDER), {"a": 1, "b": "x", "c": None, "d": 1})
    step = sim.set_context({"a": 1, "b": "x", "c": None, "d": True, "e": 2})
    changes = [(c.key, c.before, c.after, c.change) for c in step.context_changes]
    assert changes == [("d", 1, True, "changed"), ("e", None, 2, "added")]
    assert step.summary == "context edited (d, e)"


def test_a_context_edit_that_changes_nothing_says_so() -> None:
    sim = Simulation(StateMachine.from_yaml(ORDER), {"n": 0, "s": "a"})
    step = sim.set_context({"n": 0, "s": "a"})
    assert step.context_changes == ()
    assert step.summary == "context edited (no change)"


# --------------------------------------------------------------- named guards
def test_an_unknown_guard_is_refused_with_the_guards_the_machine_uses() -> None:
    with pytest.raises(SimulationError) as caught:
        order().set_guard("is_ful", True)
    assert str(caught.value) == (
        "no transition uses a named guard 'is_ful': did you mean 'is_full_fill'?"
        " (it uses: is_full_fill, is_partial_fill)"
    )


def test_a_machine_without_named_guards_says_it_uses_none() -> None:
    with pytest.raises(SimulationError) as caught:
        Simulation(StateMachine.from_yaml(HIERARCHY)).set_guard("ready", True)
    assert str(caught.value) == "no transition uses a named guard 'ready' (it uses none)"


# --------------------------------------------------------------- the trace's JSON
def test_the_trace_is_compact_json_with_its_version_and_text_as_written() -> None:
    machine = StateMachine.from_yaml(ORDER.replace("exchange_ack", "注文_ack"))
    sim = Simulation(machine, {"note": "é"})
    sim.send("注文_ack")
    assert sim.to_json() == (
        '{"v":1,"machine":"order","context":{"note":"é"},"start":"PENDING",'
        '"trace":[{"e":"注文_ack","s":"OPEN"}]}'
    )
    assert json.loads(sim.to_json(indent=2)) == json.loads(sim.to_json())
    assert '"v": 1,' in sim.to_json(indent=2)


def test_a_trace_may_advance_to_zero_and_must_not_go_below() -> None:
    machine = StateMachine.from_yaml(ORDER)
    sim = Simulation.from_json(machine, '{"trace":[{"a":0,"s":"PENDING"}]}')
    assert sim.divergence is None
    assert [s.summary for s in sim.steps] == ["start in PENDING", "clock -> 0ms (0 timer(s) fired)"]
    with pytest.raises(SimulationError, match=r'trace entry 0: "a" must be a clock time'):
        Simulation.from_json(machine, '{"trace":[{"a":-1}]}')


def test_an_advance_that_now_leads_elsewhere_is_where_the_replay_diverges() -> None:
    machine = StateMachine.from_yaml(ORDER)
    sim = Simulation.from_json(machine, '{"trace":[{"a":6000,"s":"PENDING"}]}')
    assert str(sim.divergence) == (
        "step 1: advance to 6000 ms: the trace went to 'PENDING', the machine now goes to"
        " 'TIMED_OUT'"
    )


def test_a_trace_longer_than_any_other_json_document_is_still_read() -> None:
    text = '{"trace":[]}' + " " * (MAX_JSON_CHARS + 10)
    sim = Simulation.from_json(StateMachine.from_yaml(ORDER), text)
    assert sim.divergence is None and sim.state == "PENDING"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{",
            "not a simulation trace: invalid JSON (the trace is not valid JSON: Expecting"
            " property name enclosed in double quotes (line 1, column 2))",
        ),
        ("[1]", 'not a simulation trace: expected an object with a "trace" list'),
        ('{"trace":[],"context":[1]}', 'trace "context" must be an object'),
        ('{"trace":[],"start":1}', 'trace "start" must be a state string'),
        (
            '{"trace":[' + ",".join(['{"f":1}'] * MAX_STEPS) + "]}",
            f"the trace has {MAX_STEPS} inputs; a simulation is limited to {MAX_STEPS} steps"
            " (the start included)",
        ),
    ],
)
def test_a_malformed_trace_is_refused_with_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SimulationError) as caught:
        Simulation.from_json(StateMachine.from_yaml(ORDER), text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("item", "text"),
    [
        (Input("event", event="go"), "event 'go'"),
        (Input("event", event="go", via=0), "event 'go' (via=0)"),
        (Input("fire"), "fire next timer"),
        (Input("advance", to_ms=250), "advance to 250 ms"),
        (Input("guard", guard="ok", outcome=True), "set guard 'ok'"),
        (Input("context", context={"a": 1}), "edit context"),
    ],
)
def test_each_input_describes_itself_for_a_divergence(item: Input, text: str) -> None:
    assert item.describe() == text
