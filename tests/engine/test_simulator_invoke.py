"""The simulator shows a child machine's state, and a share link's trace brings it back."""

from __future__ import annotations

from pathlib import Path

from pystator import StateMachine
from pystator.simulator import Simulation
from tests.invoke_machines import session_machine

EXAMPLES = Path(__file__).parents[2] / "examples"


def _checkout() -> StateMachine:
    machine = StateMachine.from_yaml(EXAMPLES / "checkout.yaml")
    return machine.bind_machines({"payment": StateMachine.from_yaml(EXAMPLES / "payment.yaml")})


def test_the_simulator_shows_the_child_and_the_trace_keeps_it() -> None:
    sim = Simulation(_checkout())
    assert sim.children == {}
    sim.send("checkout")
    assert (sim.state, sim.children) == ("paying", {"payment": "authorising"})
    sim.send("authorised")
    assert sim.children == {"payment": "capturing"}
    assert [a.name for a in sim.last_step.actions] == ["capture_funds"]

    again = Simulation.from_json(_checkout(), sim.to_json())
    assert again.divergence is None
    assert (again.state, again.children) == ("paying", {"payment": "capturing"})

    sim.send("captured")
    assert (sim.state, sim.children) == ("shipped", {})


def test_events_only_an_autoforward_child_takes_are_offered_while_it_runs() -> None:
    sim = Simulation(_checkout())
    assert [e.event for e in sim.enabled_events()] == ["checkout"]
    assert sim.child_events == ()
    sim.send("checkout")
    assert sim.child_events == ("authorised", "declined", "captured")
    offered = {e.event: e.state for e in sim.enabled_events()}
    # The child's events move only the child: the parent stays in paying. "captured"
    # is the child's too, but authorising does not take it, so it is not offered.
    assert offered["authorised"] == "paying" and offered["declined"] == "paying"
    assert "captured" not in offered
    sim.send("authorised")
    assert "captured" in {e.event for e in sim.enabled_events()}
    sim.send("captured")
    assert sim.child_events == ()


def test_a_child_without_autoforward_offers_nothing() -> None:
    text = (EXAMPLES / "checkout.yaml").read_text().replace(", autoforward: true", "")
    machine = StateMachine.from_string(text)
    machine.bind_machines({"payment": StateMachine.from_yaml(EXAMPLES / "payment.yaml")})
    sim = Simulation(machine)
    sim.send("checkout")
    assert sim.children == {"payment": "authorising"}
    assert sim.child_events == ()
    assert "authorised" not in {e.event for e in sim.enabled_events()}


def test_a_child_machines_timer_is_pending_in_the_simulator_and_fires_on_the_virtual_clock() -> (
    None
):
    sim = Simulation(session_machine())
    sim.send("enter")
    assert [(t.trigger, t.due_ms) for t in sim.pending_timers] == [("ding", 5000), ("nudge", 7000)]
    assert [owner for owner, _t in sim.snapshot.pending] == ["clock", ""]
    fired = sim.advance("6s")  # ding at 5 s arms dong at 6 s, which ends the child
    assert [s.event for s in fired] == ["ding", "dong", None]
    assert (sim.state, sim.children) == ("closed", {})
    assert sim.pending_timers == ()


def test_fire_next_timer_takes_a_child_timer_due_first() -> None:
    sim = Simulation(session_machine())
    sim.send("enter")
    step = sim.fire_next_timer()
    assert (step.event, sim.clock_ms, sim.state) == ("ding", 5000, "active")
    assert sim.children == {"clock": "ringing"}
    assert [(t.trigger, t.due_ms) for t in sim.pending_timers] == [("dong", 6000), ("nudge", 7000)]


def test_pending_orders_parent_and_child_timers_and_without_timer_drops_the_right_one() -> None:
    machine = session_machine()
    snapshot = machine.step(machine.start().snapshot, "enter").snapshot
    child_timer = snapshot.children["clock"].timers[0]
    own = snapshot.timers[0]
    # both are timer 0 of their machine, armed at the same time
    assert (child_timer.id, own.id, child_timer.armed_at_ms) == (0, 0, own.armed_at_ms)
    assert snapshot.pending == (("clock", child_timer), ("", own))
    assert snapshot.next_timer is child_timer
    dropped = snapshot.without_timer("clock", child_timer)
    assert dropped.pending == (("", own),) and dropped.children["clock"].timers == ()
    assert snapshot.without_timer("", own).pending == (("clock", child_timer),)
