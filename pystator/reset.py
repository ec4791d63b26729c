"""Moving an entity to a state no transition leads to: the runtime's fallback.

``error_policy.default_fallback`` sends an entity to a fallback state when an
action keeps failing. No transition of the machine says so, but the move is still
a step like any other: what is active and not part of the fallback configuration
is exited (``on_exit`` actions, timers cancelled, history recorded), what the
fallback adds is entered (``on_enter`` actions, timers armed), and regions of a
parallel ancestor beside the fallback state stay as they are; child machines
(``invoke: machine:``) of states it left are cancelled and those of states it
entered are started, as after any step (the failed event is forwarded to none of
them: it is what failed). It is computed here, with the engine's own microstep
pieces, so the runtime never tabulates exits, entries or timers itself.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

from pystator import invoked
from pystator.macrostep import _Chain
from pystator.microstep import fallback_transfer
from pystator.selection import run_sync
from pystator.snapshot import Snapshot
from pystator.step import Step

if TYPE_CHECKING:
    from pystator.machine import StateMachine

__all__ = ["reset_to"]

log = logging.getLogger(__name__)


def reset_to(
    machine: StateMachine,
    snapshot: Snapshot,
    target: str,
    event: str,
    context: Mapping[str, Any] | None = None,
    *,
    now: int = 0,
) -> Step:
    """The step that leaves ``snapshot`` for ``target`` (entered by its default entry),
    then goes on as any step does: eventless transitions and raised events are taken.

    The fallback is the move of last resort, so it lands even when what follows the
    entry cannot be taken (it never settles, a guard there is async or raises): then
    only the entry is taken."""
    machine.get_state(target)  # an unknown target fails here, named
    transfer = fallback_transfer(machine.chart, snapshot.configuration, target, snapshot.history)

    def entered() -> _Chain:
        chain = _Chain(machine, snapshot, now, machine._default_judge, context)
        chain.take(transfer, event)
        return chain

    def went_on(chain: _Chain) -> Generator[Any, Any, None]:
        if machine._tables.chained:
            yield from chain.settled()
        if machine._invokes and chain.loop is None:
            yield from invoked.reconcile(chain, None)

    chain = entered()
    if machine._tables.chained or machine._invokes:
        try:
            run_sync(went_on(chain))
        except Exception:
            log.warning("fallback to %s: what follows its entry failed", target, exc_info=True)
            chain = entered()
            invoked.cancel_exited(chain)
        else:
            if chain.loop is not None:
                log.warning("fallback to %s: %s; taken without it", target, chain.loop)
                chain = entered()
                invoked.cancel_exited(chain)
    return chain.step(event, (), None)
