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

from pystator import invoked, macrostep, views
from pystator import parallel as regions
from pystator.chart import Chart
from pystator.compiled import Tables
from pystator.config import load_spec
from pystator.errors import UndefinedStateError
from pystator.expressions import CompiledExpression
from pystator.model import Event, GuardSpec, MachineSpec, State, Transition
from pystator.refusal import available_transitions
from pystator.result import GuardEvaluation, ParallelStateConfig, TransitionResult
from pystator.selection import (
    GuardDecision,
    GuardResolver,
    Judge,
    run_async,
    run_sync,
)
from pystator.snapshot import Snapshot, Timer
from pystator.step import Step

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
        self._children: Mapping[str, StateMachine] = {}
        self._invokes: dict[str, Any] = {}

    def bind_machines(self, machines: Mapping[str, StateMachine]) -> StateMachine:
        """Give ``invoke`` with ``src: machine:NAME`` the machines it may name.

        Checked at once: an unknown name (with a did-you-mean) or machines invoking
        each other in a cycle raise ``InvokeError``. Until this is called, a machine's
        ``invoke`` entries are left to the orchestrator's adapter, as before.
        """
        invoked.check_children(self, machines)
        for machine in (self, *machines.values()):
            machine._children = dict(machines)
            machine._invokes = invoked.child_invokes(machine)
        return self

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

    @classmethod
    def from_scxml(cls, source: str | bytes | Path) -> StateMachine:
        """Load a W3C SCXML document: a file path, or its text (see ``pystator.scxml``)."""
        from pystator.scxml import from_scxml

        return cls(from_scxml(source).spec)

    def to_scxml(self) -> str:
        """This machine as SCXML text (``from_scxml`` reads it back to an equal machine)."""
        from pystator.scxml import to_scxml

        return to_scxml(self)

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
        """The configuration a state string names: a leaf, a compound state, or
        ``P:r=s,...`` (a region inside another parallel state reads ``r=Q{a=x,b=y}``)."""
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
            configuration = chart.closure(regions.states_of(self, parallel))
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
        return Judge(self._lookup_in(self._guards), resolver, explain)

    # ------------------------------------------------------------------ the engine
    def start(self, context: Context | None = None, *, now: int = 0) -> Step:
        """The step that starts a new entity: its initial configuration, entered.

        Every initial state's ``on_enter`` actions and timers are effects of this
        step, as for any other entry, so every host starts a machine the same way.
        Eventless transitions and internal events that follow are part of it.
        """
        return run_sync(macrostep.starter(self, context, now, self._default_judge))

    async def async_start(self, context: Context | None = None, *, now: int = 0) -> Step:
        """As ``start``, awaiting async guards of the eventless transitions that follow."""
        return await run_async(macrostep.starter(self, context, now, self._default_judge))

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
        return run_sync(macrostep.stepper(self, snapshot, event, context, now, judge))

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
        return await run_async(macrostep.stepper(self, snapshot, event, context, now, judge))

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
            events = dict.fromkeys(t.trigger for t in self._tables.transitions if not t.eventless)
        return {
            event: run_sync(macrostep.stepper(self, snapshot, event, context, now, judge))
            for event in events
        }

    def _known(self, configuration: frozenset[str]) -> frozenset[str]:
        """``configuration`` closed over ancestors; an unknown state name raises."""
        chart = self._chart
        states = chart.states
        for s in configuration:
            if s not in states:
                raise UndefinedStateError(s, list(states))
        closed = chart.closure(chart.leaves_of(configuration))
        return configuration if closed == configuration else closed

    # ------------------------------------------------------------------ views (pystator.views)
    process = views.process
    async_process = views.async_process
    process_configuration = views.process_configuration
    candidates = views.candidates
    result_of = views.result_of

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


def _as_source(source: str | Path) -> str | Path:
    if isinstance(source, Path):
        return source
    if "\n" in source or source.lstrip().startswith(("{", "[")):
        return source
    return Path(source)


def _nothing(_name: str) -> None:
    return None
