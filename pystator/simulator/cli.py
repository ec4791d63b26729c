"""The text face of the simulator, behind ``pystator simulate FILE --events "a,b,+5s,c"``.

Tokens, separated by commas:

* ``name`` sends the event ``name``;
* ``name->DEST`` sends it taking the choice that goes to ``DEST`` (for named
  guards nobody decides);
* ``+5s``, ``+500ms``, ``+1m`` (or ``+250``, milliseconds) advance the clock,
  firing the timers that fall due;
* ``!`` fires the next pending timer;
* ``?guard=true`` / ``?guard=false`` / ``?guard=unset`` fixes a named guard.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pystator.durations import format_duration
from pystator.machine import StateMachine
from pystator.simulator.simulation import Simulation
from pystator.simulator.values import ExecutedAction, SimulationError, Step, Timer

__all__ = ["describe_step", "parse_events", "simulate_cli"]

_OUTCOMES = {"true": True, "false": False, "unset": None}


def simulate_cli(
    machine: StateMachine, events: str, context: Mapping[str, Any] | None = None
) -> str:
    """Run ``events`` on ``machine`` and return the report: every step, then the end state.

    Raises ``SimulationError`` naming the token that could not be applied.
    """
    sim = Simulation(machine, context)
    for number, token in enumerate(parse_events(events), 1):
        try:
            _apply(sim, token)
        except SimulationError as error:
            raise SimulationError(f"token {number} ({token!r}): {error}") from None
    mode = "strict" if machine.strict_mode else "non-strict"
    lines = [f"machine {machine.name} ({mode} mode)"]
    for step in sim.steps:
        lines.extend(describe_step(step))
    lines.append(f"final state: {sim.state}")
    lines.append(f"configuration: {', '.join(_ordered(machine, sim.configuration))}")
    lines.append(f"clock: {format_duration(sim.clock_ms)}")
    timers = "; ".join(_timer(t) for t in sim.pending_timers) or "none"
    lines.append(f"pending timers: {timers}")
    return "\n".join(lines) + "\n"


def parse_events(events: str) -> list[str]:
    """The non-blank comma-separated tokens of ``events``."""
    return [token.strip() for token in events.split(",") if token.strip()]


def _apply(sim: Simulation, token: str) -> None:
    if token == "!":
        sim.fire_next_timer()
    elif token.startswith("+"):
        sim.advance(token[1:])
    elif token.startswith("?"):
        name, sep, value = token[1:].partition("=")
        if not sep or value.strip().lower() not in _OUTCOMES:
            raise SimulationError("write a guard as ?name=true, ?name=false or ?name=unset")
        sim.set_guard(name.strip(), _OUTCOMES[value.strip().lower()])
    elif "->" in token:
        event, _, dest = token.partition("->")
        sim.send(event.strip(), via=dest.strip())
    else:
        sim.send(token)


def describe_step(step: Step) -> list[str]:
    """A step as report lines: a head line, then what it exited, entered, ran and armed."""
    at = format_duration(step.clock_ms)
    if step.kind == "start":
        head = f"[{step.index}] start in {step.state}"
    elif step.kind in ("event", "timer"):
        what = f"timer {step.event}" if step.kind == "timer" else f"event {step.event}"
        if step.payload:
            what += " " + json.dumps(dict(step.payload), sort_keys=True)
        if step.reason is not None:
            head = f"[{step.index}] {at} {what}: nothing happened: {step.reason}"
        else:
            head = f"[{step.index}] {at} {what}: {', '.join(step.transitions)}"
    else:
        head = f"[{step.index}] {step.summary}"
    lines = [head]
    for micro in step.chain:
        lines.append(f"    microstep: {micro}")
    if step.exited:
        lines.append(f"    exited: {', '.join(step.exited)}")
    if step.entered:
        lines.append(f"    entered: {', '.join(step.entered)}")
    if step.actions:
        lines.append(f"    actions: {'; '.join(_action(a) for a in step.actions)}")
    if step.timers_cancelled:
        lines.append(f"    timers cancelled: {'; '.join(_timer(t) for t in step.timers_cancelled)}")
    if step.timers_armed:
        lines.append(f"    timers armed: {'; '.join(_timer(t) for t in step.timers_armed)}")
    for change in step.context_changes:
        lines.append(
            f"    context {change.key}: {_json(change.before)} -> {_json(change.after)}"
            if change.change == "changed"
            else f"    context {change.key} {change.change}"
        )
    return lines


def _action(action: ExecutedAction) -> str:
    params = f" {_json(dict(action.params))}" if action.params else ""
    owner = f" {action.owner}" if action.owner else ""
    return f"{action.name}{params} ({action.phase}{owner})"


def _timer(timer: Timer) -> str:
    return f"{timer.trigger} -> {timer.dest} at {format_duration(timer.due_ms)}"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _ordered(machine: StateMachine, states: frozenset[str]) -> list[str]:
    return sorted(states, key=machine.document_order)
