"""Properties over generated machines (hypothesis).

- ``process()`` never raises for any active state and any event of a valid machine;
- a step's exits and entries meet at one domain, and the new configuration is the old
  one minus what was exited plus what was entered, and is well formed;
- a machine dumped back to YAML loads to an equal machine.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

from pystator import StateMachine
from pystator.config import dump_spec, load_spec

NAMES = st.sampled_from(["a", "b", "c", "d", "on", "off", "x.y", "état", "end", "s 1"])


@st.composite
def machines(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(2, 10))
    names = [f"s{i}" for i in range(count)]
    parents: dict[str, str | None] = {names[0]: None}
    for name in names[1:]:
        parents[name] = draw(st.sampled_from([None, *[n for n in parents]]))
    states: list[dict[str, Any]] = []
    children = {n: [c for c in names if parents[c] == n] for n in names}
    for name in names:
        entry: dict[str, Any] = {"name": name, "on_enter": [f"in_{name}"], "on_exit": [f"out_{name}"]}
        if parents[name] is not None:
            entry["parent"] = parents[name]
        if children[name]:
            entry["initial_child"] = draw(st.sampled_from(children[name]))
        states.append(entry)
    states[0]["type"] = "initial"
    if draw(st.booleans()):
        regions = [{"name": f"r{k}", "initial": f"p{k}_0",
                    "states": [f"p{k}_{j}" for j in range(draw(st.integers(1, 3)))]}
                   for k in range(draw(st.integers(2, 3)))]
        states.append({"name": "par", "type": "parallel", "regions": regions,
                       "on_enter": ["in_par"], "on_exit": ["out_par"]})
        names += ["par"] + [s for r in regions for s in r["states"]]
    transitions = [
        {"trigger": draw(NAMES), "source": draw(st.sampled_from(names)),
         "dest": draw(st.sampled_from(names)), "actions": [f"t{i}"],
         **({"guards": [{"expr": "n > 1"}]} if draw(st.booleans()) else {})}
        for i in range(draw(st.integers(1, 12)))
    ]
    return {"meta": {"strict_mode": draw(st.booleans())}, "states": states,
            "transitions": transitions}


def _well_formed(machine: StateMachine, configuration: frozenset[str]) -> None:
    for state in configuration:
        parent = machine.parent_of(state)
        assert parent is None or parent in configuration
        kids = machine.children(state)
        active = [k for k in kids if k in configuration]
        if machine.is_parallel_state(state):
            regions = {machine.region_of(k) for k in active}
            assert len(regions) == len(machine.get_state(state).regions)
        elif kids:
            assert len(active) == 1, (state, active)


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(machines(), st.lists(st.integers(0, 20), max_size=10), st.integers(0, 3))
def test_process_never_raises_and_steps_are_consistent(definition: dict[str, Any],
                                                       picks: list[int], n: int) -> None:
    machine = StateMachine.from_dict(definition)
    triggers = sorted({t["trigger"] for t in definition["transitions"]}) + ["unknown"]
    events = [triggers[i % len(triggers)] for i in picks]
    stepped = 0
    state = machine.initial_state_string()
    configuration = machine.configuration_of(state)
    _well_formed(machine, configuration)
    for event in events:
        result = machine.process(state, event, {"n": n})
        if not result.success or result.ignored:
            continue
        exited, entered = set(result.exited_states), set(result.entered_states)
        assert exited <= configuration
        assert result.configuration == (configuration - exited) | entered
        _well_formed(machine, result.configuration)
        if exited:
            # the exits climb from inner to outer: each exited state's active parent is
            # exited too, or is the domain where exits and entries meet
            outer = result.exited_states[-1]
            domain = machine.parent_of(outer)
            for s in result.exited_states:
                assert domain is None or domain in machine.ancestors(s)
            for s in result.entered_states:
                assert domain is None or domain in machine.ancestors(s)
        assert result.all_actions == (
            tuple(a.name for s in result.exited_states for a in machine.get_state(s).on_exit)
            + tuple(a.name for t in result.transitions for a in t.actions)
            + tuple(a.name for s in result.entered_states for a in machine.get_state(s).on_enter)
        )
        assert result.target_state == machine.state_string(result.configuration)
        assert machine.configuration_of(result.target_state) == result.configuration
        state, configuration = result.target_state, result.configuration
        stepped += 1
    target(stepped)


@SETTINGS
@given(machines())
def test_dump_round_trip(definition: dict[str, Any]) -> None:
    spec = load_spec(definition)
    assert load_spec(dump_spec(spec)) == spec
