"""Who decides a named guard in a simulation, and the choices a person is offered.

The engine evaluates ``expr`` guards itself. A named guard is a Python function the
simulator may not be able to run, so the simulator hands the engine a guard
resolver that decides it, in this order: an outcome fixed with ``set_guard``, the
function of that name in the machine's bound registry (async ones excepted), or
else the person. While a named guard is undecided, each candidate transition of
the event that has one is offered as its own choice (``via``); the chosen one's
undecided guards count as true, the others' as false. A timer that fires takes its
own transition as the choice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pystator.machine import StateMachine
from pystator.model import GuardSpec, Transition
from pystator.selection import GuardDecision
from pystator.simulator.values import SimulationError

__all__ = ["Choices", "choices_for", "choose", "describe_choices", "resolver_for", "via_by_dest"]

Choices = list[tuple[int, Transition]]
"""Each choice: the transition's index in the machine, and the transition."""

Resolver = Callable[[Transition, GuardSpec, Mapping[str, Any]], GuardDecision | None]


def runnable(machine: StateMachine, name: str) -> bool:
    """Whether the machine's bound registry can decide ``name`` synchronously."""
    registry = machine.guard_registry
    return registry is not None and registry.has(name) and not registry.is_async(name)


def choices_for(
    machine: StateMachine,
    configuration: frozenset[str],
    fixed: Mapping[str, bool],
    event: str,
) -> Choices:
    """Candidates of ``event`` with a named guard nobody decides: the person must."""
    if not machine.named_guards:
        return []
    out: Choices = []
    for _source, t in machine.candidates(configuration, event):
        if any(
            g.name is not None and g.name not in fixed and not runnable(machine, g.name)
            for g in t.guards
        ):
            out.append((machine.transition_index(t), t))
    return out


def choose(
    event: str, via: int | None, timer_transition: int | None, choices: Choices, replaying: bool
) -> int | None:
    """The choice an input takes: the timer's own, the one given, or the only one."""
    indexes = [i for i, _ in choices]
    if timer_transition is not None:
        return timer_transition if timer_transition in indexes else None
    if not choices:
        if via is not None and not replaying:
            raise SimulationError(
                f"{event!r} needs no choice here (no unset named guard): send it without via"
            )
        return None
    if via is None:
        if len(choices) == 1:
            return indexes[0]
        raise SimulationError(
            f"{event!r} depends on named guards nobody has decided; choose with via=: "
            + describe_choices(choices)
            + "; or fix the guards with set_guard()"
        )
    if via not in indexes:
        raise SimulationError(
            f"via={via} is not a choice for {event!r} here; the choices are: "
            + describe_choices(choices)
        )
    return via


def describe_choices(choices: Choices) -> str:
    parts = []
    for i, t in choices:
        guards = ", ".join(g.label for g in t.guards)
        parts.append(f"via={i} (-> {t.dest} [{guards}])")
    return ", ".join(parts)


def via_by_dest(event: str, dest: str, choices: Choices) -> int:
    """The choice of ``event`` that goes to ``dest``; an error unless exactly one does."""
    matches = [i for i, t in choices if t.dest == dest]
    if len(matches) == 1:
        return matches[0]
    if not choices:
        raise SimulationError(f"{event!r} needs no choice here: send it without via")
    problem = "more than one choice goes to" if matches else "no choice goes to"
    raise SimulationError(
        f"{problem} {dest!r} for {event!r}; the choices are: {describe_choices(choices)}"
    )


def resolver_for(
    machine: StateMachine, fixed: Mapping[str, bool], chosen: int | None, for_timer: bool
) -> Resolver:
    """The guard resolver of one simulated event (see the module docstring)."""
    registry = machine.guard_registry

    def resolve(t: Transition, guard: GuardSpec, ctx: Mapping[str, Any]) -> GuardDecision | None:
        name = guard.name
        if name is None:
            return None  # an expression: the engine evaluates and explains it
        if name in fixed:
            return GuardDecision(fixed[name], "set_guard", "fixed with set_guard")
        if runnable(machine, name):
            try:
                value = bool(registry.get(name)(dict(ctx)))
            except Exception as error:
                return GuardDecision(False, "registry", f"raised {type(error).__name__}: {error}")
            return GuardDecision(value, "registry", "registry function")
        taken = machine.transition_index(t) == chosen
        if for_timer:
            detail = "the timer's own transition" if taken else "another transition"
            return GuardDecision(taken, "timer", detail)
        detail = f"chosen with via={chosen}" if taken else "not chosen"
        return GuardDecision(taken, "choice", detail)

    return resolve
