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
from pystator.model import MachineMeta, MachineSpec, Region, State

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
        State("idle", type="initial"),
        State(
            "p",
            type="parallel",
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
    chart = _unchecked(State("idle", type="initial"), State("p", type="parallel")).chart
    assert chart.region_nodes("idle") == []
    assert chart.region_nodes("p") == []
    assert not chart.is_compound("p") and not chart.is_compound("idle")


def test_a_state_two_regions_list_is_one_problem_and_the_regions_other_states_stay() -> None:
    text = REGIONS.replace("states: [c, d]", "states: [a, c, d]")
    with pytest.raises(ConfigError) as caught:
        StateMachine.from_yaml(text)
    assert [(i.line, i.column, i.path, i.message) for i in caught.value.issues] == [
        (11, 42, "states[1].regions[1].states[0]", "state 'a' is already in region 'one' of 'p'")
    ]
