"""The plain, immutable values a machine is made of.

These are what the loader produces and what ``StateMachine`` compiles. Constructors
accept the short forms people write by hand (a string for an action or guard, a
string or list for a transition's source) and normalise them, so
``Transition(source="OPEN", guards=("ok",))`` and the YAML form build equal values.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pystator.chart import Chart

__all__ = [
    "ACTION_KINDS",
    "DATAMODEL_KINDS",
    "NO_METADATA",
    "ActionSpec",
    "Data",
    "ErrorPolicy",
    "Event",
    "Eventually",
    "GuardSpec",
    "InvokeSpec",
    "Location",
    "MachineMeta",
    "MachineSpec",
    "Region",
    "State",
    "StateType",
    "Timeout",
    "Transition",
    "VerifySpec",
]


NO_METADATA: Mapping[str, Any] = MappingProxyType({})
"""The metadata of a value that has none: one shared, read-only empty mapping."""


class StateType(str, Enum):
    """What role a state plays.

    ``parallel`` states hold orthogonal regions. A ``final`` state inside a compound
    state or a region completes it (``done.state.<parent>``); at the top level it ends
    the machine, as ``terminal`` does. A ``history`` state is a pseudo-state: entering
    it restores what its parent had active when last left.
    """

    INITIAL = "initial"
    STABLE = "stable"
    TERMINAL = "terminal"
    ERROR = "error"
    PARALLEL = "parallel"
    FINAL = "final"
    HISTORY = "history"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Location:
    """A 1-based line and column in the source text."""

    line: int
    column: int


ACTION_KINDS = ("call", "raise", "assign", "log", "send", "cancel", "if", "foreach")
"""What an action can be: ``call`` is run by the host; the others are the engine's own
executable content (SCXML's ``<raise>``, ``<assign>``, ``<log>``, ``<send>``,
``<cancel>``, ``<if>``, ``<foreach>``), computed into the step's effects."""

DATAMODEL_KINDS = frozenset(ACTION_KINDS) - {"call", "raise"}
"""The kinds the engine evaluates against the context when a step runs."""


@dataclass(frozen=True)
class ActionSpec:
    """An action by name, with the params given to it in the definition.

    ``kind`` is ``"call"`` for an action the host runs (a function in an
    ``ActionRegistry``), or ``"raise"`` for ``{raise: EVENT}``: the engine itself puts
    ``name`` on the internal event queue, processed before the next external event.

    The datamodel kinds are evaluated by the engine (``pystator.datamodel``); what
    ``name`` and ``params`` hold for each:

    * ``assign``: ``name`` is the location (``count`` or ``order.total``), ``params``
      ``{"expr": ...}``;
    * ``log``: ``name`` is the label, ``params`` ``{"expr": ...}`` (optional);
    * ``send``: ``name`` is the event (``""`` with ``event_expr``); ``params`` may hold
      ``event_expr``, ``delay`` (ms), ``delay_expr``, ``id``, ``id_location``,
      ``data`` (name -> expression), ``content`` (an expression), ``internal``, and
      ``target``/``target_expr``, ``type``/``type_expr`` (SCXML's: the machine itself
      is the only target, and SCXML events the only type; others raise an error
      event when the send runs);
    * ``cancel``: ``name`` is the send id (``""`` with ``params["expr"]``);
    * ``if``: ``params`` ``{"branches": ((cond, actions), ...), "else": actions}``;
    * ``foreach``: ``name`` is the item variable; ``params`` ``{"array": expr,
      "index": name or None, "do": actions}``.
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    kind: str = "call"

    @classmethod
    def from_config(cls, value: str | Mapping[str, Any] | ActionSpec) -> ActionSpec:
        if isinstance(value, ActionSpec):
            return value
        if isinstance(value, str):
            return cls(value)
        if "raise" in value:
            return cls(str(value["raise"]), {}, "raise")
        if "name" in value:
            return cls(str(value["name"]), dict(value.get("params") or {}))
        return _datamodel_action(value)

    @property
    def has_params(self) -> bool:
        return bool(self.params)

    @property
    def is_call(self) -> bool:
        return self.kind == "call"

    @property
    def is_datamodel(self) -> bool:
        """Whether the engine evaluates it against the context (see ``DATAMODEL_KINDS``)."""
        return self.kind in DATAMODEL_KINDS

    def children(self) -> tuple[ActionSpec, ...]:
        """The actions nested in an ``if`` or ``foreach``, in document order."""
        if self.kind == "if":
            out: list[ActionSpec] = []
            for _cond, actions in self.params.get("branches", ()):
                out.extend(actions)
            out.extend(self.params.get("else", ()))
            return tuple(out)
        if self.kind == "foreach":
            return tuple(self.params.get("do", ()))
        return ()

    def to_config(self) -> str | dict[str, Any]:
        if self.kind == "raise":
            return {"raise": self.name}
        if self.kind != "call":
            return _datamodel_config(self)
        return {"name": self.name, "params": dict(self.params)} if self.params else self.name

    def __str__(self) -> str:
        if self.kind == "call" or self.kind == "raise":
            return self.name
        return _describe_action(self)


_SEND_KEYS = (
    "event_expr", "delay", "delay_expr", "id", "id_location", "data", "content",
    "target", "target_expr", "type", "type_expr",
)  # fmt: skip


def _action_list(values: Any) -> tuple[ActionSpec, ...]:
    return _actions(values or ())


def _datamodel_action(value: Mapping[str, Any]) -> ActionSpec:
    """The engine's own executable content, from its configuration form."""
    for key, build in _DATAMODEL_FORMS:
        if key in value:
            return build(value)
    raise ValueError(f"not an action: {dict(value)!r}")


def _assign_action(value: Mapping[str, Any]) -> ActionSpec:
    return ActionSpec(str(value["assign"]), {"expr": str(value["expr"])}, "assign")


def _log_action(value: Mapping[str, Any]) -> ActionSpec:
    label = value["log"]
    logged = {"expr": str(value["expr"])} if value.get("expr") is not None else {}
    return ActionSpec("" if label is None else str(label), logged, "log")


def _send_action(value: Mapping[str, Any]) -> ActionSpec:
    params: dict[str, Any] = {}
    if value.get("send_expr") is not None:
        params["event_expr"] = str(value["send_expr"])
    for key in _SEND_KEYS[1:]:
        if value.get(key) is not None:
            params[key] = value[key]
    if "data" in params:
        params["data"] = {str(k): str(v) for k, v in params["data"].items()}
    if value.get("internal"):
        params["internal"] = True
    return ActionSpec(str(value.get("send") or ""), params, "send")


def _cancel_action(value: Mapping[str, Any]) -> ActionSpec:
    if value.get("cancel_expr") is not None:
        return ActionSpec("", {"expr": str(value["cancel_expr"])}, "cancel")
    return ActionSpec(str(value["cancel"]), {}, "cancel")


def _if_action(value: Mapping[str, Any]) -> ActionSpec:
    branches = [(str(value["if"]), _action_list(value.get("then")))]
    for other in value.get("elif") or ():
        branches.append((str(other["if"]), _action_list(other.get("then"))))
    return ActionSpec(
        "", {"branches": tuple(branches), "else": _action_list(value.get("else"))}, "if"
    )


def _foreach_action(value: Mapping[str, Any]) -> ActionSpec:
    return ActionSpec(
        str(value["item"]),
        {
            "array": str(value["foreach"]),
            "index": None if value.get("index") is None else str(value["index"]),
            "do": _action_list(value.get("do")),
        },
        "foreach",
    )


_DATAMODEL_FORMS: tuple[tuple[str, Callable[[Mapping[str, Any]], ActionSpec]], ...] = (
    ("assign", _assign_action),
    ("log", _log_action),
    ("send", _send_action),
    ("send_expr", _send_action),
    ("cancel", _cancel_action),
    ("cancel_expr", _cancel_action),
    ("if", _if_action),
    ("foreach", _foreach_action),
)
"""The key that names each kind of datamodel action, in the order they are tried."""


def _datamodel_config(spec: ActionSpec) -> dict[str, Any]:
    """The configuration form of the engine's own executable content (``from_config`` reads it)."""
    p = spec.params
    if spec.kind == "assign":
        return {"assign": spec.name, "expr": p["expr"]}
    if spec.kind == "log":
        return {"log": spec.name, **({"expr": p["expr"]} if "expr" in p else {})}
    if spec.kind == "send":
        out: dict[str, Any] = (
            {"send_expr": p["event_expr"]} if "event_expr" in p else {"send": spec.name}
        )
        for key in _SEND_KEYS[1:]:
            if key in p:
                out[key] = dict(p[key]) if key == "data" else p[key]
        if p.get("internal"):
            out["internal"] = True
        return out
    if spec.kind == "cancel":
        return {"cancel_expr": p["expr"]} if "expr" in p else {"cancel": spec.name}
    if spec.kind == "if":
        (cond, then), *rest = p["branches"]
        out = {"if": cond, "then": [a.to_config() for a in then]}
        if rest:
            out["elif"] = [{"if": c, "then": [a.to_config() for a in acts]} for c, acts in rest]
        if p.get("else"):
            out["else"] = [a.to_config() for a in p["else"]]
        return out
    out = {"foreach": p["array"], "item": spec.name}
    if p.get("index") is not None:
        out["index"] = p["index"]
    out["do"] = [a.to_config() for a in p.get("do", ())]
    return out


def _describe_action(spec: ActionSpec) -> str:
    """How the engine's own executable content reads in logs and diagrams."""
    p = spec.params
    if spec.kind == "assign":
        return f"{spec.name} = {p['expr']}"
    if spec.kind == "log":
        return f"log {spec.name or p.get('expr', '')}".rstrip()
    if spec.kind == "send":
        return f"send {spec.name or p.get('event_expr', '')}"
    if spec.kind == "cancel":
        return f"cancel {spec.name or p.get('expr', '')}"
    if spec.kind == "if":
        return f"if {p['branches'][0][0]}"
    return f"foreach {spec.name} in {p['array']}"


@dataclass(frozen=True)
class GuardSpec:
    """A guard: either a registered function (``name``) or an inline ``expr``."""

    name: str | None = None
    expr: str | None = None

    def __post_init__(self) -> None:
        if (self.name is None) == (self.expr is None):
            raise ValueError("a guard has exactly one of 'name' or 'expr'")

    @classmethod
    def from_config(cls, value: str | Mapping[str, Any] | GuardSpec) -> GuardSpec:
        if isinstance(value, GuardSpec):
            return value
        if isinstance(value, str):
            return cls(name=value)
        return cls(expr=str(value["expr"]))

    @property
    def is_expression(self) -> bool:
        return self.expr is not None

    @property
    def label(self) -> str:
        """How the guard reads in messages and diagrams."""
        return self.expr if self.expr is not None else str(self.name)

    def to_config(self) -> str | dict[str, str]:
        return {"expr": self.expr} if self.expr is not None else str(self.name)

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class Timeout:
    """Leave the state for ``destination`` when it has been active ``seconds``."""

    seconds: float
    destination: str

    @property
    def ms(self) -> int:
        return round(self.seconds * 1000)


@dataclass(frozen=True)
class Region:
    """One orthogonal region of a parallel state."""

    name: str
    initial: str
    states: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "states", tuple(self.states))

    def contains(self, state: str) -> bool:
        return state in self.states


@dataclass(frozen=True)
class InvokeSpec:
    """A long-lived service started on entry and stopped on exit.

    ``src: machine:NAME`` names a child machine the engine runs itself (see
    ``pystator.invoked``); any other ``src`` is an external service the orchestrator's
    ``InvokeAdapter`` starts. ``autoforward`` sends a child machine a copy of every
    external event its parent processes.
    """

    id: str
    src: str
    on_done: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    autoforward: bool = False


def _actions(values: Iterable[str | Mapping[str, Any] | ActionSpec]) -> tuple[ActionSpec, ...]:
    if type(values) is tuple and all(type(v) is ActionSpec for v in values):
        return values  # already normalised (the loader's path): no copies
    if isinstance(values, (str, Mapping)):
        values = [values]
    return tuple(ActionSpec.from_config(v) for v in values)


@dataclass(frozen=True)
class State:
    """One state of the chart. ``parent`` nests it; ``regions`` make it parallel."""

    name: str
    type: StateType = StateType.STABLE
    parent: str | None = None
    initial_child: str | None = None
    regions: tuple[Region, ...] = ()
    on_enter: tuple[ActionSpec, ...] = ()
    on_exit: tuple[ActionSpec, ...] = ()
    timeout: Timeout | None = None
    invoke: tuple[InvokeSpec, ...] = ()
    description: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)
    history: str | None = None
    default: str | None = None
    default_actions: tuple[ActionSpec, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", StateType(self.type))
        object.__setattr__(self, "on_enter", _actions(self.on_enter))
        object.__setattr__(self, "on_exit", _actions(self.on_exit))
        object.__setattr__(self, "regions", tuple(self.regions))
        object.__setattr__(self, "invoke", tuple(self.invoke))
        object.__setattr__(self, "default_actions", _actions(self.default_actions))

    @property
    def is_initial(self) -> bool:
        return self.type is StateType.INITIAL

    @property
    def is_terminal(self) -> bool:
        return self.type is StateType.TERMINAL

    @property
    def is_error(self) -> bool:
        return self.type is StateType.ERROR

    @property
    def is_parallel(self) -> bool:
        return self.type is StateType.PARALLEL

    @property
    def is_final(self) -> bool:
        return self.type is StateType.FINAL

    @property
    def is_history(self) -> bool:
        """A history pseudo-state (``history`` says ``shallow`` or ``deep``)."""
        return self.type is StateType.HISTORY

    @property
    def is_deep_history(self) -> bool:
        return self.type is StateType.HISTORY and self.history == "deep"

    @property
    def has_timeout(self) -> bool:
        return self.timeout is not None

    @property
    def region_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.regions)

    def get_region(self, name: str) -> Region | None:
        return next((r for r in self.regions if r.name == name), None)


@dataclass(frozen=True)
class Transition:
    """An edge: on ``trigger`` from any state in ``source`` to ``dest``.

    ``after`` (milliseconds) makes it a delayed transition, fired by a timer armed
    when its source state is entered. ``eventless`` (``always: true``) makes it
    fire on no event, whenever its source is active and its guards hold. ``kind``
    chooses what is exited: ``None`` (the default) is the spec's rule, up to the
    common ancestor of the current leaf and the target; ``"external"`` and
    ``"internal"`` are SCXML's transitions of those types (see docs/semantics.md).

    ``source_order`` keeps the order a transition with several sources was written in,
    for messages and for writing it back; it is not part of the machine's meaning (nor
    of equality). It has a field of its own so that nothing of the user's ``metadata``
    can be mistaken for it.
    """

    trigger: str
    source: frozenset[str]
    dest: str
    region: str | None = None
    guards: tuple[GuardSpec, ...] = ()
    actions: tuple[ActionSpec, ...] = ()
    after: int | None = None
    description: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    eventless: bool = False
    kind: str | None = None
    source_order: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        source: Any = self.source
        if type(source) is not frozenset:
            object.__setattr__(
                self, "source", frozenset([source] if isinstance(source, str) else source)
            )
        guards: Any = self.guards
        if not (type(guards) is tuple and all(type(g) is GuardSpec for g in guards)):
            if isinstance(guards, (str, Mapping)):
                guards = [guards]
            object.__setattr__(self, "guards", tuple(GuardSpec.from_config(g) for g in guards))
        object.__setattr__(self, "actions", _actions(self.actions))

    @property
    def is_delayed(self) -> bool:
        return self.after is not None

    @property
    def sources_in_order(self) -> tuple[str, ...]:
        """The sources as written (sorted when the order is not known)."""
        return self.source_order or tuple(sorted(self.source))

    @property
    def is_region_transition(self) -> bool:
        return self.region is not None

    @property
    def guard_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.guards if g.name is not None)

    @property
    def action_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.actions)

    def matches_source(self, state: str) -> bool:
        return state in self.source


@dataclass(frozen=True)
class Event:
    """An event: a trigger name plus a payload that guards and actions can read."""

    trigger: str
    payload: Mapping[str, Any] = field(default_factory=dict, hash=False)
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    timestamp: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    source: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def get(self, key: str, default: Any = None) -> Any:
        return self.payload.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.payload[key]

    def __contains__(self, key: object) -> bool:
        return key in self.payload

    @classmethod
    def simple(cls, trigger: str, **payload: Any) -> Event:
        return cls(trigger, payload)

    def to_dict(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "payload": dict(self.payload),
            "event_id": self.event_id,
            "timestamp": self.timestamp.isoformat(),
            "source": self.source,
        }


@dataclass(frozen=True)
class ErrorPolicy:
    """What the runtime does on failure: where to fall back, how often to retry actions."""

    default_fallback: str | None = None
    retry_attempts: int = 0


@dataclass(frozen=True)
class Eventually:
    """``always_eventually: STATE within N steps``: from anywhere, ``state`` is active
    again within ``within`` steps."""

    state: str
    within: int


@dataclass(frozen=True)
class VerifySpec:
    """The YAML's ``verify:`` section: properties ``pystator check`` proves.

    ``never`` lists sets of states that must never all be active at once;
    ``unreachable`` states no run may enter. The engine ignores the section.
    """

    never: tuple[tuple[str, ...], ...] = ()
    always_eventually: tuple[Eventually, ...] = ()
    unreachable: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.never or self.always_eventually or self.unreachable)


@dataclass(frozen=True)
class MachineMeta:
    version: str = "1.0.0"
    machine_name: str = "state_machine"
    strict_mode: bool = True
    event_normalizer: str | None = None
    description: str = ""
    event_matching: str = "exact"
    """``exact`` (the default): a transition's trigger matches that event name only;
    ``prefix``: SCXML's descriptors, ``error`` and ``error.*`` match ``error.send.failed``,
    and ``*`` matches every event."""


@dataclass(frozen=True)
class Data:
    """One variable of the machine's datamodel (SCXML's ``<data>``, YAML's ``data:``).

    ``start()`` initialises it, in declaration order, to ``value``, or to what
    ``expr`` evaluates to (it may read the variables declared before it). A host's
    context given to ``start()`` overrides it, as an SCXML invocation's params do.
    """

    name: str
    value: Any = field(default=None, hash=False)
    expr: str | None = None

    def to_config(self) -> Any:
        return {"expr": self.expr} if self.expr is not None else self.value


@dataclass(frozen=True)
class MachineSpec:
    """A validated machine definition, plus where each part stood in the source.

    ``locations`` maps a path such as ``"states[2].name"`` or ``"transitions[0]"``
    to its place in the source text, for lint findings and editor marks.
    """

    meta: MachineMeta
    states: tuple[State, ...]
    transitions: tuple[Transition, ...]
    error_policy: ErrorPolicy = ErrorPolicy()
    locations: Mapping[str, Location] = field(default_factory=dict, hash=False, compare=False)
    source_name: str | None = field(default=None, compare=False)
    data: tuple[Data, ...] = ()
    """The machine's own variables (see ``Data``), in declaration order."""
    verify: VerifySpec = VerifySpec()

    @cached_property
    def chart(self) -> Chart:
        """The structure of this spec (nesting, order, start), computed once.

        The config checks, lint, the diagram and the engine all read this one value,
        so they agree on every structural fact, the start state included.
        """
        from pystator.chart import Chart

        return Chart(self)

    def location(self, path: str) -> Location | None:
        """The closest known location for ``path`` (walking up to its parents)."""
        while path:
            loc = self.locations.get(path)
            if loc is not None:
                return loc
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return None
