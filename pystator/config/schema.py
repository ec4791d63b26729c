"""The shape of a machine definition, as pydantic models.

This is the one key vocabulary: the loader validates with it and
``machine_json_schema()`` publishes it, so the two cannot drift apart. Short forms
(an action or guard written as a bare name, ``on_enter: log``) are widened to the
long form before validation, so error paths always point at what was written.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator, model_validator

from pystator.durations import MAX_DELAY_MS, parse_duration

__all__ = [
    "RESERVED_PREFIXES",
    "ActionModel",
    "ErrorPolicyModel",
    "GuardModel",
    "InvokeModel",
    "MachineModel",
    "MetaModel",
    "RegionModel",
    "StateModel",
    "TimeoutModel",
    "TransitionModel",
    "VerifyModel",
    "check_expression",
    "machine_json_schema",
    "transition_trigger_problem",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


RESERVED_PREFIXES = ("after:", "timeout:")


def transition_trigger_problem(trigger: str | None, after: int | None, sources: int) -> str:
    """Why a transition's trigger is unacceptable ("" when it is fine); shared by both loaders."""
    if trigger is None:
        if after is None:
            return (
                "a transition needs a 'trigger' (only delayed transitions with 'after' "
                "may leave it out)"
            )
        if sources != 1:
            return "a delayed transition without a trigger must have exactly one source state"
    elif after is None and trigger.startswith(RESERVED_PREFIXES):
        return "trigger names starting with 'after:' or 'timeout:' are reserved for timers"
    return ""


def _widen_action(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


def _widen_list(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, (str, dict)):
        return [value]
    return value


class MetaModel(_Strict):
    version: str = "1.0.0"
    machine_name: str = "state_machine"
    strict_mode: bool = True
    event_normalizer: Literal["lower", "upper"] | None = None
    event_matching: Literal["exact", "prefix"] = "exact"
    description: str = ""


class _ElifModel(_Strict):
    if_: str = Field(alias="if", min_length=1)
    then: list[ActionModel] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, populate_by_name=True)


class _DatamodelFields(_Strict):
    """The engine's own executable content (see ``ActionSpec``): one head key each."""

    assign: str | None = Field(default=None, min_length=1)
    expr: str | None = Field(default=None, min_length=1)
    log: str | None = None
    send: str | None = Field(default=None, min_length=1)
    send_expr: str | None = Field(default=None, min_length=1)
    delay: int | None = None
    delay_expr: str | None = Field(default=None, min_length=1)
    id: str | None = Field(default=None, min_length=1)
    id_location: str | None = Field(default=None, min_length=1)
    data: dict[str, str] | None = None
    content: str | None = Field(default=None, min_length=1)
    internal: bool = False
    target: str | None = Field(default=None, min_length=1)
    target_expr: str | None = Field(default=None, min_length=1)
    type: str | None = Field(default=None, min_length=1)
    type_expr: str | None = Field(default=None, min_length=1)
    cancel: str | None = Field(default=None, min_length=1)
    cancel_expr: str | None = Field(default=None, min_length=1)
    if_: str | None = Field(default=None, alias="if", min_length=1)
    then: list[ActionModel] | None = None
    elif_: list[_ElifModel] | None = Field(default=None, alias="elif")
    else_: list[ActionModel] | None = Field(default=None, alias="else")
    foreach: str | None = Field(default=None, min_length=1)
    item: str | None = Field(default=None, min_length=1)
    index: str | None = Field(default=None, min_length=1)
    do: list[ActionModel] | None = None

    @field_validator("delay", mode="before")
    @classmethod
    def _parse_delay(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    @field_validator("then", "else_", "do", mode="before")
    @classmethod
    def _widen_nested(cls, value: Any) -> Any:
        value = _widen_list(value)
        return [_widen_action(v) for v in value] if isinstance(value, list) else value


_HEADS = ("name", "raise_", "assign", "log", "send", "send_expr", "cancel", "cancel_expr",
          "if_", "foreach")  # fmt: skip
_COMPANIONS: dict[str, frozenset[str]] = {
    "name": frozenset({"params"}),
    "raise_": frozenset(),
    "assign": frozenset({"expr"}),
    "log": frozenset({"expr"}),
    "send": frozenset(
        {
            "delay",
            "delay_expr",
            "id",
            "id_location",
            "data",
            "content",
            "internal",
            "target",
            "target_expr",
            "type",
            "type_expr",
        }
    ),
    "cancel": frozenset(),
    "if_": frozenset({"then", "elif_", "else_"}),
    "foreach": frozenset({"item", "index", "do"}),
}
_COMPANIONS["send_expr"] = _COMPANIONS["send"]
_COMPANIONS["cancel_expr"] = _COMPANIONS["cancel"]


class ActionModel(_DatamodelFields):
    """An action to run (``name``, ``params``), ``{raise: EVENT}`` for an internal event,
    or the engine's executable content (``assign``, ``log``, ``send``, ``cancel``,
    ``if``, ``foreach``)."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, populate_by_name=True)

    name: str | None = Field(default=None, min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    raise_: str | None = Field(default=None, min_length=1, alias="raise")

    @model_validator(mode="after")
    def _one_of(self) -> ActionModel:
        heads = [h for h in _HEADS if getattr(self, h) is not None]
        if len(heads) != 1:
            raise ValueError(
                "an action is a name, {name: ..., params: ...}, {raise: EVENT}, or one of "
                "assign, log, send, cancel, if, foreach"
            )
        head = heads[0]
        given = {k for k in self.model_fields_set if k != head}
        extra = sorted(given - _COMPANIONS[head])
        if extra:
            shown = [k.rstrip("_") for k in extra]
            raise ValueError(f"{', '.join(shown)} does not go with {head.rstrip('_')!r}")
        if head == "raise_" and self.params:
            raise ValueError("a raised event takes no params")
        if head == "assign" and self.expr is None:
            raise ValueError("assign needs an 'expr' (the value to assign)")
        if head == "foreach" and self.item is None:
            raise ValueError("foreach needs an 'item' (the variable each element is put in)")
        if head == "send" or head == "send_expr":
            if self.delay is not None and self.delay_expr is not None:
                raise ValueError("a send has 'delay' or 'delay_expr', not both")
            if self.data and self.content is not None:
                raise ValueError("a send has 'data' or 'content', not both")
        for text in _expressions(self):
            check_expression(text)
        return self

    def to_config(self) -> Any:
        """The plain form ``ActionSpec.from_config`` reads."""
        return self.model_dump(by_alias=True, exclude_unset=True)


def _expressions(action: ActionModel) -> list[str]:
    out = [action.expr, action.send_expr, action.delay_expr, action.content, action.cancel_expr]
    out += [action.target_expr, action.type_expr]
    out += [action.if_, action.foreach, *(e.if_ for e in action.elif_ or ())]
    out += list((action.data or {}).values())
    return [text for text in out if text is not None]


def check_expression(text: str) -> None:
    """Compile an expression now, so a bad one is a located load error."""
    from pystator.expressions import ExpressionError, compile_expression

    try:
        compile_expression(text)
    except ExpressionError as error:
        raise ValueError(f"expression {text!r}: {error}") from None


class GuardModel(_Strict):
    name: str | None = Field(default=None, min_length=1)
    # An expression is written as text: ``expr: 5`` is a mistake, not the expression "5".
    expr: StrictStr | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_of(self) -> GuardModel:
        if (self.name is None) == (self.expr is None):
            raise ValueError("a guard is a name or {expr: ...}")
        return self


class TimeoutModel(_Strict):
    seconds: float = Field(gt=0, le=MAX_DELAY_MS / 1000, allow_inf_nan=False)
    destination: str = Field(min_length=1)


class RegionModel(_Strict):
    name: str = Field(min_length=1)
    initial: str = Field(min_length=1)
    states: list[str] = Field(default_factory=list)
    description: str = ""


class InvokeModel(_Strict):
    id: str = Field(min_length=1)
    src: str = Field(min_length=1)
    on_done: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    autoforward: bool = False


class StateModel(_Strict):
    name: str = Field(min_length=1)
    type: Literal["initial", "stable", "terminal", "error", "parallel", "final", "history"] = (
        "stable"
    )
    parent: str | None = None
    initial_child: str | None = None
    regions: list[RegionModel] = Field(default_factory=list)
    on_enter: list[ActionModel] = Field(default_factory=list)
    on_exit: list[ActionModel] = Field(default_factory=list)
    timeout: TimeoutModel | None = None
    invoke: list[InvokeModel] = Field(default_factory=list)
    description: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)
    history: Literal["shallow", "deep"] | None = None
    default: str | None = Field(default=None, min_length=1)
    default_actions: list[ActionModel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _history_fields(self) -> StateModel:
        if self.type == "history" and self.history is None:
            self.history = "shallow"
        if self.type != "history" and (self.history or self.default or self.default_actions):
            raise ValueError(
                "'history', 'default' and 'default_actions' belong to a state of type history"
            )
        return self

    @field_validator("on_enter", "on_exit", "default_actions", mode="before")
    @classmethod
    def _widen(cls, value: Any) -> Any:
        value = _widen_list(value)
        return [_widen_action(v) for v in value] if isinstance(value, list) else value

    @field_validator("regions", "invoke", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class TransitionModel(_Strict):
    trigger: str | None = Field(default=None, min_length=1)
    source: list[str] = Field(min_length=1)
    dest: str = Field(min_length=1)
    region: str | None = None
    after: int | None = None  # milliseconds; "5s"-style strings are parsed on the way in
    always: bool = False
    kind: Literal["internal", "external"] | None = None
    guards: list[GuardModel] = Field(default_factory=list)
    actions: list[ActionModel] = Field(default_factory=list)
    description: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("source", mode="before")
    @classmethod
    def _widen_source(cls, value: Any) -> Any:
        return (
            [value]
            if isinstance(value, (str, int, float)) and not isinstance(value, bool)
            else value
        )

    @field_validator("after", mode="before")
    @classmethod
    def _parse_after(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)

    @model_validator(mode="after")
    def _trigger_rules(self) -> TransitionModel:
        if self.always:
            if self.trigger is not None or self.after is not None:
                raise ValueError(
                    "an eventless transition ('always: true') takes no 'trigger' and no 'after'"
                )
            return self
        problem = transition_trigger_problem(self.trigger, self.after, len(self.source))
        if problem:
            raise ValueError(problem)
        return self

    @field_validator("guards", mode="before")
    @classmethod
    def _widen_guards(cls, value: Any) -> Any:
        value = _widen_list(value)
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("actions", mode="before")
    @classmethod
    def _widen_actions(cls, value: Any) -> Any:
        value = _widen_list(value)
        return [_widen_action(v) for v in value] if isinstance(value, list) else value


class ErrorPolicyModel(_Strict):
    default_fallback: str | None = None
    retry_attempts: int = Field(default=0, ge=0, le=100)


class EventuallyModel(_Strict):
    state: str = Field(min_length=1)
    within: int = Field(ge=1, le=10_000)


_WITHIN = re.compile(r"^\s*(?P<state>.+?)\s+within\s+(?P<n>\d+)(\s+steps?)?\s*$")


class VerifyModel(_Strict):
    """Properties for ``pystator check``: ``never: [A, B]`` (or a list of such sets),
    ``always_eventually: X within N steps`` (or ``{state: X, within: N}``, or a list),
    ``unreachable: X`` (or a list). The engine ignores them."""

    never: list[list[str]] = Field(default_factory=list)
    always_eventually: list[EventuallyModel] = Field(default_factory=list)
    unreachable: list[str] = Field(default_factory=list)

    @field_validator("never", mode="before")
    @classmethod
    def _one_set(cls, value: Any) -> Any:
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return [value]
        return _widen_list(value)

    @field_validator("always_eventually", mode="before")
    @classmethod
    def _within(cls, value: Any) -> Any:
        items = _widen_list(value)
        if not isinstance(items, list):
            return items
        out = []
        for item in items:
            if isinstance(item, str):
                match = _WITHIN.match(item)
                if match is None:
                    raise ValueError(f"write {item!r} as 'STATE within N steps'")
                item = {"state": match["state"], "within": int(match["n"])}
            out.append(item)
        return out

    @field_validator("unreachable", mode="before")
    @classmethod
    def _widen(cls, value: Any) -> Any:
        return _widen_list(value)


class MachineModel(_Strict):
    meta: MetaModel = Field(default_factory=MetaModel)
    data: dict[str, Any] = Field(default_factory=dict)
    """The machine's variables: name -> initial value, or ``{expr: ...}``."""
    states: list[StateModel] = Field(min_length=1)
    transitions: list[TransitionModel] = Field(default_factory=list)
    error_policy: ErrorPolicyModel = Field(default_factory=ErrorPolicyModel)
    verify: VerifyModel | None = None

    @field_validator("data", mode="before")
    @classmethod
    def _data_names(cls, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, dict):
            for name, initial in value.items():
                if not str(name).isidentifier() or str(name).startswith("_"):
                    raise ValueError(f"{name!r} is not a variable name (letters, digits, '_')")
                if isinstance(initial, dict) and "expr" in initial:
                    if set(initial) != {"expr"} or not isinstance(initial["expr"], str):
                        raise ValueError(f"data {name!r}: an expression is {{expr: TEXT}}")
                    check_expression(initial["expr"])
        return value

    @field_validator("meta", "error_policy", mode="before")
    @classmethod
    def _none_is_default(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("transitions", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


def machine_json_schema() -> dict[str, Any]:
    """The published JSON Schema of a machine definition (same models as the loader)."""
    return MachineModel.model_json_schema()


# The action models refer to each other (an ``if`` holds actions): resolve them now.
_ElifModel.model_rebuild()
ActionModel.model_rebuild()
StateModel.model_rebuild()
TransitionModel.model_rebuild()
MachineModel.model_rebuild()
