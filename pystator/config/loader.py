"""Load a machine definition in stages: text -> data + locations -> schema -> checks -> spec.

Every stage reports problems as located ``Issue``s, and every stage runs: a mistyped key
does not hide a wrong ``dest``. When the schema finds problems, the semantic and expression
checks run on a best-effort spec built from what is valid (:func:`_salvage`): each state,
transition and section is validated on its own, and a key with a problem is left out (or,
for one it cannot do without, such as a state's name, replaced by a placeholder no text can
contain). Checks that need a part with a problem skip only that part: their findings about
an item with a schema problem, or about a placeholder, are dropped, since the schema issue
already points there. All problems are raised together in one ``ConfigError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from pystator._text import did_you_mean
from pystator.config.build import Draft, build_from_model, build_plain, finish, implicit_trigger
from pystator.config.checks import PLACEHOLDER, run_checks
from pystator.config.schema import (
    ErrorPolicyModel,
    MachineModel,
    MetaModel,
    StateModel,
    TransitionModel,
)
from pystator.config.source import DEFAULT_MAX_BYTES, SourceDocument, read_document
from pystator.errors import ConfigError, Issue
from pystator.limits import MAX_INT_DIGITS
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
    document = read_document(source, source_name=source_name, max_bytes=max_bytes)
    issues = list(document.issues)
    if not isinstance(document.data, Mapping):
        shape = "a machine definition is a mapping with 'meta', 'states' and 'transitions'"
        raise ConfigError([*issues, _issue(document, "", shape, "shape")])
    draft = build_plain(document.data) if not issues else None
    skipped = Skipped()
    if draft is None:
        draft, skipped = _validated(document, issues)
    if draft is None:
        raise ConfigError(_sorted(issues))
    spec = finish(draft, document.locations, document.source_name)
    for path, message, code in run_checks(spec):
        if not skipped.covers(path, message):
            issues.append(_issue(document, path, message, code))
    issues.extend(_expression_issues(document, spec))
    if issues:
        raise ConfigError(_sorted(issues))
    return spec


def _validated(document: SourceDocument, issues: list[Issue]) -> tuple[Draft | None, Skipped]:
    """The draft the schema makes of the data, or the best-effort one and the schema's issues."""
    data = document.data
    for _ in range(2):
        try:
            try:
                return build_from_model(MachineModel.model_validate(data)), Skipped()
            except ValidationError as exc:
                found = _schema_issues(document, exc)
                salvaged = _salvage(data)
        except ValueError:  # pydantic could not write an integer of thousands of digits
            data = _without_long_numbers(document, data, issues)
            continue
        written = {issue.path for issue in issues}
        issues.extend(i for i in found if i.path not in written)
        return salvaged
    return None, Skipped()  # pragma: no cover - the second round has no long numbers


def _without_long_numbers(
    document: SourceDocument, data: Mapping[str, Any], issues: list[Issue]
) -> dict[str, Any]:
    """A copy of dict input with each integer over MAX_INT_DIGITS digits left out, reported."""
    bound = 10**MAX_INT_DIGITS
    root: dict[str, Any] = dict(data)
    stack: list[tuple[Any, str]] = [(root, "")]
    # the copy made of each original (by id): a value met again (a cycle, or one list
    # in two places) is given the same copy and walked once
    copies: dict[int, Any] = {id(data): root}
    while stack:
        holder, path = stack.pop()
        keys = list(holder) if isinstance(holder, dict) else range(len(holder))
        for key in keys:
            value = holder[key]
            where = (
                (f"{path}.{key}" if path else str(key))
                if isinstance(holder, dict)
                else (f"{path}[{key}]")
            )
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= bound:
                message = (
                    f"this number has more than {MAX_INT_DIGITS} digits; no machine needs that"
                )
                issues.append(_issue(document, where, message, "too-large"))
                holder[key] = None
            elif isinstance(value, (dict, list)):
                if id(value) in copies:
                    holder[key] = copies[id(value)]
                    continue
                holder[key] = copy = dict(value) if isinstance(value, dict) else list(value)
                copies[id(value)] = copy
                stack.append((copy, where))
    return root


# -- the best-effort spec behind "every problem at once" --------------------------------------

_SECTIONS: dict[str, type[BaseModel]] = {"meta": MetaModel, "error_policy": ErrorPolicyModel}
_STRUCTURE = {"name", "type", "parent", "initial_child", "regions"}


class Skipped:
    """The parts of a definition left out of the best-effort spec, so their checks skip.

    ``keys`` are the paths of keys with a schema problem (``transitions[0].after``);
    ``items`` are items that had to be replaced as a whole (not a mapping, or a
    transition's trigger rules), and ``touched`` items that lost a key, whose item-level
    findings may only echo that loss; ``names`` are states whose place in the tree is
    unknown (a problem in ``parent``, ``type``, ``regions`` ...): a check about them would
    only guess.
    """

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.items: set[str] = set()
        self.touched: set[str] = set()
        self.names: set[str] = set()

    def covers(self, path: str, message: str) -> bool:
        """True for a check finding that is about a skipped part."""
        if PLACEHOLDER in message:
            return True
        item = re.match(r"^(?:states|transitions)\[\d+\]|^[a-z_]+", path)
        if item is not None and (
            item.group(0) in self.items or (path == item.group(0) and path in self.touched)
        ):
            return True
        if any(path == key or path.startswith((key + ".", key + "[")) for key in self.keys):
            return True
        return any(f"'{name}'" in message for name in self.names)


def _salvage(data: Mapping[str, Any]) -> tuple[Draft | None, Skipped]:
    """The draft of everything in ``data`` that is valid; None when there is no state list."""
    skipped = Skipped()
    clean: dict[str, Any] = {}
    for key, value in data.items():
        if key in _SECTIONS:
            clean[key] = _salvaged_item(_SECTIONS[key], value, {}, skipped, key)
        elif key not in ("states", "transitions"):
            skipped.keys.add(str(key))
    states = data.get("states")
    if type(states) is not list or not states:
        return None, skipped
    clean["states"] = [
        _salvaged_item(StateModel, raw, {"name": f"{PLACEHOLDER}{i}"}, skipped, f"states[{i}]")
        for i, raw in enumerate(states)
    ]
    transitions = data.get("transitions")
    if type(transitions) is list:
        required = {"source": [PLACEHOLDER], "dest": PLACEHOLDER}
        clean["transitions"] = [
            _salvaged_item(TransitionModel, raw, required, skipped, f"transitions[{j}]")
            for j, raw in enumerate(transitions)
        ]
    elif transitions is not None:
        skipped.keys.add("transitions")
    try:
        return build_from_model(MachineModel.model_validate(clean)), skipped
    except ValidationError:  # pragma: no cover - every part was validated on its own
        return None, skipped


def _salvaged_item(
    model: type[BaseModel], raw: Any, required: dict[str, Any], skipped: Skipped, path: str
) -> dict[str, Any]:
    """``raw`` with every key that has a problem left out (a placeholder for a needed one).

    A problem with the item as a whole (it is not a mapping, or a transition's trigger
    rules) gives it a placeholder trigger. Whatever it took, the item is marked skipped.
    """
    item = dict(raw) if isinstance(raw, dict) else {}
    if not isinstance(raw, dict) and raw is not None:
        skipped.items.add(path)
    # each round fixes one kind of problem: keys in error, missing required keys, then
    # the trigger rules (which need the placeholders in place to be checked)
    for _ in range(len(item) + 3):
        try:
            model.model_validate(item)
        except ValidationError as exc:
            skipped.touched.add(path)
            for error in exc.errors():
                loc = error["loc"]
                key = str(loc[0]) if loc else ""
                if key:
                    item.pop(key, None)
                    skipped.keys.add(f"{path}.{key}")
                elif "trigger" in model.model_fields:
                    item.pop("after", None)
                    item["trigger"] = f"{PLACEHOLDER}trigger"
                    skipped.items.add(path)
                else:  # a state refused as a whole: its name stands, its place is unknown
                    skipped.items.add(path)
                    if isinstance(raw, dict) and isinstance(raw.get("name"), str):
                        skipped.names.add(raw["name"])
                    return dict(required)
                if key in required:
                    skipped.items.add(path)
                if key in _STRUCTURE and isinstance(raw, dict) and isinstance(raw.get("name"), str):
                    skipped.names.add(raw["name"])
            item.update({k: v for k, v in required.items() if k not in item})
            continue
        return item
    return dict(required)  # pragma: no cover - each round removes the keys in error


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
        for key in (path, path + "#value"):  # a key where it is written, else its value
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
    """The model that reads the mapping at ``loc`` (a path as pydantic reports it, by
    the keys as written), or None where no model does."""
    model: type[BaseModel] | None = MachineModel
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None:
            return None
        fields = model.model_fields
        field = fields.get(part) or next((f for f in fields.values() if f.alias == part), None)
        if field is None:
            return None
        model = _model_in(field.annotation)
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field's annotation holds: itself, or inside a list, union or optional."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _written_keys(model: type[BaseModel]) -> list[str]:
    """A model's keys as a definition writes them (``raise``, not the field ``raise_``)."""
    return [field.alias or name for name, field in model.model_fields.items()]


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


def _written(value: Any) -> str:
    """``value`` as a message shows it: never thousands of digits or characters."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 300:
        return "a number of more than 90 digits"
    shown = repr(value) if isinstance(value, (str, int, float, bool)) or value is None else ""
    if not shown or len(shown) > 60:
        return _describe(value) if not isinstance(value, str) else shown[:57] + "...'"
    return shown


def _schema_issues(document: SourceDocument, exc: ValidationError) -> list[Issue]:
    issues: list[Issue] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        kind = error["type"]
        value = error.get("input")
        if kind == "extra_forbidden":
            parent = _model_at(loc[:-1])
            keys = _written_keys(parent) if parent else []
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
            choices = re.findall(r"'([^']*)'", expected)
            hint = did_you_mean(value, choices) if isinstance(value, str) else ""
            message = f"{_written(value)} is not allowed here{hint} (use one of {expected})"
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
