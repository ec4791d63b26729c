"""Turn a simulation run into something that outlives it: a JSON scenario or a pytest file.

The pytest file is standalone: it embeds the machine's YAML, loads it with
``StateMachine.from_yaml`` and replays the run through the public API only
(``machine.start`` and ``machine.step``, from snapshot to snapshot), asserting the
state string after every event. Stepping snapshots rather than state strings carries
history, the machine's own variables and pending timers from event to event as the
run did; each recorded timer fires as the pending timer with its trigger, when due.
Named guards get the outcomes the run recorded, from a ``GuardRegistry`` that hands them out in the
order the engine asks for them, so the test checks the machine's structure and
``expr`` guards, not the application's guard functions.
"""

from __future__ import annotations

import pprint
import re
from pathlib import Path
from typing import Any

from pystator.errors import PystatorError
from pystator.machine import StateMachine
from pystator.simulator.simulation import Simulation
from pystator.simulator.values import SimulationError

__all__ = ["export_pytest", "export_trace_json"]


def export_trace_json(sim: Simulation) -> str:
    """The run as a readable JSON scenario; ``Simulation.from_json`` reads it back."""
    return sim.to_json(indent=2) + "\n"


def export_pytest(
    sim: Simulation,
    yaml_path_or_text: str | Path,
    machine_file_name: str | None = None,
) -> str:
    """A self-contained pytest module that replays ``sim`` against the YAML it was run on.

    ``yaml_path_or_text`` is the machine's YAML text (a multi-line string) or the path
    of its file; ``machine_file_name`` names it in the test's docstring. The YAML must
    describe the simulated machine: the run is replayed on it first, and a
    ``SimulationError`` says where it would fail, so no red test is ever exported.
    """
    text, name = _yaml_text(yaml_path_or_text)
    file_name = machine_file_name or name
    try:
        machine = StateMachine.from_yaml(text)
    except PystatorError as error:
        raise SimulationError(f"the YAML to export does not load: {error}") from None
    if sim.machine.guard_registry is not None:  # the run's guards decide the check replay too
        machine.bind_guards(sim.machine.guard_registry)
    replayed = Simulation.from_json(machine, sim.to_json())
    if replayed.divergence is not None:
        raise SimulationError(
            f"the run does not replay on this YAML ({replayed.divergence}); "
            "export it with the YAML it was simulated on"
        )
    return _render(file_name, machine.name, text, sim)


def _yaml_text(source: str | Path) -> tuple[str, str]:
    if isinstance(source, str) and "\n" in source:
        return source, "machine.yaml"
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8"), path.name
    except OSError as error:
        raise SimulationError(f"cannot read the machine file {str(path)!r}: {error}") from None


def _steps(sim: Simulation) -> list[dict[str, Any]]:
    """The run as the test replays it: context edits and events with their outcomes."""
    out: list[dict[str, Any]] = []
    context = sim.initial_context
    for step in sim.steps:
        if step.kind == "context":
            for change in step.context_changes:
                if change.change == "removed":
                    del context[change.key]
                else:
                    context[change.key] = change.after
            out.append({"step": step.index, "context": dict(context)})
        elif step.kind in ("event", "timer"):
            entry: dict[str, Any] = {"step": step.index, "kind": step.kind, "event": step.event}
            if step.payload:
                entry["payload"] = dict(step.payload)
            named = [[c.guard, c.passed] for c in step.guards if c.is_named]
            if named:
                entry["guards"] = named
            entry["success"] = step.success
            entry["state"] = step.state
            entry["clock_ms"] = step.clock_ms
            out.append(entry)
    return out


def _python_string(text: str) -> str:
    """``text`` as a readable Python literal (a raw triple-quoted string when that is exact)."""
    if (
        '"""' not in text
        and not text.endswith(("\\", '"'))
        and all(c.isprintable() or c in "\n\t" for c in text)
    ):
        return 'r"""' + text + '"""'
    return repr(text)


def _identifier(name: str) -> str:
    cleaned = re.sub(r"\W+", "_", name).strip("_").lower()
    return cleaned if cleaned and not cleaned[0].isdigit() else f"machine_{cleaned}"


def _render(file_name: str, machine_name: str, yaml_text: str, sim: Simulation) -> str:
    steps = _steps(sim)
    events = sum(1 for s in steps if "event" in s)
    data = "[\n" + "".join(f"    {step!r},\n" for step in steps) + "]"
    context = pprint.pformat(sim.initial_context, width=96, sort_dicts=False)
    return _TEMPLATE.format(
        file_name=file_name,
        events=events,
        yaml=_python_string(yaml_text),
        start=repr(sim.steps[0].state),
        start_guards=repr([[c.guard, c.passed] for c in sim.steps[0].guards if c.is_named]),
        context=context,
        steps=data,
        test_name=f"test_{_identifier(machine_name)}_replays_recorded_run",
    )


_TEMPLATE = '''"""Replay of a pystator simulation run on {file_name} ({events} events).

Generated by pystator.simulator.export_pytest: it loads the machine below with
StateMachine.from_yaml and replays the run with machine.start() and machine.step(),
asserting the state after every event. Named guards return the outcomes recorded in the run.
Regenerate it from the designer rather than editing it by hand.
"""

from pystator import Event, GuardRegistry, StateMachine

MACHINE_YAML = {yaml}

START = {start}

START_GUARDS = {start_guards}

INITIAL_CONTEXT = {context}

STEPS = {steps}


def _recorded_guards(queue):
    """A registry whose guards answer from ``queue``, in the order the engine asks."""
    registry = GuardRegistry()

    def guard(name):
        def check(context):
            assert queue, f"the engine asked guard {{name!r}}, which the run did not record"
            asked, outcome = queue.pop(0)
            assert asked == name, f"the engine asked guard {{name!r}}, the run recorded {{asked!r}}"
            return outcome

        return check

    recorded = [START_GUARDS, *(step.get("guards", []) for step in STEPS)]
    names = {{g for guards in recorded for g, _ in guards}}
    for name in sorted(names):
        registry.register(name, guard(name))
    return registry


def {test_name}():
    machine = StateMachine.from_yaml(MACHINE_YAML)
    queue = []
    machine.bind_guards(_recorded_guards(queue))
    context = dict(INITIAL_CONTEXT)
    queue[:] = START_GUARDS
    snapshot = machine.start(context).snapshot
    assert not queue, f"start: recorded guards were not asked: {{queue}}"
    state = machine.state_string(snapshot.configuration)
    assert state == START
    for step in STEPS:
        if "context" in step:
            context = dict(step["context"])
            continue
        queue[:] = step.get("guards", [])
        where = f"step {{step['step']}} ({{step['kind']}} {{step['event']!r}} from {{state!r}})"
        if step["kind"] == "timer":
            due = [t for t in snapshot.timers if t.trigger == step["event"]]
            assert due, f"{{where}}: no timer {{step['event']!r}} is pending"
            timer = min(due, key=lambda t: (t.due_ms, t.id))
            result = machine.step(snapshot, timer, context, now=timer.due_ms)
        else:
            event = Event(step["event"], step.get("payload", {{}}))
            result = machine.step(snapshot, event, context, now=step["clock_ms"])
        assert not queue, f"{{where}}: recorded guards were not asked: {{queue}}"
        assert result.success is step["success"], f"{{where}}: {{result.refusal}}"
        snapshot = result.snapshot
        state = machine.state_string(snapshot.configuration)
        assert state == step["state"], f"{{where}}: expected {{step['state']!r}}, got {{state!r}}"
'''
