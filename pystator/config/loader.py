"""Load a machine definition in stages: text -> data + locations -> schema -> checks -> spec.

Every stage reports problems as located ``Issue``s; all of a stage's problems are
raised together in one ``ConfigError`` (the schema stage stops before the semantic
checks, whose messages would only repeat shape errors).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from pystator.config.checks import Tree, run_checks
from pystator.config.schema import MachineModel
from pystator.config.source import DEFAULT_MAX_BYTES, SourceDocument, read_source
from pystator.durations import format_duration, parse_duration
from pystator.errors import ConfigError, Issue
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

__all__ = ["implicit_trigger", "load_spec", "timeout_trigger"]


def implicit_trigger(source: str, delay_ms: int) -> str:
    """The synthetic trigger of a delayed transition written without one."""
    return f"after:{format_duration(delay_ms)}:{source}"


def timeout_trigger(state: str) -> str:
    """The trigger a state's ``timeout`` fires."""
    return f"timeout:{state}"


def load_spec(
    source: str | bytes | Path | Mapping[str, Any],
    *,
    source_name: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> MachineSpec:
    """Validate a definition (text, file path or dict) into a ``MachineSpec``.

    Raises ``ConfigError`` listing every problem found, each with its path and,
    for text input, its 1-based line and column.
    """
    document = read_source(source, source_name=source_name, max_bytes=max_bytes)
    if not isinstance(document.data, Mapping):
        raise ConfigError(
            [
                _issue(
                    document,
                    "",
                    "a machine definition is a mapping with 'meta', 'states' and 'transitions'",
                    "shape",
                )
            ]
        )
    try:
        model = MachineModel.model_validate(document.data)
    except ValidationError as exc:
        raise ConfigError(_schema_issues(document, exc)) from None
    tree, findings = run_checks(model)
    issues = [_issue(document, path, message, code) for path, message, code in findings]
    issues.extend(_expression_issues(document, model))
    if issues:
        raise ConfigError(_sorted(issues))
    return _build_spec(document, model, tree)


def _issue(document: SourceDocument, path: str, message: str, code: str) -> Issue:
    where = _locate(document.locations, path)
    return Issue(
        message,
        path,
        where.line if where else None,
        where.column if where else None,
        code,
        source=document.source_name,
    )


def _locate(locations: Mapping[str, Location], path: str) -> Location | None:
    while True:
        for key in (path + "#value", path) if path.endswith("]") else (path, path + "#value"):
            if key in locations:
                return locations[key]
        if not path:
            return None
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""


def _sorted(issues: list[Issue]) -> list[Issue]:
    return sorted(issues, key=lambda i: (i.line or 0, i.column or 0))


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    model: Any = MachineModel
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        if field is None:
            return None
        annotation = field.annotation
        inner = getattr(annotation, "__args__", None)
        candidates = [annotation, *(inner or ())]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing"
    return type(value).__name__


def _schema_issues(document: SourceDocument, exc: ValidationError) -> list[Issue]:
    issues: list[Issue] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        kind = error["type"]
        value = error.get("input")
        if kind == "extra_forbidden":
            parent = _model_at(loc[:-1])
            accepted = ", ".join(parent.model_fields) if parent else ""
            message = f"unknown key {loc[-1]!r}" + (
                f"; accepted keys: {accepted}" if accepted else ""
            )
        elif kind == "missing":
            message = f"missing required key {loc[-1]!r}"
        elif kind == "model_type" or kind == "dict_type":
            message = f"expected a mapping, got {_describe(value)}"
        elif kind == "list_type":
            message = f"expected a list, got {_describe(value)}"
        elif kind == "string_type":
            message = f"expected text, got {_describe(value)}"
        elif kind == "literal_error":
            expected = error.get("ctx", {}).get("expected", "")
            message = f"{value!r} is not allowed here; use one of {expected}"
        elif kind == "too_short" and loc[-1] == "states":
            message = "a machine needs at least one state"
        elif kind == "string_too_short":
            message = "must not be empty"
        elif kind == "value_error":
            message = str(error.get("ctx", {}).get("error", error["msg"]))
        else:
            message = error["msg"][0].lower() + error["msg"][1:]
        issues.append(_issue(document, _path(loc), message, "schema"))
    return _sorted(issues)


def _expression_issues(document: SourceDocument, model: MachineModel) -> list[Issue]:
    """Compile every inline guard now, so a bad one fails at load, not mid-run."""
    from pystator.expressions import ExpressionError, compile_expression

    issues: list[Issue] = []
    for j, transition in enumerate(model.transitions):
        for k, guard in enumerate(transition.guards):
            if guard.expr is None:
                continue
            path = f"transitions[{j}].guards[{k}].expr"
            try:
                compile_expression(guard.expr)
            except ExpressionError as err:
                issue = _issue(document, path, f"guard expression: {err}", "bad-expression")
                issues.append(issue)
    return issues


def _build_spec(document: SourceDocument, model: MachineModel, tree: Tree) -> MachineSpec:
    states: list[State] = []
    children_marked: dict[str, str] = {}
    for s in model.states:
        if s.type == "initial" and s.parent is not None:
            children_marked.setdefault(s.parent, s.name)
    for s in model.states:
        initial_child = s.initial_child
        if initial_child is None and s.type != "parallel":
            initial_child = children_marked.get(s.name)
        states.append(
            State(
                name=s.name,
                type=StateType(s.type),
                parent=tree.parent.get(s.name),
                initial_child=initial_child,
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
        )
    locations = dict(document.locations)
    for name in tree.synthesised:
        path = tree.region_paths[name]
        where = _locate(document.locations, path)
        if where is not None:
            locations[f"states[{len(states)}]"] = where
        states.append(State(name=name, parent=tree.parent[name]))
    transitions: list[Transition] = []
    for t in model.transitions:
        delay = parse_duration(t.after) if t.after is not None else None
        trigger = t.trigger
        if trigger is None:
            assert delay is not None
            trigger = implicit_trigger(t.source[0], delay)
        transitions.append(
            Transition(
                trigger=trigger,
                source=frozenset(t.source),
                dest=t.dest,
                region=t.region,
                guards=tuple(
                    GuardSpec(name=g.name) if g.name is not None else GuardSpec(expr=g.expr)
                    for g in t.guards
                ),
                actions=tuple(ActionSpec(a.name, a.params) for a in t.actions),
                after=delay,
                description=t.description,
                metadata={
                    **t.metadata,
                    "index": len(transitions),
                    "sources": tuple(t.source),
                    "implicit_trigger": t.trigger is None,
                },
            )
        )
    meta = model.meta
    return MachineSpec(
        meta=MachineMeta(
            meta.version,
            meta.machine_name,
            meta.strict_mode,
            meta.event_normalizer,
            meta.description,
        ),
        states=tuple(states),
        transitions=tuple(transitions),
        error_policy=ErrorPolicy(
            model.error_policy.default_fallback, model.error_policy.retry_attempts
        ),
        locations=locations,
        source_name=document.source_name,
    )
