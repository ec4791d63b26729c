"""Load a machine definition in stages: text -> data + locations -> schema -> checks -> spec.

Every stage reports problems as located ``Issue``s; all of a stage's problems are
raised together in one ``ConfigError`` (the schema stage stops before the semantic
checks, whose messages would only repeat shape errors).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from pystator._text import did_you_mean
from pystator.config.build import build_from_model, build_plain, finish, implicit_trigger
from pystator.config.checks import run_checks
from pystator.config.schema import MachineModel
from pystator.config.source import DEFAULT_MAX_BYTES, SourceDocument, read_source
from pystator.errors import ConfigError, Issue
from pystator.model import Location, MachineSpec

__all__ = ["implicit_trigger", "load_spec", "timeout_trigger"]


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
    draft = build_plain(document.data)
    if draft is None:
        try:
            model = MachineModel.model_validate(document.data)
        except ValidationError as exc:
            raise ConfigError(_schema_issues(document, exc)) from None
        draft = build_from_model(model)
    spec = finish(draft, document.locations, document.source_name)
    issues = [_issue(document, path, message, code) for path, message, code in run_checks(spec)]
    issues.extend(_expression_issues(document, spec))
    if issues:
        raise ConfigError(_sorted(issues))
    return spec


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
            keys = list(parent.model_fields) if parent else []
            hint = did_you_mean(str(loc[-1]), keys)
            accepted = f" (accepted keys: {', '.join(keys)})" if keys else ""
            message = f"unknown key {loc[-1]!r}{hint}{accepted}"
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
            hint = did_you_mean(str(value), re.findall(r"'([^']*)'", expected))
            message = f"{value!r} is not allowed here{hint} (use one of {expected})"
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


def _expression_issues(document: SourceDocument, spec: MachineSpec) -> list[Issue]:
    """Compile every inline guard now, so a bad one fails at load, not mid-run."""
    from pystator.expressions import ExpressionError, compile_expression

    issues: list[Issue] = []
    guarded = [(j, t) for j, t in enumerate(spec.transitions) if t.guards]
    for j, transition in guarded:
        for k, guard in enumerate(transition.guards):
            if guard.expr is None:
                continue
            try:
                compile_expression(guard.expr)
            except ExpressionError as err:
                path = f"transitions[{j}].guards[{k}].expr"
                issues.append(_issue(document, path, f"guard expression: {err}", "bad-expression"))
    return issues
