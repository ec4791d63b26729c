"""The simulator: a trace replayed through the engine, with a virtual clock and guard choices."""

from __future__ import annotations

import json

import pytest

from pystator import GuardRegistry, StateMachine
from pystator.simulator import MAX_STEPS, Simulation, SimulationError
from tests.engine.simulator_machines import (
    GUARDED_TIMER,
    HIERARCHY,
    LENIENT,
    ORDER,
    RACE,
    TIMERS,
    TRADING,
)


def sim_of(yaml: str, context: dict[str, object] | None = None) -> Simulation:
    return Simulation(StateMachine.from_string(yaml), context)


def actions(step: object) -> list[tuple[str, str, str]]:
    return [(a.phase, a.owner, a.name) for a in step.actions]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- hierarchy
def test_start_step_enters_the_initial_configuration_and_arms_its_timers() -> None:
    sim = sim_of(ORDER)
    start = sim.steps[0]
    assert (start.kind, start.index, start.state, start.entered) == (
        "start",
        0,
        "PENDING",
        ("PENDING",),
    )
    assert [(t.state, t.due_ms, t.trigger, t.dest) for t in sim.pending_timers] == [
        ("PENDING", 5000, "timeout:PENDING", "TIMED_OUT")
    ]
    assert sim.clock_ms == 0 and sim.configuration == frozenset({"PENDING"})


def test_entering_a_compound_state_enters_its_initial_child_with_actions_in_order() -> None:
    sim = sim_of(HIERARCHY)
    step = sim.send("go")
    assert sim.configuration == frozenset({"working", "fetching"})
    assert sim.state == "fetching"
    assert step.exited == ("idle",) and step.entered == ("working", "fetching")
    assert step.transitions == ("idle -> working",)
    assert actions(step) == [
        ("transition", "idle -> working", "begin"),
        ("enter", "working", "start_work"),
        ("enter", "fetching", "fetch"),
    ]


def test_a_parent_transition_exits_the_active_child_first() -> None:
    sim = sim_of(HIERARCHY)
    sim.send("go")
    sim.send("got")
    step = sim.send("cancel")
    assert step.exited == ("parsing", "working")
    assert step.transitions == ("working -> idle",)
    assert actions(step) == [
        ("exit", "parsing", "parsed"),
        ("exit", "working", "stop_work"),
        ("transition", "working -> idle", "rollback"),
    ]
    assert [a.name for a in sim.action_log] == [
        "begin",
        "start_work",
        "fetch",
        "fetched",
        "parsed",
        "stop_work",
        "rollback",
    ]
    assert [a.step for a in sim.action_log] == [1, 1, 1, 2, 3, 3, 3]


def test_terminal_state_accepts_nothing_and_says_so() -> None:
    sim = sim_of(HIERARCHY)
    for event in ("go", "got", "finish"):
        sim.send(event)
    step = sim.send("go")
    assert step.reason_code == "terminal" and not step.success
    assert "terminal state" in (step.reason or "")
    assert sim.state == "done"


def test_an_event_with_no_transition_from_here_is_recorded_with_the_reason() -> None:
    sim = sim_of(HIERARCHY)
    step = sim.send("finish")
    assert step.reason_code == "no-transition"
    assert "no transition for 'finish' from 'idle'" in (step.reason or "")
    unknown = sim.send("fnish")
    assert unknown.reason_code == "unknown-trigger" and "did you mean 'finish'" in (
        unknown.reason or ""
    )
    assert sim.state == "idle" and len(sim.steps) == 3


def test_non_strict_machine_ignores_unknown_events_with_a_reason() -> None:
    sim = sim_of(LENIENT)
    sim.send("go")
    step = sim.send("go")
    assert step.success and step.reason_code == "ignored"
    assert "ignored (non-strict mode)" in (step.reason or "")
    assert sim.disabled_events() == {"go": step.reason}


# --------------------------------------------------------------------------- parallel
def test_three_regions_are_entered_and_moved_independently() -> None:
    sim = sim_of(TRADING)
    step = sim.send("open")
    assert step.entered == ("active", "scanning", "normal", "connecting")
    assert sim.state == "active:trading=scanning,risk=normal,feed=connecting"
    assert actions(step)[0] == ("enter", "active", "open_session")
    sim.send("signal")
    sim.send("warn")
    sim.send("up")
    assert sim.configuration == frozenset({"active", "analyzing", "elevated", "connected"})
    assert sim.state == "active:trading=analyzing,risk=elevated,feed=connected"


def test_a_multi_source_transition_matches_the_first_region_leaf() -> None:
    sim = sim_of(TRADING)
    for event in ("open", "signal", "up"):
        sim.send(event)
    step = sim.send("tick")  # one transition, matched first by the trading leaf: targetless
    assert step.transitions == ("analyzing -> analyzing",)
    assert step.exited == () and step.entered == ()
    assert sim.state == "active:trading=analyzing,risk=normal,feed=connected"


def test_leaving_the_parallel_state_exits_every_region_then_the_parent() -> None:
    sim = sim_of(TRADING)
    sim.send("open")
    sim.send("signal")
    step = sim.send("stop")
    assert step.exited == ("connecting", "normal", "analyzing", "active")
    assert actions(step) == [
        ("exit", "active", "close_session"),
        ("transition", "active -> halted", "flatten"),
    ]
    assert sim.configuration == frozenset({"halted"})
    resumed = sim.send("resume")
    assert sim.state == "active:trading=scanning,risk=normal,feed=connecting"
    assert ("enter", "connecting", "dial") in actions(resumed)


# --------------------------------------------------------------------------- timers
def test_timeout_is_cancelled_on_exit_and_rearmed_fresh_on_reentry() -> None:
    sim = sim_of(TIMERS)
    first = sim.pending_timers[0]
    sim.advance("3s")
    assert sim.clock_ms == 3000 and sim.state == "waiting"
    work = sim.send("work")
    assert work.timers_cancelled == (first,)
    assert [(t.trigger, t.due_ms, t.armed_at_ms) for t in work.timers_armed] == [
        ("after:2s:busy", 5000, 3000)
    ]
    sim.advance(1000)
    rest = sim.send("rest")
    assert [t.trigger for t in rest.timers_cancelled] == ["after:2s:busy"]
    (again,) = rest.timers_armed
    assert (again.trigger, again.due_ms, again.armed_at_ms) == ("timeout:waiting", 9000, 4000)
    assert again.id > first.id
    steps = sim.advance("10s")
    assert [(s.kind, s.clock_ms, s.state) for s in steps] == [
        ("timer", 9000, "expired"),
        ("advance", 14000, "expired"),
    ]
    assert steps[0].timer == again and steps[-1].timers_fired == 1
    assert sim.pending_timers == ()


def test_after_transition_fires_at_exactly_its_due_time() -> None:
    sim = sim_of(TIMERS)
    sim.send("work")
    sim.advance(1999)
    assert sim.state == "busy"
    (step, clock) = sim.advance(1)
    assert (step.kind, step.clock_ms, step.event, step.state) == (
        "timer",
        2000,
        "after:2s:busy",
        "waiting",
    )
    assert step.transitions == ("busy -> waiting",)
    assert clock.clock_ms == 2000
    assert [t.due_ms for t in sim.pending_timers] == [7000]


def test_self_transition_keeps_its_timers_running() -> None:
    sim = sim_of(TIMERS)
    before = sim.pending_timers
    step = sim.send("poke")
    assert step.transitions == ("waiting -> waiting",) and step.exited == () and step.entered == ()
    assert actions(step) == [("transition", "waiting -> waiting", "poked")]
    assert sim.pending_timers == before


def test_fire_next_timer_jumps_the_clock_and_fires_one_timer() -> None:
    sim = sim_of(TIMERS)
    step = sim.fire_next_timer()
    assert (step.kind, step.clock_ms, sim.state) == ("timer", 5000, "expired")
    with pytest.raises(SimulationError, match="no timer is pending"):
        sim.fire_next_timer()


def test_simultaneous_timers_fire_in_arming_order_not_document_order() -> None:
    sim = sim_of(RACE)
    first = sim.advance("1s")
    assert [s.event for s in first if s.kind == "timer"] == ["a_done"]
    sim.send("a_reset")  # re-arms a_done at 1s, due at 2s, after b_done (armed at 0)
    due = sorted({t.due_ms for t in sim.pending_timers})
    assert due == [2000]
    fired = [s for s in sim.advance("5s") if s.kind == "timer"]
    assert [(s.event, s.clock_ms) for s in fired] == [("b_done", 2000), ("a_done", 2000)]
    assert sim.state == "both:a=a2,b=b2"


def test_a_timer_whose_guard_is_false_is_spent_not_rearmed() -> None:
    sim = sim_of(GUARDED_TIMER, {"ready": False})
    steps = sim.advance("5s")
    assert steps[0].kind == "timer" and steps[0].reason_code == "guard-false"
    assert "ready is false" in (steps[0].reason or "")
    assert sim.pending_timers == () and sim.state == "armed"


def test_an_advance_that_never_settles_is_refused_and_leaves_nothing_behind() -> None:
    sim = sim_of(
        """
        states: [{name: ping, type: initial}, {name: pong}]
        transitions:
          - {source: ping, dest: pong, after: 0}
          - {source: pong, dest: ping, after: 0}
        """
    )
    with pytest.raises(SimulationError) as caught:
        sim.advance("1s")
    assert str(caught.value) == (
        f"a simulation is limited to {MAX_STEPS} steps (traces travel in links):"
        " undo, jump back or reset to go on"
    )
    assert len(sim.steps) == 1 and sim.clock_ms == 0 and sim.state == "ping"


def test_bad_durations_and_backward_clocks_are_clear_errors() -> None:
    sim = sim_of(TIMERS)
    with pytest.raises(SimulationError, match="malformed delay"):
        sim.advance("soon")
    sim.advance("1s")
    with pytest.raises(SimulationError, match="not before the clock"):
        sim.advance_to(500)


# --------------------------------------------------------------------------- guards
def test_expr_guard_reads_payload_for_its_event_only_and_explains_the_values() -> None:
    sim = sim_of(ORDER, {"order_qty": 100})
    sim.send("exchange_ack")
    refused = sim.send("fill", {"fill_qty": 80})
    assert refused.reason_code == "guard-false"
    (check,) = refused.guards
    assert (check.guard, check.passed, check.detail, check.decided_by) == (
        "fill_qty >= order_qty",
        False,
        "80 >= 100",
        "expr",
    )
    assert "fill_qty >= order_qty is false (80 >= 100)" in (refused.reason or "")
    assert "fill_qty" not in sim.context
    moved = sim.send("fill", {"fill_qty": 100})
    assert moved.guards[0].passed and moved.guards[0].detail == "100 >= 100"
    assert sim.state == "FILLED"
    assert ("transition", "OPEN -> FILLED", "book_fill") in actions(moved)
    assert dict(moved.actions[-1].params) == {"venue": "XNYS"}


def test_context_edits_are_steps_with_a_diff_and_feed_expr_guards() -> None:
    sim = sim_of(ORDER, {"order_qty": 100, "note": "x"})
    sim.send("exchange_ack")
    step = sim.set_context({"order_qty": 50, "fill_qty": 60})
    assert step.kind == "context"
    assert {(c.key, c.before, c.after, c.change) for c in step.context_changes} == {
        ("order_qty", 100, 50, "changed"),
        ("fill_qty", None, 60, "added"),
        ("note", "x", None, "removed"),
    }
    assert sim.context == {"order_qty": 50, "fill_qty": 60}
    assert sim.send("fill").state == "FILLED"


def test_unset_named_guards_are_offered_as_choices() -> None:
    sim = sim_of(ORDER)
    sim.send("exchange_ack")
    labels = {e.label: e.via for e in sim.enabled_events()}
    assert labels == {
        "execution_report -> FILLED [is_full_fill]": 1,
        "execution_report -> PARTIALLY_FILLED [is_partial_fill]": 2,
    }
    disabled = sim.disabled_events()
    assert "fill" in disabled and "fill_qty" in disabled["fill"]
    assert set(disabled) == {"exchange_ack", "fill", "timeout:PENDING"}


def test_a_guarded_event_with_several_choices_and_no_via_is_refused_with_the_choices() -> None:
    sim = sim_of(ORDER)
    sim.send("exchange_ack")
    with pytest.raises(SimulationError) as raised:
        sim.send("execution_report")
    message = str(raised.value)
    assert "via=1 (-> FILLED [is_full_fill])" in message
    assert "via=2 (-> PARTIALLY_FILLED [is_partial_fill])" in message
    assert len(sim.steps) == 2


def test_the_choice_is_taken_and_recorded_in_the_trace() -> None:
    sim = sim_of(ORDER)
    sim.send("exchange_ack")
    step = sim.send("execution_report", via=2)
    assert sim.state == "PARTIALLY_FILLED" and step.via == 2
    assert [(c.guard, c.passed, c.decided_by) for c in step.guards] == [
        ("is_full_fill", False, "choice"),
        ("is_partial_fill", True, "choice"),
    ]
    by_name = sim.send("execution_report", via="FILLED")
    assert by_name.via == 1 and sim.state == "FILLED"
    trace = json.loads(sim.to_json())["trace"]
    assert [entry.get("via") for entry in trace] == [None, 2, 1]
    fresh = sim_of(ORDER)
    fresh.send("exchange_ack")
    with pytest.raises(SimulationError, match="no choice goes to 'NOWHERE'"):
        fresh.send("execution_report", via="NOWHERE")


def test_an_invalid_via_is_refused() -> None:
    sim = sim_of(ORDER)
    with pytest.raises(SimulationError, match="needs no choice"):
        sim.send("exchange_ack", via=1)
    sim.send("exchange_ack")
    with pytest.raises(SimulationError, match="via=0 is not a choice"):
        sim.send("execution_report", via=0)


def test_set_guard_fixes_an_outcome_for_the_rest_of_the_run_and_none_unsets_it() -> None:
    sim = sim_of(ORDER)
    sim.send("exchange_ack")
    step = sim.set_guard("is_full_fill", False)
    assert (step.kind, step.guard_name, step.guard_outcome) == ("guard", "is_full_fill", False)
    only = sim.enabled_events()
    assert [e.label for e in only] == ["execution_report -> PARTIALLY_FILLED [is_partial_fill]"]
    partial = sim.send("execution_report")  # one choice left: taken and recorded
    assert partial.via == 2 and sim.state == "PARTIALLY_FILLED"
    assert partial.guards[0].decided_by == "set_guard"
    sim.set_guard("is_full_fill", None)
    assert len(sim.enabled_events()) == 2
    with pytest.raises(SimulationError, match="did you mean 'is_full_fill'"):
        sim.set_guard("is_ful_fill", True)


def test_a_bound_guard_registry_decides_named_guards() -> None:
    machine = StateMachine.from_string(ORDER)
    registry = GuardRegistry()
    registry.register("is_full_fill", lambda ctx: ctx.get("filled", 0) >= 10)
    registry.register("is_partial_fill", lambda ctx: 0 < ctx.get("filled", 0) < 10)
    machine.bind_guards(registry)
    sim = Simulation(machine)
    sim.send("exchange_ack")
    step = sim.send("execution_report", {"filled": 3})
    assert sim.state == "PARTIALLY_FILLED" and step.via is None
    assert {c.decided_by for c in step.guards} == {"registry"}
    sim.send("execution_report", {"filled": 10})
    assert sim.state == "FILLED"


def test_every_trigger_the_loader_accepts_can_be_sent() -> None:
    machine = StateMachine.from_dict(
        {
            "states": [{"name": "a", "type": "initial"}, {"name": "b"}],
            "transitions": [{"trigger": " ", "source": "a", "dest": "b"}],
        }
    )
    sim = Simulation(machine)
    assert sim.send(" ").success and sim.state == "b"
    assert Simulation.from_json(machine, sim.to_json()).state == "b"


def test_bad_inputs_are_clear_errors() -> None:
    sim = sim_of(ORDER)
    with pytest.raises(SimulationError, match="non-empty string"):
        sim.send("")
    with pytest.raises(SimulationError, match="plain JSON data"):
        sim.send("exchange_ack", {"when": object()})
    with pytest.raises(SimulationError, match="must be a dict"):
        sim.set_context([1, 2])  # type: ignore[arg-type]
    with pytest.raises(SimulationError, match="True, False or None"):
        sim.set_guard("is_full_fill", "yes")  # type: ignore[arg-type]
    assert len(sim.steps) == 1


# --------------------------------------------------------------------------- undo / jump
def test_undo_takes_back_the_last_input_and_its_actions() -> None:
    sim = sim_of(HIERARCHY)
    sim.send("go")
    sim.send("got")
    sim.undo()
    assert sim.state == "fetching" and len(sim.steps) == 2
    assert [a.name for a in sim.action_log] == ["begin", "start_work", "fetch"]
    sim.undo()
    assert sim.state == "idle" and not sim.can_undo
    with pytest.raises(SimulationError, match="nothing to undo"):
        sim.undo()


def test_undo_after_advance_takes_back_every_timer_it_fired() -> None:
    sim = sim_of(TIMERS)
    sim.send("work")
    sim.advance("10s")
    assert sim.state == "expired"
    sim.undo()
    assert sim.state == "busy" and sim.clock_ms == 0
    assert [t.trigger for t in sim.pending_timers] == ["after:2s:busy"]


def test_jump_back_truncates_and_the_run_goes_on_from_there() -> None:
    sim = sim_of(HIERARCHY)
    for event in ("go", "got", "cancel"):
        sim.send(event)
    sim.jump(1)
    assert sim.state == "fetching" and len(sim.steps) == 2
    sim.send("cancel")
    assert sim.state == "idle"
    assert [s.event for s in Simulation.from_json(sim.machine, sim.to_json()).steps[1:]] == [
        "go",
        "cancel",
    ]


def test_jump_into_an_advance_keeps_the_timers_fired_by_then() -> None:
    sim = sim_of(RACE)
    steps = sim.advance("5s")
    assert [s.kind for s in steps] == ["timer", "timer", "advance"]
    sim.jump(steps[0].index)
    assert (sim.state, sim.clock_ms) == ("both:a=a2,b=b1", 1000)
    replayed = Simulation.from_json(sim.machine, sim.to_json())
    assert replayed.steps == sim.steps and replayed.pending_timers == sim.pending_timers
    with pytest.raises(SimulationError, match="no step 9"):
        sim.jump(9)


def test_reset_goes_back_to_the_start_keeping_the_initial_context() -> None:
    sim = sim_of(ORDER, {"order_qty": 5})
    sim.send("exchange_ack")
    sim.set_context({})
    sim.reset()
    assert len(sim.steps) == 1 and sim.context == {"order_qty": 5} and sim.state == "PENDING"


# --------------------------------------------------------------------------- JSON
def test_to_json_and_back_is_exact() -> None:
    machine = StateMachine.from_string(ORDER)
    sim = Simulation(machine, {"order_qty": 10})
    sim.advance("1s")
    sim.send("exchange_ack")
    sim.set_guard("is_partial_fill", True)
    sim.set_context({"order_qty": 10, "tags": ["a", 1]})
    sim.send("fill", {"fill_qty": 3})
    sim.send("execution_report", via=1)
    text = sim.to_json()
    again = Simulation.from_json(machine, text)
    assert again.divergence is None
    assert again.steps == sim.steps
    assert again.configuration == sim.configuration and again.clock_ms == sim.clock_ms
    assert again.pending_timers == sim.pending_timers
    assert again.action_log == sim.action_log
    assert again.context == sim.context and again.guard_outcomes == sim.guard_outcomes
    assert again.to_json() == text
    assert len(text) < 400  # compact: the inputs only


def test_an_edited_machine_replays_up_to_where_it_diverges() -> None:
    sim = sim_of(ORDER)
    sim.send("exchange_ack")
    sim.send("execution_report", via=2)
    sim.send("execution_report", via=1)
    edited = StateMachine.from_string(ORDER.replace("dest: PARTIALLY_FILLED", "dest: OPEN"))
    replayed = Simulation.from_json(edited, sim.to_json())
    assert replayed.divergence is not None
    assert (replayed.divergence.step_index, replayed.divergence.input_index) == (2, 1)
    assert "'PARTIALLY_FILLED'" in replayed.divergence.explanation
    assert "now goes to 'OPEN'" in replayed.divergence.explanation
    assert len(replayed.steps) == 2 and replayed.state == "OPEN"


def test_a_choice_that_no_longer_exists_is_a_divergence_not_an_error() -> None:
    sim = sim_of(ORDER)
    sim.send("exchange_ack")
    sim.send("execution_report", via=2)
    edited = StateMachine.from_string(ORDER.replace("guards: [is_partial_fill]", ""))
    replayed = Simulation.from_json(edited, sim.to_json())
    assert replayed.divergence is not None and replayed.divergence.step_index == 2
    assert "via=2 is not a choice" in replayed.divergence.explanation


def test_a_choice_made_unnecessary_by_a_registry_is_dropped_on_replay() -> None:
    sim = sim_of(ORDER)
    sim.send("exchange_ack")
    sim.send("execution_report", via=2)
    machine = StateMachine.from_string(ORDER)
    registry = GuardRegistry()
    registry.register("is_full_fill", lambda ctx: False)
    registry.register("is_partial_fill", lambda ctx: True)
    replayed = Simulation.from_json(machine.bind_guards(registry), sim.to_json())
    assert replayed.divergence is None and replayed.state == "PARTIALLY_FILLED"
    assert replayed.steps[-1].via is None
    registry.register("is_partial_fill", lambda ctx: False)
    registry.register("is_full_fill", lambda ctx: True)
    moved = Simulation.from_json(machine, sim.to_json())
    assert moved.divergence is not None and "now goes to 'FILLED'" in moved.divergence.explanation


def test_a_changed_initial_state_diverges_at_the_start() -> None:
    sim = sim_of(HIERARCHY)
    sim.send("go")
    edited = StateMachine.from_string(
        HIERARCHY.replace("{name: idle, type: initial}", "{name: idle}").replace(
            "{name: done, type: terminal}", "{name: done, type: initial}"
        )
    )
    replayed = Simulation.from_json(edited, sim.to_json())
    assert replayed.divergence is not None
    assert (replayed.divergence.step_index, replayed.divergence.input_index) == (0, -1)
    assert replayed.divergence.explanation == (
        "the trace starts in 'idle', the machine now in 'done'"
    )
    assert len(replayed.steps) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "invalid JSON"),
        ("[]", '"trace" list'),
        ('{"v": 9, "trace": []}', "format version 9"),
        ('{"trace": [{"e": 3}]}', "trace entry 0: the event"),
        ('{"trace": [{"e": "a", "f": 1}]}', "exactly one of"),
        ('{"trace": [{"a": -1}]}', "clock time"),
    ],
)
def test_malformed_traces_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        Simulation.from_json(StateMachine.from_string(ORDER), text)


def test_a_trace_longer_than_the_limit_is_refused() -> None:
    sim = sim_of(TIMERS)
    for _ in range(MAX_STEPS - 1):
        sim.send("poke")
    assert len(sim.steps) == MAX_STEPS
    with pytest.raises(SimulationError, match="limited to 10000 steps"):
        sim.send("poke")
    assert len(sim.steps) == MAX_STEPS
    too_long = json.dumps({"trace": [{"e": "poke"}] * MAX_STEPS})
    with pytest.raises(SimulationError, match="limited to 10000 steps"):
        Simulation.from_json(sim.machine, too_long)


def test_enabled_events_include_region_destinations() -> None:
    sim = sim_of(TRADING)
    sim.send("open")
    enabled = {e.label for e in sim.enabled_events()}
    assert {
        "signal -> analyzing",
        "warn -> elevated",
        "up -> connected",
        "stop -> halted",
    } <= enabled
    assert "confirm" in sim.disabled_events()
