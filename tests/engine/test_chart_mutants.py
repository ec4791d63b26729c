"""The statechart's structure (``pystator.chart``), pinned where a mutation run found it loose.

Every host reads one ``Chart`` per spec, so a wrong answer there is wrong everywhere; most
of it is pinned by the semantics tests, and these add what a mutation run showed no test
read: a region entered at its ``initial`` when that is not its first state, an internal
transition of a parallel state (SCXML leaves and re-enters it, since only a compound
state can be an internal transition's domain), and the answers the chart gives for specs
the checks have not passed (it is built from any spec, so that the checks can run on it).
"""

from __future__ import annotations

import pytest

from pystator import StateMachine
from pystator.errors import ConfigError
from pystator.model import MachineMeta, MachineSpec, Region, State, StateType

REGIONS = """
meta: {machine_name: regions}
states:
  - {name: idle, type: initial}
  - name: p
    type: parallel
    on_enter: [enter_p]
    on_exit: [leave_p]
    regions:
      - {name: one, initial: b, states: [a, b]}
      - {name: two, initial: c, states: [c, d]}
transitions:
  - {trigger: go, source: idle, dest: p}
  - {trigger: inside, source: p, dest: a, kind: internal}
"""


def test_a_region_starts_at_its_initial_state_not_its_first() -> None:
    machine = StateMachine.from_yaml(REGIONS)
    step = machine.step(machine.start().snapshot, "go")
    assert step.snapshot.configuration == frozenset({"p", "b", "c"})
    assert step.entered == ("p", "b", "c")


def test_an_internal_transition_of_a_parallel_state_leaves_and_reenters_it() -> None:
    machine = StateMachine.from_yaml(REGIONS)
    inside = machine.step(machine.step(machine.start().snapshot, "go").snapshot, "inside")
    assert inside.exited == ("c", "b", "p")
    assert inside.entered == ("p", "a", "c")
    assert inside.snapshot.configuration == frozenset({"p", "a", "c"})
    assert [a.name for a in inside.actions] == ["leave_p", "enter_p"]


def _unchecked(*states: State) -> MachineSpec:
    return MachineSpec(MachineMeta(machine_name="unchecked"), tuple(states), ())


def test_an_unchecked_region_whose_initial_lies_elsewhere_starts_at_its_first_state() -> None:
    chart = _unchecked(
        State("idle", type=StateType.INITIAL),
        State(
            "p",
            type=StateType.PARALLEL,
            regions=(Region("one", "idle", ("a", "b")), Region("two", "nowhere", ())),
        ),
        State("a", parent="p"),
        State("b", parent="p"),
    ).chart
    one, two = chart.region_nodes("p")
    assert chart.region_initial(one) == "a"
    assert chart.region_initial(two) is None
    assert chart.completion["p"] == frozenset({"p", "a"})


def test_a_state_without_regions_has_no_region_nodes() -> None:
    chart = _unchecked(
        State("idle", type=StateType.INITIAL), State("p", type=StateType.PARALLEL)
    ).chart
    assert chart.region_nodes("idle") == []
    assert chart.region_nodes("p") == []
    assert chart.completion["p"] == frozenset({"p"})
    assert not chart.is_compound("p") and not chart.is_compound("idle")


def test_a_state_two_regions_list_is_one_problem_and_the_regions_other_states_stay() -> None:
    text = REGIONS.replace("states: [c, d]", "states: [a, c, d]")
    with pytest.raises(ConfigError) as caught:
        StateMachine.from_yaml(text)
    assert [(i.line, i.column, i.path, i.message) for i in caught.value.issues] == [
        (11, 42, "states[1].regions[1].states[0]", "state 'a' is already in region 'one' of 'p'")
    ]


def test_an_unchecked_state_whose_parent_is_unknown_is_top_level() -> None:
    chart = _unchecked(
        State("idle", type=StateType.INITIAL),
        State("a", parent="nowhere"),
        State("b", parent="idle"),
    ).chart
    assert chart.parent["a"] is None and chart.ancestors["a"] == ()
    assert chart.kids("idle") == ["b"] and chart.kids("a") == []


def test_an_unknown_node_is_a_key_error_naming_it() -> None:
    chart = StateMachine.from_yaml(REGIONS).spec.chart
    for table in (chart.ancestors, chart.completion):
        with pytest.raises(KeyError) as caught:
            table["nowhere"]
        assert caught.value.args == ("nowhere",)


def test_regions_conflicting_on_one_event_are_settled_in_document_order() -> None:
    """Both regions' transitions leave ``p``; the first region's leaf comes first in the
    document (not by name), so its transition wins."""
    machine = StateMachine.from_yaml(
        """
        meta: {machine_name: conflict}
        states:
          - {name: idle, type: initial}
          - name: p
            type: parallel
            regions:
              - {name: one, initial: z, states: [z]}
              - {name: two, initial: a, states: [a]}
          - {name: out1}
          - {name: out2}
        transitions:
          - {trigger: go, source: idle, dest: p}
          - {trigger: e, source: a, dest: out2}
          - {trigger: e, source: z, dest: out1}
        """
    )
    inside = machine.step(machine.start().snapshot, "go").snapshot
    assert machine.state_string(inside.configuration) == "p:one=z,two=a"
    assert machine.step(inside, "e").snapshot.configuration == frozenset({"out1"})


HISTORY = """
meta: {machine_name: history}
states:
  - {name: idle, type: initial}
  - {name: on, initial_child: x}
  - {name: x, parent: on}
  - {name: y, parent: on, initial_child: y1}
  - {name: y1, parent: y}
  - {name: back, parent: on, type: history, default: y}
  - {name: bare, parent: on, type: history}
transitions:
  - {trigger: go, source: idle, dest: back}
"""


def test_a_history_state_alone_stands_for_its_default() -> None:
    machine = StateMachine.from_yaml(HISTORY)
    assert machine.configuration_of("back") == frozenset({"on", "y", "y1"})
    assert machine.configuration_of("bare") == frozenset()
    entered = machine.step(machine.start().snapshot, "go")
    assert entered.entered == ("on", "y", "y1")


def test_an_unchecked_history_whose_default_is_not_a_state_stands_for_nothing() -> None:
    chart = _unchecked(
        State("idle", type=StateType.INITIAL),
        State("h", parent="idle", type=StateType.HISTORY, default="nowhere"),
    ).chart
    assert chart.completion["h"] == frozenset()


def test_a_completion_already_known_is_reused_without_stopping_the_rest() -> None:
    """Asking for ``c`` first leaves it in the table; ``p`` reuses it for region two and
    still enters region one."""
    machine = StateMachine.from_yaml(REGIONS)
    assert machine.configuration_of("c") == frozenset({"p", "c"})
    assert machine.configuration_of("p") == frozenset({"p", "b", "c"})


def test_every_parent_cycle_is_found_after_states_already_walked() -> None:
    """``idle`` is walked as ``x``'s parent before its own turn comes; the walk goes on to
    the cycle below."""
    with pytest.raises(ConfigError) as caught:
        StateMachine.from_yaml(
            """
            meta: {machine_name: cycle}
            states:
              - {name: x, parent: idle}
              - {name: idle, type: initial, initial_child: x}
              - {name: c1, parent: c2}
              - {name: c2, parent: c1}
            transitions:
              - {trigger: go, source: idle, dest: c1}
            """
        )
    assert [(i.path, i.message) for i in caught.value.issues] == [
        ("states[2]", "compound state 'c1' needs 'initial_child' (one of c2)"),
        ("states[2].parent", "parent cycle: c1 -> c2 -> c1"),
    ]


def test_a_parent_cycle_through_a_region_is_broken_at_the_parallel_state() -> None:
    """``b``'s walk meets the cycle at region ``r`` (r -> p -> a -> r): the cycle is cut
    at ``p``, the first state on it, and reported once."""
    with pytest.raises(ConfigError) as caught:
        StateMachine.from_yaml(
            """
            meta: {machine_name: cycle}
            states:
              - {name: idle, type: initial}
              - {name: b}
              - {name: a}
              - name: p
                type: parallel
                parent: a
                regions: [{name: r, initial: a, states: [a, b]}]
            transitions:
              - {trigger: go, source: idle, dest: b}
            """
        )
    assert [(i.path, i.message) for i in caught.value.issues] == [
        ("states[3].parent", "parent cycle: p -> a -> p")
    ]


def test_an_unchecked_compound_state_enters_its_first_child_that_is_not_a_history() -> None:
    chart = _unchecked(
        State("on", type=StateType.INITIAL, initial_child="nowhere"),
        State("h", parent="on", type=StateType.HISTORY),
        State("x", parent="on"),
        State("only", initial_child="gone"),
        State("h2", parent="only", type=StateType.HISTORY),
    ).chart
    assert chart.initial_child("on") == "x"
    assert chart.initial_child("only") is None
    assert chart.completion["on"] == frozenset({"on", "x"})
