"""The simulator shows a child machine's state, and a share link's trace brings it back."""

from __future__ import annotations

from pathlib import Path

from pystator import StateMachine
from pystator.simulator import Simulation

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
