"""A simulation's trace: the inputs a person gave, and its compact JSON form.

The trace is the only thing a simulation stores; everything else is derived by
replaying it through the engine. Each input also carries ``expect``, the state
string it led to when it was recorded: replaying on an edited machine compares
against it to say where the run diverged.

JSON form (``{"v": 1, "machine": ..., "context": {...}, "start": ..., "trace": [...]}``),
one object per input, keyed by its kind:

==============================  ============================================
``{"e": "ack", "p": {..}, "via": 3, "s": "OPEN"}``  send an event (payload, choice optional)
``{"f": 1, "s": "TIMED_OUT"}``  fire the next pending timer
``{"a": 5000, "s": "..."}``     advance the clock to 5000 ms, firing what is due
``{"g": "is_ok", "v": true}``   fix a named guard (``null`` unsets it)
``{"c": {"qty": 5}}``           replace the context
==============================  ============================================
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pystator.limits import JsonInputError, check_json_value, load_json
from pystator.simulator.values import SimulationError

__all__ = ["FORMAT_VERSION", "Input", "InputKind", "decode", "encode", "json_value"]

FORMAT_VERSION = 1
MAX_TRACE_TEXT = 20_000_000
"""A trace document longer than this (in characters) is refused before it is parsed."""
InputKind = Literal["event", "fire", "advance", "guard", "context"]


@dataclass(frozen=True, slots=True)
class Input:
    """One thing a person did to the simulation."""

    kind: InputKind
    event: str = ""
    payload: Mapping[str, Any] = field(default_factory=dict)
    via: int | None = None
    to_ms: int = 0
    guard: str = ""
    outcome: bool | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    expect: str | None = None

    def describe(self) -> str:
        if self.kind == "event":
            via = f" (via={self.via})" if self.via is not None else ""
            return f"event {self.event!r}{via}"
        if self.kind == "fire":
            return "fire next timer"
        if self.kind == "advance":
            return f"advance to {self.to_ms} ms"
        if self.kind == "guard":
            return f"set guard {self.guard!r}"
        return "edit context"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any]
        if self.kind == "event":
            out = {"e": self.event}
            if self.payload:
                out["p"] = dict(self.payload)
            if self.via is not None:
                out["via"] = self.via
        elif self.kind == "fire":
            out = {"f": 1}
        elif self.kind == "advance":
            out = {"a": self.to_ms}
        elif self.kind == "guard":
            return {"g": self.guard, "v": self.outcome}
        else:
            return {"c": dict(self.context)}
        if self.expect is not None:
            out["s"] = self.expect
        return out


def json_value(value: Any, what: str) -> Any:
    """``value`` as it comes back from JSON (so a round trip is exact); clear error otherwise."""
    try:
        check_json_value(value, what)
    except JsonInputError as error:
        raise SimulationError(str(error)) from None
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise SimulationError(
            f"{what} must be plain JSON data (dict, list, str, number, bool, null): {error}"
        ) from None


def encode(
    machine_name: str,
    context: Mapping[str, Any],
    start: str,
    inputs: list[Input],
    indent: int | None = None,
) -> str:
    document = {
        "v": FORMAT_VERSION,
        "machine": machine_name,
        "context": dict(context),
        "start": start,
        "trace": [i.to_json() for i in inputs],
    }
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(document, indent=indent, separators=separators, ensure_ascii=False)


@dataclass(frozen=True)
class Decoded:
    context: dict[str, Any]
    start: str | None
    inputs: list[Input]


def decode(text: str | bytes, max_steps: int) -> Decoded:
    """Parse a trace; ``SimulationError`` names the first malformed part.

    Every input makes at least one step and the start is one, so a trace of
    ``max_steps`` inputs or more is refused before anything is replayed.
    """
    try:
        document = load_json(text, "the trace", max_chars=MAX_TRACE_TEXT)
    except JsonInputError as error:
        raise SimulationError(f"not a simulation trace: invalid JSON ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("trace"), list):
        raise SimulationError('not a simulation trace: expected an object with a "trace" list')
    version = document.get("v", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise SimulationError(
            f"unsupported trace format version {version!r} "
            f"(this pystator reads version {FORMAT_VERSION})"
        )
    context = document.get("context") or {}
    if not isinstance(context, dict):
        raise SimulationError('trace "context" must be an object')
    start = document.get("start")
    if start is not None and not isinstance(start, str):
        raise SimulationError('trace "start" must be a state string')
    entries = document["trace"]
    if len(entries) >= max_steps:
        raise SimulationError(
            f"the trace has {len(entries)} inputs; a simulation is limited to {max_steps} steps "
            "(the start included)"
        )
    return Decoded(context, start, [_entry(i, e) for i, e in enumerate(entries)])


def _entry(index: int, entry: Any) -> Input:
    where = f"trace entry {index}"
    if not isinstance(entry, dict):
        raise SimulationError(f"{where}: expected an object, got {type(entry).__name__}")
    kinds = [k for k in _ENTRY_KINDS if k in entry]
    if len(kinds) != 1:
        raise SimulationError(f'{where}: expected exactly one of "e", "f", "a", "g", "c"')
    expect = entry.get("s")
    if expect is not None and not isinstance(expect, str):
        raise SimulationError(f'{where}: "s" must be a state string')
    return _ENTRY_KINDS[kinds[0]](entry, where, expect)


def _event_entry(entry: dict[str, Any], where: str, expect: str | None) -> Input:
    event, payload, via = entry["e"], entry.get("p") or {}, entry.get("via")
    if not isinstance(event, str) or not event:
        raise SimulationError(f"{where}: the event must be a non-empty string")
    if not isinstance(payload, dict):
        raise SimulationError(f'{where}: "p" (payload) must be an object')
    if via is not None and (not isinstance(via, int) or isinstance(via, bool)):
        raise SimulationError(f'{where}: "via" must be a transition index')
    return Input("event", event=event, payload=payload, via=via, expect=expect)


def _fire_entry(entry: dict[str, Any], where: str, expect: str | None) -> Input:
    return Input("fire", expect=expect)


def _advance_entry(entry: dict[str, Any], where: str, expect: str | None) -> Input:
    to_ms = entry["a"]
    if not isinstance(to_ms, int) or isinstance(to_ms, bool) or to_ms < 0:
        raise SimulationError(f'{where}: "a" must be a clock time in milliseconds')
    return Input("advance", to_ms=to_ms, expect=expect)


def _guard_entry(entry: dict[str, Any], where: str, expect: str | None) -> Input:
    name, outcome = entry["g"], entry.get("v")
    if not isinstance(name, str) or not (outcome is None or isinstance(outcome, bool)):
        raise SimulationError(f'{where}: "g" must be a guard name and "v" true, false or null')
    return Input("guard", guard=name, outcome=outcome)


def _context_entry(entry: dict[str, Any], where: str, expect: str | None) -> Input:
    context = entry["c"]
    if not isinstance(context, dict):
        raise SimulationError(f'{where}: "c" (context) must be an object')
    return Input("context", context=context)


_ENTRY_KINDS: dict[str, Callable[[dict[str, Any], str, str | None], Input]] = {
    "e": _event_entry,
    "f": _fire_entry,
    "a": _advance_entry,
    "g": _guard_entry,
    "c": _context_entry,
}
"""How each kind of trace entry reads, by its key (``e f a g c``, the order they are sought)."""
