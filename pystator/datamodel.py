"""The machine's own datamodel: variables, and the executable content that changes them.

SCXML lets a machine keep variables (``<data>``) and run executable content on entry,
exit and transitions: ``<assign>``, ``<log>``, ``<send>``/``<cancel>``, ``<if>``,
``<foreach>``, ``<raise>``. pystator's datamodel is its own expression language (the
sandboxed evaluator of ``pystator.expressions``): ``data:`` declares the variables,
and the action kinds of ``ActionSpec`` are the executable content.

Nothing here performs anything. The macrostep hands each block of actions (one
state's ``on_enter``, one transition's ``actions``) to ``Executor.block``, which
evaluates them in order against the step's variables and returns effects:
``Assign`` (already applied to the variables, so later guards of the same step read
it), ``Log``, ``RaiseEvent`` (queued as an internal event), ``ScheduleTimer`` and
``CancelTimer`` (a ``send`` is a timer that delivers an external event when due;
``cancel`` disarms it), and ``RunAction`` for the host's own actions.

As in SCXML, an expression that fails, a location that is not declared, or an
array that is not a list stops the rest of its block and raises ``error.execution``
(its data says what went wrong); the step goes on. A guard never raises: one that
fails is false (the selection's rule).
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pystator.durations import parse_duration
from pystator.expressions import CompiledExpression, compile_expression
from pystator.model import ActionSpec, MachineSpec
from pystator.snapshot import Timer
from pystator.step import (
    Assign,
    CancelTimer,
    Effect,
    Log,
    Phase,
    RaiseEvent,
    RunAction,
    ScheduleTimer,
)

__all__ = [
    "ERROR_EXECUTION",
    "SYSTEM_NAMES",
    "Datamodel",
    "Executor",
    "Queued",
    "Scope",
    "event_value",
    "session_id",
]

ERROR_EXECUTION = "error.execution"
"""The internal event a failed action raises (SCXML's name for it)."""

ERROR_COMMUNICATION = "error.communication"
"""What a ``send`` to a session that cannot be reached raises (SCXML's name)."""

SYSTEM_NAMES = frozenset({"_event", "_sessionid", "_name", "_ioprocessors", "_x"})
"""Names the engine provides; an action may read them but never assign them."""

SCXML_PROCESSOR = "http://www.w3.org/TR/scxml/#SCXMLEventProcessor"
"""The type of the one event processor the engine has: events a machine sends itself."""

GENERATED_ID = "send:"
"""How the ids the engine makes up for a ``send`` without one begin (``_event.sendid``
stays empty for their events, as SCXML asks)."""


def session_id(variables: Mapping[str, Any]) -> str:
    """``_sessionid``: what the host's context says, else ``"pystator"`` (the engine
    itself has no sessions: a host that needs distinct ids passes its entity's)."""
    value = variables.get("_sessionid")
    return str(value) if value is not None else "pystator"


_LOCATION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True, slots=True)
class Queued:
    """An event on the internal queue: its name, data and SCXML type."""

    name: str
    data: Any = None
    type: str = "internal"
    sendid: str | None = None


def event_value(
    name: str,
    data: Any = None,
    type: str = "external",
    sendid: str | None = None,
    origin: str | None = None,
) -> dict[str, Any]:
    """``_event`` as expressions read it (SCXML's fields; unknown ones are ``None``).

    An event the machine sent itself (``sendid`` given) has the SCXML processor as
    its ``origintype`` and ``origin``; ``sendid`` is kept only when the ``send``
    named it.
    """
    sent = sendid is not None and type != "platform"
    if sent and sendid is not None and sendid.startswith(GENERATED_ID):
        sendid = None  # the send gave no id: its event has none
    return {
        "name": name,
        "type": type,
        "sendid": sendid,
        "origin": origin if sent else None,
        "origintype": SCXML_PROCESSOR if sent else None,
        "invokeid": None,
        "data": data,
    }


class Scope(Mapping[str, Any]):
    """What an expression reads: the event's payload, the variables, and ``_event``.

    ``active_states`` is there for ``In(...)``. The payload is read first (it is
    visible to its own event only, as for every guard), then the variables.
    """

    __slots__ = ("active_states", "event", "name", "payload", "variables")

    def __init__(
        self,
        variables: Mapping[str, Any],
        event: Mapping[str, Any] | None,
        active_states: frozenset[str],
        payload: Mapping[str, Any] | None = None,
        name: str = "",
    ) -> None:
        self.variables = variables
        self.event = event
        self.active_states = active_states
        self.payload = payload
        self.name = name

    def __getitem__(self, key: str) -> Any:
        payload = self.payload
        if payload is not None and key in payload:
            return payload[key]
        if key[:1] == "_" and key in SYSTEM_NAMES:
            return self.system(key)
        return self.variables[key]

    def system(self, key: str) -> Any:
        """SCXML's system variables: ``_event`` (unbound before the first event), ``_name``
        (the machine's name), ``_sessionid`` (the host's, when its context gives one),
        ``_ioprocessors`` (the SCXML event processor, the only one there is)."""
        if key == "_event":
            if self.event is None:
                raise NameError("_event is not bound before the first event")
            return self.event
        if key == "_name":
            return self.name
        session = session_id(self.variables)
        if key == "_sessionid":
            return session
        if key == "_ioprocessors":
            where = {"location": f"#_scxml_{session}"}
            return {"scxml": where, SCXML_PROCESSOR: where}
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        keys = dict.fromkeys(self.variables)
        if self.payload:
            keys.update(dict.fromkeys(self.payload))
        if self.event is not None:
            keys["_event"] = None
        return iter(keys)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Failed(Exception):
    """An action failed: the rest of its block is skipped and ``error.execution`` raised.

    ``sendid`` is the id of the ``send`` that failed (its error event carries it)."""

    def __init__(self, message: str, sendid: str | None = None) -> None:
        super().__init__(message)
        self.sendid = sendid


def _walk(actions: tuple[ActionSpec, ...]) -> Iterator[ActionSpec]:
    stack = list(reversed(actions))
    while stack:
        spec = stack.pop()
        yield spec
        stack.extend(reversed(spec.children()))


def _expressions_of(spec: ActionSpec) -> Iterator[str]:
    p = spec.params
    if spec.kind in ("assign", "log"):
        if p.get("expr") is not None:
            yield p["expr"]
    elif spec.kind == "send":
        for key in ("event_expr", "delay_expr", "content", "target_expr", "type_expr"):
            if p.get(key) is not None:
                yield p[key]
        yield from (p.get("data") or {}).values()
    elif spec.kind == "cancel":
        if p.get("expr") is not None:
            yield p["expr"]
    elif spec.kind == "if":
        for cond, _ in p["branches"]:
            yield cond
    elif spec.kind == "foreach":
        yield p["array"]


def all_actions(spec: MachineSpec) -> Iterator[ActionSpec]:
    """Every action of the machine, nested ones included, in document order."""
    for state in spec.states:
        yield from _walk(state.on_enter)
        yield from _walk(state.on_exit)
        yield from _walk(state.default_actions)
    for transition in spec.transitions:
        yield from _walk(transition.actions)


class Datamodel:
    """A machine's variables and the compiled expressions of its executable content.

    Built once per machine (``Tables.datamodel``), only for machines that use any of
    it; ``names`` are the variables the snapshot keeps: those declared in ``data:``
    and every location an action assigns (foreach items and indexes, send id
    locations included).
    """

    def __init__(self, spec: MachineSpec) -> None:
        self.spec = spec
        self.expressions: dict[str, CompiledExpression] = {}
        names: dict[str, None] = dict.fromkeys(d.name for d in spec.data)
        for d in spec.data:
            if d.expr is not None:
                self._compile(d.expr)
        for action in all_actions(spec):
            if not action.is_datamodel:
                continue
            for expr in _expressions_of(action):
                self._compile(expr)
            if action.kind == "assign":
                names[action.name.split(".")[0]] = None
            elif action.kind == "foreach":
                names[action.name] = None
                if action.params.get("index"):
                    names[action.params["index"]] = None
            elif action.kind == "send" and action.params.get("id_location"):
                names[action.params["id_location"].split(".")[0]] = None
        self.names: tuple[str, ...] = tuple(names)
        self.name = spec.meta.machine_name

    def _compile(self, expr: str) -> CompiledExpression:
        compiled = self.expressions.get(expr)
        if compiled is None:
            compiled = self.expressions[expr] = compile_expression(expr)
        return compiled

    def initial(self, context: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[Queued]]:
        """The variables a new entity starts with, and the errors their expressions raised.

        A value the host passes in ``context`` wins over the declaration (as an SCXML
        invocation's params override its ``<data>``).
        """
        variables = dict(context or {})
        errors: list[Queued] = []
        for d in self.spec.data:
            if d.name in variables:
                continue
            if d.expr is None:
                variables[d.name] = _copy(d.value)
                continue
            try:
                variables[d.name] = self.expressions[d.expr].value(
                    Scope(variables, None, frozenset(), None, self.name)
                )
            except Exception as error:
                variables[d.name] = None
                errors.append(
                    Queued(ERROR_EXECUTION, _detail(f"data {d.name!r}", error), "platform")
                )
        return variables, errors

    def missing(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The declarations a snapshot lacks (one made from a state string, or saved
        before a variable was declared), at their initial values."""
        if all(d.name in data for d in self.spec.data):
            return {}
        values, _errors = self.initial(data)
        return {k: v for k, v in values.items() if k not in data}

    def kept(self, variables: Mapping[str, Any]) -> dict[str, Any]:
        """The machine's own variables out of ``variables`` (what the snapshot stores)."""
        return {k: variables[k] for k in self.names if k in variables}


class Executor:
    """Runs blocks of executable content for one macrostep.

    It holds what the block may read and change: the variables, ``_event``, the
    active states (for ``In``), the clock, the pending timers (a ``send`` adds one, a
    ``cancel`` removes it), and the internal queue.
    """

    def __init__(
        self,
        datamodel: Datamodel,
        variables: dict[str, Any],
        now: int,
        timers: list[Timer],
        next_id: int,
        queue: deque[Any],
    ) -> None:
        self.datamodel = datamodel
        self.variables = variables
        self.event: dict[str, Any] | None = None
        self.configuration: frozenset[str] = frozenset()
        self.now = now
        self.timers = timers
        self.next_id = next_id
        self.queue = queue

    def scope(self, payload: Mapping[str, Any] | None = None) -> Scope:
        return Scope(self.variables, self.event, self.configuration, payload, self.datamodel.name)

    def origin(self) -> str:
        return f"#_scxml_{session_id(self.variables)}"

    def block(self, actions: tuple[Any, ...], effects: list[Effect]) -> None:
        """Run one block (effects from the microstep), appending what it does to ``effects``."""
        for action in actions:
            if isinstance(action, RaiseEvent):
                effects.append(action)
                self.queue.append(Queued(action.event))
                continue
            spec: ActionSpec = action.action
            if not spec.is_datamodel:
                effects.append(action)
                continue
            try:
                self._run(spec, action.phase, action.owner, effects)
            except _Failed as failure:
                error = RaiseEvent(ERROR_EXECUTION, action.phase, action.owner, str(failure))
                effects.append(error)
                self.queue.append(Queued(ERROR_EXECUTION, str(failure), "platform", failure.sendid))
                return

    # ------------------------------------------------------------------ the kinds
    def _run(self, spec: ActionSpec, phase: Phase, owner: str, effects: list[Effect]) -> None:
        kind = spec.kind
        if kind == "assign":
            self._assign(spec.name, self._value(spec.params["expr"], spec), phase, owner, effects)
        elif kind == "log":
            expr = spec.params.get("expr")
            value = self._value(expr, spec) if expr is not None else None
            effects.append(Log(spec.name, value, phase, owner))
        elif kind == "raise":
            effects.append(RaiseEvent(spec.name, phase, owner))
            self.queue.append(Queued(spec.name))
        elif kind == "send":
            self._send(spec, phase, owner, effects)
        elif kind == "cancel":
            expr = spec.params.get("expr")
            send_id = str(self._value(expr, spec)) if expr is not None else spec.name
            for timer in [t for t in self.timers if t.send_id == send_id]:
                self.timers.remove(timer)
                effects.append(CancelTimer(timer))
        elif kind == "if":
            for cond, actions in spec.params["branches"]:
                if self._condition(cond, spec, phase, owner, effects):
                    self._nested(actions, phase, owner, effects)
                    return
            self._nested(spec.params.get("else", ()), phase, owner, effects)
        elif kind == "foreach":
            self._foreach(spec, phase, owner, effects)
        else:  # a host action nested in an if or foreach
            effects.append(RunAction(spec, phase, owner))

    def _nested(
        self, actions: tuple[ActionSpec, ...], phase: Phase, owner: str, effects: list[Effect]
    ) -> None:
        for spec in actions:
            self._run(spec, phase, owner, effects)

    def _foreach(self, spec: ActionSpec, phase: Phase, owner: str, effects: list[Effect]) -> None:
        p = spec.params
        array = self._value(p["array"], spec)
        if not isinstance(array, (list, tuple)):
            raise _Failed(f"foreach: {p['array']!r} is {_kind(array)}, not a list")
        index = p.get("index")
        for position, item in enumerate(list(array)):
            self._assign(spec.name, item, phase, owner, effects, declare=True)
            if index:
                self._assign(index, position, phase, owner, effects, declare=True)
            self._nested(p.get("do", ()), phase, owner, effects)

    def _send(self, spec: ActionSpec, phase: Phase, owner: str, effects: list[Effect]) -> None:
        # Evaluated in the order SCXML lists <send>'s attributes: the first that fails wins.
        p = spec.params
        event = self._text_or(spec, "event_expr", spec.name)
        delay = p.get("delay") or 0
        if p.get("delay_expr") is not None:
            delay = _delay(self._value(p["delay_expr"], spec), p["delay_expr"])
        data = self._send_data(spec)
        send_id = self._send_id(spec, phase, owner, effects)
        target = self._text_or(spec, "target_expr", p.get("target"))
        kind = self._text_or(spec, "type_expr", p.get("type"))
        if kind is not None and kind not in (SCXML_PROCESSOR, "scxml"):
            raise _Failed(f"send: the event processor {kind!r} is not supported", send_id)
        if target is not None and target != "#_internal" and target != self.origin():
            self._send_elsewhere(target, send_id, phase, owner, effects)
            return
        if p.get("internal") or target == "#_internal":
            effects.append(RaiseEvent(event, phase, owner, data))
            self.queue.append(Queued(event, data, "internal", send_id))
            return
        timer = Timer(self.next_id, owner, self.now + delay, event, "", self.now, -1, send_id, data)
        self.next_id += 1
        self.timers.append(timer)
        effects.append(ScheduleTimer(timer))

    def _text_or(self, spec: ActionSpec, key: str, default: Any) -> Any:
        """The text ``spec.params[key]`` evaluates to, or ``default`` when there is none."""
        expr = spec.params.get(key)
        return default if expr is None else str(self._value(expr, spec))

    def _send_data(self, spec: ActionSpec) -> Any:
        """The event's data: the ``data`` mapping evaluated, unless ``content`` replaces it."""
        p = spec.params
        data: Any = None
        if p.get("data"):
            data = {name: self._value(expr, spec) for name, expr in p["data"].items()}
        if p.get("content") is not None:
            data = self._value(p["content"], spec)
        return data

    def _send_id(self, spec: ActionSpec, phase: Phase, owner: str, effects: list[Effect]) -> str:
        """The send's id (a fresh one when it names none), stored at ``id_location``."""
        send_id = spec.params.get("id")
        if send_id is None:
            send_id = f"{GENERATED_ID}{self.next_id}"
            self.next_id += 1
        if spec.params.get("id_location"):
            self._assign(spec.params["id_location"], send_id, phase, owner, effects)
        return str(send_id)

    def _send_elsewhere(
        self, target: str, send_id: str, phase: Phase, owner: str, effects: list[Effect]
    ) -> None:
        """A target other than this session: another session cannot be reached (SCXML's
        ``error.communication``); any other kind of target is not supported."""
        if not target.startswith("#_"):
            raise _Failed(f"send: the target {target!r} is not supported", send_id)
        detail = f"send: {target!r} cannot be reached (no such session)"
        effects.append(RaiseEvent(ERROR_COMMUNICATION, phase, owner, detail))
        self.queue.append(Queued(ERROR_COMMUNICATION, detail, "platform", send_id))

    # ------------------------------------------------------------------ helpers
    def _condition(
        self, cond: str, spec: ActionSpec, phase: Phase, owner: str, effects: list[Effect]
    ) -> bool:
        """An ``if`` condition: one that fails is false and raises ``error.execution``
        (SCXML's rule for conditions), and the block goes on."""
        try:
            return bool(self.datamodel.expressions[cond].value(self.scope()))
        except Exception as error:
            detail = _detail(f"condition {cond!r}", error)
            effects.append(RaiseEvent(ERROR_EXECUTION, phase, owner, detail))
            self.queue.append(Queued(ERROR_EXECUTION, detail, "platform"))
            return False

    def _value(self, expr: str, spec: ActionSpec) -> Any:
        try:
            return self.datamodel.expressions[expr].value(self.scope())
        except Exception as error:
            raise _Failed(_detail(str(spec), error)) from None

    def _assign(
        self,
        location: str,
        value: Any,
        phase: Phase,
        owner: str,
        effects: list[Effect],
        declare: bool = False,
    ) -> None:
        if not _LOCATION.match(location):
            raise _Failed(f"{location!r} is not a location")
        root, *path = location.split(".")
        if root in SYSTEM_NAMES:
            raise _Failed(f"{root} is the engine's: it cannot be assigned")
        variables = self.variables
        if root not in variables and not declare:
            raise _Failed(f"{root!r} is not declared (add it to the machine's data)")
        if path:
            variables[root] = _set_path(variables.get(root), path, value, location)
        else:
            variables[root] = value
        effects.append(Assign(location, value, phase, owner))


def _set_path(target: Any, path: list[str], value: Any, location: str) -> Any:
    """``target`` with ``path`` set to ``value``, copied on write (snapshots stay immutable)."""
    if not isinstance(target, Mapping):
        raise _Failed(f"{location!r}: {_kind(target)} has no keys")
    out = dict(target)
    head, *rest = path
    out[head] = _set_path(out.get(head), rest, value, location) if rest else value
    return out


def _delay(value: Any, expr: str) -> int:
    text = value if not isinstance(value, str) else value.strip()
    if isinstance(text, str) and text.startswith("."):
        text = "0" + text
    try:
        return parse_duration(text)
    except ValueError as error:
        raise _Failed(f"delay {expr!r}: {error}") from None


def _detail(what: str, error: Exception) -> str:
    from pystator.expressions import _describe_error

    return f"{what}: {_describe_error(error)}"


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return f"a {type(value).__name__}"


def _copy(value: Any) -> Any:
    """A declared value, copied so no two entities share a mutable default."""
    if isinstance(value, (dict, list)):
        copied: Any = json.loads(json.dumps(value))
        return copied
    return value
