"""Transition selection: for one configuration and event, which transitions fire.

SCXML's ``selectTransitions``, with the spec's rules: for each active leaf in
document order, the leaf's own transitions for the event are tried first, then its
parent's, and so on outwards; among one state's transitions the order of
``transitions:`` decides; the first whose guards all pass is selected. Terminal
leaves select nothing.

The candidates of one (configuration, event) pair do not depend on the context, so
they are worked out once into a ``Plan`` and cached by the machine. Guards are then
evaluated by ``select``: a generator written once and driven twice. It calls
every guard itself and yields only an awaitable an async guard returned; the sync
driver refuses those (``TypeError``), the async driver awaits them and sends the
value back. So ``process`` and ``async_process`` share every selection rule.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pystator.expressions import CompiledExpression, StateScope
from pystator.model import Event, GuardSpec, Transition
from pystator.result import GuardEvaluation
from pystator.step import TakenTransition

__all__ = [
    "Candidate",
    "GuardDecision",
    "GuardResolver",
    "Judge",
    "Plan",
    "Selection",
    "guard_context",
    "run_async",
    "run_sync",
    "select",
    "split_event",
]

Context = Mapping[str, Any]
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class GuardDecision:
    """A guard resolver's verdict, with who decided it and why (for the step's record)."""

    passed: bool
    decided_by: str
    detail: str = ""


GuardResolver = Callable[[Transition, GuardSpec, Context], "bool | GuardDecision | None"]
"""Decides a guard instead of evaluating it (``None``: evaluate as usual).

The simulator uses this for named guards it cannot run; tests can use it too."""


@dataclass(eq=False, slots=True)
class GuardCheck:
    """One guard of a candidate, ready to evaluate: its compiled expression or its name.

    ``passed`` is the record of it passing (the common outcome), made once.
    """

    guard: GuardSpec
    expression: CompiledExpression | None
    name: str
    passed: GuardEvaluation

    def failed(self, ctx: Context) -> GuardEvaluation:
        """The record of this guard failing, with what an expression read."""
        detail = self.expression.evaluate(ctx)[1] if self.expression is not None else ""
        base = self.passed
        return GuardEvaluation(
            base.guard, False, detail, base.transition_index, base.source, base.decided_by
        )

    def explained(self, ctx: Context) -> GuardEvaluation:
        """Evaluate an expression guard and record the values it read, pass or fail."""
        assert self.expression is not None
        value, detail = self.expression.evaluate(ctx)
        base = self.passed
        return GuardEvaluation(
            base.guard, value, detail, base.transition_index, base.source, "expr"
        )

    def decided(self, decision: bool | GuardDecision, ctx: Context) -> GuardEvaluation:
        """The record of a resolver's decision."""
        if isinstance(decision, GuardDecision):
            value, by, detail = decision.passed, decision.decided_by, decision.detail
        else:
            value, by, detail = bool(decision), "resolver", ""
        if self.expression is not None and not detail:
            detail = self.expression.evaluate(ctx)[1]
        base = self.passed
        return GuardEvaluation(base.guard, value, detail, base.transition_index, base.source, by)


@dataclass(eq=False, slots=True)
class Candidate:
    """A transition an active leaf could take, from the state it matched.

    Candidates are made once per plan and compared by identity, so a tuple of them
    is a cheap cache key. ``alone`` is the selection of this candidate by itself with
    every guard passing, and ``results`` caches its ``TransitionResult`` per state
    string: the most common outcome of an event costs no allocation.
    """

    leaf: str
    source: str
    transition: Transition
    index: int
    key: str
    checks: tuple[GuardCheck, ...] = ()
    taken: TakenTransition = field(init=False)
    alone: Selection = field(init=False)
    results: dict[str, Any] = field(init=False, default_factory=dict)

    @classmethod
    def make(
        cls,
        leaf: str,
        source: str,
        transition: Transition,
        index: int,
        key: str,
        expressions: Mapping[str, CompiledExpression],
    ) -> Candidate:
        checks = tuple(
            GuardCheck(
                g,
                expressions[g.expr] if g.expr is not None else None,
                g.name or "",
                GuardEvaluation(
                    g.label, True, "", index, source, "expr" if g.expr is not None else "registry"
                ),
            )
            for g in transition.guards
        )
        return cls(leaf, source, transition, index, key, checks)

    def __post_init__(self) -> None:
        self.taken = TakenTransition(self.index, self.key, self.source, self.transition)
        self.alone = Selection((self,), tuple(c.passed for c in self.checks))


@dataclass(frozen=True, slots=True)
class Selection:
    """What ``select`` chose: one candidate per leaf at most, and every guard it checked."""

    chosen: tuple[Candidate, ...]
    evaluations: tuple[GuardEvaluation, ...] = ()
    rejected: bool = False
    missing_guard: str | None = None


@dataclass(eq=False, slots=True)
class Plan:
    """For one (configuration, trigger): each live leaf's candidates, in priority order.

    ``transfers`` caches what each choice of candidates does (see
    ``pystator.microstep``), so a repeated event costs a selection and a lookup.
    """

    trigger: str | None
    configuration: frozenset[str]
    leaves: tuple[str, ...]
    chains: tuple[tuple[Candidate, ...], ...]
    guarded: bool
    all_terminal: bool
    unguarded: Selection = field(init=False)
    transfers: dict[Any, Any] = field(init=False, default_factory=dict)

    reads_states: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.unguarded = Selection(tuple(chain[0] for chain in self.chains))
        self.reads_states = any(
            check.expression is not None and check.expression.uses_state
            for chain in self.chains
            for candidate in chain
            for check in candidate.checks
        )


@dataclass(frozen=True, slots=True)
class Judge:
    """How guards are decided in one step: a resolver first, then expressions or functions.

    ``lookup`` finds a named guard's function (None when it is not registered).
    With ``explain``, a passing ``expr`` guard also records the values it read (the
    designer shows them); without, only a failing one does (the hot path).
    """

    lookup: Callable[[str], Callable[..., Any] | None]
    resolver: GuardResolver | None = None
    explain: bool = False


def select(  # noqa: C901 - one inlined loop: the hot path bench/engine_bench.py guards time
    plan: Plan, ctx: Context, judge: Judge
) -> Generator[tuple[str, Awaitable[Any]], Any, Selection]:
    """Choose a transition per leaf; see the module docstring for how it is driven."""
    if not plan.guarded:
        return plan.unguarded
    chosen: list[Candidate] = []
    evaluations: list[GuardEvaluation] = []
    rejected = False
    resolver, lookup, explain = judge.resolver, judge.lookup, judge.explain
    if plan.reads_states:  # some expression calls In(...): give it the active states
        ctx = StateScope(ctx, plan.configuration)
    for chain in plan.chains:
        for candidate in chain:
            for check in candidate.checks:
                if resolver is not None:
                    decision = resolver(candidate.transition, check.guard, ctx)
                    if decision is not None:
                        record = check.decided(decision, ctx)
                        evaluations.append(record)
                        if record.passed:
                            continue
                        rejected = True
                        break
                expression = check.expression
                if expression is not None:
                    if explain:
                        record = check.explained(ctx)
                        evaluations.append(record)
                        if record.passed:
                            continue
                        rejected = True
                        break
                    if expression.evaluate_bool(ctx):
                        evaluations.append(check.passed)
                        continue
                else:
                    function = lookup(check.name)
                    if function is None:
                        return Selection((), tuple(evaluations), rejected, check.name)
                    outcome = function(ctx)
                    if outcome is not True and outcome is not False:
                        if inspect.isawaitable(outcome):
                            outcome = yield check.guard.label, outcome
                        outcome = bool(outcome)
                    if outcome:
                        evaluations.append(check.passed)
                        continue
                evaluations.append(check.failed(ctx))
                rejected = True
                break
            else:  # every guard passed
                chosen.append(candidate)
                break
    if not rejected and len(chosen) == 1 and resolver is None and not explain:
        return chosen[0].alone
    return Selection(tuple(chosen), tuple(evaluations), rejected)


def run_sync(runner: Generator[tuple[str, Awaitable[Any]], Any, R]) -> R:
    """Drive ``select`` without awaiting: an async guard is a usage error."""
    try:
        label, pending = next(runner)
    except StopIteration as stop:
        result: R = stop.value
        return result
    close = getattr(pending, "close", None)
    if close is not None:
        close()
    runner.close()
    raise TypeError(f"guard {label!r} is async: use async_process()")


async def run_async(runner: Generator[tuple[str, Awaitable[Any]], Any, R]) -> R:
    """Drive ``select``, awaiting each async guard it yields."""
    try:
        _label, pending = next(runner)
        while True:
            value = await pending
            _label, pending = runner.send(value)
    except StopIteration as stop:
        result: R = stop.value
        return result


def split_event(event: str | Event) -> tuple[str, Mapping[str, Any] | None]:
    """An event's trigger and payload (a plain name has none)."""
    if isinstance(event, str):
        return event, None
    return event.trigger, event.payload


def guard_context(context: Context | None, payload: Mapping[str, Any] | None) -> Context:
    """What guards read for one event: the context, with the event's payload over it."""
    if payload:
        return {**(context or {}), **payload}
    return context if context is not None else {}
