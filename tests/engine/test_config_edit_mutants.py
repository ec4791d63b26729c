"""Mutation survivors of ``pystator/config/edit.py``: the exact text each structured edit
writes (new entries in their neighbours' layout, quoting, what goes and what stays on a
delete), the references it reports, and every refusal word for word."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import yaml

from pystator.config import load_spec
from pystator.config.edit import (
    EditError,
    add_state,
    add_transition,
    delete_state,
    rename_state,
    state_references,
)


def names(text: str) -> list[str]:
    """The state names of ``text`` as the loader reads them (so the text loads)."""
    return [state.name for state in load_spec(text).states]


def listed(text: str) -> list[str]:
    """The state names of ``text`` read as plain YAML, for a text the edit leaves unfinished
    (a dangling ``initial``, which the live check then points at)."""
    return [state["name"] for state in yaml.safe_load(text)["states"]]


# --------------------------------------------------------------------------- refusals

NO_STATES_YET = "states: []\n"
THIRTEEN = "states:\n" + "".join(f"  - name: s{i}\n" for i in range(13))
PARENT_OF_TWO = """\
states:
  - name: p
    initial_child: c1
  - name: c1
    parent: p
  - name: c2
    parent: p
"""
UNNAMED = """\
states:
  - name: ''
  - name: a
"""


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda: add_state("states:\n  - name: a\n", "  "), "A state needs a name."),
        (
            lambda: add_state("states:\n  - name: a\n", "a\tb"),
            "A state name is one line of printable characters.",
        ),
        (
            lambda: add_state("states:\n  - name: a\n", "bell\x07"),
            "A state name is one line of printable characters.",
        ),
        (
            lambda: add_state("states: [a]\x07\n", "x"),
            "The text is not valid YAML, so it cannot be edited from the diagram; "
            "fix it in the editor first.",
        ),
        (
            lambda: add_state("states:\n  - {name: [\n", "x"),
            "The text is not valid YAML (line 3, column 1), so it cannot be edited from "
            "the diagram; fix it in the editor first.",
        ),
        (
            lambda: add_state("states: [a]\x00\n", "x"),
            "The text contains NUL characters: it looks like a binary file, not YAML.",
        ),
        (
            lambda: add_state("- a\n", "x"),
            "The text is not a machine definition (a mapping with states).",
        ),
        (
            lambda: add_state("states: {}\n", "x"),
            "The machine has no list of states to add to.",
        ),
        (
            lambda: add_state("states:\n  - name: a\n", "x", region="left"),
            "Regions belong to a parallel state; name it (not '').",
        ),
        (
            lambda: add_state(UNNAMED, "x", region="left"),
            "Regions belong to a parallel state; name it (not '').",
        ),
        (
            lambda: add_state("states:\n  - name: a\n", "x", parent="a", region="left"),
            "State 'a' has no region 'left' (its regions: none).",
        ),
        (
            lambda: add_transition("states:\n  - name: a\n", "a", "a", " "),
            "A transition needs an event name (its trigger).",
        ),
        (
            lambda: add_transition("states:\n  - name: a\n", "b", "a", "go"),
            "There is no source state 'b' in this machine (its states: a).",
        ),
        (
            lambda: add_transition(NO_STATES_YET, "a", "a", "go"),
            "There is no source state 'a' in this machine (its states: none yet).",
        ),
        (
            lambda: add_transition(THIRTEEN, "s0", "s13", "go"),
            "There is no target state 's13' in this machine (its states: "
            + ", ".join(f"s{i}" for i in range(12))
            + ").",
        ),
        (
            lambda: add_transition("states:\n  - name: a\ntransitions: {}\n", "a", "a", "go"),
            "The machine's transitions are not a list to add to.",
        ),
        (
            lambda: add_transition("states:\n  - name: a\ntransitions: 3\n", "a", "a", "go"),
            "The machine's transitions are not a list to add to.",
        ),
        (
            lambda: delete_state(PARENT_OF_TWO, "p"),
            "State 'p' has child states (c1, c2); delete or move them first.",
        ),
    ],
)
def test_a_refused_edit_says_exactly_why(edit: Callable[[], str], message: str) -> None:
    with pytest.raises(EditError) as refused:
        edit()
    assert str(refused.value) == message


def test_a_name_with_capital_x_is_an_ordinary_name() -> None:
    assert add_state("states:\n  - name: a\n", "XRAY") == ("states:\n  - name: a\n  - name: XRAY\n")


# --------------------------------------------------------------------------- add_state


@pytest.mark.parametrize(
    ("text", "after"),
    [
        # An empty flow list gets its first entry inside the brackets.
        (NO_STATES_YET, "states: [{name: new}]\n"),
        # A flow list gets the new entry after its last one, however many there are.
        (
            "states: [{name: a}, {name: b}, {name: c}]\n",
            "states: [{name: a}, {name: b}, {name: c}, {name: new}]\n",
        ),
        # No newline at the end: the entry still goes after the last line.
        ("states:\n  - name: a", "states:\n  - name: a\n  - name: new"),
        # A dash further on in the text does not move the new entry's dash.
        (
            "states:\n  - name: a\n# see-also: the desk's notes\n",
            "states:\n  - name: a\n  - name: new\n# see-also: the desk's notes\n",
        ),
        # The entry's dash alone on its line: the new dash goes where that one is.
        ("states:\n  -\n    name: a\n", "states:\n  -\n    name: a\n  - name: new\n"),
        ("states:\n-\n  name: a\n", "states:\n-\n  name: a\n- name: new\n"),
        # A block scalar's trailing blank lines and the comment after it stay after it.
        (
            "states:\n  - name: a\n    description: |\n      waits\n\n\n  # later\n"
            "transitions: []\n",
            "states:\n  - name: a\n    description: |\n      waits\n  - name: new\n\n\n"
            "  # later\ntransitions: []\n",
        ),
        (
            "states:\n  - name: a\n    description: |\n      x\n# later\n",
            "states:\n  - name: a\n    description: |\n      x\n  - name: new\n# later\n",
        ),
        # A plain scalar over two lines: the entry goes after its second line.
        (
            "states:\n  - name: a\n    description: waits\n      X\n# later\n",
            "states:\n  - name: a\n    description: waits\n      X\n  - name: new\n# later\n",
        ),
    ],
)
def test_add_state_writes_the_entry_after_the_last_one(text: str, after: str) -> None:
    assert add_state(text, "new") == after
    assert names(after)[-1] == "new"


def test_add_state_in_a_list_written_dash_then_three_spaces_keeps_the_dash_column() -> None:
    text = "states:\n-   name: a\n-   name: b\n"
    after = add_state(text, "new")
    assert after.startswith(text)
    assert after[len(text) :].rstrip("\n").startswith("-")
    assert names(after) == ["a", "b", "new"]


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("on", '"on"'),  # a YAML 1.1 boolean written plain would not read back
        ("Yes", '"Yes"'),
        ("a: b", '"a: b"'),
        ("café bar", '"café bar"'),
        ("plain_name-2.0", "plain_name-2.0"),
    ],
)
def test_a_new_name_is_quoted_only_when_it_must_be(name: str, written: str) -> None:
    after = add_state("states:\n  - name: a\n", name)
    assert after == f"states:\n  - name: a\n  - name: {written}\n"
    assert names(after) == ["a", name]


PARENTS = """\
states:
  - name: a
    type: initial
  - name: p
    initial_child: c
  - name: c
    parent: p
  - name: q
    initial_child: a
  - name: par
    type: parallel
    regions:
      - name: r
        states: [a]
  - name: last
"""


def test_only_a_first_child_of_a_plain_state_sets_its_initial_child() -> None:
    # A parent whose child is written after it (no initial_child key of its own is
    # needed): a parent that already has children keeps what it has.
    kept = PARENTS.replace("    initial_child: c\n", "")
    assert add_state(kept, "c2", parent="p") == kept.replace(
        "  - name: last\n", "  - name: last\n  - name: c2\n    parent: p\n"
    )
    # A parent that already names an initial child gets no second one.
    assert add_state(PARENTS, "q1", parent="q") == PARENTS + "  - name: q1\n    parent: q\n"
    # A parallel state starts in its regions, not in an initial child.
    assert add_state(PARENTS, "x", parent="par") == PARENTS + "  - name: x\n    parent: par\n"


def test_a_first_child_of_the_last_state_comes_after_its_initial_child_line() -> None:
    after = add_state(PARENTS, "l1", parent="last")
    assert after == PARENTS + "    initial_child: l1\n  - name: l1\n    parent: last\n"
    assert listed(after)[-1] == "l1"


def test_a_flow_parent_gets_its_initial_child_inside_the_braces() -> None:
    text = "states:\n  - {name: q }  # note\n"
    after = add_state(text, "k", parent="q")
    assert after == "states:\n  - {name: q, initial_child: k }  # note\n  - {name: k, parent: q}\n"
    assert names(after) == ["q", "k"]


REGIONS = """\
states:
  - name: p
    type: parallel
    regions:
      - {name: left, initial: a }
      - name: right
        initial: b
      - {name: empty, states: []}
      - {name: full, states: [x, y, z]}
  - {name: a}
  - {name: b}
"""


@pytest.mark.parametrize(
    ("region", "before", "after"),
    [
        ("left", "{name: left, initial: a }", "{name: left, initial: a, states: [m] }"),
        ("right", "initial: b\n", "initial: b\n        states: [m]\n"),
        ("empty", "{name: empty, states: []}", "{name: empty, states: [m]}"),
        ("full", "states: [x, y, z]", "states: [x, y, z, m]"),
    ],
)
def test_a_region_gets_the_new_state_in_its_list(region: str, before: str, after: str) -> None:
    added = add_state(REGIONS, "m", parent="p", region=region)
    assert added == REGIONS.replace(before, after)
    regions = yaml.safe_load(added)["states"][0]["regions"]
    assert [r["name"] for r in regions if "m" in r.get("states", [])] == [region]


# --------------------------------------------------------------------------- add_transition


@pytest.mark.parametrize(
    ("text", "after"),
    [
        (
            "states:\n  - name: a\n",
            "states:\n  - name: a\ntransitions:\n  - trigger: t\n    source: a\n    dest: a\n",
        ),
        (
            "states:\n  - name: a",
            "states:\n  - name: a\ntransitions:\n  - trigger: t\n    source: a\n    dest: a\n",
        ),
        (
            "states: [{name: a}]\ntransitions: []\n",
            "states: [{name: a}]\ntransitions: [{trigger: t, source: a, dest: a}]\n",
        ),
    ],
)
def test_add_transition_starts_or_fills_the_list(text: str, after: str) -> None:
    assert add_transition(text, "a", "a", "t") == after
    assert [(t.trigger, t.dest) for t in load_spec(after).transitions] == [("t", "a")]


# --------------------------------------------------------------------------- rename_state

AFTER_TRANSITIONS = """\
transitions:
  - trigger: go
    source: a
    dest: b
states:
  - name: a
  - name: b
    initial_child: a
  - name: h
    type: history
    default: a
"""


def test_rename_reaches_initial_children_and_history_defaults_in_any_order() -> None:
    assert rename_state(AFTER_TRANSITIONS, "a", "start") == AFTER_TRANSITIONS.replace(
        ": a\n", ": start\n"
    )


QUOTED = """\
states:
  - name: 'OPEN'
  - name: "DONE"
"""


@pytest.mark.parametrize(
    ("old", "new", "after"),
    [
        ("OPEN", "it's", "states:\n  - name: 'it''s'\n  - name: \"DONE\"\n"),
        ("DONE", "café", "states:\n  - name: 'OPEN'\n  - name: \"café\"\n"),
        ("DONE", "DONE ", QUOTED),  # the same name: nothing to do, nothing refused
    ],
)
def test_rename_keeps_the_quoting_it_replaces(old: str, new: str, after: str) -> None:
    assert rename_state(QUOTED, old, new) == after
    assert new.strip() in names(after)


# --------------------------------------------------------------------------- state_references


def test_references_name_the_region_or_its_place_and_an_eventless_source() -> None:
    text = """\
states:
  - name: p
    type: parallel
    regions:
      - initial: a
        states: [a]
      - name: right
        initial: b
        states:
          - b
  - {name: a}
  - {name: b}
transitions:
  - source: a
    dest: b
"""
    assert [(r.path, r.where, r.what) for r in state_references(text, "a")] == [
        ("states[0].regions[0].initial", "5:18", "the initial state of region 0"),
        ("states[0].regions[0].states[0]", "6:18", "a state of region 0"),
        ("transitions[0].source", "14:13", "the source of an eventless transition"),
    ]
    assert [(r.path, r.where, r.what) for r in state_references(text, "b")] == [
        ("states[0].regions[1].initial", "8:18", "the initial state of region right"),
        ("states[0].regions[1].states[0]", "10:13", "a state of region right"),
        ("transitions[0].dest", "15:11", "the target of an eventless transition"),
    ]


# --------------------------------------------------------------------------- delete_state

MEMBERS = """\
states:
  - name: p
    type: parallel
    regions:
      - {name: one, states: [solo]}
      - {name: two, states: [x, y, z]}
      - {name: four, states: [f, g]}
      - name: three
        states:
          - u
          - v
  - {name: solo}
  - {name: x}
  - {name: y}
  - {name: z}
  - {name: u}
  - {name: v}
  - {name: f}
  - {name: g}
"""


@pytest.mark.parametrize(
    ("name", "before", "after"),
    [
        ("solo", "[solo]}\n", "[]}\n"),
        ("x", "[x, y, z]", "[y, z]"),
        ("y", "[x, y, z]", "[x, z]"),
        ("z", "[x, y, z]", "[x, y]"),
        ("u", "          - u\n", ""),
        ("f", "[f, g]", "[g]"),
    ],
)
def test_delete_takes_a_state_out_of_its_region_list(name: str, before: str, after: str) -> None:
    expected = MEMBERS.replace(before, after).replace(f"  - {{name: {name}}}\n", "")
    assert delete_state(MEMBERS, name) == expected
    assert name not in listed(expected)


def test_delete_takes_a_state_out_of_a_block_source_list() -> None:
    text = """\
states:
  - name: a
  - name: b
transitions:
  - trigger: go
    source:
      - a
      - b
    dest: b
"""
    assert delete_state(text, "a") == text.replace("  - name: a\n", "").replace("      - a\n", "")


BLANKS = """\
states:
  - name: a
    type: initial

  - name: b

  - name: c
transitions:
  - trigger: go
    source: b
    dest: c
  - trigger: back
    source: c
    dest: a
"""


def test_delete_takes_one_separating_blank_line_with_the_entry() -> None:
    # Between two blank lines: the one after goes with it.
    assert delete_state(BLANKS, "b") == BLANKS.replace("  - name: b\n\n", "").replace(
        "  - trigger: go\n    source: b\n    dest: c\n", ""
    )
    # A blank line after it but none before: the blank line stays.
    first = BLANKS.replace("  - name: a\n    type: initial\n", "").replace(
        "  - trigger: back\n    source: c\n    dest: a\n", ""
    )
    assert delete_state(BLANKS, "a") == first


def test_delete_with_transitions_written_before_the_states() -> None:
    text = """\
transitions:
  - trigger: go
    source: a
    dest: b
  - trigger: x
    source: b
    dest: b
states:
  - name: b
  - name: a
"""
    assert delete_state(text, "a") == (
        "transitions:\n  - trigger: x\n    source: b\n    dest: b\nstates:\n  - name: b\n"
    )


# ----------------------------------------------- list styles the edits got wrong (fixed)


def test_a_new_transition_in_a_list_written_dash_then_three_spaces_loads() -> None:
    text = """\
states:
-   name: x
    type: initial
-   name: y
transitions:
-   trigger: a
    source: x
    dest: y
"""
    after = add_transition(text, "y", "x", "b")
    assert after.endswith('-   trigger: b\n    source: "y"\n    dest: x\n'), after
    assert [t.trigger for t in load_spec(after).transitions] == ["a", "b"]


def test_a_new_state_after_an_entry_whose_dash_is_alone_loads() -> None:
    after = add_state("states:\n-\n    name: a\n", "b")
    assert after == "states:\n-\n    name: a\n-   name: b\n", after
    assert names(after) == ["a", "b"]


def test_a_child_after_a_lone_dash_with_keys_one_column_in_loads() -> None:
    text = "states:\n-\n name: p\n"
    after = add_state(text, "c", parent="p")
    assert after == "states:\n-\n name: p\n initial_child: c\n- name: c\n  parent: p\n", after
    assert names(after) == ["p", "c"]
