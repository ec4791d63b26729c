"""Structured edits write YAML at the located spans: comments and layout survive."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from pystator import StateMachine
from pystator.config import load_spec as _load_spec
from pystator.config.edit import (
    EditError,
    add_state,
    add_transition,
    delete_state,
    rename_state,
    state_references,
)

EXAMPLES = Path(__file__).parents[2] / "examples"


class _Loaded:
    """A loaded spec with its state names at hand."""

    def __init__(self, text: str) -> None:
        self.spec = _load_spec(text)
        self.state_names = [s.name for s in self.spec.states]
        self.states = self.spec.states
        self.transitions = self.spec.transitions


def load_spec(text: str) -> _Loaded:
    return _Loaded(text)


BLOCK = """\
# Orders, as the desk describes them.
meta:
  machine_name: orders   # shown in the library
states:
  - name: PENDING
    type: initial
    # waits for the exchange
  - name: OPEN

  - name: DONE
    type: terminal
# how orders move
transitions:
  - trigger: ack          # the exchange answered
    source: PENDING
    dest: OPEN
  - trigger: fill
    source: [PENDING, OPEN]
    dest: DONE
  - trigger: reopen
    source: DONE
    dest: 'OPEN'
"""

FLOW = """\
states: [{name: a, type: initial}, {name: b}]
transitions:
  - {trigger: go, source: a, dest: b}   # keep me
"""

PARALLEL = """\
states:
  - name: on
    type: parallel
    regions:
      - name: left
        initial: l1
        states: [l1, l2]
      - name: right
        initial: r1
        states:
          - r1
  - {name: l1}
transitions:
  - {trigger: step, source: l1, dest: l2}
"""


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """The lines taken out and put in, in order."""
    gone, new = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            gone.append(line[2:])
        elif line.startswith("+ "):
            new.append(line[2:])
    return gone, new


def test_add_state_appends_in_the_neighbours_style() -> None:
    after = add_state(BLOCK, "CANCELLED")
    assert changed_lines(BLOCK, after) == ([], ["  - name: CANCELLED"])
    assert after.index("  - name: CANCELLED") < after.index("# how orders move")
    assert "CANCELLED" in load_spec(after).state_names
    flow = add_state(FLOW, "c")
    assert flow.splitlines()[0] == "states: [{name: a, type: initial}, {name: b}, {name: c}]"
    assert flow.splitlines()[1:] == FLOW.splitlines()[1:]


def test_a_first_child_makes_its_parent_start_there() -> None:
    after = add_state(BLOCK, "PARTIAL", parent="OPEN")
    gone, new = changed_lines(BLOCK, after)
    assert gone == [] and new == [
        "    initial_child: PARTIAL",
        "  - name: PARTIAL",
        "    parent: OPEN",
    ]
    machine = StateMachine.from_yaml(after)
    assert machine.process("PENDING", "ack").target_state == "PARTIAL"
    # A second child leaves the parent's initial child alone.
    again = add_state(after, "HALF", parent="OPEN")
    assert changed_lines(after, again)[1] == ["  - name: HALF", "    parent: OPEN"]
    flow = add_state(FLOW, "b1", parent="b")
    assert "{name: b, initial_child: b1}" in flow and "{name: b1, parent: b}" in flow
    load_spec(flow)


def test_add_state_in_a_region_lists_it_there() -> None:
    left = add_state(PARALLEL, "l3", parent="on", region="left")
    assert changed_lines(PARALLEL, left) == (
        ["        states: [l1, l2]"],
        ["        states: [l1, l2, l3]"],
    )
    right = add_state(PARALLEL, "r2", parent="on", region="right")
    assert changed_lines(PARALLEL, right) == ([], ["          - r2"])
    assert "r2" in load_spec(right).state_names
    with pytest.raises(EditError, match=r"has no region 'middle'.*left, right"):
        add_state(PARALLEL, "x", parent="on", region="middle")


def test_add_transition_appends_one_entry() -> None:
    after = add_transition(BLOCK, "OPEN", "PENDING", "retry")
    assert changed_lines(BLOCK, after) == (
        [],
        ["  - trigger: retry", "    source: OPEN", "    dest: PENDING"],
    )
    assert StateMachine.from_yaml(after).process("OPEN", "retry").target_state == "PENDING"
    flow = add_transition(FLOW, "b", "a", "back")
    assert changed_lines(FLOW, flow)[1] == ["  - {trigger: back, source: b, dest: a}"]
    assert "# keep me" in flow
    bare = add_transition("states:\n  - {name: a, type: initial}\n", "a", "a", "tick")
    assert load_spec(bare).transitions[0].trigger == "tick"


def test_rename_follows_every_reference_and_keeps_quoting() -> None:
    after = rename_state(BLOCK, "OPEN", "WORKING")
    gone, new = changed_lines(BLOCK, after)
    assert gone == [
        "  - name: OPEN",
        "    dest: OPEN",
        "    source: [PENDING, OPEN]",
        "    dest: 'OPEN'",
    ]
    assert new == [
        "  - name: WORKING",
        "    dest: WORKING",
        "    source: [PENDING, WORKING]",
        "    dest: 'WORKING'",
    ]
    assert StateMachine.from_yaml(after).process("PENDING", "ack").target_state == "WORKING"
    tricky = rename_state(FLOW, "a", "on")  # a YAML 1.1 boolean stays a string
    assert load_spec(tricky).states[0].name == "on"
    spaced = rename_state(FLOW, "b", "waiting room")
    assert load_spec(spaced).transitions[0].dest == "waiting room"


def test_rename_in_regions_and_structure_fields() -> None:
    after = rename_state(PARALLEL, "l1", "first")
    spec = load_spec(after)
    assert spec.transitions[0].source == frozenset({"first"})
    assert "initial: first" in after and "states: [first, l2]" in after
    assert "{name: first}" in after


def test_references_list_every_place_that_names_a_state() -> None:
    found = state_references(BLOCK, "OPEN")
    assert [(r.path, r.where) for r in found] == [
        ("transitions[0].dest", "16:11"),
        ("transitions[1].source[1]", "18:23"),
        ("transitions[2].dest", "22:11"),
    ]
    assert found[0].what == "the target of ack"


def test_references_reach_a_timeout_and_step_over_entries_that_are_not_states() -> None:
    text = """\
states:
  - {name: idle, type: initial, timeout: {seconds: 5, destination: gone}}
  - just a string
  - {name: gone}
"""
    found = state_references(text, "gone")
    assert [(r.path, r.where, r.what) for r in found] == [
        ("states[0].timeout.destination", "2:68", "where idle's timeout goes"),
    ]
    after = rename_state(text, "gone", "away")
    assert "destination: away}}" in after and "{name: away}" in after
    assert "just a string" in after


def test_delete_takes_the_state_its_transitions_and_its_mentions() -> None:
    after = delete_state(BLOCK, "OPEN")
    assert "# Orders, as the desk describes them." in after and "# waits for the exchange" in after
    spec = load_spec(after)
    assert "OPEN" not in spec.state_names
    assert [t.trigger for t in spec.transitions] == ["fill"]
    assert spec.transitions[0].source == frozenset({"PENDING"})
    assert "\n\n\n" not in after
    spaced = (EXAMPLES / "order_fsm.yaml").read_text(encoding="utf-8")
    assert "\n\n\n" not in delete_state(spaced, "OPEN")  # one blank line between entries
    in_region = delete_state(PARALLEL, "l2")
    assert "states: [l1]" in in_region and "l2" not in in_region


def test_delete_refuses_a_state_with_children() -> None:
    parent = add_state(BLOCK, "PARTIAL", parent="OPEN")
    with pytest.raises(EditError, match="has child states \\(PARTIAL\\); delete or move"):
        delete_state(parent, "OPEN")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: add_state(t, "OPEN"), "already a state called 'OPEN'"),
        (lambda t: add_state(t, "  "), "needs a name"),
        (lambda t: add_state(t, "x", parent="NOPE"), "no parent state 'NOPE'"),
        (lambda t: add_transition(t, "OPEN", "NOPE", "go"), "no target state 'NOPE'"),
        (lambda t: add_transition(t, "OPEN", "DONE", ""), "needs an event name"),
        (lambda t: rename_state(t, "NOPE", "X"), "no state 'NOPE'.*PENDING, OPEN, DONE"),
        (lambda t: rename_state(t, "OPEN", "DONE"), "already a state called 'DONE'"),
        (lambda t: delete_state(t, "NOPE"), "no state 'NOPE'"),
    ],
)
def test_impossible_edits_say_why(edit: object, message: str) -> None:
    with pytest.raises(EditError, match=message):
        edit(BLOCK)  # type: ignore[operator]


def test_broken_yaml_is_refused_with_its_place() -> None:
    with pytest.raises(EditError, match="not valid YAML \\(line 3, column 1\\)"):
        add_state("states:\n  - {name: [\n", "x")
    with pytest.raises(EditError, match="not a machine definition"):
        add_state("- just a list\n", "x")


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_survives_each_edit(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    spec = load_spec(text)
    first = spec.states[0].name
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    for edited in (
        add_state(text, "added_here"),
        add_transition(text, first, first, "poke"),
        rename_state(text, first, "renamed_first"),
    ):
        load_spec(edited)
        assert [ln for ln in edited.splitlines() if ln.lstrip().startswith("#")] == comments
