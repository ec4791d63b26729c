"""The region-by-region view of a parallel state (``ParallelStateConfig``).

The spec's parallel API (``enter_parallel_state``, ``process_parallel``,
``get_parallel_exit_actions`` ...) describes one parallel state as a mapping of
region to active state. It is a view: each call turns the ``ParallelStateConfig``
into a configuration, runs the same selection and microstep as ``step``, and
reports one ``TransitionResult`` per transition that fired, each with its own
exits, actions and entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pystator import views
from pystator.chart import RegionNode
from pystator.errors import InvalidTransitionError
from pystator.model import Event
from pystator.result import (
    ParallelStateConfig,
    TransitionResult,
    nested_parallel,
    parse_regions,
)
from pystator.selection import (
    Plan,
    Selection,
    guard_context,
    run_async,
    run_sync,
    select,
    split_event,
)

if TYPE_CHECKING:
    from pystator.machine import StateMachine

__all__ = [
    "async_process_parallel",
    "enter_parallel_state",
    "exit_parallel_state",
    "get_parallel_enter_actions",
    "get_parallel_exit_actions",
    "parallel_view",
    "process_parallel",
    "validate_parallel_config",
]

Context = Mapping[str, Any]


def parallel_view(
    machine: StateMachine, parallel: str, configuration: frozenset[str]
) -> ParallelStateConfig:
    """The region-by-region form of a configuration inside ``parallel`` (shared, unchangeable).

    A region whose active state is (inside) another parallel state gets the nested
    form ``inner{r1=a,r2=b}`` as its value.
    """
    views = machine._tables.parallel_views
    key = (parallel, configuration)
    found: ParallelStateConfig | None = views.get(key)
    if found is not None:
        return found
    chart = machine.chart
    regions = {
        node.name: region_value(machine, node, configuration)
        for node in chart.region_nodes(parallel)
    }
    view = ParallelStateConfig.frozen(parallel, regions)
    if len(views) < 10_000:
        views[key] = view
    return view


def region_value(machine: StateMachine, region: RegionNode, configuration: frozenset[str]) -> str:
    """What a region is in: its active leaf, or ``Q{...}`` for a parallel state inside it."""
    chart = machine.chart
    inside = [s for s in configuration if region in chart.ancestor_set[s]]
    nested = [s for s in inside if chart.states[s].is_parallel]
    if not nested:
        leaves = chart.leaves_of(inside)
        return leaves[0] if leaves else ""
    outer = min(nested, key=chart.order.__getitem__)
    inner = ",".join(
        f"{node.name}={region_value(machine, node, configuration)}"
        for node in chart.region_nodes(outer)
    )
    return f"{outer}{{{inner}}}"


def states_of(machine: StateMachine, config: ParallelStateConfig) -> set[str]:
    """The states a (valid) ``ParallelStateConfig`` makes active, nested values included."""
    chart = machine.chart
    out: set[str] = set()
    for value in config.region_states.values():
        nested = nested_parallel(value)
        if nested is None:
            out |= chart.completion[value]
        else:
            inner = ParallelStateConfig(nested[0], parse_regions(nested[1], value))
            out |= states_of(machine, inner)
    return out


def enter_parallel_state(machine: StateMachine, parallel_state_name: str) -> ParallelStateConfig:
    """A freshly entered parallel state: each region at its initial leaf."""
    state = machine.get_state(parallel_state_name)
    if not state.is_parallel:
        raise InvalidTransitionError(
            f"{parallel_state_name!r} is not a parallel state", parallel_state_name
        )
    configuration = machine.chart.closure(machine.chart.completion[parallel_state_name])
    return parallel_view(machine, parallel_state_name, configuration)


def get_parallel_enter_actions(machine: StateMachine, parallel_state_name: str) -> tuple[str, ...]:
    """The on_enter actions of entering the parallel state afresh, outermost first."""
    machine.get_state(parallel_state_name)
    chart = machine.chart
    order = chart.in_entry_order(chart.completion[parallel_state_name])
    return tuple(a.name for s in order for a in chart.states[s].on_enter)


def process_parallel(
    machine: StateMachine,
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
    if type(event) is str:
        trigger, payload = event, None
    else:
        trigger, payload = split_event(event)
    results = machine._tables.parallel_results
    cached = results.get((text, trigger))
    if cached is not None:
        return cached[0], list(cached[1])
    plan = _plan_for(machine, text, trigger)
    selection = run_sync(select(plan, guard_context(context, payload), machine._judge()))
    new_config, out = _parallel_results(machine, config, plan, selection)
    if not plan.guarded and len(results) < 100_000:
        shared = new_config
        if "_text" not in shared.__dict__:  # the caller's own value: keep an unchangeable copy
            shared = ParallelStateConfig.frozen(shared.parallel_state, shared.region_states)
        results[(text, trigger)] = (shared, tuple(out))
    return new_config, out


async def async_process_parallel(
    machine: StateMachine,
    config: ParallelStateConfig,
    event: str | Event,
    context: Context | None = None,
) -> tuple[ParallelStateConfig, list[TransitionResult]]:
    """As ``process_parallel``, awaiting async guards."""
    trigger, payload = split_event(event)
    plan = _plan_for(machine, config.to_string(), trigger)
    selection = await run_async(select(plan, guard_context(context, payload), machine._judge()))
    return _parallel_results(machine, config, plan, selection)


def exit_parallel_state(machine: StateMachine, config: ParallelStateConfig) -> list[str]:
    """The states left when the whole parallel state is exited, in exit order."""
    configuration = machine.configuration_of(config.to_string())
    chart = machine.chart
    inside = [
        s
        for s in configuration
        if s == config.parallel_state or chart.is_descendant(s, config.parallel_state)
    ]
    return list(chart.in_exit_order(inside))


def get_parallel_exit_actions(
    machine: StateMachine, config: ParallelStateConfig
) -> tuple[str, ...]:
    """The on_exit actions of leaving the whole parallel state, innermost first."""
    states = machine.chart.states
    return tuple(a.name for s in exit_parallel_state(machine, config) for a in states[s].on_exit)


def validate_parallel_config(machine: StateMachine, config: ParallelStateConfig) -> list[str]:
    """Problems with ``config`` as plain sentences (empty when it is valid)."""
    chart = machine.chart
    state = chart.states.get(config.parallel_state)
    if state is None or not state.is_parallel:
        return [f"{config.parallel_state!r} is not a parallel state"]
    problems: list[str] = []
    for region in state.regions:
        value = config.region_states.get(region.name)
        if value is None:
            problems.append(f"region {region.name!r} has no state")
            continue
        nested = nested_parallel(value)
        name = nested[0] if nested is not None else value
        if name not in chart.states:
            problems.append(f"region {region.name!r}: {name!r} is not a state")
        elif chart.region_at.get(name) != (state.name, region.name):
            problems.append(f"region {region.name!r}: {name!r} is not in this region")
        elif nested is not None:
            try:
                inner = ParallelStateConfig(name, parse_regions(nested[1], value))
            except ValueError as error:
                problems.append(f"region {region.name!r}: {error}")
                continue
            problems.extend(validate_parallel_config(machine, inner))
    for name in config.region_states:
        if state.get_region(name) is None:
            problems.append(f"{name!r} is not a region of {state.name!r}")
    return problems


def _plan_for(machine: StateMachine, text: str, trigger: str) -> Plan:
    tables = machine._tables
    return tables.plan(machine.configuration_of(text), tables.norm(trigger))


def _parallel_results(
    machine: StateMachine, config: ParallelStateConfig, plan: Plan, selection: Selection
) -> tuple[ParallelStateConfig, list[TransitionResult]]:
    source = config.to_string()
    if not selection.chosen or selection.missing_guard is not None:
        return config, [views._result(machine, source, plan, selection)]
    tables = machine._tables
    transfer = tables.transfer(plan, selection.chosen, {})
    chart = machine.chart
    states = chart.states
    target = machine.state_string(transfer.configuration)
    inside = config.parallel_state in transfer.configuration
    results = []
    for piece in transfer.pieces:
        t = piece.candidate.transition
        where = chart.region_at.get(t.dest)
        if where is not None and where[0] != config.parallel_state:
            where = None
        leaf_from = next((s for s in piece.exited if s in chart.atomic), source)
        leaf_to = next((s for s in reversed(piece.entered) if s in chart.atomic), None)
        results.append(
            TransitionResult(
                success=True,
                source_state=leaf_from if inside else source,
                target_state=(leaf_to or leaf_from) if inside else target,
                trigger=plan.trigger or "",
                actions_to_execute=tuple(a for a in t.actions if a.is_call),
                on_exit_actions=tuple(
                    a for s in piece.exited for a in states[s].on_exit if a.is_call
                ),
                on_enter_actions=tuple(
                    a for s in piece.entered for a in states[s].on_enter if a.is_call
                ),
                exited_states=piece.exited,
                entered_states=piece.entered,
                transitions=(t,),
                transition_sources=(piece.candidate.source,),
                guard_evaluations=selection.evaluations,
                configuration=transfer.configuration,
                region=t.region or (where[1] if where else None),
            )
        )
    new_config = (
        parallel_view(machine, config.parallel_state, transfer.configuration) if inside else config
    )
    return new_config, results
