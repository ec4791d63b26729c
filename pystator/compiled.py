"""The lookup tables a machine is compiled into, shared by every binding of it.

``StateMachine`` is a thin face over one ``Tables``: the chart, every transition with
its stable number and key, transitions by trigger and source, the timers each state
arms, the compiled guard expressions, and the caches of plans and microsteps. None
of it depends on which guard registry is bound, so ``machine.with_guards(...)``
shares it, and a cached microstep is valid for any binding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pystator.chart import Chart
from pystator.config import timeout_trigger
from pystator.expressions import CompiledExpression, compile_expression
from pystator.microstep import Transfer, microstep
from pystator.model import MachineSpec, Transition
from pystator.selection import Candidate, Plan

__all__ = ["Delayed", "Tables"]

_PLAN_CACHE = 100_000
_CONFIG_CACHE = 10_000


@dataclass(frozen=True, slots=True)
class Delayed:
    """A timer a state arms on entry: its transition's number and the transition."""

    index: int
    transition: Transition

    @property
    def after(self) -> int:
        return self.transition.after or 0


class Tables:
    """Everything ``StateMachine`` looks up, computed once per spec."""

    def __init__(self, spec: MachineSpec) -> None:
        self.spec = spec
        self.chart: Chart = spec.chart
        normalizer = spec.meta.event_normalizer
        self.normalize = (
            str.lower if normalizer == "lower" else str.upper if normalizer == "upper" else None
        )
        written = spec.transitions
        keys = [f"transitions[{j}]" for j in range(len(written))]
        timeouts: list[Transition] = []
        for i, state in enumerate(spec.states):
            if state.timeout is None or self.chart.index.get(state.name) != i:
                continue
            timeouts.append(
                Transition(
                    trigger=timeout_trigger(state.name),
                    source=frozenset({state.name}),
                    dest=state.timeout.destination,
                    after=state.timeout.ms,
                    metadata={"timeout": True},
                )
            )
            keys.append(f"states[{i}].timeout")
        self.transitions: tuple[Transition, ...] = written + tuple(timeouts)
        self.keys: tuple[str, ...] = tuple(keys)
        self.index: dict[int, int] = {id(t): i for i, t in enumerate(self.transitions)}
        by_trigger: dict[str, dict[str, list[int]]] = {}
        delayed: dict[str, list[Delayed]] = {}
        norm = self.normalize
        for i, t in enumerate(self.transitions):
            trigger = t.trigger if norm is None else norm(t.trigger)
            table = by_trigger.get(trigger)
            if table is None:
                table = by_trigger[trigger] = {}
            for source in t.source:
                bucket = table.get(source)
                if bucket is None:
                    table[source] = [i]
                else:
                    bucket.append(i)
                if t.after is not None:
                    delayed.setdefault(source, []).append(Delayed(i, t))
        self.by_trigger = by_trigger
        self.delayed: dict[str, tuple[Delayed, ...]] = {s: tuple(d) for s, d in delayed.items()}
        self.expressions: dict[str, CompiledExpression] = {}
        for t in written:
            for g in t.guards:
                if g.expr is not None and g.expr not in self.expressions:
                    self.expressions[g.expr] = compile_expression(g.expr)
        self.named_guards: frozenset[str] = frozenset(
            g.name for t in written for g in t.guards if g.name is not None
        )
        self.plans: dict[tuple[frozenset[str], str | None], Plan] = {}
        self.configurations: dict[str, frozenset[str]] = {}
        self.strings: dict[frozenset[str], str] = {}
        self.results: dict[Any, Any] = {}  # the TransitionResult views' caches
        self.entries: dict[tuple[str, str], Any] = {}  # process(): plan or fixed result
        self.parallel_views: dict[tuple[str, frozenset[str]], Any] = {}
        self.parallel_results: dict[tuple[str, str], Any] = {}

    def norm(self, trigger: str) -> str:
        return self.normalize(trigger) if self.normalize is not None else trigger

    def expression(self, expr: str) -> CompiledExpression:
        compiled = self.expressions.get(expr)
        if compiled is None:
            compiled = self.expressions[expr] = compile_expression(expr)
        return compiled

    def region_ok(self, t: Transition, source: str) -> bool:
        """A region-scoped transition applies only to sources inside its region."""
        if t.region is None:
            return True
        where = self.chart.region_at.get(source)
        return where is not None and where[1] == t.region

    def plan(self, configuration: frozenset[str], trigger: str) -> Plan:
        """Each live leaf's candidates for ``trigger`` (already normalised), by priority."""
        key = (configuration, trigger)
        plan = self.plans.get(key)
        if plan is not None:
            return plan
        chart = self.chart
        states = chart.states
        table = self.by_trigger.get(trigger, {})
        leaves = chart.leaves_of(configuration)
        chains: list[tuple[Candidate, ...]] = []
        guarded = False
        live = [leaf for leaf in leaves if not states[leaf].is_terminal]
        transitions, keys = self.transitions, self.keys
        for leaf in live:
            chain: list[Candidate] = []
            for node in (leaf, *chart.state_ancestors[leaf]):
                for i in table.get(node, ()):
                    t = transitions[i]
                    if self.region_ok(t, node):
                        chain.append(Candidate.make(leaf, node, t, i, keys[i], self.expressions))
                        guarded = guarded or bool(t.guards)
            if chain:
                chains.append(tuple(chain))
        plan = Plan(trigger, configuration, tuple(leaves), tuple(chains), guarded, not live)
        if len(self.plans) < _PLAN_CACHE:
            self.plans[key] = plan
        return plan

    def transfer(self, plan: Plan, chosen: tuple[Candidate, ...]) -> Transfer:
        """What taking ``chosen`` does from the plan's configuration (cached per plan)."""
        done: Transfer | None = plan.transfers.get(chosen)
        if done is None:
            done = plan.transfers[chosen] = microstep(self.chart, plan.configuration, chosen)
        return done

    def remember_configuration(self, state: str, configuration: frozenset[str]) -> None:
        if len(self.configurations) < _CONFIG_CACHE:
            self.configurations[state] = configuration


def cached(table: Mapping[Any, Any], limit: int = 50_000) -> bool:
    """Whether a cache table still has room."""
    return len(table) < limit
