"""The fast build path: what it hands to the schema, and what ``finish`` fills in.

``build_plain`` must refuse (return ``None``) every item it cannot judge as the schema
would, so that the schema gives its own located message; and ``finish`` must place
region states and marked initial children the same whichever path built the draft.
"""

from __future__ import annotations

from typing import Any

import pytest

from pystator.config import load_spec
from pystator.config.build import build_plain
from pystator.errors import ConfigError
from pystator.model import Location
from tests.engine.test_build_paths import both

A = [{"name": "a"}]


@pytest.mark.parametrize(
    ("transitions", "words"),
    [
        (["a -> a"], "transitions[0]"),
        ([{"trigger": "t", "source": "a", "dest": ""}], "dest"),
        ([{"trigger": "t", "source": "a", "dest": 3}], "dest"),
        ([{"trigger": "", "source": "a", "dest": "a"}], "trigger"),
        ([{"trigger": "t", "source": "", "dest": "a"}], "source"),
        ([{"trigger": "timeout:a", "source": "a", "dest": "a"}], "trigger"),
    ],
    ids=["not a mapping", "empty dest", "number dest", "empty trigger", "empty source",
         "a timeout's name"],
)  # fmt: skip
def test_the_schema_judges_what_the_fast_path_cannot(transitions: list[Any], words: str) -> None:
    definition = {"states": A, "transitions": transitions}
    assert build_plain(definition) is None
    with pytest.raises(ConfigError) as caught:
        load_spec(definition)
    assert any(words in str(issue) for issue in caught.value.issues), caught.value.issues


@pytest.mark.parametrize(
    "transitions",
    [
        [{"trigger": "t", "source": ["a", "b"], "dest": "a"}, {"trigger": "u", "source": "b",
                                                                "dest": "a"}],
        [{"source": "a", "dest": "b", "after": 100}, {"trigger": "t", "source": "b", "dest": "a"}],
        [{"source": "a", "dest": "b", "after": 100, "trigger": "after:100ms:a"}],
        [{"trigger": "t", "source": "a", "dest": "b", "guards": ["g"], "actions": ["x"]}],
        [{"trigger": "t", "source": "a", "dest": "b", "metadata": {"k": 1}}],
    ],
    ids=["several sources", "a timer names itself", "a timer's own name", "options", "model keys"],
)  # fmt: skip
def test_both_paths_build_the_same_transitions(transitions: list[Any]) -> None:
    definition = {"states": [{"name": "a"}, {"name": "b"}], "transitions": transitions}
    assert build_plain(definition) is not None
    fast, slow = both(definition)
    assert fast == slow
    assert load_spec(definition).transitions == slow.transitions


def test_a_number_for_a_trigger_is_the_schemas_to_read() -> None:
    definition = {"states": A, "transitions": [{"trigger": 5, "source": "a", "dest": "a"}]}
    assert build_plain(definition) is None
    assert load_spec(definition).transitions[0].trigger == "5"


def test_several_sources_keep_their_written_order() -> None:
    spec = load_spec(
        {
            "states": [{"name": "a"}, {"name": "b"}],
            "transitions": [{"trigger": "t", "source": ["b", "a"], "dest": "a"}],
        }
    )
    assert spec.transitions[0].sources_in_order == ("b", "a")
    assert spec.transitions[0].metadata == {}, "the order is not the user's metadata"


def _regions(declared: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "states": [
            {
                "name": "p",
                "type": "parallel",
                "regions": [
                    {"name": "r1", "initial": "x1", "states": ["x1", "x2"]},
                    {"name": "r2", "initial": "y1", "states": ["y1"]},
                ],
            },
            *declared,
        ]
    }


def test_undeclared_region_states_are_added_after_the_declared_ones() -> None:
    definition = _regions([{"name": "x2", "on_enter": ["hello"]}])
    fast, slow = both(definition)
    assert fast == slow
    assert [(s.name, s.parent) for s in slow.states] == [
        ("p", None),
        ("x2", "p"),  # declared without a parent: it gets its parallel state
        ("x1", "p"),
        ("y1", "p"),
    ]


def test_added_region_states_are_located_where_the_region_names_them() -> None:
    spec = load_spec(
        "states:\n"
        "  - name: p\n"
        "    type: parallel\n"
        "    regions:\n"
        "      - {name: r1, initial: x1, states: [x1]}\n"
        "      - {name: r2, initial: y1, states: [y1]}\n"
    )
    names = [s.name for s in spec.states]
    assert names == ["p", "x1", "y1"]
    assert spec.locations["states[1]"] == Location(5, 42)
    assert spec.locations["states[2]"] == Location(6, 42)


def _child(name: str, kind: str = "stable") -> dict[str, Any]:
    return {"name": name, "parent": "c", "type": kind}


@pytest.mark.parametrize(
    ("children", "initial"),
    [
        ([_child("c1"), _child("c2", "initial")], "c2"),
        ([_child("c1", "initial"), _child("c2", "initial")], None),
        ([_child("c1"), _child("c2")], None),
    ],
    ids=["one marked", "two marked", "none marked"],
)  # fmt: skip
def test_one_child_marked_initial_is_the_initial_child(
    children: list[dict[str, Any]], initial: str | None
) -> None:
    definition = {"states": [{"name": "c"}, *children]}
    fast, slow = both(definition)
    assert fast == slow
    assert slow.states[0].initial_child == initial
