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
