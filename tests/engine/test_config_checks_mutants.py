"""Mutation survivors of ``pystator/config/checks.py`` and ``pystator/config/build.py``.

Checks: the history rules' findings compared as whole ``Issue`` values (message, path,
line, column, code): a state whose parent is a history state, transitions leaving a
history state from one source and from one of several, a history state at the top level,
and one listed in a parallel state's region, also when that region's name is repeated.
Build: the fast path for plain dicts starts every state and transition from its class's
field defaults, so a dict transition without a trigger is refused by the schema's rule
(not by a missing field), and a plain state or transition equals the one its
constructor makes.
"""

from __future__ import annotations

from typing import Any

import pytest

from pystator.config import load_spec
from pystator.errors import ConfigError, Issue
from pystator.model import State, StateType, Transition


def problems(source: Any) -> list[Issue]:
    with pytest.raises(ConfigError) as caught:
        load_spec(source)
    return list(caught.value.issues)


def issue(message: str, path: str, line: int | None, column: int | None, code: str) -> Issue:
    return Issue(message, path, line, column, code)


# ------------------------------------------------------- checks: history states, located


def test_a_state_inside_a_history_state_and_transitions_leaving_it_are_located() -> None:
    text = """\
states:
  - {name: off, type: initial}
  - {name: on, initial_child: radio}
  - {name: radio, parent: on}
  - {name: last, parent: on, type: history, default: radio}
  - {name: inner, parent: last}
transitions:
  - {trigger: go, source: last, dest: radio}
  - {trigger: tune, source: [radio, last], dest: radio}
"""
    never_fires = "history state 'last' is never active, so a transition from it never fires"
    assert problems(text) == [
        issue(
            "'inner' names history state 'last' as its parent, but a history state "
            "has no states of its own",
            "states[4].parent",
            6,
            19,
            "history-children",
        ),
        # One source: the path is the source itself, not its first item.
        issue(never_fires, "transitions[0].source", 8, 19, "history-outgoing"),
        issue(never_fires, "transitions[1].source[1]", 9, 37, "history-outgoing"),
    ]


def test_a_history_state_at_the_top_level_is_located_at_its_type() -> None:
    text = """\
states:
  - {name: off, type: initial}
  - {name: loose, type: history}
"""
    assert problems(text) == [
        issue(
            "history state 'loose' is at the top level: it remembers what its parent "
            "had active, so it needs a parent (a compound or parallel state)",
            "states[1].type",
            3,
            19,
            "history-top-level",
        )
    ]


def test_a_history_state_in_a_region_is_located_in_the_region_that_lists_it() -> None:
    # The second region repeats the first one's name: the finding points at the
    # region that lists the history state, not at the first region of that name.
    text = """\
states:
  - {name: off, type: initial}
  - name: both
    type: parallel
    regions:
      - {name: left, initial: l1, states: [l1]}
      - {name: left, initial: l2, states: [memory, l2]}
  - {name: memory, parent: both, type: history}
transitions:
  - {trigger: back, source: off, dest: both}
"""
    assert problems(text) == [
        issue(
            "duplicate region name 'left' in 'both'",
            "states[1].regions[1].name",
            7,
            10,
            "duplicate-region",
        ),
        issue(
            "history state 'memory' is listed in region 'left' of 'both': a parallel "
            "state's history belongs to the parallel state itself (parent: both, in no region)",
            "states[1].regions[1].states[0]",
            7,
            44,
            "history-in-region",
        ),
    ]


# ------------------------------------------------------- build: the fast path's defaults

TWO_STATES: list[dict[str, Any]] = [{"name": "a", "type": "initial"}, {"name": "b"}]


@pytest.mark.parametrize(
    ("transition", "message"),
    [
        (
            {"source": "a", "dest": "b"},
            "a transition needs a 'trigger' (only delayed transitions with 'after' may "
            "leave it out)",
        ),
        (
            {"trigger": "after:1s:a", "source": "a", "dest": "b"},
            "trigger names starting with 'after:' or 'timeout:' are reserved for timers",
        ),
    ],
)
def test_a_plain_dict_transition_without_a_usable_trigger_is_refused_by_the_schema(
    transition: dict[str, Any], message: str
) -> None:
    document = {"states": TWO_STATES, "transitions": [transition]}
    assert problems(document) == [issue(message, "transitions[0]", None, None, "schema")]


def test_plain_dict_states_and_transitions_hold_their_fields_defaults() -> None:
    spec = load_spec(
        {
            "states": TWO_STATES,
            "transitions": [
                {"trigger": "go", "source": "a", "dest": "b"},
                {"after": "1s", "source": "b", "dest": "a"},
            ],
        }
    )
    assert spec.states == (State(name="a", type=StateType.INITIAL), State(name="b"))
    assert spec.transitions == (
        Transition(trigger="go", source=frozenset({"a"}), dest="b"),
        Transition(trigger="after:1s:b", source=frozenset({"b"}), dest="a", after=1000),
    )
    assert [dict(t.metadata) for t in spec.transitions] == [{}, {}]
