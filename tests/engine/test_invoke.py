"""Child machines (``invoke`` with ``src: machine:NAME``) as data: see invoke/*.yaml.

Every case runs through ``step`` and ``async_step``, and every snapshot goes through
its JSON form (``to_dict``/``from_dict``) before the next step, as a store would keep
it: a child that did not survive the round trip would fail the next step's checks.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from pystator import StateMachine
from pystator.config.source import read_source
from pystator.invoked import InvokeError
from pystator.snapshot import Snapshot
from pystator.step import Step

HERE = Path(__file__).parent / "invoke"


def _cases() -> list[Any]:
    out = []
    for path in sorted(HERE.glob("*.yaml")):
        for text in path.read_text(encoding="utf-8").split("\n---\n"):
            doc = read_source(text).data
            for case in doc["cases"]:
                out.append(pytest.param(doc, case, id=f"{path.stem}: {case['name']}"))
    return out


def _bound(doc: dict[str, Any]) -> tuple[StateMachine, dict[str, StateMachine]]:
    machines = {k: StateMachine.from_dict(v) for k, v in doc["machines"].items()}
    parent = machines.pop(doc["machine"])
    return parent.bind_machines(machines), machines


def _run(machine: StateMachine, driver: str, snapshot: Snapshot, event: Any) -> Step:
    if driver == "sync":
        return machine.step(snapshot, event)
    return asyncio.run(machine.async_step(snapshot, event))


def _children(
    machine: StateMachine, machines: dict[str, StateMachine], snapshot: Snapshot
) -> dict[str, str]:
    return {
        inv_id: machines[_child_of(machine, inv_id)].state_string(child.configuration)
        for inv_id, child in snapshot.children.items()
    }


def _child_of(machine: StateMachine, inv_id: str) -> str:
    for state in machine.spec.states:
        for spec in state.invoke:
            if spec.id == inv_id:
                return spec.src.removeprefix("machine:")
    raise AssertionError(inv_id)


def _check(
    machine: StateMachine, machines: dict[str, StateMachine], step: Step, expected: dict[str, Any]
) -> None:
    if "refused" in expected:
        assert step.refusal is not None and step.refusal.code == expected["refused"]
    else:
        assert step.refusal is None, step.refusal
    if "state" in expected:
        assert machine.state_string(step.configuration) == expected["state"]
    if "actions" in expected:
        assert [a.name for a in step.actions] == expected["actions"]
    if "microsteps" in expected:
        assert [m.event for m in step.microsteps] == expected["microsteps"]
    if "children" in expected:
        assert _children(machine, machines, step.snapshot) == expected["children"]
    if "armed" in expected:
        assert [t.trigger for t in step.timers_armed] == expected["armed"]
    if "cancelled" in expected:
        assert [t.trigger for t in step.timers_cancelled] == expected["cancelled"]


@pytest.mark.parametrize("driver", ["sync", "async"])
@pytest.mark.parametrize(("doc", "case"), _cases())
def test_child_machine_case(doc: dict[str, Any], case: dict[str, Any], driver: str) -> None:
    machine, machines = _bound(doc)
    snapshot = machine.start().snapshot
    for expected in case["steps"]:
        snapshot = Snapshot.from_dict(json.loads(json.dumps(snapshot.to_dict())))
        if expected.get("fire"):
            event: Any = snapshot.next_timer  # a child's as the parent sees it (owner)
        else:
            event = expected["event"]
        step = _run(machine, driver, snapshot, event)
        _check(machine, machines, step, expected)
        snapshot = step.snapshot


def _machine(name: str, src: str) -> StateMachine:
    return StateMachine.from_dict(
        {
            "meta": {"machine_name": name, "version": "1"},
            "states": [
                {"name": "a", "type": "initial"},
                {"name": "b", "invoke": [{"id": "kid", "src": src}]},
            ],
            "transitions": [{"trigger": "go", "source": "a", "dest": "b"}],
        }
    )


def test_unknown_child_machine_is_refused_with_a_suggestion() -> None:
    with pytest.raises(InvokeError, match=r"no machine 'paymnet'; did you mean 'payment'\?"):
        _machine("order", "machine:paymnet").bind_machines({"payment": _machine("payment", "svc")})


def test_machines_invoking_each_other_are_refused_with_the_cycle_named() -> None:
    a = _machine("a", "machine:b")
    with pytest.raises(InvokeError, match=r"a -> b -> a"):
        a.bind_machines({"a": a, "b": _machine("b", "machine:a")})
    with pytest.raises(InvokeError, match=r"self -> self"):
        _machine("self", "machine:self").bind_machines({})


CHILD_BY_TYPO = """\
meta: {machine_name: order}
states:
  - {name: a, type: initial}
  - name: b
    invoke:
      - {id: kid, src: "machine:paymnet"}
transitions:
  - {trigger: go, source: a, dest: b}
"""


def test_an_unknown_child_is_located_in_the_file_that_names_it(tmp_path: Path) -> None:
    """Binding happens long after loading: the error says which file and line to open."""
    path = tmp_path / "order.yaml"
    path.write_text(CHILD_BY_TYPO, encoding="utf-8")
    with pytest.raises(InvokeError) as caught:
        StateMachine.from_yaml(path).bind_machines({"payment": _machine("payment", "svc")})
    assert str(caught.value).startswith(f"{path}:6:19: state 'b' of 'order' invokes")
    assert caught.value.context["path"] == "states[1].invoke[0].src"
    # from text there is no file name, still the line and column
    with pytest.raises(InvokeError, match=r"^6:19: state 'b'"):
        StateMachine.from_yaml(CHILD_BY_TYPO).bind_machines({"payment": _machine("payment", "s")})


def test_an_invoke_cycle_is_located_at_the_invoke_that_starts_it(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(CHILD_BY_TYPO.replace("order", "a").replace("paymnet", "b"), "utf-8")
    a = StateMachine.from_yaml(path)
    with pytest.raises(InvokeError, match=rf"^{re.escape(str(path))}:6:19: .* a -> b -> a$"):
        a.bind_machines({"a": a, "b": _machine("b", "machine:a")})


def test_a_service_src_stays_with_the_adapter() -> None:
    """Without ``machine:`` the engine starts nothing: the orchestrator's adapter does."""
    machine = _machine("svc", "payments-service").bind_machines({})
    step = machine.step(machine.start().snapshot, "go")
    assert step.snapshot.children == {}
    assert [m.event for m in step.microsteps] == ["go"]


def test_the_diagram_says_which_machine_a_state_invokes() -> None:
    from pystator.diagram import to_mermaid

    text = to_mermaid(_machine("order", "machine:payment"))
    assert "note right of b : invokes payment" in text
    assert "invokes" not in to_mermaid(_machine("order", "payments-service"))


def test_lint_names_a_self_invocation_at_its_line() -> None:
    from pystator.config import load_spec
    from pystator.lint import lint

    text = (
        "meta: {machine_name: loop, version: '1'}\n"
        "states:\n"
        "  - {name: a, type: initial}\n"
        "  - name: b\n"
        "    invoke: [{id: again, src: 'machine:loop'}]\n"
        "transitions:\n"
        "  - {trigger: go, source: a, dest: b}\n"
    )
    found = [f for f in lint(load_spec(text)) if f.code == "invoke-self"]
    assert len(found) == 1 and found[0].line == 5, found
    assert "invokes its own machine 'loop'" in found[0].message
    other = text.replace("machine:loop", "machine:other")
    assert not [f for f in lint(load_spec(other)) if f.code == "invoke-self"]
