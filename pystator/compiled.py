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
from functools import cached_property
from typing import Any

from pystator.chart import Chart
from pystator.config import timeout_trigger
from pystator.datamodel import Datamodel
from pystator.expressions import CompiledExpression, compile_expression
from pystator.microstep import Transfer, microstep
from pystator.model import ActionSpec, MachineSpec, StateType, Transition
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
        self.prefix_matching = spec.meta.event_matching == "prefix"
        normalizer = spec.meta.event_normalizer
        self.normalize = (
            str.lower if normalizer == "lower" else str.upper if normalizer == "upper" else None
        )
        self.transitions, self._timeout_states = _numbered(spec, self.chart)
        self.by_trigger, self.eventless, self.delayed = self._tables()
        actions = _top_level_actions(spec)
        uses_datamodel = bool(spec.data) or any(a.is_datamodel for a in actions)
        self.datamodel: Datamodel | None = Datamodel(spec) if uses_datamodel else None
        """The machine's variables and executable content (None when it has neither:
        then no step evaluates anything but guards)."""
        parent = self.chart.parent
        nested_final = any(parent[s] is not None for s in self.chart.of_type(StateType.FINAL))
        raises = any(a.kind == "raise" for a in actions)
        self.chained = bool(self.eventless) or raises or nested_final or uses_datamodel
        """Whether an event can chain microsteps (eventless transitions, raised events,
        done events, the datamodel): then every view runs the whole macrostep."""
        guarded = [t for t in spec.transitions if t.guards]
        self.expressions: dict[str, CompiledExpression] = {}
        for t in guarded:
            for g in t.guards:
                if g.expr is not None and g.expr not in self.expressions:
                    self.expressions[g.expr] = compile_expression(g.expr)
        self.named_guards: frozenset[str] = frozenset(
            g.name for t in guarded for g in t.guards if g.name is not None
        )
        self.plans: dict[tuple[frozenset[str], str | None], Plan] = {}
        self.descriptors: dict[str, dict[str, list[int]]] = {}
        self.configurations: dict[str, frozenset[str]] = {}
        self.strings: dict[frozenset[str], str] = {}
        self.results: dict[Any, Any] = {}  # the TransitionResult views' caches
        self.entries: dict[tuple[str, str], Any] = {}  # process(): plan or fixed result
        self.parallel_views: dict[tuple[str, frozenset[str]], Any] = {}
        self.parallel_results: dict[tuple[str, str], Any] = {}

    @cached_property
    def index(self) -> dict[int, int]:
        """Each transition's number by the transition's identity (``transition_index``).

        Built on first use: the engine's own tables carry numbers, so only a host asking
        for one pays for this.
        """
        count = len(self.transitions)
        return dict(zip(map(id, self.transitions), range(count), strict=True))

    @cached_property
    def keys(self) -> tuple[str, ...]:
        """Where each transition is written: ``transitions[j]``, then ``states[i].timeout``.

        Built on first use (the first plan or ``transition_key``), not with the machine.
        """
        written = [f"transitions[{j}]" for j in range(len(self.spec.transitions))]
        return (*written, *(f"states[{i}].timeout" for i in self._timeout_states))

    def _tables(
        self,
    ) -> tuple[
        dict[str, dict[str, list[int]]], dict[str, list[int]], dict[str, tuple[Delayed, ...]]
    ]:
        """Transitions by (trigger, source), eventless ones by source, timers by state."""
        by_trigger: dict[str, dict[str, list[int]]] = {}
        delayed: dict[str, list[Delayed]] = {}
        eventless: dict[str, list[int]] = {}
        norm = self.normalize
        for i, t in enumerate(self.transitions):
            if t.eventless:
                for source in t.source:
                    eventless.setdefault(source, []).append(i)
                continue
            trigger = t.trigger if norm is None else norm(t.trigger)
            if self.prefix_matching:
                trigger = descriptor(trigger)
            table = by_trigger.setdefault(trigger, {})
            for source in t.source:
                table.setdefault(source, []).append(i)
                if t.after is not None:
                    delayed.setdefault(source, []).append(Delayed(i, t))
        return by_trigger, eventless, {s: tuple(d) for s, d in delayed.items()}

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

    def plan(self, configuration: frozenset[str], trigger: str | None) -> Plan:
        """Each live leaf's candidates for ``trigger`` (already normalised; None: the
        eventless transitions), by priority."""
        key = (configuration, trigger)
        plan = self.plans.get(key)
        if plan is not None:
            return plan
        chart = self.chart
        if trigger is None:
            table = self.eventless
        elif self.prefix_matching:
            table = self.matching(trigger)
        else:
            table = self.by_trigger.get(trigger, {})
        leaves = chart.leaves_of(configuration)
        chains: list[tuple[Candidate, ...]] = []
        guarded = False
        ends = chart.ends
        live = [leaf for leaf in leaves if leaf not in ends]
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

    def matching(self, event: str) -> dict[str, list[int]]:
        """Transitions by source whose descriptor matches ``event`` (prefix matching).

        SCXML's rule: a descriptor matches an event equal to it or starting with it
        followed by a dot (``error`` and ``error.*`` match ``error.send.failed``);
        ``*`` matches every event. Per source, in document order.
        """
        found = self.descriptors.get(event)
        if found is not None:
            return found
        keys = [event]
        while "." in keys[-1]:
            keys.append(keys[-1].rsplit(".", 1)[0])
        keys.append("")
        merged: dict[str, set[int]] = {}
        for key in keys:
            for source, indexes in self.by_trigger.get(key, {}).items():
                merged.setdefault(source, set()).update(indexes)
        table = {source: sorted(indexes) for source, indexes in merged.items()}
        if len(self.descriptors) < 10_000:
            self.descriptors[event] = table
        return table

    def transfer(
        self, plan: Plan, chosen: tuple[Candidate, ...], history: Mapping[str, frozenset[str]]
    ) -> Transfer:
        """What taking ``chosen`` does from the plan's configuration (cached per plan).

        Only a transition into a history state depends on what is remembered, so only
        then is the remembered value part of the key.
        """
        key: Any = chosen
        if self.chart.history:
            restored = tuple(
                history.get(c.transition.dest)
                for c in chosen
                if c.transition.dest in self.chart.history
            )
            if restored:
                key = (chosen, restored)
        done: Transfer | None = plan.transfers.get(key)
        if done is None:
            done = microstep(self.chart, plan.configuration, chosen, history)
            if len(plan.transfers) < 1_000:
                plan.transfers[key] = done
        return done

    def remember_configuration(self, state: str, configuration: frozenset[str]) -> None:
        if len(self.configurations) < _CONFIG_CACHE:
            self.configurations[state] = configuration


def cached(table: Mapping[Any, Any], limit: int = 50_000) -> bool:
    """Whether a cache table still has room."""
    return len(table) < limit


def descriptor(trigger: str) -> str:
    """A trigger as a prefix-matching descriptor: ``error.*`` is ``error``, ``*`` is ``""``."""
    if trigger in ("*", ".*"):
        return ""
    return trigger[:-2] if trigger.endswith(".*") else trigger


def _numbered(spec: MachineSpec, chart: Chart) -> tuple[tuple[Transition, ...], tuple[int, ...]]:
    """Every transition: the written ones, then one per state ``timeout``; and the
    positions of the states whose timeouts those are."""
    timed = [i for i, state in enumerate(spec.states) if state.timeout is not None]
    if not timed:
        return spec.transitions, ()
    timeouts: list[Transition] = []
    positions: list[int] = []
    for i in timed:
        state = spec.states[i]
        if state.timeout is None or chart.index.get(state.name) != i:
            continue
        timeouts.append(
            Transition(
                trigger=timeout_trigger(state.name),
                source=frozenset({state.name}),
                dest=state.timeout.destination,
                after=state.timeout.ms,
            )
        )
        positions.append(i)
    return spec.transitions + tuple(timeouts), tuple(positions)


def _top_level_actions(spec: MachineSpec) -> list[ActionSpec]:
    """The actions written directly on transitions and states (not those nested in one).

    Most items have none, so the lists are picked out first and only those are read.
    """
    groups = [t.actions for t in spec.transitions if t.actions]
    states = spec.states
    groups += [s.on_enter for s in states if s.on_enter]
    groups += [s.on_exit for s in states if s.on_exit]
    groups += [s.default_actions for s in states if s.default_actions]
    return [a for group in groups for a in group]
