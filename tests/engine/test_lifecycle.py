"""A machine is plain data: dropping it frees it at once, and its transitions are numbered."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from pystator import StateMachine

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


@pytest.fixture
def no_cycle_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_a_dropped_machine_is_freed_without_the_cycle_collector(
    path: Path, no_cycle_collector: None
) -> None:
    machine = StateMachine.from_yaml(path)
    state = machine.initial_state_string()
    for trigger in sorted(machine.triggers):  # fill the lazily computed tables too
        result = machine.process(state, trigger, {})
        if result.success:
            state = result.target_state
    machine.get_available_transitions(state)
    ref, spec = weakref.ref(machine), weakref.ref(machine.spec)
    del machine, result
    assert ref() is None, "the machine is held by a reference cycle"
    # The spec, its states and transitions and the chart go with it: garbage left for
    # the collector would make every next build allocate fresh memory.
    assert spec() is None, "the spec is held by a reference cycle (spec <-> chart?)"


def test_transition_index_follows_the_definition_with_timeouts_last() -> None:
    machine = StateMachine.from_dict(
        {
            "states": [
                {"name": "a", "type": "initial", "timeout": {"seconds": 1, "destination": "b"}},
                {"name": "b"},
            ],
            "transitions": [
                {"trigger": "go", "source": "a", "dest": "b"},
                {"trigger": "back", "source": "b", "dest": "a"},
            ],
        }
    )
    assert [machine.transition_index(t) for t in machine.transitions] == [0, 1]
    (timeout,) = machine.delayed_transitions("a")
    assert machine.transition_index(timeout) == 2
    stranger = StateMachine.from_dict({"states": [{"name": "a"}]})
    with pytest.raises(ValueError, match="not a transition of this machine"):
        stranger.transition_index(machine.transitions[0])


def test_transition_key_names_where_each_transition_is_written() -> None:
    machine = StateMachine.from_dict(
        {
            "states": [
                {"name": "a", "type": "initial"},
                {"name": "b", "timeout": {"seconds": 1, "destination": "a"}},
                {"name": "c"},
                {"name": "d", "timeout": {"seconds": 2, "destination": "c"}},
            ],
            "transitions": [{"trigger": "go", "source": "a", "dest": "b"}],
        }
    )
    keys = [machine.transition_key(i) for i in range(len(machine.all_transitions))]
    assert keys == ["transitions[0]", "states[1].timeout", "states[3].timeout"]
    (late,) = machine.delayed_transitions("d")
    assert machine.transition_key(machine.transition_index(late)) == "states[3].timeout"
