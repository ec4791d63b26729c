"""The simulator shows a child machine's state, and a share link's trace brings it back."""

from __future__ import annotations

from pathlib import Path

from pystator import StateMachine
from pystator.simulator import Simulation
from pystator.snapshot import Timer
from tests.invoke_machines import SESSION, TICKER, session_machine

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
    assert [t.owner for t in sim.snapshot.pending] == [("clock",), ()]
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
    step = machine.step(machine.start().snapshot, "enter")
    snapshot = step.snapshot
    child_timer = snapshot.children["clock"].timers[0]
    own = snapshot.timers[0]
    # both are timer 0 of their machine, armed at the same time
    assert (child_timer.id, own.id, child_timer.armed_at_ms) == (0, 0, own.armed_at_ms)
    seen = child_timer.owned_by("clock")
    assert (seen.owner, child_timer.owner, seen.for_child()) == (("clock",), (), child_timer)
    assert snapshot.pending == (seen, own)
    assert snapshot.next_timer == seen
    # the step's effects name the child's timer as the parent sees it
    assert set(step.timers_armed) == {seen, own}
    assert snapshot.holds(seen) and snapshot.holds(own) and not snapshot.holds(child_timer)
    dropped = snapshot.without_timer(seen)
    assert dropped.pending == (own,) and dropped.children["clock"].timers == ()
    assert snapshot.without_timer(own).pending == (seen,)
    assert Timer.from_dict(seen.to_dict()) == seen and "owner" not in own.to_dict()


def ticker() -> StateMachine:
    return StateMachine.from_string(TICKER)


OUTER = """
meta: {machine_name: outer}
states:
  - name: hosting
    type: initial
    invoke: [{id: "desk/1", src: "machine:session", autoforward: true}]
  - {name: finished, type: terminal}
transitions:
  - {trigger: done.invoke.desk/1, source: hosting, dest: finished}
"""


def test_a_grandchild_machines_timers_fire_down_their_path() -> None:
    # outer runs session (id with a slash), which runs ticker: ticker's timers are two
    # machines down, and their end closes the session, which finishes the outer machine
    machines = {"session": StateMachine.from_string(SESSION), "ticker": ticker()}
    outer = StateMachine.from_string(OUTER).bind_machines(machines)
    sim = Simulation(outer)
    sim.send("enter")
    assert [(t.trigger, t.owner) for t in sim.pending_timers] == [
        ("ding", ("desk/1", "clock")),
        ("nudge", ("desk/1",)),
    ]
    fired = sim.advance("6s")
    assert [s.event for s in fired] == ["ding", "dong", None]
    assert (sim.state, sim.pending_timers) == ("finished", ())


def test_two_children_of_one_machine_keep_their_timers_apart() -> None:
    text = """
meta: {machine_name: pair}
states:
  - name: both
    type: initial
    invoke: [{id: left, src: "machine:ticker"}, {id: right, src: "machine:ticker"}]
"""
    pair = StateMachine.from_string(text).bind_machines({"ticker": ticker()})
    snapshot = pair.start().snapshot
    left, right = snapshot.pending
    assert (left.owner, right.owner) == (("left",), ("right",)) and left != right
    step = pair.step(snapshot, left, now=left.due_ms)
    assert step.refusal is None
    assert {k: sorted(v.configuration) for k, v in step.snapshot.children.items()} == {
        "left": ["ringing"],
        "right": ["counting"],
    }
    assert pair.step(snapshot, left.for_child()).refusal is not None, "no owner: not the parent's"
