"""The simulator and the orchestrator are two hosts of one engine: they agree at every step.

Generated machines (hierarchy, a parallel state, expression guards, ``after`` delays and
state timeouts) are driven by random sequences of events and timer firings, once in a
``Simulation`` on its virtual clock and once through an ``Orchestrator`` (in-memory
store, a scheduler that only records what it is asked, a clock the test moves). Guards
read the event's payload, so a timer (which carries none) sees the same in both. After
the start and after every input both must show the same configuration, the same
actions in the same order, and the same pending timers; the orchestrator's scheduler
must hold exactly the stored timers.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pystator import ActionRegistry, Event, StateMachine
from pystator.runtime.orchestrator import Orchestrator
from pystator.runtime.state_store import InMemoryStateStore
from pystator.runtime.timers import ScheduledTimer
from pystator.simulator import Simulation

EVENTS = ["go", "back", "up", "tick"]


@st.composite
def timed_machines(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(2, 7))
    names = [f"s{i}" for i in range(count)]
    parents: dict[str, str | None] = {names[0]: None}
    for name in names[1:]:
        parents[name] = draw(st.sampled_from([None, *parents]))
    states: list[dict[str, Any]] = []
    for name in names:
        kids = [c for c in names if parents[c] == name]
        entry: dict[str, Any] = {
            "name": name,
            "on_enter": [f"in_{name}"],
            "on_exit": [f"out_{name}"],
        }
        if parents[name] is not None:
            entry["parent"] = parents[name]
        if kids:
            entry["initial_child"] = draw(st.sampled_from(kids))
        if draw(st.integers(0, 4)) == 0:
            entry["timeout"] = {
                "seconds": draw(st.sampled_from([1, 2, 5])),
                "destination": draw(st.sampled_from(names)),
            }
        states.append(entry)
    states[0]["type"] = "initial"
    if draw(st.booleans()):
        regions = [
            {"name": f"r{k}", "initial": f"p{k}_0", "states": [f"p{k}_0", f"p{k}_1"]}
            for k in range(2)
        ]
        states.append(
            {"name": "par", "type": "parallel", "regions": regions, "on_enter": ["in_par"]}
        )
        names += ["par", "p0_0", "p0_1", "p1_0", "p1_1"]
    transitions: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 10))):
        t: dict[str, Any] = {
            "source": draw(st.sampled_from(names)),
            "dest": draw(st.sampled_from(names)),
            "actions": [f"t{i}"],
        }
        if draw(st.integers(0, 3)) == 0:
            t["after"] = draw(st.sampled_from([500, 1000, 3000]))
        else:
            t["trigger"] = draw(st.sampled_from(EVENTS))
        if draw(st.booleans()):
            t["guards"] = [{"expr": "n > 1"}]
        transitions.append(t)
    return {"meta": {"strict_mode": False}, "states": states, "transitions": transitions}


class RecordingScheduler:
    """A scheduler that fires nothing by itself: the test fires what the simulator fires."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.on_fire: Any = None
        self.pending: dict[str, ScheduledTimer] = {}

    async def schedule(self, timer: ScheduledTimer) -> None:
        self.pending[timer.timer_id] = timer

    async def cancel(self, timer_id: str) -> None:
        self.pending.pop(timer_id, None)

    async def cancel_entity(self, entity_id: str, state: str | None = None) -> None:
        for key in [k for k, t in self.pending.items() if t.entity_id == entity_id]:
            del self.pending[key]

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def _recording(machine: StateMachine, ran: list[str]) -> ActionRegistry:
    """A registry in which every action of ``machine`` appends its name to ``ran``."""
    spec = machine.spec
    names = {a.name for s in spec.states for a in (*s.on_enter, *s.on_exit)}
    names |= {a.name for t in spec.transitions for a in t.actions}
    registry = ActionRegistry()
    for name in names:
        registry.register(name, lambda ctx, name=name: ran.append(name))
    return registry


async def _run(definition: dict[str, Any], ops: list[int], n: int) -> None:
    machine = StateMachine.from_dict(definition)
    now = [0.0]
    ran: list[str] = []
    registry = _recording(machine, ran)
    scheduler = RecordingScheduler(lambda: now[0])
    orchestrator = Orchestrator(
        machine, InMemoryStateStore(), actions=registry, scheduler=scheduler, mark_delay=0.0
    )
    sim = Simulation(machine)  # guards read n from each event's payload, in both hosts
    stored = await orchestrator.async_create("e")

    def check(where: str) -> None:
        stored_now = orchestrator.state_store.load("e")
        assert stored_now is not None
        assert machine.configuration_of(stored_now.state) == sim.configuration, where
        assert ran == [a.name for a in sim.action_log], where
        sim_timers = [(t.state, t.trigger, t.due_ms) for t in sim.pending_timers]
        stored_timers = sorted(
            (t.state, t.event, round(t.due_at * 1000)) for t in stored_now.timers
        )
        assert sorted(sim_timers) == stored_timers, where
        assert set(scheduler.pending) == {t.timer_id for t in stored_now.timers}, where

    assert stored.version == 1
    check("start")
    for op in ops:
        if op % 5 == 4:  # fire the next timer
            timer = sim.pending_timers[0] if sim.pending_timers else None
            if timer is None:
                continue
            sim.fire_next_timer()
            now[0] = timer.due_ms / 1000.0
            fired = next(
                t for t in scheduler.pending.values() if t.timer_id.startswith(f"e#{timer.id}@")
            )
            del scheduler.pending[fired.timer_id]  # delivered, as a scheduler does
            await orchestrator.async_fire_timer("e", fired.event, fired.timer_id)
            check(f"timer {timer.trigger}")
        else:
            event = EVENTS[op % 4]
            sim.send(event, {"n": n})
            await orchestrator.async_process_event("e", Event(event, {"n": n}))
            check(f"event {event}")
    await orchestrator.stop()


SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(timed_machines(), st.lists(st.integers(0, 19), max_size=14), st.integers(0, 3))
def test_simulator_and_orchestrator_agree_at_every_step(
    definition: dict[str, Any], ops: list[int], n: int
) -> None:
    asyncio.run(_run(definition, ops, n))


PASS_THROUGH = """
states:
  - {name: idle, type: initial}
  - {name: hop, timeout: {seconds: 5, destination: idle}}
  - {name: done}
transitions:
  - {trigger: go, source: idle, dest: hop}
  - {source: hop, dest: done, always: true}
"""


def test_a_timer_armed_and_cancelled_within_one_step_is_never_scheduled() -> None:
    async def run() -> list[str]:
        machine = StateMachine.from_yaml(PASS_THROUGH)
        scheduler = RecordingScheduler(lambda: 0.0)
        asked: list[str] = []
        real = scheduler.schedule

        async def schedule(timer: ScheduledTimer) -> None:
            asked.append(timer.event)
            await real(timer)

        scheduler.schedule = schedule  # type: ignore[method-assign]
        orchestrator = Orchestrator(machine, InMemoryStateStore(), scheduler=scheduler)
        outcome = await orchestrator.async_process_event("e", "go")
        assert outcome.state == "done"
        await orchestrator.stop()
        return asked

    assert asyncio.run(run()) == []


def test_creating_an_entity_runs_its_start_actions_as_the_simulator_does() -> None:
    from pathlib import Path

    machine = StateMachine.from_yaml(Path(__file__).parents[2] / "examples" / "traffic_light.yaml")
    ran: list[str] = []
    orchestrator = Orchestrator(machine, InMemoryStateStore(), actions=_recording(machine, ran))
    orchestrator.create("light-1")
    assert ran == [a.name for a in Simulation(machine).action_log]
    assert ran  # the example's initial state has an entry action
