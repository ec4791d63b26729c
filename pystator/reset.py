"""Moving an entity to a state no transition leads to: the runtime's fallback.

``error_policy.default_fallback`` sends an entity to a fallback state when an
action keeps failing. No transition of the machine says so, but the move is still
a step like any other: what is active and not part of the fallback configuration
is exited (``on_exit`` actions, timers cancelled, history recorded), what the
fallback adds is entered (``on_enter`` actions, timers armed). It is computed here,
with the engine's own microstep pieces, so the runtime never tabulates exits,
entries or timers itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pystator.macrostep import _Chain
from pystator.microstep import Transfer, effect, record_history
from pystator.snapshot import Snapshot
from pystator.step import Step

if TYPE_CHECKING:
    from pystator.machine import StateMachine

__all__ = ["reset_to"]


def reset_to(
    machine: StateMachine,
    snapshot: Snapshot,
    target: str,
    event: str,
    context: Mapping[str, Any] | None = None,
    *,
    now: int = 0,
) -> Step:
    """The step that leaves ``snapshot`` for ``target`` (entered by its default entry)."""
    chart = machine.chart
    machine.get_state(target)  # an unknown target fails here, named
    before = snapshot.configuration
    after = chart.closure(chart.completion[target])
    exited = chart.in_exit_order(before - after)
    entered = chart.in_entry_order(after - before)
    states = chart.states
    transfer = Transfer(
        configuration=after,
        exited=exited,
        entered=entered,
        taken=(),
        exit_groups=tuple(
            (s, tuple(effect(a, "exit", s) for a in states[s].on_exit)) for s in exited
        ),
        transition_actions=(),
        enter_groups=tuple(
            (s, tuple(effect(a, "enter", s) for a in states[s].on_enter)) for s in entered
        ),
        pieces=(),
        recorded=record_history(chart, before, exited) if chart.history else (),
    )
    chain = _Chain(machine, snapshot, now, machine._default_judge, context)
    chain.take(transfer, event)
    return chain.step(event, (), None)
