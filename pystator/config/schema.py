"""The shape of a machine definition, as pydantic models.

This is the one key vocabulary: the loader validates with it and
``machine_json_schema()`` publishes it, so the two cannot drift apart. Short forms
(an action or guard written as a bare name, ``on_enter: log``) are widened to the
long form before validation, so error paths always point at what was written.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pystator.durations import parse_duration

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


class ActionModel(_Strict):
    """An action to run (``name``, ``params``), or ``{raise: EVENT}`` for an internal event."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, populate_by_name=True)

    name: str | None = Field(default=None, min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    raise_: str | None = Field(default=None, min_length=1, alias="raise")

    @model_validator(mode="after")
    def _one_of(self) -> ActionModel:
        if (self.name is None) == (self.raise_ is None):
            raise ValueError("an action is a name, {name: ..., params: ...} or {raise: EVENT}")
        if self.raise_ is not None and self.params:
            raise ValueError("a raised event takes no params")
        return self


class GuardModel(_Strict):
    name: str | None = Field(default=None, min_length=1)
    expr: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_of(self) -> GuardModel:
        if (self.name is None) == (self.expr is None):
            raise ValueError("a guard is a name or {expr: ...}")
        return self


class TimeoutModel(_Strict):
    seconds: float = Field(gt=0)
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
    states: list[StateModel] = Field(min_length=1)
    transitions: list[TransitionModel] = Field(default_factory=list)
    error_policy: ErrorPolicyModel = Field(default_factory=ErrorPolicyModel)
    verify: VerifyModel | None = None

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
