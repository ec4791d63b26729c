"""The simulator follows the context the engine assigns, and runs sent events on its clock."""

from __future__ import annotations

from pystator import StateMachine
from pystator.simulator import Simulation

MACHINE = StateMachine.from_dict(
    {
        "meta": {"machine_name": "retries"},
        "data": {"tries": 0},
        "states": [
            {"name": "idle", "type": "initial"},
            {
                "name": "trying",
                "on_enter": [
                    {"assign": "tries", "expr": "tries + 1"},
                    {"send": "gave_up", "delay": "5s", "id": "limit"},
                ],
            },
            {"name": "failed", "type": "terminal"},
        ],
        "transitions": [
            {"trigger": "try", "source": "idle", "dest": "trying"},
            {"trigger": "back", "source": "trying", "dest": "idle"},
            {"trigger": "gave_up", "source": ["idle", "trying"], "dest": "failed"},
        ],
    }
)


def test_the_context_follows_assignments_and_undo_restores_it() -> None:
    sim = Simulation(MACHINE)
    assert sim.context == {"tries": 0}
    sim.send("try")
    assert sim.context == {"tries": 1}
    sim.send("back")
    sim.send("try")
    assert sim.context == {"tries": 2}
    sim.undo()
    assert sim.context == {"tries": 1}
    again = Simulation.from_json(MACHINE, sim.to_json())
    assert again.context == {"tries": 1}


def test_an_edited_context_is_what_the_next_assignment_reads() -> None:
    sim = Simulation(MACHINE)
    sim.set_context({"tries": 10})
    sim.send("try")
    assert sim.context == {"tries": 11}


def test_a_sent_event_waits_on_the_virtual_clock_and_outlives_its_state() -> None:
    sim = Simulation(MACHINE)
    sim.send("try")
    sim.send("back")  # leaving "trying" does not cancel what it sent
    (timer,) = sim.pending_timers
    assert (timer.trigger, timer.due_ms, timer.send_id) == ("gave_up", 5000, "limit")
    sim.advance("5s")
    assert sim.state == "failed"
