"""``spec_to_dict`` writes each state part only when it says more than the default, in a
fixed order, and ``load_spec`` reads every part back."""

from __future__ import annotations

from typing import Any

from pystator.config import dump_spec, load_spec, spec_to_dict

DEFINITION: dict[str, Any] = {
    "meta": {"machine_name": "m"},
    "states": [
        {
            "name": "work",
            "type": "initial",
            "initial_child": "w1",
            "on_enter": ["arrive"],
            "on_exit": [{"name": "leave", "params": {"k": 1}}],
            "timeout": {"seconds": 2.5, "destination": "done"},
            "invoke": [
                {"id": "job", "src": "runner"},
                {"id": "other", "src": "runner", "on_done": "finished", "params": {"n": 2}},
            ],
            "description": "the busy part",
            "metadata": {"colour": "red"},
        },
        {"name": "w1", "parent": "work"},
        {"name": "w2", "parent": "work"},
        {
            "name": "back",
            "parent": "work",
            "type": "history",
            "history": "deep",
            "default": "w2",
            "default_actions": ["rewind"],
        },
        {"name": "plain_history", "parent": "work", "type": "history"},  # shallow, no default
        {
            "name": "both",
            "type": "parallel",
            "regions": [
                {"name": "left", "initial": "l1", "states": ["l1"], "description": "one side"},
                {"name": "right", "initial": "r1", "states": ["r1"]},
            ],
        },
        {"name": "done", "type": "terminal"},
    ],
    "transitions": [
        {"trigger": "finished", "source": "work", "dest": "done"},
        {"trigger": "split", "source": "work", "dest": "both"},
    ],
}


def test_every_state_part_is_written_in_order() -> None:
    states = spec_to_dict(load_spec(DEFINITION))["states"]
    work, w1, _, back, plain_history, both = states[:6]
    assert list(work) == [
        "name",
        "type",
        "initial_child",
        "on_enter",
        "on_exit",
        "timeout",
        "invoke",
        "description",
        "metadata",
    ]
    assert work["invoke"] == DEFINITION["states"][0]["invoke"]
    assert work["metadata"] == {"colour": "red"}
    assert w1 == {"name": "w1", "parent": "work"}
    assert back == {
        "name": "back",
        "type": "history",
        "parent": "work",
        "history": "deep",
        "default": "w2",
        "default_actions": ["rewind"],
    }
    assert plain_history == {
        "name": "plain_history",
        "type": "history",
        "parent": "work",
        "history": "shallow",
    }
    assert both["regions"][0]["description"] == "one side"
    assert "description" not in both["regions"][1]


def test_the_dump_loads_back_to_an_equal_spec() -> None:
    spec = load_spec(DEFINITION)
    again = load_spec(dump_spec(spec))
    # A history without a kind is written as the shallow one it is; the rest is equal.
    assert [s.history for s in again.states if s.is_history] == ["deep", "shallow"]
    assert again.states[:4] == spec.states[:4] and again.states[5:] == spec.states[5:]
    assert again.transitions == spec.transitions
