"""A transition's guards must all pass, and a guard's answer is recomputed for each context.

Two promises every caller leans on, checked on both drivers (``process`` and
``async_process``, ``process_parallel`` and ``async_process_parallel``): the
guards of one transition are combined with AND, whatever their kind (``expr``,
a sync or an async named guard), and the engine's caches never hand back an
answer computed for another context or payload.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from pystator import Event, GuardRegistry, GuardRejectedError, StateMachine
from tests.drivers import ENGINE_DRIVERS, EngineDriver

pytestmark = pytest.mark.parametrize("drive", ENGINE_DRIVERS)

TWO_EXPRS = """
meta: {machine_name: two_exprs}
states:
  - {name: open, type: initial}
  - {name: filled, type: terminal}
transitions:
  - trigger: fill
    source: open
    dest: filled
    guards:
      - expr: "qty > 0"
      - expr: "approved"
"""

NAMED = """
meta: {machine_name: named}
states:
  - {name: open, type: initial}
  - {name: filled, type: terminal}
  - {name: held}
transitions:
  - trigger: fill
    source: open
    dest: filled
    guards: [in_stock, {expr: "qty > 0"}, paid]
  - {trigger: fill, source: open, dest: held}
"""

PARALLEL = """
meta: {machine_name: regions}
states:
  - {name: idle, type: initial}
  - name: session
    type: parallel
    regions:
      - {name: trading, initial: scanning, states: [scanning, buying]}
      - {name: risk, initial: calm, states: [calm, alarmed]}
transitions:
  - {trigger: start, source: idle, dest: session}
  - trigger: signal
    source: scanning
    dest: buying
    region: trading
    guards: [{expr: "score > 5"}, {expr: "budget >= price"}]
  - trigger: signal
    source: calm
    dest: alarmed
    region: risk
    guards: [{expr: "score > 9"}]
"""


def guards_for(outcomes: dict[str, bool], *, async_ones: bool) -> GuardRegistry:
    """Named guards returning fixed outcomes, as plain or as async functions."""
    registry = GuardRegistry()
    for name, value in outcomes.items():
        if async_ones:

            async def check(ctx: dict[str, Any], value: bool = value) -> bool:
                await asyncio.sleep(0)
                return value

            registry.register(name, check)
        else:
            registry.register(name, lambda ctx, value=value: value)
    return registry


@pytest.mark.parametrize(("qty", "approved"), list(itertools.product([0, 3], [False, True])))
def test_two_expr_guards_both_have_to_pass(drive: EngineDriver, qty: int, approved: bool) -> None:
    machine = StateMachine.from_string(TWO_EXPRS)
    result = drive.process(machine, "open", "fill", {"qty": qty, "approved": approved})
    if qty > 0 and approved:
        assert result.success and result.target_state == "filled"
    else:
        assert not result.success and result.target_state is None
        assert isinstance(result.error, GuardRejectedError)


@pytest.mark.parametrize(
    ("in_stock", "qty", "paid"), list(itertools.product([False, True], [0, 1], [False, True]))
)
def test_named_and_expr_guards_of_one_transition_combine_with_and(
    drive: EngineDriver, in_stock: bool, qty: int, paid: bool
) -> None:
    outcomes = {"in_stock": in_stock, "paid": paid}
    machine = StateMachine.from_string(NAMED)
    machine.bind_guards(guards_for(outcomes, async_ones=drive.is_async))
    result = drive.process(machine, "open", "fill", {"qty": qty})
    expected = "filled" if in_stock and qty > 0 and paid else "held"
    assert result.success and result.target_state == expected


def test_one_false_guard_among_several_rejects_in_the_parallel_view(drive: EngineDriver) -> None:
    machine = StateMachine.from_string(PARALLEL)
    config = machine.enter_parallel_state("session")
    # score passes the first guard only: the trading transition must not fire
    after, results = drive.process_parallel(
        machine, config, "signal", {"score": 7, "budget": 10, "price": 50}
    )
    assert after.region_states == {"trading": "scanning", "risk": "calm"}
    assert not any(r.success for r in results)
    after, results = drive.process_parallel(
        machine, config, "signal", {"score": 7, "budget": 50, "price": 50}
    )
    assert after.region_states == {"trading": "buying", "risk": "calm"}
    assert [r.region for r in results if r.success] == ["trading"]


# -- the context is part of every answer ---------------------------------------------------


def test_each_call_is_decided_by_its_own_context(drive: EngineDriver) -> None:
    machine = StateMachine.from_string(TWO_EXPRS)
    contexts = [{"qty": 1, "approved": True}, {"qty": 0, "approved": True}] * 2
    contexts += [{"qty": 2, "approved": False}, {"qty": 2, "approved": True}]
    outcomes = [drive.process(machine, "open", "fill", ctx).success for ctx in contexts]
    assert outcomes == [True, False, True, False, False, True]


def test_each_call_is_decided_by_its_own_payload(drive: EngineDriver) -> None:
    machine = StateMachine.from_string(TWO_EXPRS)
    base = {"approved": True}
    first = drive.process(machine, "open", Event("fill", {"qty": 0}), base)
    second = drive.process(machine, "open", Event("fill", {"qty": 4}), base)
    third = drive.process(machine, "open", Event("fill", {"qty": 0}), base)
    assert (first.success, second.success, third.success) == (False, True, False)
    assert second.target_state == "filled"


def test_a_rejection_is_not_remembered_once_the_context_allows(drive: EngineDriver) -> None:
    machine = StateMachine.from_string(NAMED.replace("paid]", "paid, {expr: 'vip'}]"))
    machine.bind_guards(guards_for({"in_stock": True, "paid": True}, async_ones=drive.is_async))
    states = [
        drive.process(machine, "open", "fill", {"qty": 1, "vip": vip}).target_state
        for vip in (False, True, False, True)
    ]
    assert states == ["held", "filled", "held", "filled"]


def test_parallel_answers_follow_the_context(drive: EngineDriver) -> None:
    machine = StateMachine.from_string(PARALLEL)
    config = machine.enter_parallel_state("session")
    seen = []
    for score in (3, 10, 3, 7, 10):
        after, _ = drive.process_parallel(
            machine, config, "signal", {"score": score, "budget": 1, "price": 0}
        )
        seen.append(after.to_string())
    assert seen == [
        "session:trading=scanning,risk=calm",
        "session:trading=buying,risk=alarmed",
        "session:trading=scanning,risk=calm",
        "session:trading=buying,risk=calm",
        "session:trading=buying,risk=alarmed",
    ]


def test_binding_other_guards_changes_the_answer(drive: EngineDriver) -> None:
    machine = StateMachine.from_string(NAMED)
    machine.bind_guards(guards_for({"in_stock": True, "paid": True}, async_ones=drive.is_async))
    assert drive.process(machine, "open", "fill", {"qty": 1}).target_state == "filled"
    machine.bind_guards(guards_for({"in_stock": True, "paid": False}, async_ones=drive.is_async))
    assert drive.process(machine, "open", "fill", {"qty": 1}).target_state == "held"
