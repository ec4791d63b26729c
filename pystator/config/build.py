"""Plain data -> ``MachineSpec`` values: a fast path for well-formed items, and the model path.

Most definitions are well formed, and pydantic's validation alone costs more than
building the whole machine should. So each state and transition whose keys and
values already have the plain shape (names as text, actions and guards as names or
``{expr}``) is converted directly, with the same rules the schema applies; any other
item goes through its pydantic model. If any item fails, the caller validates the
whole document with ``MachineModel`` instead, whose errors carry full paths: the fast
path decides nothing that the schema would decide differently (a test feeds both
paths the same inputs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from pydantic import ValidationError

from pystator.config.schema import (
    RESERVED_PREFIXES,
    ErrorPolicyModel,
    MetaModel,
    StateModel,
    TransitionModel,
    transition_trigger_problem,
)
from pystator.durations import format_duration, parse_duration
from pystator.model import (
    ActionSpec,
    ErrorPolicy,
    GuardSpec,
    InvokeSpec,
    Location,
    MachineMeta,
    MachineSpec,
    Region,
    State,
    StateType,
    Timeout,
    Transition,
)

__all__ = ["Draft", "build_from_model", "build_plain", "finish", "implicit_trigger"]

_T = TypeVar("_T")
_TYPES = {t.value: t for t in StateType}
_PLAIN_STATE_KEYS = frozenset(
    {"name", "type", "parent", "initial_child", "description", "on_enter", "on_exit"}
)
_PLAIN_TRANSITION_KEYS = frozenset(
    {"trigger", "source", "dest", "region", "after", "guards", "actions", "description"}
)
_TOP_KEYS = frozenset({"meta", "states", "transitions", "error_policy"})


def implicit_trigger(source: str, delay_ms: int) -> str:
    """The synthetic trigger of a delayed transition written without one."""
    return f"after:{format_duration(delay_ms)}:{source}"


def _trusted(cls: type[_T], **fields: Any) -> _T:
    """Make a frozen model value from fields that are already normalised.

    Skips the constructor's normalising ``__post_init__`` (the values come from the
    loader, which produced exactly the normal form), which makes building large
    machines several times faster. Every field must be given.
    """
    obj = object.__new__(cls)
    obj.__dict__.update(fields)
    return obj


@dataclass
class Draft:
    meta: MachineMeta
    states: list[State]
    transitions: list[Transition]
    policy: ErrorPolicy


class _Reject(Exception):
    """This item is not in the plain shape: let the schema look at the whole document."""


class _Names:
    """Shares one ActionSpec/GuardSpec per name within a load (they are immutable)."""

    def __init__(self) -> None:
        self.actions: dict[str, ActionSpec] = {}
        self.guards: dict[str, GuardSpec] = {}

    def action_list(self, value: Any) -> tuple[ActionSpec, ...]:
        if value is None:
            return ()
        if isinstance(value, (str, dict)):
            value = [value]
        if type(value) is not list:
            raise _Reject
        out = []
        for item in value:
            if type(item) is str and item:
                spec = self.actions.get(item)
                if spec is None:
                    spec = self.actions[item] = _trusted(ActionSpec, name=item, params={})
                out.append(spec)
            elif (
                type(item) is dict
                and item.keys() <= {"name", "params"}
                and type(item.get("name")) is str
                and item["name"]
                and type(item.get("params", {})) is dict
            ):
                out.append(
                    _trusted(ActionSpec, name=item["name"], params=dict(item.get("params") or {}))
                )
            else:
                raise _Reject
        return tuple(out)

    def guard_list(self, value: Any) -> tuple[GuardSpec, ...]:
        if value is None:
            return ()
        if isinstance(value, (str, dict)):
            value = [value]
        if type(value) is not list:
            raise _Reject
        out = []
        for item in value:
            if type(item) is str and item:
                spec = self.guards.get(item)
                if spec is None:
                    spec = self.guards[item] = _trusted(GuardSpec, name=item, expr=None)
                out.append(spec)
            elif (
                type(item) is dict
                and len(item) == 1
                and type(item.get("expr")) is str
                and item["expr"]
            ):
                out.append(_trusted(GuardSpec, name=None, expr=item["expr"]))
            else:
                raise _Reject
        return tuple(out)


def _plain_state(raw: Any, names: _Names) -> State:
    if type(raw) is not dict:
        raise _Reject
    if not raw.keys() <= _PLAIN_STATE_KEYS:
        try:
            return _state_from_model(StateModel.model_validate(raw))
        except ValidationError:
            raise _Reject from None
    get = raw.get
    name, kind = get("name"), _TYPES.get(get("type", "stable"))
    parent, initial_child = get("parent"), get("initial_child")
    description = get("description", "")
    if (
        type(name) is not str
        or not name
        or kind is None
        or type(description) is not str
        or (parent is not None and (type(parent) is not str or not parent))
        or (initial_child is not None and (type(initial_child) is not str or not initial_child))
    ):
        raise _Reject
    on_enter, on_exit = get("on_enter"), get("on_exit")
    obj = object.__new__(State)
    obj.__dict__.update(
        name=name,
        type=kind,
        parent=parent,
        initial_child=initial_child,
        regions=(),
        on_enter=names.action_list(on_enter) if on_enter else (),
        on_exit=names.action_list(on_exit) if on_exit else (),
        timeout=None,
        invoke=(),
        description=description,
        metadata={},
    )
    return obj


def _plain_transition(raw: Any, names: _Names, index: int) -> Transition:
    if type(raw) is not dict:
        raise _Reject
    if not raw.keys() <= _PLAIN_TRANSITION_KEYS:
        try:
            return _transition_from_model(TransitionModel.model_validate(raw), index)
        except ValidationError:
            raise _Reject from None
    get = raw.get
    source, dest, trigger = get("source"), get("dest"), get("trigger")
    if type(source) is str and source:
        sources: tuple[str, ...] = (source,)
    elif type(source) is list and source and all(type(s) is str for s in source):
        sources = tuple(source)
    else:
        raise _Reject
    if type(dest) is not str or not dest:
        raise _Reject
    after = get("after")
    if after is not None:
        try:
            after = parse_duration(after)
        except ValueError:
            raise _Reject from None
    if trigger is None or after is not None or trigger.startswith(RESERVED_PREFIXES):
        if trigger is not None and (type(trigger) is not str or not trigger):
            raise _Reject
        if transition_trigger_problem(trigger, after, len(sources)):
            raise _Reject
    elif type(trigger) is not str:
        raise _Reject
    region, description = get("region"), get("description", "")
    if (region is not None and (type(region) is not str or not region)) or type(
        description
    ) is not str:
        raise _Reject
    guards, actions = get("guards"), get("actions")
    implicit = trigger is None
    obj = object.__new__(Transition)
    obj.__dict__.update(
        trigger=implicit_trigger(sources[0], after) if implicit and after is not None else trigger,
        source=frozenset(sources),
        dest=dest,
        region=region,
        guards=names.guard_list(guards) if guards else (),
        actions=names.action_list(actions) if actions else (),
        after=after,
        description=description,
        metadata={"index": index, "sources": sources, "implicit_trigger": implicit},
    )
    return obj


def _make_transition(
    trigger: str | None,
    sources: tuple[str, ...],
    dest: str,
    region: str | None,
    guards: tuple[GuardSpec, ...],
    actions: tuple[ActionSpec, ...],
    after: int | None,
    description: str,
    metadata: Mapping[str, Any],
    index: int,
) -> Transition:
    implicit = trigger is None
    if trigger is None:
        assert after is not None
        trigger = implicit_trigger(sources[0], after)
    return _trusted(
        Transition,
        trigger=trigger,
        source=frozenset(sources),
        dest=dest,
        region=region,
        guards=guards,
        actions=actions,
        after=after,
        description=description,
        metadata={**metadata, "index": index, "sources": sources, "implicit_trigger": implicit},
    )


def build_plain(data: Mapping[str, Any]) -> Draft | None:
    """The draft for well-formed plain data, or None to ask the schema for its verdict."""
    if not data.keys() <= _TOP_KEYS:
        return None
    states, transitions = data.get("states"), data.get("transitions") or []
    if type(states) is not list or not states or type(transitions) is not list:
        return None
    names = _Names()
    try:
        meta = MetaModel.model_validate(data.get("meta") or {})
        policy = ErrorPolicyModel.model_validate(data.get("error_policy") or {})
        built_states = [_plain_state(raw, names) for raw in states]
        built_transitions = [_plain_transition(raw, names, j) for j, raw in enumerate(transitions)]
    except (_Reject, ValidationError):
        return None
    return Draft(_meta(meta), built_states, built_transitions, _policy(policy))


def build_from_model(model: Any) -> Draft:
    """The draft from a validated ``MachineModel`` (the path that also reports errors)."""
    return Draft(
        _meta(model.meta),
        [_state_from_model(s) for s in model.states],
        [_transition_from_model(t, j) for j, t in enumerate(model.transitions)],
        _policy(model.error_policy),
    )


def _meta(meta: MetaModel) -> MachineMeta:
    return MachineMeta(
        meta.version, meta.machine_name, meta.strict_mode, meta.event_normalizer, meta.description
    )


def _policy(policy: ErrorPolicyModel) -> ErrorPolicy:
    return ErrorPolicy(policy.default_fallback, policy.retry_attempts)


def _state_from_model(s: StateModel) -> State:
    return State(
        name=s.name,
        type=StateType(s.type),
        parent=s.parent,
        initial_child=s.initial_child,
        regions=tuple(
            Region(r.name, r.initial, tuple(r.states or [r.initial]), r.description)
            for r in s.regions
        ),
        on_enter=tuple(ActionSpec(a.name, a.params) for a in s.on_enter),
        on_exit=tuple(ActionSpec(a.name, a.params) for a in s.on_exit),
        timeout=Timeout(s.timeout.seconds, s.timeout.destination) if s.timeout else None,
        invoke=tuple(InvokeSpec(v.id, v.src, v.on_done, v.params) for v in s.invoke),
        description=s.description,
        metadata=s.metadata,
    )


def _transition_from_model(t: TransitionModel, index: int) -> Transition:
    guards = tuple(
        GuardSpec(name=g.name) if g.name is not None else GuardSpec(expr=g.expr) for g in t.guards
    )
    return _make_transition(
        t.trigger,
        tuple(t.source),
        t.dest,
        t.region,
        guards,
        tuple(ActionSpec(a.name, a.params) for a in t.actions),
        t.after,
        t.description,
        t.metadata,
        index,
    )


def finish(draft: Draft, locations: Mapping[str, Location], source_name: str | None) -> MachineSpec:
    """Fill in what the definition leaves implicit, then freeze the spec.

    Region states that are not declared become plain children of their parallel
    state (appended after the declared states); declared region states without a
    ``parent`` get the parallel state; a compound state without ``initial_child``
    whose children mark exactly one as ``initial`` starts there.
    """
    states = draft.states
    declared = {s.name for s in states}
    region_parent: dict[str, str] = {}
    extra: list[State] = []
    extra_locations: dict[str, Location] = {}
    for i, state in enumerate(states):
        for r, region in enumerate(state.regions):
            for k, member in enumerate(region.states):
                region_parent.setdefault(member, state.name)
                if member not in declared:
                    declared.add(member)
                    where = locations.get(f"states[{i}].regions[{r}].states[{k}]") or locations.get(
                        f"states[{i}].regions[{r}].initial"
                    )
                    if where is not None:
                        extra_locations[f"states[{len(states) + len(extra)}]"] = where
                    extra.append(State(name=member, parent=state.name))
    marked: dict[str, list[str]] = {}
    for state in states:
        if state.is_initial and state.parent is not None:
            marked.setdefault(state.parent, []).append(state.name)
    out = []
    for state in states:
        changes: dict[str, Any] = {}
        if state.parent is None and state.name in region_parent:
            changes["parent"] = region_parent[state.name]
        if (
            state.initial_child is None
            and not state.is_parallel
            and len(marked.get(state.name, ())) == 1
        ):
            changes["initial_child"] = marked[state.name][0]
        out.append(replace(state, **changes) if changes else state)
    all_locations = {**locations, **extra_locations} if extra_locations else dict(locations)
    return MachineSpec(
        meta=draft.meta,
        states=tuple(out + extra),
        transitions=tuple(draft.transitions),
        error_policy=draft.policy,
        locations=all_locations,
        source_name=source_name,
    )
