"""Plain data -> ``MachineSpec`` values: a fast path for well-formed items, and the model path.

Most definitions are well formed, and pydantic's validation alone costs more than
building the whole machine should. So states and transitions whose keys and values
already have the plain shape (names as text, actions and guards as names or
``{expr}``) are converted directly, with the same rules the schema applies; an item
with other keys (``timeout``, ``metadata``, ...) goes through its pydantic model. If
any item fails, the caller validates the whole document with ``MachineModel``
instead, whose errors carry full paths: the fast path decides nothing that the
schema would decide differently (tests feed both paths the same inputs, damaged
ones included).

How the fast path stays fast (a 500-state machine builds in about a millisecond):
the keys nearly every item has are read and checked a column at a time with
comprehensions; each value starts as a copy of its class's defaults with only what
differs set; items with rarer keys are revisited afterwards, one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any, TypeVar

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
    NO_METADATA,
    ActionSpec,
    Data,
    ErrorPolicy,
    Eventually,
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
    VerifySpec,
)

__all__ = ["Draft", "build_from_model", "build_plain", "finish", "implicit_trigger"]

_T = TypeVar("_T")
_ABSENT: Any = object()  # a key that is not there (None is a value the schema judges)
_TYPES_OR_STABLE: dict[Any, StateType] = {
    _ABSENT: StateType.STABLE,
    **{t.value: t for t in StateType},
}
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


def _defaults(cls: type) -> dict[str, Any]:
    """Every field of a model class that has a plain default, at that default."""
    return {f.name: f.default for f in fields(cls) if f.default is not MISSING}


# Fast-built values start from these and set what differs: copying a prepared dict
# into the instance is cheaper than passing every field by keyword.
_STATE_DEFAULTS = {**_defaults(State), "metadata": NO_METADATA}
_TRANSITION_DEFAULTS = {**_defaults(Transition), "metadata": NO_METADATA}


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
    data: tuple[Data, ...] = ()
    verify: VerifySpec = field(default_factory=VerifySpec)


class _Reject(Exception):
    """This item is not in the plain shape: let the schema look at the whole document."""


def _only(values: list[Any], *kinds: type) -> bool:
    """Whether each value's exact type is one of ``kinds`` (as ``type(v) is k``, but one
    pass in C: a column of a thousand items is checked without a Python-level loop)."""
    return set(map(type, values)) <= set(kinds)


def _listed(value: Any) -> list[Any]:
    """A list of actions or guards as written: one item alone, a list, or nothing."""
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        return [value]
    if type(value) is not list:
        raise _Reject
    return value


class _Names:
    """Shares one ActionSpec/GuardSpec per name within a load (they are immutable)."""

    def __init__(self) -> None:
        self.actions: dict[str, ActionSpec] = {}
        self.guards: dict[str, GuardSpec] = {}

    def action_list(self, value: Any) -> tuple[ActionSpec, ...]:
        out = []
        for item in _listed(value):
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
        out = []
        for item in _listed(value):
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


def _state_options(raw: dict[str, Any], values: dict[str, Any], names: _Names) -> None:
    """The less common keys of a plain state, written into its field values."""
    get = raw.get
    parent, initial_child = get("parent"), get("initial_child")
    description = get("description", "")
    if (
        type(description) is not str
        or (parent is not None and (type(parent) is not str or not parent))
        or (initial_child is not None and (type(initial_child) is not str or not initial_child))
    ):
        raise _Reject
    values["parent"], values["initial_child"], values["description"] = (
        parent,
        initial_child,
        description,
    )
    enter, leave = get("on_enter"), get("on_exit")
    if enter is not None:
        values["on_enter"] = names.action_list(enter)
    if leave is not None:
        values["on_exit"] = names.action_list(leave)


def _plain_states(items: list[Any], names: _Names) -> list[State]:
    """States from plain items: the common keys a column at a time, the rest per item.

    ``name`` and ``type`` are checked for all items at once with comprehensions, which
    costs a fraction of checking them item by item; then one tight loop builds every
    state, and only the items that have more keys are revisited.
    """
    if not _only(items, dict):
        raise _Reject
    state_names = [raw.get("name") for raw in items]
    if not _only(state_names, str) or "" in state_names:
        raise _Reject
    kind_names = [raw.get("type", _ABSENT) for raw in items]
    if not all([kind is _ABSENT or type(kind) is str for kind in kind_names]):
        raise _Reject
    kinds = [_TYPES_OR_STABLE.get(kind) for kind in kind_names]
    if None in kinds:
        raise _Reject
    out: list[State] = []
    new, defaults = object.__new__, _STATE_DEFAULTS
    for name, kind in zip(state_names, kinds, strict=True):
        obj = new(State)
        values = obj.__dict__
        values.update(defaults)
        values["name"] = name
        values["type"] = kind
        out.append(obj)
    for k, raw in _with_more_keys(items, 1, kind_names, _ABSENT):
        if raw.keys() <= _PLAIN_STATE_KEYS:
            _state_options(raw, out[k].__dict__, names)
        else:
            try:
                out[k] = _state_from_model(StateModel.model_validate(raw))
            except ValueError:  # a ValidationError, or a number too long to write as text
                raise _Reject from None
    return out


def _with_more_keys(
    items: list[Any], base: int, optional: list[Any], absent: Any
) -> list[tuple[int, Any]]:
    """The items (with their index) that have keys beyond the columns already read.

    Each item has ``base`` column keys, plus one where its ``optional`` column value is
    not ``absent``. When every item has the same count, one ``max`` over the sizes
    answers.
    """
    sizes = list(map(len, items))
    missing = optional.count(absent)  # the column values are text or ``absent``
    if missing in (0, len(optional)):
        limit = base + (missing == 0)
        if max(sizes, default=0) <= limit:
            return []
        return [(k, items[k]) for k, n in enumerate(sizes) if n > limit]
    return [
        (k, items[k])
        for k, (n, value) in enumerate(zip(sizes, optional, strict=True))
        if n > base + (value is not absent)
    ]


def _transition_options(raw: dict[str, Any], values: dict[str, Any], names: _Names) -> None:
    """The less common keys of a plain transition, written into its field values."""
    get = raw.get
    after, region, description = get("after"), get("region"), get("description", "")
    if after is not None:
        try:
            values["after"] = parse_duration(after)
        except ValueError:
            raise _Reject from None
    if (region is not None and (type(region) is not str or not region)) or type(
        description
    ) is not str:
        raise _Reject
    values["region"], values["description"] = region, description
    guards, actions = get("guards"), get("actions")
    if guards is not None:
        values["guards"] = names.guard_list(guards)
    if actions is not None:
        values["actions"] = names.action_list(actions)


def _plain_transitions(items: list[Any], names: _Names) -> list[Transition]:
    """Transitions from plain items, the same way as states (columns, then the rest).

    The columns are ``trigger``, ``source`` and ``dest``. A trigger that needs a closer
    look (missing, or spelled like a timer's) is judged per item by the schema's rule.
    """
    triggers, dests = _plain_columns(items)
    sources, several = _plain_sources(items)
    out: list[Transition] = []
    new, defaults = object.__new__, _TRANSITION_DEFAULTS
    for trigger, source, dest in zip(triggers, sources, dests, strict=True):
        obj = new(Transition)
        values = obj.__dict__
        values.update(defaults)
        values["trigger"] = trigger
        values["source"] = frozenset(source)
        values["dest"] = dest
        out.append(obj)
    for k in several:  # the order as written, for messages and dumps
        out[k].__dict__["source_order"] = tuple(sources[k])
    from_model = _plain_transition_options(items, triggers, out, names)
    if None in triggers or _may_be_reserved(triggers):
        _implicit_triggers(triggers, sources, out, from_model)
    return out


def _plain_columns(items: list[Any]) -> tuple[list[Any], list[Any]]:
    """The ``trigger`` and ``dest`` columns; ``_Reject`` unless every item is a mapping
    with a non-empty ``dest`` and a ``trigger`` that is missing or non-empty text."""
    if not _only(items, dict):
        raise _Reject
    dests = [raw.get("dest") for raw in items]
    if not _only(dests, str) or "" in dests:
        raise _Reject
    triggers = [raw.get("trigger") for raw in items]
    if not _only(triggers, str, type(None)):
        raise _Reject
    if "" in triggers:
        raise _Reject
    return triggers, dests


def _plain_sources(items: list[Any]) -> tuple[list[tuple[str, ...]], list[int]]:
    """Each item's sources, and which items name several (all plain names: one pass)."""
    raw_sources = [raw.get("source") for raw in items]
    if _only(raw_sources, str):
        if "" in raw_sources:
            raise _Reject
        return [(source,) for source in raw_sources], []
    sources = [_source_list(source) for source in raw_sources]
    return sources, [k for k, source in enumerate(sources) if len(source) > 1]


def _plain_transition_options(
    items: list[Any], triggers: list[Any], out: list[Transition], names: _Names
) -> set[int]:
    """Fill in the items with keys beyond the columns: plain options in place, anything
    else through the schema's model; the indexes of those the model built."""
    from_model: set[int] = set()
    for k, raw in _with_more_keys(items, 2, triggers, None):
        if raw.keys() <= _PLAIN_TRANSITION_KEYS:
            _transition_options(raw, out[k].__dict__, names)
        else:
            try:
                out[k] = _transition_from_model(TransitionModel.model_validate(raw))
            except ValueError:  # a ValidationError, or a number too long to write as text
                raise _Reject from None
            from_model.add(k)
    return from_model


def _implicit_triggers(
    triggers: list[Any],
    sources: list[tuple[str, ...]],
    out: list[Transition],
    from_model: set[int],
) -> None:
    """The schema's rule for a missing trigger or one spelled like a timer's: a timer's
    own name is given, a reserved spelling refused (``_Reject``: the schema says why)."""
    for k, trigger in enumerate(triggers):
        if k in from_model or not (trigger is None or trigger.startswith(RESERVED_PREFIXES)):
            continue
        values = out[k].__dict__
        if transition_trigger_problem(trigger, values["after"], len(sources[k])):
            raise _Reject
        if trigger is None:
            values["trigger"] = implicit_trigger(sources[k][0], values["after"])


def _may_be_reserved(triggers: list[str]) -> bool:
    """False when no trigger can start with a timer prefix: one substring search in C."""
    text = "\n".join(triggers)
    return any(prefix in text for prefix in RESERVED_PREFIXES)


def _source_list(value: Any) -> tuple[str, ...]:
    if type(value) is str and value:
        return (value,)
    if type(value) is list and value and all(type(s) is str for s in value):
        return tuple(value)
    raise _Reject


def build_plain(data: Mapping[str, Any]) -> Draft | None:
    """The draft for well-formed plain data, or None to ask the schema for its verdict."""
    if not data.keys() <= _TOP_KEYS:
        return None
    states, transitions = data.get("states"), _or(data.get("transitions"), [])
    if type(states) is not list or not states or type(transitions) is not list:
        return None
    names = _Names()
    try:
        meta = MetaModel.model_validate(_or(data.get("meta"), {}))
        policy = ErrorPolicyModel.model_validate(_or(data.get("error_policy"), {}))
        built_states = _plain_states(states, names)
        built_transitions = _plain_transitions(transitions, names)
    except (_Reject, ValueError):  # ValidationError is a ValueError
        return None
    return Draft(_meta(meta), built_states, built_transitions, _policy(policy))


def _or(value: Any, default: Any) -> Any:
    """``value``, or ``default`` when it is None (the schema's rule: only None means absent)."""
    return default if value is None else value


def build_from_model(model: Any) -> Draft:
    """The draft from a validated ``MachineModel`` (the path that also reports errors)."""
    return Draft(
        _meta(model.meta),
        [_state_from_model(s) for s in model.states],
        [_transition_from_model(t) for t in model.transitions],
        _policy(model.error_policy),
        tuple(
            Data(name, expr=v["expr"]) if isinstance(v, dict) and "expr" in v else Data(name, v)
            for name, v in model.data.items()
        ),
        _verify(model.verify),
    )


def _verify(model: Any) -> VerifySpec:
    if model is None:
        return VerifySpec()
    return VerifySpec(
        tuple(tuple(states) for states in model.never),
        tuple(Eventually(p.state, p.within) for p in model.always_eventually),
        tuple(model.unreachable),
    )


def _meta(meta: MetaModel) -> MachineMeta:
    return MachineMeta(
        meta.version,
        meta.machine_name,
        meta.strict_mode,
        meta.event_normalizer,
        meta.description,
        meta.event_matching,
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
        on_enter=_action_specs(s.on_enter),
        on_exit=_action_specs(s.on_exit),
        timeout=Timeout(s.timeout.seconds, s.timeout.destination) if s.timeout else None,
        invoke=tuple(InvokeSpec(v.id, v.src, v.on_done, v.params, v.autoforward) for v in s.invoke),
        description=s.description,
        metadata=s.metadata or NO_METADATA,
        history=s.history,
        default=s.default,
        default_actions=_action_specs(s.default_actions),
    )


def _action_specs(actions: list[Any]) -> tuple[ActionSpec, ...]:
    return tuple(
        ActionSpec(a.raise_, {}, "raise")
        if a.raise_ is not None
        else ActionSpec(a.name, a.params)
        if a.name is not None
        else ActionSpec.from_config(a.to_config())
        for a in actions
    )


def _transition_from_model(t: TransitionModel) -> Transition:
    sources = tuple(t.source)
    trigger = t.trigger
    if t.always:
        trigger = "always"
    elif trigger is None:
        assert t.after is not None
        trigger = implicit_trigger(sources[0], t.after)
    metadata: Mapping[str, Any] = t.metadata or NO_METADATA
    return _trusted(
        Transition,
        trigger=trigger,
        source=frozenset(sources),
        dest=t.dest,
        region=t.region,
        guards=tuple(
            GuardSpec(name=g.name) if g.name is not None else GuardSpec(expr=g.expr)
            for g in t.guards
        ),
        actions=_action_specs(t.actions),
        after=t.after,
        description=t.description,
        metadata=metadata,
        eventless=t.always,
        kind=t.kind,
        source_order=tuple(sources) if len(sources) > 1 else (),
    )


def finish(draft: Draft, locations: Mapping[str, Location], source_name: str | None) -> MachineSpec:
    """Fill in what the definition leaves implicit, then freeze the spec.

    Region states that are not declared become plain children of their parallel
    state (appended after the declared states); declared region states without a
    ``parent`` get the parallel state; a compound state without ``initial_child``
    whose children mark exactly one as ``initial`` starts there.
    """
    states = draft.states
    region_parent, extra, extra_locations = _region_states(states, locations)
    marked: dict[str, list[str]] = {}
    for state in states:
        if state.type is StateType.INITIAL and state.parent is not None:
            marked.setdefault(state.parent, []).append(state.name)
    out = _implied(states, region_parent, marked) if region_parent or marked else list(states)
    all_locations = {**locations, **extra_locations} if extra_locations else dict(locations)
    return MachineSpec(
        meta=draft.meta,
        states=tuple(out + extra),
        transitions=tuple(draft.transitions),
        error_policy=draft.policy,
        locations=all_locations,
        source_name=source_name,
        data=draft.data,
        verify=draft.verify,
    )


def _region_states(
    states: list[State], locations: Mapping[str, Location]
) -> tuple[dict[str, str], list[State], dict[str, Location]]:
    """Each region member's parallel state; the members no entry declares, as new plain
    states (located where the region names them); and those locations."""
    region_parent: dict[str, str] = {}
    extra: list[State] = []
    extra_locations: dict[str, Location] = {}
    parallels = [(i, s) for i, s in enumerate(states) if s.regions]
    if not parallels:
        return region_parent, extra, extra_locations
    declared = {s.name for s in states}
    for i, state in parallels:
        for r, region in enumerate(state.regions):
            for k, member in enumerate(region.states):
                region_parent.setdefault(member, state.name)
                if member in declared:
                    continue
                declared.add(member)
                where = locations.get(f"states[{i}].regions[{r}].states[{k}]") or locations.get(
                    f"states[{i}].regions[{r}].initial"
                )
                if where is not None:
                    extra_locations[f"states[{len(states) + len(extra)}]"] = where
                extra.append(State(name=member, parent=state.name))
    return region_parent, extra, extra_locations


def _implied(
    states: list[State], region_parent: dict[str, str], marked: dict[str, list[str]]
) -> list[State]:
    """The states with the parent their region implies and the initial child their
    children mark (exactly one marked ``initial``, outside a parallel state)."""
    out = list(states)
    for k, state in enumerate(states):
        changes: dict[str, Any] = {}
        if state.parent is None and state.name in region_parent:
            changes["parent"] = region_parent[state.name]
        if (
            state.initial_child is None
            and not state.is_parallel
            and len(marked.get(state.name, ())) == 1
        ):
            changes["initial_child"] = marked[state.name][0]
        if changes:
            out[k] = replace(state, **changes)
    return out
