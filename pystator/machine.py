"""``StateMachine``: compile a spec once, then compute steps as pure functions.

One algorithm works on configurations (the set of active states). The leaf-string
API (``process``) and the parallel API (``process_parallel``) are two views of it:
both turn their input into a configuration, run the same step and render the
result back into their own form.

The step follows the SCXML algorithm, with the spec's rules where they differ (see
DESIGN.md): transitions are selected per active leaf, innermost source first, then
document order; conflicting selections are resolved SCXML-style (a descendant's
transition preempts); the domain of a transition is the LCA of the current leaf and
the target's leaves (a parallel state is never a domain: it is exited and re-entered);
exits run in reverse document order, transition actions in the order of
``transitions:``, entries in document order. A transition whose ``dest`` is the
source state that matched is targetless: it only runs its actions.

Nothing here calls an action, and guards are the only user code it runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pystator.chart import Chart, Memo, Node
from pystator.config import load_spec, timeout_trigger
from pystator.errors import (
    ConfigError,
    FSMError,
    GuardNotFoundError,
    GuardRejectedError,
    InvalidTransitionError,
    Issue,
    TerminalStateError,
    UndefinedStateError,
    UndefinedTriggerError,
)
from pystator.expressions import CompiledExpression, compile_expression
from pystator.model import (
    ActionSpec,
    Event,
    GuardSpec,
    MachineSpec,
    State,
    StateType,
    Transition,
)
from pystator.result import GuardEvaluation, ParallelStateConfig, TransitionResult

__all__ = ["GuardResolver", "StateMachine"]

Context = Mapping[str, Any]
GuardResolver = Callable[[Transition, GuardSpec, Context], bool | None]
"""Decides a guard's outcome instead of evaluating it (``None``: evaluate as usual).

The simulator uses this for named guards it cannot run; tests can use it too."""

_Candidate = tuple[str, str, Transition]  # (active leaf, source that matched, transition)
_GuardRequest = tuple[Transition, GuardSpec]


@dataclass(frozen=True)
class _Piece:
    """One fired transition's share of a step (used by the parallel view)."""

    transition: Transition
    source: str
    exited: tuple[str, ...]
    entered: tuple[str, ...]


@dataclass(frozen=True)
class _Step:
    configuration: frozenset[str]
    exited: tuple[str, ...]
    entered: tuple[str, ...]
    exit_actions: tuple[ActionSpec, ...]
    transition_actions: tuple[ActionSpec, ...]
    enter_actions: tuple[ActionSpec, ...]
    transitions: tuple[Transition, ...]
    sources: tuple[str, ...]
    pieces: tuple[_Piece, ...]


@dataclass(frozen=True)
class _Plan:
    """For one (configuration, trigger): each leaf's candidate transitions, in priority order."""

    trigger: str
    leaves: tuple[str, ...]
    chains: tuple[tuple[str, tuple[tuple[str, Transition], ...]], ...]
    guarded: bool
    all_terminal: bool


@dataclass(frozen=True)
class _Selection:
    chosen: tuple[_Candidate, ...]
    evaluations: tuple[GuardEvaluation, ...]
    rejections: tuple[tuple[str, str, str], ...]
    missing_guard: str | None = None


class StateMachine:
    """A compiled, immutable statechart; ``process`` computes, it never performs."""

    def __init__(self, spec: MachineSpec) -> None:
        self._spec = spec
        self._chart = chart = Chart(spec)
        normalizer = spec.meta.event_normalizer
        self._normalize: Callable[[str], str] | None = (
            str.lower if normalizer == "lower" else str.upper if normalizer == "upper" else None
        )
        timed = [s for s in spec.states if s.timeout is not None]
        timeouts = tuple(
            Transition(
                trigger=timeout_trigger(s.name),
                source=frozenset({s.name}),
                dest=s.timeout.destination,
                after=s.timeout.ms,
                metadata={"timeout": True},
            )
            for s in timed
            if s.timeout is not None
        )
        self._all_transitions: tuple[Transition, ...] = spec.transitions + timeouts
        count = len(self._all_transitions)
        self._index = dict(zip(map(id, self._all_transitions), range(count), strict=True))
        by_trigger: dict[str, dict[str, list[Transition]]] = {}
        norm = self._normalize
        for t in self._all_transitions:
            trigger = t.trigger if norm is None else norm(t.trigger)
            table = by_trigger.get(trigger)
            if table is None:
                table = by_trigger[trigger] = {}
            for source in t.source:
                bucket = table.get(source)
                if bucket is None:
                    table[source] = [t]
                else:
                    bucket.append(t)
        delayed: dict[str, list[Transition]] = {}
        for t in [t for t in self._all_transitions if t.after is not None]:
            for source in t.source:
                delayed.setdefault(source, []).append(t)
        self._by_trigger = by_trigger
        self._delayed = {s: tuple(ts) for s, ts in delayed.items()}
        self._region_of: dict[str, tuple[str, str] | None] = Memo(partial(_find_region, chart))
        self._expressions: dict[str, CompiledExpression] = {}
        for t in [t for t in spec.transitions if t.guards]:
            for g in t.guards:
                if g.expr is not None and g.expr not in self._expressions:
                    self._expressions[g.expr] = compile_expression(g.expr)
        self._guards: Any = None
        self._config_of: dict[str, frozenset[str]] = {}
        self._strings: dict[frozenset[str], str] = {}
        self._plans: dict[tuple[frozenset[str], str], _Plan] = {}
        self._steps: dict[tuple[frozenset[str], tuple[tuple[str, int], ...]], _Step] = {}
        self._fixed: dict[tuple[str, str], TransitionResult] = {}
        self._chosen_results: dict[tuple[Any, ...], TransitionResult] = {}
        self._pass_evaluations: dict[tuple[int, str], GuardEvaluation] = {}
        self._parallel_fixed: dict[
            tuple[str, str], tuple[str, tuple[tuple[str, str], ...], tuple[TransitionResult, ...]]
        ] = {}
        self._check_supported()

    # ------------------------------------------------------------------ creation
    @classmethod
    def from_spec(cls, spec: MachineSpec) -> StateMachine:
        return cls(spec)

    @classmethod
    def from_yaml(cls, source: str | Path) -> StateMachine:
        """Load from a YAML file path, or from YAML text when given a multi-line string."""
        return cls(load_spec(_as_source(source)))

    @classmethod
    def from_json(cls, source: str | Path) -> StateMachine:
        """Load from a JSON file path or JSON text (JSON is read by the same loader)."""
        return cls(load_spec(_as_source(source)))

    @classmethod
    def from_string(cls, text: str, *, source_name: str | None = None) -> StateMachine:
        return cls(load_spec(text, source_name=source_name))

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> StateMachine:
        return cls(load_spec(config))

    def _check_supported(self) -> None:
        chart = self._chart
        parallel = StateType.PARALLEL
        for name in [n for n, s in chart.states.items() if s.type is parallel]:
            if any(chart.states[a].is_parallel for a in chart.state_ancestors[name]):
                raise ConfigError(
                    [
                        Issue(
                            f"parallel state {name!r} is nested inside another parallel state; "
                            "nested parallel states are not supported yet",
                            "states",
                            code="nested-parallel",
                            source=self._spec.source_name,
                        )
                    ]
                )

    # ------------------------------------------------------------------ queries
    @property
    def spec(self) -> MachineSpec:
        return self._spec

    @property
    def name(self) -> str:
        return self._spec.meta.machine_name

    @property
    def version(self) -> str:
        return self._spec.meta.version

    @property
    def strict_mode(self) -> bool:
        return self._spec.meta.strict_mode

    @property
    def states(self) -> dict[str, State]:
        return dict(self._chart.states)

    @property
    def state_names(self) -> list[str]:
        return list(self._chart.states)

    @property
    def transitions(self) -> tuple[Transition, ...]:
        """The transitions as written (state timeouts are not listed here)."""
        return self._spec.transitions

    @property
    def triggers(self) -> frozenset[str]:
        return frozenset(t.trigger for t in self._all_transitions)

    @property
    def terminal_states(self) -> list[str]:
        return [n for n, s in self._chart.states.items() if s.is_terminal]

    @property
    def parallel_states(self) -> list[str]:
        return [n for n, s in self._chart.states.items() if s.is_parallel]

    def get_state(self, name: str) -> State:
        try:
            return self._chart.states[name]
        except KeyError:
            raise UndefinedStateError(name, list(self._chart.states)) from None

    def get_initial_state(self) -> State:
        """The state the machine starts in, resolved to its leaf (or the parallel state)."""
        leaves = self._chart.leaves_of(self._chart.initial_configuration)
        if len(leaves) == 1:
            return self._chart.states[leaves[0]]
        return self._chart.states[self._chart.initial_state]

    def initial_configuration(self) -> frozenset[str]:
        return self._chart.initial_configuration

    def initial_state_string(self) -> str:
        return self.state_string(self._chart.initial_configuration)

    def parent_of(self, state: str) -> str | None:
        self.get_state(state)
        ancestors = self._chart.state_ancestors[state]
        return ancestors[0] if ancestors else None

    def ancestors(self, state: str) -> tuple[str, ...]:
        self.get_state(state)
        return self._chart.state_ancestors[state]

    def children(self, state: str) -> tuple[str, ...]:
        self.get_state(state)
        out: list[str] = []
        for child in self._chart.children.get(state, ()):
            if isinstance(child, str):
                out.append(child)
            else:
                out.extend(c for c in self._chart.children.get(child, ()) if isinstance(c, str))
        return tuple(out)

    def region_of(self, state: str) -> tuple[str, str] | None:
        """The (parallel state, region) whose region contains ``state`` at any depth."""
        try:
            return self._region_of[state]
        except KeyError:
            raise UndefinedStateError(state, list(self._chart.states)) from None

    def document_order(self, state: str) -> int:
        return self._chart.order[state]

    def transition_index(self, transition: Transition) -> int:
        """Where ``transition`` stands among this machine's transitions (timeouts last).

        Results carry the transition objects themselves; this number names one stably
        across a save and reload (a trace, a test), and ranks it in document order.
        """
        try:
            return self._index[id(transition)]
        except KeyError:
            raise ValueError(f"{transition!r} is not a transition of this machine") from None

    def is_parallel_state(self, state: str) -> bool:
        info = self._chart.states.get(state)
        return info is not None and info.is_parallel

    def is_terminal(self, state: str) -> bool:
        return self.get_state(state).is_terminal

    def delayed_transitions(self, state: str) -> tuple[Transition, ...]:
        """Timers armed on entering ``state``: its ``after`` transitions and its timeout."""
        self.get_state(state)
        return self._delayed.get(state, ())

    def get_available_transitions(self, current_state: str) -> list[Transition]:
        """Transitions that could leave ``current_state`` (guards not evaluated), by priority."""
        configuration = self.configuration_of(current_state)
        seen: set[int] = set()
        out: list[Transition] = []
        for leaf in self._chart.leaves_of(configuration):
            if self._chart.states[leaf].is_terminal:
                continue
            for node in (leaf, *self._chart.state_ancestors[leaf]):
                for t in self._all_transitions:
                    if node in t.source and id(t) not in seen and self._region_ok(t, node):
                        seen.add(id(t))
                        out.append(t)
        return out

    def get_available_triggers(self, current_state: str) -> list[str]:
        return list(dict.fromkeys(t.trigger for t in self.get_available_transitions(current_state)))

    # ------------------------------------------------------------------ configurations
    def configuration_of(self, state: str) -> frozenset[str]:
        """The configuration a state string names (a leaf, a compound state, or ``P:r=s,...``)."""
        cached = self._config_of.get(state)
        if cached is not None:
            return cached
        chart = self._chart
        if state in chart.states:
            configuration = chart.closure(set(chart.completion[state]) | {state})
        else:
            try:
                parallel = ParallelStateConfig.from_string(state)
            except ValueError:
                raise UndefinedStateError(state, list(chart.states)) from None
            problems = self.validate_parallel_config(parallel)
            if problems:
                raise UndefinedStateError(state, list(chart.states))
            leaves: set[str] = set()
            for value in parallel.region_states.values():
                leaves |= chart.completion[value]
            configuration = chart.closure(leaves)
        if len(self._config_of) < 10_000:
            self._config_of[state] = configuration
        return configuration

    def state_string(self, configuration: frozenset[str]) -> str:
        """The string form of a configuration: its leaf, or ``P:region=leaf,...``."""
        cached = self._strings.get(configuration)
        if cached is not None:
            return cached
        chart = self._chart
        leaves = chart.leaves_of(configuration)
        if len(leaves) == 1:
            text = leaves[0]
        else:
            parallel = min(
                (s for s in configuration if chart.states[s].is_parallel),
                key=chart.order.__getitem__,
            )
            text = self._parallel_view(parallel, configuration).to_string()
        self._strings[configuration] = text
        return text

    def _parallel_view(self, parallel: str, configuration: frozenset[str]) -> ParallelStateConfig:
        regions: dict[str, str] = {}
        for leaf in self._chart.leaves_of(configuration):
            where = self.region_of(leaf)
            if where is not None and where[0] == parallel:
                regions[where[1]] = leaf
        return ParallelStateConfig(parallel, regions)

    # ------------------------------------------------------------------ guards
    def bind_guards(self, registry: Any) -> StateMachine:
        """Use ``registry`` (a ``GuardRegistry``) for named guards; returns the machine."""
        self._guards = registry
        self._fixed.clear()
        self._parallel_fixed.clear()
        self._chosen_results.clear()
        return self

    @property
    def guard_registry(self) -> Any:
        return self._guards

    def expression(self, expr: str) -> CompiledExpression:
        compiled = self._expressions.get(expr)
        if compiled is None:
            compiled = self._expressions[expr] = compile_expression(expr)
        return compiled

    def explain_guard(self, guard: GuardSpec, context: Context) -> GuardEvaluation:
        """Evaluate one guard and say what it read (for the designer's guard panel)."""
        if guard.expr is not None:
            passed, detail = self.expression(guard.expr).evaluate(context)
            return GuardEvaluation(guard.label, passed, detail)
        function = self._guard_function(guard.name or "")
        if function is None:
            return GuardEvaluation(guard.label, False, "not registered")
        value = function(dict(context))
        if inspect.isawaitable(value):
            _close(value)
            return GuardEvaluation(guard.label, False, "async guard: use async_process")
        return GuardEvaluation(guard.label, bool(value), "")

    def _guard_function(self, name: str) -> Callable[..., Any] | None:
        registry = self._guards
        if registry is None or not registry.has(name):
            return None
        function: Callable[..., Any] = registry.get(name)
        return function

    # ------------------------------------------------------------------ processing
    def process(
        self,
        current_state: str,
        event: str | Event,
        context: Context | None = None,
    ) -> TransitionResult:
        """Compute what ``event`` does in ``current_state``; nothing is executed.

        A transition that cannot happen comes back with ``success=False`` and an
        ``error``; only an unknown state name raises (``UndefinedStateError``).
        """
        trigger, payload = _split(event)
        key = (current_state, trigger)
        fixed = self._fixed.get(key)
        if fixed is not None:
            return fixed
        configuration = self.configuration_of(current_state)
        plan = self._plan(configuration, trigger)
        if not plan.guarded:
            result = self._decide(current_state, configuration, plan, self._unguarded(plan))
            if len(self._fixed) < 50_000:
                self._fixed[key] = result
            return result
        ctx = _context(context, payload)
        return self._decide(current_state, configuration, plan, self._run_sync(plan, ctx, None))

    async def async_process(
        self,
        current_state: str,
        event: str | Event,
        context: Context | None = None,
    ) -> TransitionResult:
        """As ``process``, awaiting async guards."""
        trigger, payload = _split(event)
        configuration = self.configuration_of(current_state)
        plan = self._plan(configuration, trigger)
        ctx = _context(context, payload)
        selection = await self._run_async(plan, ctx, None)
        return self._decide(current_state, configuration, plan, selection)

    def process_configuration(
        self,
        configuration: frozenset[str],
        event: str | Event,
        context: Context | None = None,
        *,
        guard_resolver: GuardResolver | None = None,
    ) -> TransitionResult:
        """The general form of ``process``: from any configuration (set of active states)."""
        trigger, payload = _split(event)
        unknown = [s for s in configuration if s not in self._chart.states]
        if unknown:
            raise UndefinedStateError(unknown[0], list(self._chart.states))
        configuration = self._chart.closure(set(self._chart.leaves_of(configuration)))
        plan = self._plan(configuration, trigger)
        ctx = _context(context, payload)
        selection = self._run_sync(plan, ctx, guard_resolver)
        return self._decide(self.state_string(configuration), configuration, plan, selection)

    def candidates(self, configuration: frozenset[str], event: str) -> list[tuple[str, Transition]]:
        """Every (matched source, transition) the event could take, by priority (no guards run)."""
        plan = self._plan(configuration, self._norm(event))
        out: list[tuple[str, Transition]] = []
        for _leaf, chain in plan.chains:
            for source, t in chain:
                if all(t is not x for _, x in out):
                    out.append((source, t))
        return out

    # --- parallel view
    def enter_parallel_state(self, parallel_state_name: str) -> ParallelStateConfig:
        """A freshly entered parallel state: each region at its initial leaf."""
        state = self.get_state(parallel_state_name)
        if not state.is_parallel:
            raise InvalidTransitionError(
                f"{parallel_state_name!r} is not a parallel state", parallel_state_name
            )
        configuration = self._chart.closure(set(self._chart.completion[parallel_state_name]))
        return self._parallel_view(parallel_state_name, configuration)

    def get_parallel_enter_actions(self, parallel_state_name: str) -> tuple[str, ...]:
        """The on_enter actions of entering the parallel state afresh, outermost first."""
        self.get_state(parallel_state_name)
        configuration = self._chart.completion[parallel_state_name]
        order = sorted(configuration, key=self._chart.order.__getitem__)
        return tuple(a.name for s in order for a in self._chart.states[s].on_enter)

    def process_parallel(
        self,
        config: ParallelStateConfig,
        event: str | Event,
        context: Context | None = None,
    ) -> tuple[ParallelStateConfig, list[TransitionResult]]:
        """Process an event in a parallel state; one result per transition that fired.

        Each result carries its own transition's exits, actions and entries (its
        ``region`` names the region). When the step leaves the parallel state, the
        returned config is the one given and the result's ``target_state`` says where
        the machine went.
        """
        text = config.to_string()
        trigger, payload = _split(event)
        cached = self._parallel_fixed.get((text, trigger))
        if cached is not None:
            return ParallelStateConfig(cached[0], dict(cached[1])), list(cached[2])
        configuration = self.configuration_of(text)
        plan = self._plan(configuration, trigger)
        selection = self._run_sync(plan, _context(context, payload), None)
        new_config, results = self._parallel_results(config, configuration, plan, selection)
        if not plan.guarded and len(self._parallel_fixed) < 50_000:
            self._parallel_fixed[(text, trigger)] = (
                new_config.parallel_state,
                tuple(new_config.region_states.items()),
                tuple(results),
            )
        return new_config, results

    async def async_process_parallel(
        self,
        config: ParallelStateConfig,
        event: str | Event,
        context: Context | None = None,
    ) -> tuple[ParallelStateConfig, list[TransitionResult]]:
        configuration = self.configuration_of(config.to_string())
        trigger, payload = _split(event)
        plan = self._plan(configuration, trigger)
        selection = await self._run_async(plan, _context(context, payload), None)
        return self._parallel_results(config, configuration, plan, selection)

    def exit_parallel_state(self, config: ParallelStateConfig) -> list[str]:
        """The states left when the whole parallel state is exited, in exit order."""
        configuration = self.configuration_of(config.to_string())
        inside = [
            s
            for s in configuration
            if s == config.parallel_state or self._chart.is_descendant(s, config.parallel_state)
        ]
        return sorted(inside, key=self._chart.order.__getitem__, reverse=True)

    def get_parallel_exit_actions(self, config: ParallelStateConfig) -> tuple[str, ...]:
        """The on_exit actions of leaving the whole parallel state, innermost first."""
        states = self._chart.states
        return tuple(a.name for s in self.exit_parallel_state(config) for a in states[s].on_exit)

    def validate_parallel_config(self, config: ParallelStateConfig) -> list[str]:
        """Problems with ``config`` as plain sentences (empty when it is valid)."""
        state = self._chart.states.get(config.parallel_state)
        if state is None or not state.is_parallel:
            return [f"{config.parallel_state!r} is not a parallel state"]
        problems: list[str] = []
        for region in state.regions:
            value = config.region_states.get(region.name)
            if value is None:
                problems.append(f"region {region.name!r} has no state")
            elif value not in self._chart.states:
                problems.append(f"region {region.name!r}: {value!r} is not a state")
            elif self.region_of(value) != (state.name, region.name):
                problems.append(f"region {region.name!r}: {value!r} is not in this region")
        for name in config.region_states:
            if state.get_region(name) is None:
                problems.append(f"{name!r} is not a region of {state.name!r}")
        return problems

    # ------------------------------------------------------------------ the algorithm
    def _norm(self, trigger: str) -> str:
        return self._normalize(trigger) if self._normalize is not None else trigger

    def _region_ok(self, t: Transition, source: str) -> bool:
        return t.region is None or (self.region_of(source) or ("", ""))[1] == t.region

    def _plan(self, configuration: frozenset[str], trigger: str) -> _Plan:
        trigger = self._norm(trigger)
        key = (configuration, trigger)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        chart = self._chart
        table = self._by_trigger.get(trigger, {})
        leaves = chart.leaves_of(configuration)
        chains = []
        guarded = False
        live = [leaf for leaf in leaves if not chart.states[leaf].is_terminal]
        for leaf in live:
            chain = []
            for node in (leaf, *chart.state_ancestors[leaf]):
                for t in table.get(node, ()):
                    if self._region_ok(t, node):
                        chain.append((node, t))
                        guarded = guarded or bool(t.guards)
            if chain:
                chains.append((leaf, tuple(chain)))
        plan = _Plan(trigger, tuple(leaves), tuple(chains), guarded, not live)
        if len(self._plans) < 100_000:
            self._plans[key] = plan
        return plan

    @staticmethod
    def _unguarded(plan: _Plan) -> _Selection:
        return _Selection(
            tuple((leaf, chain[0][0], chain[0][1]) for leaf, chain in plan.chains), (), ()
        )

    def _selection(
        self, plan: _Plan, ctx: Context
    ) -> Generator[_GuardRequest, bool | None, _Selection]:
        """Choose a transition per leaf; guard outcomes are sent in by the driver.

        The driver sends ``None`` for a named guard it cannot find. Written once as a
        generator so that the sync and async drivers share the same selection rules.
        """
        chosen: list[_Candidate] = []
        evaluations: list[GuardEvaluation] = []
        rejections: list[tuple[str, str, str]] = []
        for leaf, chain in plan.chains:
            for source, t in chain:
                passed = True
                for guard in t.guards:
                    outcome = yield (t, guard)
                    if outcome is None:
                        return _Selection((), tuple(evaluations), (), str(guard.name))
                    if not outcome:
                        detail = self._failure_detail(guard, ctx)
                        evaluations.append(
                            GuardEvaluation(guard.label, False, detail, self._index[id(t)])
                        )
                        rejections.append((_describe(t), guard.label, detail))
                        passed = False
                        break
                    evaluations.append(self._passed(t, guard))
                if passed:
                    chosen.append((leaf, source, t))
                    break
        return _Selection(tuple(chosen), tuple(evaluations), tuple(rejections))

    def _passed(self, t: Transition, guard: GuardSpec) -> GuardEvaluation:
        index = self._index[id(t)]
        key = (index, guard.label)
        evaluation = self._pass_evaluations.get(key)
        if evaluation is None:
            evaluation = self._pass_evaluations[key] = GuardEvaluation(guard.label, True, "", index)
        return evaluation

    def _failure_detail(self, guard: GuardSpec, ctx: Context) -> str:
        if guard.expr is not None:
            return self.expression(guard.expr).evaluate(ctx)[1]
        return ""

    def _outcome(
        self, t: Transition, guard: GuardSpec, ctx: Context, resolver: GuardResolver | None
    ) -> Any:
        if resolver is not None:
            decided = resolver(t, guard, ctx)
            if decided is not None:
                return decided
        if guard.expr is not None:
            return self._expressions[guard.expr].evaluate_bool(ctx)
        function = self._guard_function(guard.name or "")
        if function is None:
            return None
        return function(ctx)

    def _run_sync(self, plan: _Plan, ctx: Context, resolver: GuardResolver | None) -> _Selection:
        if not plan.guarded:
            return self._unguarded(plan)
        runner = self._selection(plan, ctx)
        try:
            request = next(runner)
            while True:
                value = self._outcome(request[0], request[1], ctx, resolver)
                if value is True or value is False:
                    request = runner.send(value)
                    continue
                if inspect.isawaitable(value):
                    _close(value)
                    raise TypeError(f"guard {request[1].label!r} is async: use async_process()")
                request = runner.send(None if value is None else bool(value))
        except StopIteration as stop:
            selection: _Selection = stop.value
            return selection

    async def _run_async(
        self, plan: _Plan, ctx: Context, resolver: GuardResolver | None
    ) -> _Selection:
        if not plan.guarded:
            return self._unguarded(plan)
        runner = self._selection(plan, ctx)
        try:
            request = next(runner)
            while True:
                value = self._outcome(request[0], request[1], ctx, resolver)
                if inspect.isawaitable(value):
                    value = await value
                request = runner.send(None if value is None else bool(value))
        except StopIteration as stop:
            selection: _Selection = stop.value
            return selection

    def _resolve_conflicts(
        self, chosen: tuple[_Candidate, ...], configuration: frozenset[str]
    ) -> list[tuple[_Candidate, frozenset[str]]]:
        kept: list[tuple[_Candidate, frozenset[str]]] = []
        for candidate in chosen:
            if any(candidate[2] is k[0][2] for k in kept):
                continue
            exits = self._exit_set(candidate, configuration)
            preempted = False
            to_remove = []
            for other in kept:
                if exits & other[1]:
                    if self._chart.is_descendant(candidate[1], other[0][1]):
                        to_remove.append(other)
                    else:
                        preempted = True
                        break
            if not preempted:
                for other in to_remove:
                    kept.remove(other)
                kept.append((candidate, exits))
        return kept

    def _domain(self, candidate: _Candidate) -> Node | None:
        leaf, _source, t = candidate
        chart = self._chart
        targets = chart.leaves_of(chart.closure(set(chart.completion[t.dest])))
        domain = chart.lca([leaf, *targets])
        while domain is not None and isinstance(domain, str) and chart.states[domain].is_parallel:
            domain = chart.parent[domain]
        return domain

    def _exit_set(self, candidate: _Candidate, configuration: frozenset[str]) -> frozenset[str]:
        if candidate[2].dest == candidate[1]:
            return frozenset()
        domain = self._domain(candidate)
        return frozenset(
            s for s in configuration if self._chart.is_descendant(s, domain) and s != domain
        )

    def _entry_set(self, candidate: _Candidate) -> set[str]:
        t = candidate[2]
        if t.dest == candidate[1]:
            return set()
        chart = self._chart
        domain = self._domain(candidate)
        # Only what lies below the domain is entered: a dest that is the domain itself
        # (a leaf's transition to its own ancestor) re-enters just the initial chain.
        entry: set[str] = {
            s for s in chart.completion[t.dest] if domain is None or domain in chart.ancestor_set[s]
        }
        path = [
            a
            for a in chart.ancestors[t.dest]
            if domain is None or (a != domain and domain in chart.ancestor_set[a])
        ]
        for node in path:
            if isinstance(node, str):
                entry.add(node)
                if chart.states[node].is_parallel:
                    for region in chart.children.get(node, ()):
                        if not any(region in chart.ancestor_set[s] for s in entry):
                            entry |= chart.completion[region]
        return entry

    def _step(self, configuration: frozenset[str], chosen: tuple[_Candidate, ...]) -> _Step:
        key = (configuration, tuple((leaf, self._index[id(t)]) for leaf, _, t in chosen))
        step = self._steps.get(key)
        if step is not None:
            return step
        chart = self._chart
        order = chart.order.__getitem__
        kept = self._resolve_conflicts(chosen, configuration)
        exits: set[str] = set()
        entries: set[str] = set()
        pieces = []
        for candidate, exit_set in kept:
            entry_set = self._entry_set(candidate)
            exits |= exit_set
            entries |= entry_set
            pieces.append(
                _Piece(
                    candidate[2],
                    candidate[1],
                    tuple(sorted(exit_set, key=order, reverse=True)),
                    tuple(sorted(entry_set, key=order)),
                )
            )
        exited = tuple(sorted(exits, key=order, reverse=True))
        entered = tuple(sorted(entries, key=order))
        taken = sorted((c for c, _ in kept), key=lambda c: self._index[id(c[2])])
        fired = tuple(c[2] for c in taken)
        states = chart.states
        step = _Step(
            configuration=frozenset((configuration - exits) | entries),
            exited=exited,
            entered=entered,
            exit_actions=tuple(a for s in exited for a in states[s].on_exit),
            transition_actions=tuple(a for t in fired for a in t.actions),
            enter_actions=tuple(a for s in entered for a in states[s].on_enter),
            transitions=fired,
            sources=tuple(c[1] for c in taken),
            pieces=tuple(pieces),
        )
        if len(self._steps) < 100_000:
            self._steps[key] = step
        return step

    def _decide(
        self, source: str, configuration: frozenset[str], plan: _Plan, selection: _Selection
    ) -> TransitionResult:
        trigger = plan.trigger
        if selection.missing_guard is not None:
            return self._failure(
                source, trigger, GuardNotFoundError(selection.missing_guard), selection
            )
        if not selection.chosen:
            return self._no_transition(source, configuration, plan, selection, trigger)
        # With no guard rejected on the way, the result depends only on which transitions
        # were chosen (their guards all passed): reuse it, it is immutable.
        key = None
        if not selection.rejections:
            key = (source, trigger, tuple((c[0], self._index[id(c[2])]) for c in selection.chosen))
            cached = self._chosen_results.get(key)
            if cached is not None:
                return cached
        step = self._step(configuration, selection.chosen)
        result = TransitionResult(
            success=True,
            source_state=source,
            target_state=self.state_string(step.configuration),
            trigger=trigger,
            actions_to_execute=step.transition_actions,
            on_exit_actions=step.exit_actions,
            on_enter_actions=step.enter_actions,
            exited_states=step.exited,
            entered_states=step.entered,
            transitions=step.transitions,
            transition_sources=step.sources,
            guard_evaluations=selection.evaluations,
            configuration=step.configuration,
        )
        if key is not None and len(self._chosen_results) < 50_000:
            self._chosen_results[key] = result
        return result

    def _failure(
        self, source: str, trigger: str, error: FSMError, selection: _Selection
    ) -> TransitionResult:
        return TransitionResult(
            False, source, None, trigger, error=error, guard_evaluations=selection.evaluations
        )

    def _no_transition(
        self,
        source: str,
        configuration: frozenset[str],
        plan: _Plan,
        selection: _Selection,
        trigger: str,
    ) -> TransitionResult:
        if plan.all_terminal:
            leaves = ", ".join(plan.leaves)
            error: FSMError = TerminalStateError(
                f"{leaves!r} is a terminal state: it accepts no event", source, trigger
            )
            return self._failure(source, trigger, error, selection)
        if selection.rejections:
            return self._failure(
                source,
                trigger,
                GuardRejectedError(source, trigger, list(selection.rejections)),
                selection,
            )
        if not self._spec.meta.strict_mode:
            return TransitionResult(
                True,
                source,
                source,
                trigger,
                configuration=configuration,
                metadata={"ignored": True, "no_op": True},
            )
        if trigger not in self._by_trigger:
            known = sorted(
                {
                    self._norm(t.trigger)
                    for t in self._all_transitions
                    if not t.metadata.get("timeout")
                }
            )
            from pystator._text import did_you_mean

            error = UndefinedTriggerError(
                f"no transition in this machine uses the trigger {trigger!r}"
                f"{did_you_mean(trigger, known)}",
                source,
                trigger,
                {"available_triggers": known},
            )
        else:
            here = self.get_available_triggers(source)
            error = InvalidTransitionError(
                f"no transition for {trigger!r} from {source!r}"
                + (f" (it accepts: {', '.join(here)})" if here else ""),
                source,
                trigger,
                {"available_triggers": here},
            )
        return self._failure(source, trigger, error, selection)

    def _parallel_results(
        self,
        config: ParallelStateConfig,
        configuration: frozenset[str],
        plan: _Plan,
        selection: _Selection,
    ) -> tuple[ParallelStateConfig, list[TransitionResult]]:
        source = config.to_string()
        if not selection.chosen:
            return config, [self._decide(source, configuration, plan, selection)]
        step = self._step(configuration, selection.chosen)
        trigger = plan.trigger
        states = self._chart.states
        target = self.state_string(step.configuration)
        inside = config.parallel_state in step.configuration
        results = []
        for piece in step.pieces:
            where = self.region_of(piece.transition.dest)
            if where is not None and where[0] != config.parallel_state:
                where = None
            leaf_from = next((s for s in piece.exited if s in self._chart.atomic), source)
            leaf_to = next((s for s in reversed(piece.entered) if s in self._chart.atomic), None)
            results.append(
                TransitionResult(
                    success=True,
                    source_state=leaf_from if inside else source,
                    target_state=(leaf_to or leaf_from) if inside else target,
                    trigger=trigger,
                    actions_to_execute=piece.transition.actions,
                    on_exit_actions=tuple(a for s in piece.exited for a in states[s].on_exit),
                    on_enter_actions=tuple(a for s in piece.entered for a in states[s].on_enter),
                    exited_states=piece.exited,
                    entered_states=piece.entered,
                    transitions=(piece.transition,),
                    transition_sources=(piece.source,),
                    guard_evaluations=selection.evaluations,
                    configuration=step.configuration,
                    region=piece.transition.region or (where[1] if where else None),
                )
            )
        new_config = (
            self._parallel_view(config.parallel_state, step.configuration) if inside else config
        )
        return new_config, results


def _as_source(source: str | Path) -> str | Path:
    if isinstance(source, Path):
        return source
    if "\n" in source or source.lstrip().startswith(("{", "[")):
        return source
    return Path(source)


def _split(event: str | Event) -> tuple[str, Mapping[str, Any] | None]:
    if isinstance(event, str):
        return event, None
    return event.trigger, event.payload


def _context(context: Context | None, payload: Mapping[str, Any] | None) -> Context:
    if payload:
        return {**(context or {}), **payload}
    return context if context is not None else {}


def _describe(t: Transition) -> str:
    sources = ",".join(sorted(t.source))
    return f"{t.trigger}: {sources} -> {t.dest}"


def _close(value: Awaitable[Any]) -> None:
    close = getattr(value, "close", None)
    if close is not None:
        close()


def _find_region(chart: Chart, _table: Memo, state: str) -> tuple[str, str] | None:
    """The (parallel state, region) containing ``state`` at any depth (a memo's answer)."""
    for node in (state, *chart.state_ancestors[state]):
        if node in chart.region_of:
            return chart.region_of[node]
    return None
