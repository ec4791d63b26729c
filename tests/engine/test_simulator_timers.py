"""The simulator's timers: every entered state arms its own, and they fire by due time.

Through ``Simulation`` only: what is pending after a step, what fires when the clock
moves, and in which order. Entering a nest of states (or a parallel state) arms the
timers of every state entered, not just the outermost; due timers fire in (due time,
arming order), whatever order they were armed in.
"""

from __future__ import annotations

from pystator import StateMachine
from pystator.simulator import Simulation

NESTED = """
meta: {machine_name: nested}
states:
  - {name: idle, type: initial}
  - {name: outer, initial_child: inner}
  - {name: inner, parent: outer, initial_child: core}
  - name: core
    parent: inner
    timeout: {seconds: 2, destination: idle}
  - {name: outer_done}
  - {name: inner_done, parent: outer}
transitions:
  - {trigger: go, source: idle, dest: outer}
  - {trigger: outer_late, source: outer, dest: outer_done, after: 3000}
  - {trigger: inner_soon, source: inner, dest: inner_done, after: 1000}
"""

REGIONS = """
meta: {machine_name: regions}
states:
  - {name: idle, type: initial}
  - name: both
    type: parallel
    regions:
      - {name: slow, initial: s0, states: [s0, s1]}
      - {name: fast, initial: f0, states: [f0, f1, f2]}
transitions:
  - {trigger: start, source: idle, dest: both}
  - {trigger: s_done, source: s0, dest: s1, region: slow, after: 5000}
  - {trigger: f_done, source: f0, dest: f1, region: fast, after: 4000}
  - {trigger: hurry, source: f0, dest: f2, region: fast}
  - {trigger: f2_done, source: f2, dest: f1, region: fast, after: 500}
"""


def pending(sim: Simulation) -> list[tuple[str, str, int]]:
    return [(t.state, t.trigger, t.due_ms) for t in sim.pending_timers]


def test_entering_a_nest_arms_the_timers_of_every_state_entered() -> None:
    sim = Simulation(StateMachine.from_string(NESTED))
    step = sim.send("go")
    assert step.entered == ("outer", "inner", "core")
    assert sorted((t.state, t.due_ms) for t in step.timers_armed) == [
        ("core", 2000),
        ("inner", 1000),
        ("outer", 3000),
    ]
    assert pending(sim) == [
        ("inner", "inner_soon", 1000),
        ("core", "timeout:core", 2000),
        ("outer", "outer_late", 3000),
    ]
    sim.advance(1500)
    assert sim.state == "inner_done"


def test_the_innermost_timer_of_a_nest_fires_first_when_it_is_due_first() -> None:
    sim = Simulation(StateMachine.from_string(NESTED))
    sim.send("go")
    assert sim.fire_next_timer().event == "inner_soon"
    assert sim.clock_ms == 1000 and sim.state == "inner_done"
    # leaving inner cancelled the core timeout; outer's timer is still armed
    assert pending(sim) == [("outer", "outer_late", 3000)]
    steps = sim.advance("5s")
    assert [(s.kind, s.event, s.clock_ms) for s in steps] == [
        ("timer", "outer_late", 3000),
        ("advance", None, 6000),
    ]
    assert sim.state == "outer_done"


def test_entering_a_parallel_state_arms_a_timer_in_every_region() -> None:
    sim = Simulation(StateMachine.from_string(REGIONS))
    step = sim.send("start")
    assert sorted(t.state for t in step.timers_armed) == ["f0", "s0"]
    assert pending(sim) == [("f0", "f_done", 4000), ("s0", "s_done", 5000)]


def test_timers_armed_later_but_due_sooner_fire_first() -> None:
    sim = Simulation(StateMachine.from_string(REGIONS))
    sim.send("start")  # s_done due at 5000, f_done at 4000
    sim.advance(1000)
    sim.send("hurry")  # cancels f_done; f2_done armed last, due at 1500
    assert pending(sim) == [("f2", "f2_done", 1500), ("s0", "s_done", 5000)]
    fired = [(s.event, s.clock_ms) for s in sim.advance("10s") if s.kind == "timer"]
    assert fired == [("f2_done", 1500), ("s_done", 5000)]
    assert sim.state == "both:slow=s1,fast=f1"


def test_fire_next_takes_the_earliest_due_not_the_earliest_armed() -> None:
    sim = Simulation(StateMachine.from_string(REGIONS))
    sim.send("start")
    first = sim.fire_next_timer()
    assert (first.event, first.clock_ms) == ("f_done", 4000)
    second = sim.fire_next_timer()
    assert (second.event, second.clock_ms) == ("s_done", 5000)


def test_the_initial_configuration_arms_every_state_and_fires_by_due_time() -> None:
    text = NESTED.replace("{name: idle, type: initial}", "{name: idle}").replace(
        "{name: outer, initial_child: inner}", "{name: outer, type: initial, initial_child: inner}"
    )
    sim = Simulation(StateMachine.from_string(text))
    assert pending(sim) == [
        ("inner", "inner_soon", 1000),
        ("core", "timeout:core", 2000),
        ("outer", "outer_late", 3000),
    ]
    sim.advance(1500)
    assert sim.state == "inner_done"
