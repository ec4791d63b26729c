"""Why an event did nothing, said once for every host.

The simulator's step log, the designer's disabled-event list, the REST API and
``TransitionResult.error`` all read the ``Refusal`` a step carries: a stable code, a
sentence in the user's terms, and the engine's error value.
"""

from __future__ import annotations

from pystator._text import did_you_mean
from pystator.compiled import Tables
from pystator.errors import (
    FSMError,
    GuardNotFoundError,
    GuardRejectedError,
    InvalidTransitionError,
    TerminalStateError,
    UndefinedTriggerError,
)
from pystator.model import Transition
from pystator.selection import Plan, Selection
from pystator.step import Refusal

__all__ = ["available_transitions", "refuse"]


def available_transitions(tables: Tables, configuration: frozenset[str]) -> list[Transition]:
    """Transitions declared on the active states or their ancestors, by priority.

    A state's ``timeout`` is a property of the state, not a transition someone sends,
    so its synthetic ``timeout:STATE`` transition is not listed.
    """
    chart = tables.chart
    seen: set[int] = set()
    out: list[Transition] = []
    for leaf in chart.leaves_of(configuration):
        if leaf in chart.ends:
            continue
        for node in (leaf, *chart.state_ancestors[leaf]):
            for t in tables.spec.transitions:
                if node in t.source and id(t) not in seen and tables.region_ok(t, node):
                    seen.add(id(t))
                    out.append(t)
    return out


def refuse(tables: Tables, source: str, plan: Plan, selection: Selection) -> Refusal:
    """The refusal for an event whose selection chose nothing (or lacked a guard)."""
    trigger = plan.trigger or ""
    if selection.missing_guard is not None:
        error: FSMError = GuardNotFoundError(selection.missing_guard)
        return Refusal("missing-guard", error.message, error)
    if plan.all_terminal:
        leaves = ", ".join(plan.leaves)
        error = TerminalStateError(
            f"{leaves!r} is a terminal state: it accepts no event", source, trigger
        )
        return Refusal("terminal", f"{source!r} is a terminal state: it accepts no event", error)
    if selection.rejected:
        failed = [e for e in selection.evaluations if not e.passed]
        rejections = [
            (_describe(tables.transitions[e.transition_index]), e.guard, e.detail) for e in failed
        ]
        parts = [
            f"{e.guard} is false ({e.detail})" if e.detail else f"{e.guard} is false"
            for e in failed
        ]
        return Refusal(
            "guard-false",
            f"no transition for {trigger!r} from {source!r}: {'; '.join(parts)}",
            GuardRejectedError(source, trigger, rejections),
        )
    if not tables.spec.meta.strict_mode:
        return Refusal(
            "ignored", f"ignored (non-strict mode): no transition for {trigger!r} from {source!r}"
        )
    used = (
        bool(tables.matching(trigger)) if tables.prefix_matching else trigger in tables.by_trigger
    )
    if not used:
        known = sorted(
            {
                tables.norm(t.trigger)
                # the written transitions: the compiled table adds one per state
                # ``timeout``, whose trigger nobody sends
                for t in tables.spec.transitions
                if not t.eventless
            }
        )
        error = UndefinedTriggerError(
            f"no transition in this machine uses the trigger {trigger!r}"
            f"{did_you_mean(trigger, known)}",
            source,
            trigger,
            {"available_triggers": known},
        )
        return Refusal("unknown-trigger", error.message, error)
    here = list(dict.fromkeys(t.trigger for t in available_transitions(tables, plan.configuration)))
    error = InvalidTransitionError(
        f"no transition for {trigger!r} from {source!r}"
        + (f" (it accepts: {', '.join(here)})" if here else ""),
        source,
        trigger,
        {"available_triggers": here},
    )
    return Refusal("no-transition", error.message, error)


def stale_timer(source: str, timer_id: int) -> Refusal:
    return Refusal(
        "stale-timer",
        f"timer {timer_id} is not pending in {source!r} (it fired, or its state was left)",
    )


def _describe(t: Transition) -> str:
    sources = ",".join(sorted(t.source))
    return f"{t.trigger}: {sources} -> {t.dest}"
