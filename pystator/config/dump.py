"""Spec -> plain dict -> YAML, such that loading the output gives an equal spec."""

from __future__ import annotations

from typing import Any

import yaml

from pystator.config.loader import implicit_trigger
from pystator.model import MachineSpec, State, StateType, Transition

__all__ = ["dump_spec", "spec_to_dict"]


def _state(state: State) -> dict[str, Any]:
    """A state's entry, each key only when it says more than the default (in the order a
    person writes them)."""
    out: dict[str, Any] = {"name": state.name}
    if state.type is not StateType.STABLE:
        out["type"] = state.type.value
    for key, name in (("parent", state.parent), ("initial_child", state.initial_child)):
        if name is not None:
            out[key] = name
    if state.regions:
        out["regions"] = _regions(state)
    for key, actions in (("on_enter", state.on_enter), ("on_exit", state.on_exit)):
        if actions:
            out[key] = [a.to_config() for a in actions]
    if state.timeout is not None:
        out["timeout"] = {
            "seconds": state.timeout.seconds,
            "destination": state.timeout.destination,
        }
    if state.invoke:
        out["invoke"] = _invoke(state)
    if state.description:
        out["description"] = state.description
    if state.metadata:
        out["metadata"] = dict(state.metadata)
    if state.is_history:
        out.update(_history(state))
    return out


def _regions(state: State) -> list[dict[str, Any]]:
    return [
        {
            "name": r.name,
            "initial": r.initial,
            "states": list(r.states),
            **({"description": r.description} if r.description else {}),
        }
        for r in state.regions
    ]


def _invoke(state: State) -> list[dict[str, Any]]:
    return [
        {
            "id": v.id,
            "src": v.src,
            **({"on_done": v.on_done} if v.on_done else {}),
            **({"params": dict(v.params)} if v.params else {}),
            **({"autoforward": True} if v.autoforward else {}),
        }
        for v in state.invoke
    ]


def _history(state: State) -> dict[str, Any]:
    """A history state's kind, and its default with that default's actions."""
    out: dict[str, Any] = {"history": state.history or "shallow"}
    if state.default is not None:
        out["default"] = state.default
    if state.default_actions:
        out["default_actions"] = [a.to_config() for a in state.default_actions]
    return out


def _transition(t: Transition) -> dict[str, Any]:
    sources = list(t.sources_in_order)
    out: dict[str, Any] = {}
    implicit = (
        t.after is not None
        and len(sources) == 1
        and t.trigger == implicit_trigger(sources[0], t.after)
    )
    if t.eventless:
        out["always"] = True
    elif not implicit:
        out["trigger"] = t.trigger
    out["source"] = sources[0] if len(sources) == 1 else sources
    out["dest"] = t.dest
    if t.region is not None:
        out["region"] = t.region
    if t.after is not None:
        out["after"] = t.after
    if t.kind is not None:
        out["kind"] = t.kind
    if t.guards:
        out["guards"] = [g.to_config() for g in t.guards]
    if t.actions:
        out["actions"] = [a.to_config() for a in t.actions]
    if t.description:
        out["description"] = t.description
    if t.metadata:
        out["metadata"] = dict(t.metadata)
    return out


def spec_to_dict(spec: MachineSpec) -> dict[str, Any]:
    """The long-form definition of ``spec`` (every state entry written out)."""
    meta: dict[str, Any] = {
        "version": spec.meta.version,
        "machine_name": spec.meta.machine_name,
        "strict_mode": spec.meta.strict_mode,
    }
    if spec.meta.event_normalizer:
        meta["event_normalizer"] = spec.meta.event_normalizer
    if spec.meta.event_matching != "exact":
        meta["event_matching"] = spec.meta.event_matching
    if spec.meta.description:
        meta["description"] = spec.meta.description
    out: dict[str, Any] = {"meta": meta}
    if spec.data:
        out["data"] = {d.name: d.to_config() for d in spec.data}
    out |= {
        "states": [_state(s) for s in spec.states],
        "transitions": [_transition(t) for t in spec.transitions],
    }
    policy = spec.error_policy
    if policy.default_fallback is not None or policy.retry_attempts:
        out["error_policy"] = {
            **({"default_fallback": policy.default_fallback} if policy.default_fallback else {}),
            "retry_attempts": policy.retry_attempts,
        }
    return out


def dump_spec(spec: MachineSpec) -> str:
    """YAML text for ``spec``; ``load_spec`` of it gives an equal spec."""
    return yaml.safe_dump(spec_to_dict(spec), sort_keys=False, allow_unicode=True, width=100)
