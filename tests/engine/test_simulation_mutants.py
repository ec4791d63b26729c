"""``Simulation``'s own rules, pinned where a mutation run of ``simulation.py`` found them loose.

The simulator's other tests drive it the way the designer does; these check the edges of
its public methods: what ``advance_to`` and ``jump`` accept and say when they refuse, how
a jump into the middle of an ``advance`` is written back into the trace (so undo and the
JSON trace stay right), and what ``enabled_events``/``disabled_events`` report when two
choices lead to the same step, when a choice is refused while another is not, and when
set_guard decides the named guards.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from pystator import StateMachine
from pystator.simulator import Simulation, SimulationError
from tests.engine.simulator_machines import TIMERS

CHAIN = """
meta: {machine_name: chain}
states:
  - {name: idle, type: initial}
  - {name: s1}
  - {name: s2}
  - {name: s3}
  - {name: s4}
transitions:
  - {trigger: begin, source: idle, dest: s1}
  - {trigger: more, source: s1, dest: s1}
  - {source: s1, dest: s2, after: 1s}
  - {source: s2, dest: s3, after: 1s}
  - {source: s3, dest: s4, after: 1s}
"""

# `go`: both choices are refused by their expression, so either falls through to the
# unguarded `a -> d`: one step, offered once. `stay`: one choice refused, one taken.
# `stop`: both refused, for different reasons.
CHOICES = """
meta: {machine_name: choices}
states:
  - {name: a, type: initial}
  - {name: b}
  - {name: c}
  - {name: d}
transitions:
  - {trigger: go, source: a, dest: b, guards: [p, {expr: "x > 1"}]}
  - {trigger: go, source: a, dest: c, guards: [q, {expr: "y > 1"}]}
  - {trigger: go, source: a, dest: d}
  - {trigger: stay, source: a, dest: b, guards: [p, {expr: "x > 1"}]}
  - {trigger: stay, source: a, dest: c, guards: [q]}
  - {trigger: stop, source: a, dest: b, guards: [p, {expr: "x > 1"}]}
  - {trigger: stop, source: a, dest: c, guards: [q, {expr: "y > 1"}]}
  - {trigger: other, source: a, dest: c}
"""


def sim_of(yaml: str, context: dict[str, object] | None = None) -> Simulation:
    return Simulation(StateMachine.from_string(yaml), context)


def trace(sim: Simulation) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = json.loads(sim.to_json())["trace"]
    return entries


# --------------------------------------------------------------------------- advance_to
def test_advance_to_fires_what_falls_due_and_records_one_advance() -> None:
    sim = sim_of(CHAIN)
    sim.send("begin")
    steps = sim.advance_to(1500)
    assert [(s.kind, s.state, s.clock_ms) for s in steps] == [
        ("timer", "s2", 1000),
        ("advance", "s2", 1500),
    ]
    assert sim.clock_ms == 1500
    assert trace(sim) == [{"e": "begin", "s": "s1"}, {"a": 1500, "s": "s2"}]
    replayed = Simulation.from_json(sim.machine, sim.to_json())
    assert replayed.steps == sim.steps and replayed.divergence is None


def test_advance_to_the_present_is_allowed_and_fires_nothing() -> None:
    sim = sim_of(CHAIN)
    sim.send("begin")
    sim.advance_to(1000)
    (step,) = sim.advance_to(1000)
    assert (step.kind, step.clock_ms, step.timers_fired) == ("advance", 1000, 0)


@pytest.mark.parametrize("bad", [True, 1.5, "2000", None])
def test_advance_to_takes_only_an_int_of_milliseconds(bad: object) -> None:
    sim = sim_of(CHAIN)
    with pytest.raises(SimulationError) as raised:
        sim.advance_to(bad)  # type: ignore[arg-type]
    assert str(raised.value) == (
        f"advance_to needs a time in ms not before the clock (0), got {bad!r}"
    )
    assert len(sim.steps) == 1 and not sim.can_undo


# --------------------------------------------------------------------------- undo / jump
def test_undo_at_the_start_says_so() -> None:
    with pytest.raises(SimulationError) as raised:
        sim_of(CHAIN).undo()
    assert str(raised.value) == "nothing to undo: the simulation is at its start"


@pytest.mark.parametrize("bad", [True, "1", 1.0])
def test_a_step_index_is_an_int(bad: object) -> None:
    sim = sim_of(CHAIN)
    sim.send("begin")
    sim.send("more")
    with pytest.raises(SimulationError) as raised:
        sim.jump(bad)  # type: ignore[arg-type]
    assert str(raised.value) == f"a step index is an int, not {bad!r}"
    assert len(sim.steps) == 3


def test_jump_to_step_zero_is_the_start() -> None:
    sim = sim_of(CHAIN)
    sim.send("begin")
    sim.send("more")
    sim.jump(0)
    assert (sim.state, len(sim.steps), sim.can_undo) == ("idle", 1, False)
    assert trace(sim) == []


@pytest.mark.parametrize("past", [3, 4])
def test_jump_past_the_last_step_names_the_steps_there_are(past: int) -> None:
    sim = sim_of(CHAIN)
    sim.send("begin")
    sim.send("more")
    with pytest.raises(SimulationError) as raised:
        sim.jump(past)
    assert str(raised.value) == f"no step {past}: the simulation has steps 0 to 2"
    assert len(sim.steps) == 3


def test_jump_to_the_end_of_an_input_keeps_undo_one_input_at_a_time() -> None:
    sim = sim_of(CHAIN)
    for event in ("begin", "more", "more"):
        sim.send(event)
    sim.advance("5s")
    sim.jump(2)  # just after the first "more"
    assert [s.event for s in sim.steps[1:]] == ["begin", "more"]
    assert trace(sim) == [{"e": "begin", "s": "s1"}, {"e": "more", "s": "s1"}]
    sim.send("more")
    sim.undo()
    assert [s.event for s in sim.steps[1:]] == ["begin", "more"]
    sim.undo()
    assert [s.event for s in sim.steps[1:]] == ["begin"]
    sim.undo()
    assert len(sim.steps) == 1 and not sim.can_undo


def test_jump_into_an_advance_after_other_inputs_keeps_only_its_fired_timers() -> None:
    sim = sim_of(CHAIN)
    sim.send("begin")
    sim.advance("5s")
    assert [(s.index, s.kind, s.state) for s in sim.steps[2:]] == [
        (2, "timer", "s2"),
        (3, "timer", "s3"),
        (4, "timer", "s4"),
        (5, "advance", "s4"),
    ]
    sim.jump(3)
    assert (sim.state, sim.clock_ms, len(sim.steps)) == ("s3", 2000, 4)
    # Each timer fired by then is its own input, with the state it led to.
    assert trace(sim) == [{"e": "begin", "s": "s1"}, {"f": 1, "s": "s2"}, {"f": 1, "s": "s3"}]
    sim.undo()
    assert (sim.state, sim.clock_ms, len(sim.steps)) == ("s2", 1000, 3)
    sim.undo()
    assert (sim.state, sim.clock_ms, len(sim.steps)) == ("s1", 0, 2)
    sim.undo()
    assert not sim.can_undo


def test_a_jump_into_an_advance_writes_a_trace_that_checks_where_it_went() -> None:
    sim = sim_of(CHAIN)
    sim.send("begin")
    sim.advance("5s")
    sim.jump(3)
    # The same trace on a machine whose first timer now goes elsewhere stops there.
    first_timer = "{source: s1, dest: s2, after: 1s}"
    edited = StateMachine.from_string(CHAIN.replace(first_timer, first_timer.replace("s2", "s3")))
    replayed = Simulation.from_json(edited, sim.to_json())
    assert replayed.divergence is not None
    assert (replayed.divergence.step_index, replayed.divergence.input_index) == (2, 1)
    assert replayed.divergence.explanation == (
        "fire next timer: the trace went to 's2', the machine now goes to 's3'"
    )


# --------------------------------------------------------------------------- what could happen
def test_enabled_events_report_every_field_of_a_plain_and_a_timer_event() -> None:
    sim = sim_of(TIMERS)
    sim.send("work")
    assert [
        (e.event, e.state, e.transitions, e.dests, e.via, e.assumes, e.timer, e.edges)
        for e in sim.enabled_events()
    ] == [
        ("rest", "waiting", ("busy -> waiting",), ("waiting",), None, (), False,
         (("transitions[1]", "busy"),)),
        ("after:2s:busy", "waiting", ("busy -> waiting",), ("waiting",), None, (), True,
         (("transitions[2]", "busy"),)),
    ]  # fmt: skip


def test_two_choices_that_take_the_same_step_are_offered_once_and_the_rest_still_are() -> None:
    sim = sim_of(CHOICES, {"x": 0, "y": 0})
    offered = [(e.event, e.state, e.via) for e in sim.enabled_events()]
    assert offered == [("go", "d", 0), ("stay", "c", 4), ("other", "c", None)]


def test_an_event_one_of_whose_choices_is_taken_is_not_disabled() -> None:
    sim = sim_of(CHOICES, {"x": 0, "y": 0})
    # `stay` is refused with via=3 but taken with via=4; `stop` is refused both ways,
    # and both reasons are given, each once.
    assert sim.disabled_events() == {
        "stop": "no transition for 'stop' from 'a': x > 1 is false (0 > 1); q is false "
        "(not chosen); no transition for 'stop' from 'a': p is false (not chosen); "
        "y > 1 is false (0 > 1)"
    }


def test_guards_fixed_with_set_guard_decide_what_is_enabled_and_explain_what_is_not() -> None:
    sim = sim_of(CHOICES, {"x": 0, "y": 0})
    sim.set_guard("p", False)
    sim.set_guard("q", True)
    offered = [(e.event, e.state, e.via, e.assumes) for e in sim.enabled_events()]
    assert offered == [("go", "d", None, ()), ("stay", "c", None, ()), ("other", "c", None, ())]
    assert sim.disabled_events() == {
        "stop": "no transition for 'stop' from 'a': p is false (fixed with set_guard); "
        "y > 1 is false (0 > 1)"
    }
    sim.set_context({"x": 0, "y": 5})
    assert [e.state for e in sim.enabled_events() if e.event == "stop"] == ["c"]


def test_what_could_happen_is_asked_of_the_engine_once_per_state_of_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    original = StateMachine.outcomes

    def counting(self: StateMachine, *args: object, **kwargs: object) -> object:
        calls.append(1)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(StateMachine, "outcomes", counting)
    sim = sim_of(TIMERS)
    sim.enabled_events()
    sim.disabled_events()
    sim.enabled_events()
    assert len(calls) == 1
    sim.send("work")
    sim.disabled_events()
    sim.enabled_events()
    assert len(calls) == 2


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    ("send", "message"),
    [
        (lambda sim: sim.send("work", [1]), "a payload must be a dict, not list"),
        (lambda sim: sim.send("work", via=True),
         "via must be a transition index or a state name, not True"),
        (lambda sim: sim.send("work", via=1.5),
         "via must be a transition index or a state name, not 1.5"),
        (lambda sim: sim.send("work", {"x": {1}}),
         "the payload must be plain JSON data (dict, list, str, number, bool, null), not set at x"),
        (lambda sim: sim.set_context([1]), "the context must be a dict, not list"),
        (lambda sim: sim.set_context({"x": {1, 2}}),
         "the context must be plain JSON data (dict, list, str, number, bool, null), not set at x"),
        (lambda sim: sim.set_context({"x": float("nan")}),
         "the context has NaN, which JSON cannot hold at x"),
    ],
    ids=["payload-list", "via-bool", "via-float", "payload-set", "context-list", "context-set",
         "context-nan"],
)  # fmt: skip
def test_bad_inputs_are_refused_with_what_was_wrong_and_change_nothing(
    send: Any, message: str
) -> None:
    sim = sim_of(TIMERS)
    with pytest.raises(SimulationError) as raised:
        send(sim)
    assert str(raised.value) == message
    assert len(sim.steps) == 1 and not sim.can_undo and sim.state == "waiting"


# --------------------------------------------------------------------------- JSON
def test_the_trace_names_its_machine_and_where_it_started() -> None:
    sim = sim_of(CHAIN, {"n": 1})
    sim.send("begin")
    document = json.loads(sim.to_json())
    assert (document["machine"], document["start"]) == ("chain", "idle")
    assert document["context"] == {"n": 1}


def test_after_a_replay_an_unneeded_choice_is_an_error_again() -> None:
    sim = sim_of(CHAIN)
    sim.send("begin")
    replayed = Simulation.from_json(sim.machine, sim.to_json())
    with pytest.raises(SimulationError, match="needs no choice here"):
        replayed.send("more", via=1)


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ([1], "the context must be a dict, not list"),
        ({"x": {1}},
         "the context must be plain JSON data (dict, list, str, number, bool, null), not set at x"),
    ],
    ids=["list", "set"],
)  # fmt: skip
def test_a_simulation_refuses_a_starting_context_that_is_not_json(
    context: Any, message: str
) -> None:
    with pytest.raises(SimulationError) as raised:
        Simulation(StateMachine.from_string(CHAIN), context)
    assert str(raised.value) == message


def test_a_choice_named_by_a_destination_no_choice_has_names_the_event() -> None:
    sim = sim_of(CHOICES, {"x": 0, "y": 0})
    with pytest.raises(SimulationError) as raised:
        sim.send("go", via="nowhere")
    assert str(raised.value) == (
        "no choice goes to 'nowhere' for 'go'; the choices are: "
        "via=0 (-> b [p, x > 1]), via=1 (-> c [q, y > 1])"
    )
