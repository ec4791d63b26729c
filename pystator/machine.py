"""``StateMachine``: compile a spec once, then compute steps as pure functions.

The engine is two functions: ``start(context)`` and ``step(snapshot, event,
context)``. Each returns a complete ``Step`` (the next ``Snapshot``, what was exited
and entered, the transitions taken, every guard checked, a refusal when nothing
happened, and the ordered effects: actions with their owners, timers armed and
cancelled). The documented calls are views of the same algorithm: ``process`` reads
a state string and returns a ``TransitionResult``; ``process_parallel`` reports one
result per region transition; ``process_configuration`` renders a ``step`` from any
set of active states.

How the step is computed lives in ``pystator.selection`` (which transitions fire) and
``pystator.microstep`` (what they exit, enter and run); the tables they read in
``pystator.compiled``; the structure in ``pystator.chart``. Nothing here calls an
action, and guards are the only user code it runs.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from pathlib import Path
from typing import Any

from pystator import parallel as regions
from pystator.chart import Chart
from pystator.compiled import Tables
from pystator.config import load_spec
from pystator.errors import ConfigError, Issue, UndefinedStateError
from pystator.expressions import CompiledExpression
from pystator.microstep import Transfer
from pystator.model import Event, GuardSpec, MachineSpec, State, StateType, Transition
from pystator.refusal import available_transitions, refuse, stale_timer
from pystator.result import GuardEvaluation, ParallelStateConfig, TransitionResult
from pystator.selection import (
    GuardDecision,
    GuardResolver,
    Judge,
    Plan,
    Selection,
    guard_context,
    run_async,
    run_sync,
    select,
    split_event,
)
from pystator.snapshot import Snapshot, Timer, sorted_timers
from pystator.step import CancelTimer, Effect, MicroStep, RunAction, ScheduleTimer, Step

__all__ = ["GuardDecision", "GuardResolver", "StateMachine"]

Context = Mapping[str, Any]
_Runner = Generator[tuple[str, Awaitable[Any]], Any, Step]


class StateMachine:
    """A compiled statechart; ``step`` and ``process`` compute, they never perform.

    The definition and its compiled tables are immutable and shared. The one setting
    a machine carries is its default guard registry: ``bind_guards(registry)`` sets it
    (the spec's call), ``with_guards(registry)`` returns a machine bound to another
    registry over the same tables. Hosts that bring their own guards (the
    orchestrator, the simulator) use ``with_guards`` and never rebind a machine
    someone else holds.
    """

    def __init__(self, spec: MachineSpec, *, _tables: Tables | None = None) -> None:
        self._spec = spec
        self._tables = _tables if _tables is not None else Tables(spec)
        self._chart = self._tables.chart
        self._guards: Any = None
        self._default_judge = self._new_judge()
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
    def chart(self) -> Chart:
        """The structure every host reads (nesting, document order, where it starts)."""
        return self._chart

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
    def all_transitions(self) -> tuple[Transition, ...]:
        """Written transitions, then one per state ``timeout``: ``transition_index`` order."""
        return self._tables.transitions

    @property
    def triggers(self) -> frozenset[str]:
        return frozenset(t.trigger for t in self._tables.transitions)

    @property
    def named_guards(self) -> frozenset[str]:
        """Names of the registered-function guards the transitions use."""
        return self._tables.named_guards

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
        chart = self._chart
        leaves = chart.leaves_of(chart.initial_configuration)
        if len(leaves) == 1:
            return chart.states[leaves[0]]
        return chart.states[str(chart.initial_state)]

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
        return self._chart.state_children(state)

    def region_of(self, state: str) -> tuple[str, str] | None:
        """The (parallel state, region) whose region contains ``state`` at any depth."""
        self.get_state(state)
        return self._chart.region_at.get(state)

    def document_order(self, state: str) -> int:
        return self._chart.order[state]

    def transition_index(self, transition: Transition) -> int:
        """Where ``transition`` stands among this machine's transitions (timeouts last).

        Results carry the transition objects themselves; this number names one stably
        across a save and reload (a trace, a test), and ranks it in document order.
        """
        try:
            return self._tables.index[id(transition)]
        except KeyError:
            raise ValueError(f"{transition!r} is not a transition of this machine") from None

    def transition_key(self, index: int) -> str:
        """Where transition ``index`` is written: ``transitions[j]`` or ``states[i].timeout``.

        The diagram's edges carry the same key (see ``TakenTransition.edge``).
        """
        return self._tables.keys[index]

    def is_parallel_state(self, state: str) -> bool:
        info = self._chart.states.get(state)
        return info is not None and info.is_parallel

    def is_terminal(self, state: str) -> bool:
        return self.get_state(state).is_terminal

    def delayed_transitions(self, state: str) -> tuple[Transition, ...]:
        """Timers armed on entering ``state``: its ``after`` transitions and its timeout."""
        self.get_state(state)
        return tuple(d.transition for d in self._tables.delayed.get(state, ()))

    def get_available_transitions(self, current_state: str) -> list[Transition]:
        """Transitions that could leave ``current_state`` (guards not evaluated), by priority.

        A state's ``timeout`` is not listed: it is a property of the state
        (``get_state(name).timeout``, or ``delayed_transitions``), not an event to send.
        """
        return available_transitions(self._tables, self.configuration_of(current_state))

    def get_available_triggers(self, current_state: str) -> list[str]:
        return list(dict.fromkeys(t.trigger for t in self.get_available_transitions(current_state)))

    # ------------------------------------------------------------------ configurations
    def configuration_of(self, state: str) -> frozenset[str]:
        """The configuration a state string names (a leaf, a compound state, or ``P:r=s,...``)."""
        tables = self._tables
        cached = tables.configurations.get(state)
        if cached is not None:
            return cached
        chart = self._chart
        if state in chart.states:
            configuration = chart.closure(chart.completion[state])
        else:
            try:
                parallel = ParallelStateConfig.from_string(state)
            except ValueError:
                raise UndefinedStateError(state, list(chart.states)) from None
            if self.validate_parallel_config(parallel):
                raise UndefinedStateError(state, list(chart.states))
            leaves: set[str] = set()
            for value in parallel.region_states.values():
                leaves |= chart.completion[value]
            configuration = chart.closure(leaves)
        tables.remember_configuration(state, configuration)
        return configuration

    def state_string(self, configuration: frozenset[str]) -> str:
        """The string form of a configuration: its leaf, or ``P:region=leaf,...``."""
        strings = self._tables.strings
        cached = strings.get(configuration)
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
            text = regions.parallel_view(self, parallel, configuration).to_string()
        if len(strings) < 10_000:
            strings[configuration] = text
        return text

    def snapshot_of(self, state: str) -> Snapshot:
        """A snapshot with no pending timers for a state string (what ``process`` assumes)."""
        return Snapshot(self.configuration_of(state))

    # ------------------------------------------------------------------ guards
    def bind_guards(self, registry: Any) -> StateMachine:
        """Make ``registry`` (a ``GuardRegistry``) this machine's named guards; returns it."""
        self._guards = registry
        self._default_judge = self._new_judge()
        return self

    def with_guards(self, registry: Any) -> StateMachine:
        """A machine over the same compiled tables with ``registry`` bound (this one unchanged)."""
        return StateMachine(self._spec, _tables=self._tables).bind_guards(registry)

    @property
    def guard_registry(self) -> Any:
        return self._guards

    def expression(self, expr: str) -> CompiledExpression:
        return self._tables.expression(expr)

    def explain_guard(self, guard: GuardSpec, context: Context) -> GuardEvaluation:
        """Evaluate one guard and say what it read (for the designer's guard panel)."""
        if guard.expr is not None:
            passed, detail = self.expression(guard.expr).evaluate(context)
            return GuardEvaluation(guard.label, passed, detail, decided_by="expr")
        function = self._lookup(guard.name or "")
        if function is None:
            return GuardEvaluation(guard.label, False, "not registered")
        value = function(dict(context))
        if inspect.isawaitable(value):
            close = getattr(value, "close", None)
            if close is not None:
                close()
            return GuardEvaluation(guard.label, False, "async guard: use async_process")
        return GuardEvaluation(guard.label, bool(value), "", decided_by="registry")

    def _lookup(self, name: str) -> Callable[..., Any] | None:
        return self._lookup_in(self._guards)(name)

    @staticmethod
    def _lookup_in(registry: Any) -> Callable[[str], Callable[..., Any] | None]:
        """How to find a named guard's function in ``registry`` (None when missing)."""
        if registry is None:
            return _nothing
        find = getattr(registry, "find", None)
        if find is not None:
            return find  # type: ignore[no-any-return]

        def lookup(name: str) -> Callable[..., Any] | None:
            return registry.get(name) if registry.has(name) else None

        return lookup

    def _judge(self, resolver: GuardResolver | None = None, explain: bool = False) -> Judge:
        if resolver is None and not explain:
            return self._default_judge
        return self._new_judge(resolver, explain)

    def _new_judge(self, resolver: GuardResolver | None = None, explain: bool = False) -> Judge:
        return Judge(self._tables.expressions, self._lookup_in(self._guards), resolver, explain)

    # ------------------------------------------------------------------ the engine
    def start(self, context: Context | None = None, *, now: int = 0) -> Step:
        """The step that starts a new entity: its initial configuration, entered.

        Every initial state's ``on_enter`` actions and timers are effects of this
        step, as for any other entry, so every host starts a machine the same way.
        """
        chart = self._chart
        configuration = chart.initial_configuration
        entered = chart.in_entry_order(configuration)
        groups = tuple(
            (s, tuple(RunAction(a, "enter", s) for a in chart.states[s].on_enter)) for s in entered
        )
        effects: list[Effect] = []
        armed, next_id = self._enter(groups, effects, now, 0)
        snapshot = Snapshot(configuration, sorted_timers(armed), next_timer_id=next_id)
        micro = MicroStep(None, (), (), entered, tuple(effects))
        return Step(None, snapshot, (), entered, (), (), micro.effects, None, (micro,))

    def step(
        self,
        snapshot: Snapshot,
        event: str | Event | Timer,
        context: Context | None = None,
        *,
        now: int = 0,
        guard_resolver: GuardResolver | None = None,
        explain: bool = False,
    ) -> Step:
        """What ``event`` does to ``snapshot``; nothing is performed.

        ``event`` is a trigger name, an ``Event`` (its payload is visible to guards for
        this event only), or a pending ``Timer`` of the snapshot: the timer is spent
        whatever its transition's guards say, and a timer that is no longer pending is
        refused (code ``stale-timer``). ``now`` is the host's clock in milliseconds;
        timers armed by this step are due ``after`` milliseconds later. With
        ``explain``, passing ``expr`` guards also record the values they read.
        """
        judge = self._judge(guard_resolver, explain)
        return run_sync(self._stepper(snapshot, event, context, now, judge))

    async def async_step(
        self,
        snapshot: Snapshot,
        event: str | Event | Timer,
        context: Context | None = None,
        *,
        now: int = 0,
        guard_resolver: GuardResolver | None = None,
        explain: bool = False,
    ) -> Step:
        """As ``step``, awaiting async guards."""
        judge = self._judge(guard_resolver, explain)
        return await run_async(self._stepper(snapshot, event, context, now, judge))

    def outcomes(
        self,
        snapshot: Snapshot,
        context: Context | None = None,
        *,
        now: int = 0,
        guard_resolver: GuardResolver | None = None,
        explain: bool = False,
        events: Iterable[str] | None = None,
    ) -> dict[str, Step]:
        """What each event would do now, in one call: the machine's triggers in definition
        order (state timeouts included), or just ``events``.

        The designer lists the enabled events (and why the others do nothing) from this.
        """
        judge = self._judge(guard_resolver, explain)
        if events is None:
            events = dict.fromkeys(t.trigger for t in self._tables.transitions)
        return {
            event: run_sync(self._stepper(snapshot, event, context, now, judge)) for event in events
        }

    def _stepper(
        self,
        snapshot: Snapshot,
        event: str | Event | Timer,
        context: Context | None,
        now: int,
        judge: Judge,
    ) -> _Runner:
        """The step, as a generator that yields only what an async guard returned."""
        timer: Timer | None = None
        timers = snapshot.timers
        if isinstance(event, Timer):
            timer, trigger, payload = event, event.trigger, None
        else:
            trigger, payload = split_event(event)
        configuration = self._known(snapshot.configuration)
        if timer is not None:
            if timer not in timers:
                source = self.state_string(configuration)
                return Step(trigger, snapshot, refusal=stale_timer(source, timer.id), timer=timer)
            timers = tuple(t for t in timers if t is not timer)
        tables = self._tables
        plan = tables.plan(configuration, tables.norm(trigger))
        selection: Selection = yield from select(plan, guard_context(context, payload), judge)
        if not selection.chosen or selection.missing_guard is not None:
            rest = snapshot if timers is snapshot.timers else _with_timers(snapshot, timers)
            refusal = refuse(tables, self.state_string(configuration), plan, selection)
            return Step(trigger, rest, guards=selection.evaluations, refusal=refusal, timer=timer)
        transfer = tables.transfer(plan, selection.chosen)
        micro, after = self._apply(transfer, snapshot, timers, now, trigger)
        return Step(
            trigger,
            after,
            transfer.exited,
            transfer.entered,
            transfer.taken,
            selection.evaluations,
            micro.effects,
            None,
            (micro,),
            timer,
        )

    def _apply(
        self,
        transfer: Transfer,
        snapshot: Snapshot,
        timers: tuple[Timer, ...],
        now: int,
        event: str | None,
    ) -> tuple[MicroStep, Snapshot]:
        """A microstep's effects and the snapshot after it: timers follow exits and entries."""
        effects: list[Effect] = []
        if transfer.exited and timers:
            by_state: dict[str, list[Timer]] = {}
            for t in timers:
                by_state.setdefault(t.state, []).append(t)
            for state, actions in transfer.exit_groups:
                effects.extend(actions)
                effects.extend(CancelTimer(t) for t in by_state.get(state, ()))
            gone = set(transfer.exited)
            timers = tuple(t for t in timers if t.state not in gone)
        else:
            for _state, actions in transfer.exit_groups:
                effects.extend(actions)
        effects.extend(transfer.transition_actions)
        armed, next_id = self._enter(transfer.enter_groups, effects, now, snapshot.next_timer_id)
        if armed:
            timers = sorted_timers(timers + armed)
        after = Snapshot(transfer.configuration, timers, snapshot.history, next_id)
        micro = MicroStep(event, transfer.taken, transfer.exited, transfer.entered, tuple(effects))
        return micro, after

    def _enter(
        self,
        groups: tuple[tuple[str, tuple[RunAction, ...]], ...],
        effects: list[Effect],
        now: int,
        next_id: int,
    ) -> tuple[tuple[Timer, ...], int]:
        """Append each entered state's actions, then its timers; return the timers armed."""
        delayed = self._tables.delayed
        armed: list[Timer] = []
        for state, actions in groups:
            effects.extend(actions)
            for d in delayed.get(state, ()):
                t = d.transition
                timer = Timer(next_id, state, now + d.after, t.trigger, t.dest, now, d.index)
                next_id += 1
                armed.append(timer)
                effects.append(ScheduleTimer(timer))
        return tuple(armed), next_id

    def _known(self, configuration: frozenset[str]) -> frozenset[str]:
        """``configuration`` closed over ancestors; an unknown state name raises."""
        chart = self._chart
        states = chart.states
        for s in configuration:
            if s not in states:
                raise UndefinedStateError(s, list(states))
        closed = chart.closure(chart.leaves_of(configuration))
        return configuration if closed == configuration else closed

    # ------------------------------------------------------------------ views
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
        if type(event) is str:
            trigger, payload = event, None
        else:
            trigger, payload = split_event(event)
        entry = self._tables.entries.get((current_state, trigger))
        if entry is None:
            entry = self._entry(current_state, trigger)
        if type(entry) is TransitionResult:
            return entry  # an unguarded event: its result is fixed
        plan: Plan = entry  # type: ignore[assignment]
        ctx = (
            context if payload is None and context is not None else guard_context(context, payload)
        )
        return self._result(current_state, plan, run_sync(select(plan, ctx, self._default_judge)))

    def _entry(self, state: str, trigger: str) -> Plan | TransitionResult:
        """What ``process`` keeps per (state string, trigger): the plan, or the fixed result."""
        tables = self._tables
        plan = tables.plan(self.configuration_of(state), tables.norm(trigger))
        entry: Plan | TransitionResult = (
            plan if plan.guarded else self._result(state, plan, plan.unguarded)
        )
        if len(tables.entries) < 100_000:
            tables.entries[(state, trigger)] = entry
        return entry

    async def async_process(
        self,
        current_state: str,
        event: str | Event,
        context: Context | None = None,
    ) -> TransitionResult:
        """As ``process``, awaiting async guards."""
        trigger, payload = split_event(event)
        configuration = self.configuration_of(current_state)
        tables = self._tables
        plan = tables.plan(configuration, tables.norm(trigger))
        selection = await run_async(select(plan, guard_context(context, payload), self._judge()))
        return self._result(current_state, plan, selection)

    def process_configuration(
        self,
        configuration: frozenset[str],
        event: str | Event,
        context: Context | None = None,
        *,
        guard_resolver: GuardResolver | None = None,
    ) -> TransitionResult:
        """The general form of ``process``: from any configuration (set of active states)."""
        snapshot = Snapshot(self._known(frozenset(configuration)))
        step = self.step(snapshot, event, context, guard_resolver=guard_resolver)
        return self.result_of(step, self.state_string(snapshot.configuration))

    def candidates(self, configuration: frozenset[str], event: str) -> list[tuple[str, Transition]]:
        """Every (matched source, transition) the event could take, by priority (no guards run)."""
        tables = self._tables
        plan = tables.plan(self._known(frozenset(configuration)), tables.norm(event))
        out: list[tuple[str, Transition]] = []
        for chain in plan.chains:
            for c in chain:
                if all(c.transition is not t for _, t in out):
                    out.append((c.source, c.transition))
        return out

    def result_of(self, step: Step, source: str) -> TransitionResult:
        """``step`` as a ``TransitionResult`` (the view ``process`` returns)."""
        trigger = self._tables.norm(step.event or "")
        refusal = step.refusal
        if refusal is not None:
            if refusal.code == "ignored":
                return _ignored(source, trigger, step.configuration)
            return TransitionResult(
                False, source, None, trigger, error=refusal.error, guard_evaluations=step.guards
            )
        actions = step.actions
        return TransitionResult(
            success=True,
            source_state=source,
            target_state=self.state_string(step.configuration),
            trigger=trigger,
            actions_to_execute=tuple(a.action for a in actions if a.phase == "transition"),
            on_exit_actions=tuple(a.action for a in actions if a.phase == "exit"),
            on_enter_actions=tuple(a.action for a in actions if a.phase == "enter"),
            exited_states=step.exited,
            entered_states=step.entered,
            transitions=tuple(t.transition for t in step.transitions),
            transition_sources=tuple(t.source for t in step.transitions),
            guard_evaluations=step.guards,
            configuration=step.configuration,
        )

    # --- the parallel view (pystator.parallel)
    def enter_parallel_state(self, parallel_state_name: str) -> ParallelStateConfig:
        """A freshly entered parallel state: each region at its initial leaf."""
        return regions.enter_parallel_state(self, parallel_state_name)

    def get_parallel_enter_actions(self, parallel_state_name: str) -> tuple[str, ...]:
        """The on_enter actions of entering the parallel state afresh, outermost first."""
        return regions.get_parallel_enter_actions(self, parallel_state_name)

    def process_parallel(
        self, config: ParallelStateConfig, event: str | Event, context: Context | None = None
    ) -> tuple[ParallelStateConfig, list[TransitionResult]]:
        """Process an event in a parallel state; one result per transition that fired.

        Each result carries its own transition's exits, actions and entries (its
        ``region`` names the region). When the step leaves the parallel state, the
        returned config is the one given and the result's ``target_state`` says where
        the machine went.
        """
        return regions.process_parallel(self, config, event, context)

    async def async_process_parallel(
        self, config: ParallelStateConfig, event: str | Event, context: Context | None = None
    ) -> tuple[ParallelStateConfig, list[TransitionResult]]:
        """As ``process_parallel``, awaiting async guards."""
        return await regions.async_process_parallel(self, config, event, context)

    def exit_parallel_state(self, config: ParallelStateConfig) -> list[str]:
        """The states left when the whole parallel state is exited, in exit order."""
        return regions.exit_parallel_state(self, config)

    def get_parallel_exit_actions(self, config: ParallelStateConfig) -> tuple[str, ...]:
        """The on_exit actions of leaving the whole parallel state, innermost first."""
        return regions.get_parallel_exit_actions(self, config)

    def validate_parallel_config(self, config: ParallelStateConfig) -> list[str]:
        """Problems with ``config`` as plain sentences (empty when it is valid)."""
        return regions.validate_parallel_config(self, config)

    def _result(self, source: str, plan: Plan, selection: Selection) -> TransitionResult:
        """The ``TransitionResult`` of a selection made from a state string."""
        tables = self._tables
        trigger = plan.trigger or ""
        if not selection.chosen or selection.missing_guard is not None:
            refusal = refuse(tables, source, plan, selection)
            if refusal.code == "ignored":
                return _ignored(source, trigger, plan.configuration)
            return TransitionResult(
                False,
                source,
                None,
                trigger,
                error=refusal.error,
                guard_evaluations=selection.evaluations,
            )
        # With no guard rejected on the way, the result depends only on which
        # candidates were chosen (their guards all passed): reuse it, it is immutable.
        alone = selection is selection.chosen[0].alone
        if alone:
            cached = selection.chosen[0].results.get(source)
        elif not selection.rejected:
            cached = tables.results.get((source, selection.chosen))
        else:
            cached = None
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        transfer = tables.transfer(plan, selection.chosen)
        result = TransitionResult(
            success=True,
            source_state=source,
            target_state=self.state_string(transfer.configuration),
            trigger=trigger,
            actions_to_execute=tuple(a.action for a in transfer.transition_actions),
            on_exit_actions=tuple(a.action for _, g in transfer.exit_groups for a in g),
            on_enter_actions=tuple(a.action for _, g in transfer.enter_groups for a in g),
            exited_states=transfer.exited,
            entered_states=transfer.entered,
            transitions=tuple(t.transition for t in transfer.taken),
            transition_sources=tuple(t.source for t in transfer.taken),
            guard_evaluations=selection.evaluations,
            configuration=transfer.configuration,
        )
        if alone:
            selection.chosen[0].results[source] = result
        elif not selection.rejected and len(tables.results) < 100_000:
            tables.results[(source, selection.chosen)] = result
        return result


def _ignored(source: str, trigger: str, configuration: frozenset[str]) -> TransitionResult:
    return TransitionResult(
        True,
        source,
        source,
        trigger,
        configuration=configuration,
        metadata={"ignored": True, "no_op": True},
    )


def _with_timers(snapshot: Snapshot, timers: tuple[Timer, ...]) -> Snapshot:
    return Snapshot(snapshot.configuration, timers, snapshot.history, snapshot.next_timer_id)


def _as_source(source: str | Path) -> str | Path:
    if isinstance(source, Path):
        return source
    if "\n" in source or source.lstrip().startswith(("{", "[")):
        return source
    return Path(source)


def _nothing(_name: str) -> None:
    return None
