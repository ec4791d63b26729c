"""Child machines: ``invoke`` with ``src: machine:NAME``, run by the engine itself.

A state that invokes a machine starts a child when it is entered and cancels it
when it is exited. The engine stays stateless: the child's snapshot lives in the
parent's ``Snapshot.children`` (by invoke id) and its effects come out in the
parent's ``Step``. Only ``src`` values that begin with ``machine:`` are children;
any other ``src`` is an external service left to the orchestrator's
``InvokeAdapter``, exactly as before.

The order, as SCXML's main loop has it (W3C SCXML 1.0, Appendix D), is that
invocations are reconciled once the parent's macrostep has settled:

1. children whose invoking state was exited are cancelled (their pending timers
   are cancelled; none of their exit actions run, as SCXML requires none);
2. the step's external event is forwarded to every surviving child whose invoke
   says ``autoforward: true`` (a child started in this very step does not get it);
3. a child is started for every active state that invokes one and has none yet,
   in entry order (its start step runs its entry actions, like any ``start``);
4. a child that is now in a top-level ``terminal`` or ``final`` state raises
   ``done.invoke.<id>`` (then its ``on_done`` event, if given) on the parent's
   internal queue, and the parent settles again (then reconciles again).

Each of 1-3 is a microstep of the parent's step, named ``cancel.invoke.<id>``,
``<event>`` (forwarded) or ``start.invoke.<id>``, whose effects are the child's.
"""

from __future__ import annotations

import difflib
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

from pystator.errors import FSMError
from pystator.model import InvokeSpec, State
from pystator.step import CancelTimer, Effect, MicroStep, ScheduleTimer

if TYPE_CHECKING:
    from pystator.machine import StateMachine
    from pystator.snapshot import Snapshot, Timer

__all__ = [
    "MACHINE_SRC",
    "InvokeError",
    "cancel_exited",
    "check_children",
    "child_invokes",
    "child_name",
    "child_states",
    "forwarded_triggers",
    "invokes_note",
    "is_done",
    "reconcile",
]

MACHINE_SRC = "machine:"
"""The prefix that makes ``src`` name a machine rather than an external service."""


class InvokeError(FSMError):
    """An ``invoke`` names a machine that is not there, or machines invoke each other."""


def child_name(spec: InvokeSpec) -> str | None:
    """The machine ``spec`` invokes, or None for an external service."""
    if spec.src.startswith(MACHINE_SRC):
        return spec.src[len(MACHINE_SRC) :].strip()
    return None


def child_invokes(machine: StateMachine) -> dict[str, tuple[tuple[str, InvokeSpec], ...]]:
    """Each state that invokes machines, with its ``(state, spec)`` pairs in written order."""
    out: dict[str, tuple[tuple[str, InvokeSpec], ...]] = {}
    for state in machine.spec.states:
        found = tuple((state.name, v) for v in state.invoke if child_name(v) is not None)
        if found:
            out[state.name] = found
    return out


def check_children(parent: StateMachine, machines: Mapping[str, StateMachine]) -> None:
    """Refuse an unknown child machine (with a did-you-mean) and any invoke cycle.

    ``parent`` need not be in ``machines``; when it is (under its own name), a child
    that invokes it back is a cycle.
    """
    known = {**machines, parent.name: machines.get(parent.name, parent)}
    for parent_name, machine in [(parent.name, parent), *machines.items()]:
        for i, state in enumerate(machine.spec.states):
            for k, spec in enumerate(state.invoke):
                child = child_name(spec)
                if child is not None and child not in known:
                    close = difflib.get_close_matches(child, list(known), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    path = f"states[{i}].invoke[{k}].src"
                    where = _where(machine, path)
                    raise InvokeError(
                        f"{where}state {state.name!r} of {parent_name!r} invokes {spec.src!r}, "
                        f"but there is no machine {child!r}{hint}",
                        {"state": state.name, "invoke": spec.id, "path": path},
                    )
    cycle = _cycle(parent.name, known)
    if cycle:
        path = _invoke_path(known[cycle[0]], cycle[1])
        raise InvokeError(
            _where(known[cycle[0]], path)
            + "machines invoke each other without end: "
            + " -> ".join(cycle),
            {"cycle": cycle, "path": path},
        )


def _invoke_path(machine: StateMachine, child: str) -> str:
    """The path of the first invoke in ``machine`` that starts ``child``."""
    for i, state in enumerate(machine.spec.states):
        for k, spec in enumerate(state.invoke):
            if child_name(spec) == child:
                return f"states[{i}].invoke[{k}].src"
    return ""


def _where(machine: StateMachine, path: str) -> str:
    """``file:line:column: `` of ``path`` in the machine's source, as far as it is known.

    The invoke is checked when machines are bound, long after loading, so the message
    has to say which file and line to open: the name alone can be in several files.
    """
    loc = machine.spec.location(path)
    parts = [machine.spec.source_name] if machine.spec.source_name else []
    if loc is not None:
        parts += [str(loc.line), str(loc.column)]
    return ":".join(parts) + ": " if parts else ""


def _cycle(start: str, machines: Mapping[str, StateMachine]) -> list[str]:
    """The first invoke cycle reachable from ``start`` (``[a, b, a]``), or ``[]``."""
    path: list[str] = []

    def visit(name: str) -> list[str]:
        if name in path:
            return [*path[path.index(name) :], name]
        machine = machines.get(name)
        if machine is None:
            return []
        path.append(name)
        for pairs in child_invokes(machine).values():
            for _state, spec in pairs:
                found = visit(child_name(spec) or "")
                if found:
                    return found
        path.pop()
        return []

    return visit(start)


def invokes_note(state: State, note: str = "") -> str:
    """``note`` with ``invokes payment`` added for each child machine ``state`` invokes:
    how the diagram shows a child without drawing it."""
    names = [n for n in (child_name(v) for v in state.invoke) if n]
    if not names:
        return note
    return "; ".join(p for p in (note, "invokes " + ", ".join(names)) if p)


def child_states(machine: StateMachine, snapshot: Snapshot) -> dict[str, str]:
    """Each running child's state string, by invoke id: what a host shows (the simulator)."""
    out: dict[str, str] = {}
    for pairs in machine._invokes.values():
        for _state, spec in pairs:
            child = snapshot.children.get(spec.id)
            if child is not None:
                out[spec.id] = machine._children[child_name(spec) or ""].state_string(
                    child.configuration
                )
    return out


def forwarded_triggers(machine: StateMachine, snapshot: Snapshot) -> tuple[str, ...]:
    """The events the running ``autoforward`` children listen for (their children's
    too), in written order: events a host may send the parent that matter only to a
    child, so the simulator can offer them."""
    out: dict[str, None] = {}
    for pairs in machine._invokes.values():
        for _state, spec in pairs:
            running = snapshot.children.get(spec.id)
            if running is None or not spec.autoforward:
                continue
            child = machine._children[child_name(spec) or ""]
            for transition in child.all_transitions:
                out.setdefault(transition.trigger)
            for trigger in forwarded_triggers(child, running):
                out.setdefault(trigger)
    return tuple(out)


def is_done(machine: StateMachine, snapshot: Snapshot) -> bool:
    """Whether a child has finished: a top-level ``terminal`` or ``final`` state is active."""
    for name in snapshot.configuration:
        state = machine.get_state(name)
        if state.is_terminal or (state.is_final and state.parent is None):
            return True
    return False


Runner = Generator[Any, Any, None]
_Owners = dict[str, tuple[str, InvokeSpec]]


def reconcile(chain: Any, event: str | None, timer: Timer | None = None) -> Runner:
    """Steps 1-4 of the module's order on a running macrostep ``chain``, until settled.

    ``timer`` is a child's timer that fired: it goes to the child that armed it.
    """
    from pystator.macrostep import MAX_MICROSTEPS

    invokes = chain.machine._invokes
    owners: _Owners = {spec.id: (st, spec) for pairs in invokes.values() for st, spec in pairs}
    for _round in range(MAX_MICROSTEPS):
        children = dict(chain.children)
        _cancel(chain, children, owners)
        done = yield from _forward(chain, children, owners, event, timer)
        done += yield from _start(chain, children)
        chain.children = children
        event, timer = None, None
        if not done:
            return
        for inv_id in done:  # 4. tell the parent
            chain.queue_event(f"done.invoke.{inv_id}")
            on_done = owners[inv_id][1].on_done
            if on_done:
                chain.queue_event(on_done)
        yield from chain.settled()
        if chain.loop is not None:
            return


def cancel_exited(chain: Any) -> None:
    """Step 1 alone: what a move that cannot go on (the runtime's fallback, landing
    with its entry only) still owes the children of the states it left."""
    owners: _Owners = {
        spec.id: (st, spec) for pairs in chain.machine._invokes.values() for st, spec in pairs
    }
    children = dict(chain.children)
    _cancel(chain, children, owners)
    chain.children = children


def _cancel(chain: Any, children: dict[str, Snapshot], owners: _Owners) -> None:
    """1. Drop each child whose invoking state is no longer active, cancelling its timers."""
    for inv_id in list(children):
        if owners[inv_id][0] not in chain.configuration:
            gone = children.pop(inv_id)
            effects: tuple[Effect, ...] = tuple(
                CancelTimer(t.owned_by(inv_id)) for t in gone.pending
            )
            chain.microsteps.append(MicroStep(f"cancel.invoke.{inv_id}", (), (), (), effects, True))


def _forward(
    chain: Any,
    children: dict[str, Snapshot],
    owners: _Owners,
    event: str | None,
    timer: Timer | None,
) -> Generator[Any, Any, list[str]]:
    """2. Give the external event to autoforward children (a fired timer to its owner)."""
    from pystator.macrostep import stepper

    done: list[str] = []
    machines = chain.machine._children
    for inv_id, snap in list(children.items()):
        spec = owners[inv_id][1]
        child = machines[child_name(spec) or ""]
        what: str | Timer | None = None
        if timer is not None and timer.owner[:1] == (inv_id,):
            what = timer.for_child()
        if what is None and spec.autoforward:
            what = event
        if what is None or is_done(child, snap):
            continue
        step = yield from stepper(child, snap, what, None, chain.now, child._default_judge)
        if step.moved or step.effects:
            children[inv_id] = step.snapshot
            effects = _owned(step.effects, inv_id)
            chain.microsteps.append(MicroStep(step.event, (), (), (), effects, True))
            if is_done(child, step.snapshot):
                done.append(inv_id)
    return done


def _owned(effects: tuple[Effect, ...], inv_id: str) -> tuple[Effect, ...]:
    """A child's effects as its parent's step carries them: each timer it arms or
    cancels with its path from the parent (so a host can tell it from the parent's own,
    and hand it back to the right machine when it fires)."""
    out: list[Effect] = []
    for effect in effects:
        if isinstance(effect, ScheduleTimer):
            effect = ScheduleTimer(effect.timer.owned_by(inv_id))
        elif isinstance(effect, CancelTimer):
            effect = CancelTimer(effect.timer.owned_by(inv_id))
        out.append(effect)
    return tuple(out)


def _start(chain: Any, children: dict[str, Snapshot]) -> Generator[Any, Any, list[str]]:
    """3. Start a child for each active invoking state that has none, in entry order."""
    from pystator.macrostep import starter

    done: list[str] = []
    machine = chain.machine
    for state in machine.chart.in_entry_order(chain.configuration):
        for _state, spec in machine._invokes.get(state, ()):
            if spec.id in children:
                continue
            child = machine._children[child_name(spec) or ""]
            step = yield from starter(child, None, chain.now, child._default_judge)
            children[spec.id] = step.snapshot
            chain.microsteps.append(
                MicroStep(
                    f"start.invoke.{spec.id}", (), (), (), _owned(step.effects, spec.id), True
                )
            )
            if is_done(child, step.snapshot):
                done.append(spec.id)
    return done
