"""``to_scxml`` then ``from_scxml`` gives a machine that behaves the same.

For every example and for generated machines (the generators of test_properties),
random event sequences (timers fired in between) go through both machines: every
step must agree on the refusal, the configuration, the host actions in order, the
datamodel's variables and the pending timers.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pystator import StateMachine
from pystator.guards import GuardRegistry
from pystator.scxml import from_scxml, to_scxml
from pystator.step import Step
from tests.engine.test_properties import machines

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


def _view(machine: StateMachine, step: Step) -> tuple[Any, ...]:
    return (
        step.refusal.code if step.refusal is not None else None,
        machine.state_string(step.configuration),
        [(a.name, dict(a.params), a.phase) for a in step.actions],
        dict(step.snapshot.data),
        [(t.trigger, t.due_ms, t.state) for t in step.snapshot.timers],
    )


def _same_behaviour(a: StateMachine, b: StateMachine, seed: int, context: dict[str, Any]) -> None:
    rng = random.Random(seed)
    triggers = sorted({t.trigger for t in a.transitions if not t.eventless})
    first, second = a.start(context), b.start(context)
    assert _view(a, first) == _view(b, second)
    sa, sb = first.snapshot, second.snapshot
    now = 0
    for _ in range(30):
        if sa.timers and rng.random() < 0.3:
            ta, tb = sa.timers[0], sb.timers[0]
            now = max(now, ta.due_ms)
            xa, xb = a.step(sa, ta, context, now=now), b.step(sb, tb, context, now=now)
        else:
            event = rng.choice(triggers) if triggers else "nothing"
            xa, xb = a.step(sa, event, context, now=now), b.step(sb, event, context, now=now)
        assert _view(a, xa) == _view(b, xb)
        sa, sb = xa.snapshot, xb.snapshot


def _guards(machine: StateMachine) -> GuardRegistry:
    registry = GuardRegistry()
    for name in machine.named_guards:
        registry.register(name, lambda ctx, _n=name: len(_n) % 2 == 0)
    return registry


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_survive_scxml(path: Path) -> None:
    machine = StateMachine.from_yaml(path)
    again = from_scxml(to_scxml(machine))
    registry = _guards(machine)
    for seed in range(20):
        _same_behaviour(machine.with_guards(registry), again.with_guards(registry), seed, {"n": 2})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(machines(), st.integers(0, 10_000))
def test_generated_machines_survive_scxml(definition: dict[str, Any], seed: int) -> None:
    machine = StateMachine.from_dict(definition)
    again = from_scxml(to_scxml(machine))
    _same_behaviour(machine, again, seed, {"n": 2})
