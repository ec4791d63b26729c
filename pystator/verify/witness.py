"""A counterexample as a pytest file that fails: the run, then the property it breaks.

The file is the simulator's pytest export of the run (``export_pytest``: the machine's
YAML, the recorded steps, and a test that replays them through ``machine.process``
and asserts every state) with one more test appended. That test reads the states
the replay test proved, and asserts the property ``pystator check`` found broken:

* ``never``: no recorded state has all the states of the set active;
* ``unreachable``: replaying the events, no step enters the state;
* ``deadlock`` (and ``always-eventually`` ending where the machine stops): some event
  moves the machine on from the last state, with any context the run used and
  every named guard true (the checker found none with any outcome);
* ``livelock``: the last event, sent again, succeeds;
* ``always-eventually``: every window of N+1 recorded states has the state active;
* ``cannot-finish``: from the last state, the states that events can lead to (with
  the run's contexts, named guards true, timers left out) include a terminal or
  final one.

Each of these is computed by the test itself from the machine, never written in as
a result, so the test fails for as long as the bug is there and passes once it is
fixed.
"""

from __future__ import annotations

import re
from typing import Any

from pystator.verify.run import Run

__all__ = ["failing_pytest"]


def failing_pytest(
    run: Run,
    yaml_text: str,
    code: str,
    message: str,
    detail: dict[str, Any],
    file_name: str | None = None,
) -> str:
    """The run's pytest export plus a test asserting the property (module docstring)."""
    exported = run.pytest(yaml_text, file_name)
    body = _BODIES[_body_for(code, detail)].format(
        states=repr(detail.get("states")),
        state=repr(detail.get("state")),
        within=detail.get("within", 0),
    )
    contexts = _contexts(run)
    name = "test_" + re.sub(r"\W+", "_", code).strip("_") + "_holds"
    return exported + _APPENDIX.format(
        property=repr(message), contexts=contexts, name=name, body=body.rstrip() + "\n"
    )


def _body_for(code: str, detail: dict[str, Any]) -> str:
    if code == "always-eventually":
        return "stops" if detail.get("stopped") else "window"
    if code == "deadlock":
        return "stops"
    return code


def _contexts(run: Run) -> str:
    seen: list[dict[str, Any]] = [{}]
    for move in run.moves:
        context = dict(move.context)
        if context not in seen:
            seen.append(context)
    return "[\n" + "".join(f"    {c!r},\n" for c in seen) + "]"


_APPENDIX = '''

# Appended by pystator check: the property the run above breaks. This test fails
# for as long as the machine lets the run happen.

PROPERTY = {property}

# The contexts the run used: the events below are tried with each.
CONTEXTS = {contexts}


def _states():
    """The state after the start and after each recorded event."""
    return [START] + [step["state"] for step in STEPS if "state" in step]


def _context_at_end():
    context = dict(INITIAL_CONTEXT)
    for step in STEPS:
        if "context" in step:
            context = dict(step["context"])
    return context


def _finished(machine, state):
    active = machine.configuration_of(state)
    leaves = [s for s in active if not set(machine.children(s)) & active]
    return all(machine.is_terminal(s) or machine.get_state(s).is_final for s in leaves)


def _events(machine):
    """The events a host sends (timers, eventless transitions and done events left out)."""
    return sorted(
        {{
            t.trigger
            for t in machine.all_transitions
            if not (t.is_delayed or t.eventless or t.trigger.startswith("done.state."))
        }}
    )


def _all_true(machine):
    registry = GuardRegistry()
    for name in sorted(machine.named_guards):
        registry.register(name, lambda context: True)
    return registry


def {name}():
    """{{PROPERTY}}"""
    machine = StateMachine.from_yaml(MACHINE_YAML)
{body}'''

_BODIES = {
    "never": """\
    together = set({states})
    for number, state in enumerate(_states()):
        active = machine.configuration_of(state)
        assert not together <= active, f"{{PROPERTY}} (state {{number}} of the run: {{state!r}})"
""",
    "unreachable": """\
    queue = []
    machine.bind_guards(_recorded_guards(queue))
    state, context = START, dict(INITIAL_CONTEXT)
    assert {state} not in machine.configuration_of(state), f"{{PROPERTY}} (at the start)"
    for step in STEPS:
        if "context" in step:
            context = dict(step["context"])
            continue
        queue[:] = step.get("guards", [])
        result = machine.process(state, Event(step["event"], step.get("payload", {{}})), context)
        entered = set(result.entered_states) | set(result.configuration or ())
        assert {state} not in entered, f"{{PROPERTY}} (step {{step['step']}}: {{step['event']!r}})"
        if result.success:
            state = result.target_state
""",
    "stops": """\
    state = _states()[-1]
    machine.bind_guards(_all_true(machine))
    moved = [
        event
        for event in _events(machine)
        for context in CONTEXTS
        if machine.process(state, event, context).transitions
    ]
    assert _finished(machine, state) or moved, f"{{PROPERTY}}: no event moves {{state!r}} on"
""",
    "livelock": """\
    event = [step for step in STEPS if "event" in step][-1]
    queue = list(event.get("guards", []))
    machine.bind_guards(_recorded_guards(queue))
    result = machine.process(
        _states()[-1], Event(event["event"], event.get("payload", {{}})), _context_at_end()
    )
    assert result.success, f"{{PROPERTY}}: {{result.error}}"
""",
    "window": """\
    within = {within}
    states = _states()
    for first in range(len(states) - within):
        window = states[first : first + within + 1]
        assert any({state} in machine.configuration_of(s) for s in window), (
            f"{{PROPERTY}}: states {{first}} to {{first + within}} of the run: {{window}}"
        )
""",
    "cannot-finish": """\
    machine.bind_guards(_all_true(machine))
    start = _states()[-1]
    seen, todo = {{start}}, [start]
    while todo:
        state = todo.pop()
        for event in _events(machine):
            for context in CONTEXTS:
                result = machine.process(state, event, context)
                if result.success and result.target_state not in seen:
                    seen.add(result.target_state)
                    todo.append(result.target_state)
    reached = sorted(seen)
    assert any(_finished(machine, s) for s in seen), f"{{PROPERTY}}: from {{start!r}}: {{reached}}"
""",
}
