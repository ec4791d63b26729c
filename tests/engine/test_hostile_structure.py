"""Hostile structure: deep hierarchies and long parent cycles, and one start for everyone.

Every structural question is answered by ``spec.chart``, built by loops, so the
config checks, lint, the diagram and the engine must cope with a hierarchy thousands
of levels deep or a parent cycle through thousands of states without recursing and
in time proportional to the machine (``bench/structure_bench.py`` times it; these
tests only check that it works and says the right things). And because they all read
the same chart, they must agree on where a machine starts.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pystator import ConfigError, StateMachine
from pystator.config import load_spec
from pystator.config.checks import HINT_COMPARISONS, run_checks
from pystator.diagram import (
    DiagramEdge,
    DiagramGraph,
    DiagramNode,
    build_graph,
    render_mermaid,
    render_mermaid_diagram,
    to_mermaid,
)
from pystator.lint import lint
from pystator.model import MachineMeta, MachineSpec, Region, State, Transition
from pystator.simulator import Simulation
from tests.engine.test_properties import machines

DEPTH = 3_000
CYCLE = 2_000

pytestmark = pytest.mark.timeout(120)  # a regression to a walk that never ends fails here


def chain(depth: int) -> dict[str, Any]:
    """L0 > L1 > ... > L<depth-1>, each level entering the next; L0 is where it starts."""
    states: list[dict[str, Any]] = []
    for k in range(depth):
        state: dict[str, Any] = {"name": f"L{k}"}
        if k:
            state["parent"] = f"L{k - 1}"
        else:
            state["type"] = "initial"
        if k < depth - 1:
            state["initial_child"] = f"L{k + 1}"
        states.append(state)
    states.append({"name": "out"})
    leaf = f"L{depth - 1}"
    transitions = [
        {"trigger": "leave", "source": leaf, "dest": "out"},
        {"trigger": "up", "source": leaf, "dest": f"L{depth // 2}"},
        {"trigger": "again", "source": "out", "dest": "L0"},
    ]
    return {"states": states, "transitions": transitions}


def cycle_spec(size: int) -> MachineSpec:
    """``start`` plus C0 -> C1 -> ... -> C<size-1> -> C0 as parents (built by hand:
    the loader refuses it, lint and the diagram are still asked about it)."""
    states = [State("start", type="initial")]
    states += [State(f"C{k}", parent=f"C{(k + 1) % size}") for k in range(size)]
    return MachineSpec(
        meta=MachineMeta(),
        states=tuple(states),
        transitions=(Transition("go", "start", "C0"),),
    )


# --------------------------------------------------------------------------- deep hierarchy


def test_a_3000_level_hierarchy_loads_lints_draws_and_runs() -> None:
    spec = load_spec(chain(DEPTH))
    leaf = f"L{DEPTH - 1}"
    assert spec.chart.initial_state == "L0"
    assert len(spec.chart.initial_configuration) == DEPTH

    assert lint(spec) == []

    drawn = render_mermaid_diagram(build_graph(spec), "TB")
    lines = drawn.text.splitlines()
    assert lines.count("    [*] --> L0") == 1
    assert sum(1 for line in lines if line.strip() == f"[*] --> L{DEPTH // 2}") == 1
    assert sum(line.endswith(" {") for line in lines) == DEPTH - 1
    assert sum(line.strip() == "}" for line in lines) == DEPTH - 1
    # nesting is shown by indentation up to a bound, so the text stays linear in size
    assert max(len(line) - len(line.lstrip()) for line in lines) <= 4 * 33
    assert len(drawn.text) < 500 * DEPTH  # unbounded indentation would be ~54 MB
    assert f"    {leaf} --> out : leave" in lines

    machine = StateMachine.from_spec(spec)
    start = machine.start()
    assert start.entered == tuple(f"L{k}" for k in range(DEPTH))
    left = machine.process(machine.initial_state_string(), "leave", {})
    assert left.success and left.target_state == "out"
    assert left.exited_states == tuple(f"L{k}" for k in reversed(range(DEPTH)))
    back = machine.process("out", "again", {})
    assert back.success and back.target_state == leaf and len(back.entered_states) == DEPTH

    simulation = Simulation(machine)
    simulation.send("up")
    simulation.send("leave")
    assert simulation.configuration == frozenset({"out"})


def test_a_deep_hierarchy_is_checked_and_linted_by_what_it_gets_wrong() -> None:
    definition = chain(DEPTH)
    definition["states"][DEPTH // 2].pop("initial_child")  # one level forgets where to go
    definition["states"].append({"name": "island", "parent": f"L{DEPTH - 1}"})
    with pytest.raises(ConfigError) as info:
        load_spec(definition)
    half = DEPTH // 2
    assert [(i.code, i.path, i.message) for i in info.value.issues] == [
        (
            "no-initial-child",
            f"states[{half}]",
            f"compound state 'L{half}' needs 'initial_child' (one of L{half + 1})",
        ),
        (
            "no-initial-child",
            f"states[{DEPTH - 1}]",
            f"compound state 'L{DEPTH - 1}' needs 'initial_child' (one of island)",
        ),
    ]

    definition["states"][half]["initial_child"] = f"L{half + 1}"
    definition["states"][DEPTH - 1]["initial_child"] = "island"
    definition["transitions"] = [{"trigger": "stay", "source": "L0", "dest": "island"}]
    spec = load_spec(definition)
    # a transition from an ancestor back into the state itself does not leave it, and
    # nothing leads to 'out' or leaves it
    assert [(f.code, f.path) for f in lint(spec)] == [
        ("unreachable-state", f"states[{DEPTH}]"),
        ("dead-end", f"states[{DEPTH}]"),
        ("dead-end", f"states[{DEPTH + 1}]"),
    ]


def test_a_deep_compound_inside_a_region_is_drawn_through_its_initial_leaf() -> None:
    depth = DEPTH
    regions = (Region("deep", "D0", ("D0",)), Region("flat", "F", ("F",)))
    states = [
        State("idle", type="initial"),
        State("P", type="parallel", regions=regions),
        State("D0", parent="P", initial_child="D1"),
        *(
            State(f"D{k}", parent=f"D{k - 1}", initial_child=f"D{k + 1}" if k < depth - 1 else None)
            for k in range(1, depth)
        ),
        State("F", parent="P"),
    ]
    spec = MachineSpec(
        meta=MachineMeta(),
        states=tuple(states),
        transitions=(Transition("go", "idle", "D0"), Transition("flip", "F", "D1")),
    )
    assert run_checks(spec) == []
    text = to_mermaid(spec)
    # a composite endpoint inside a region is redirected to the leaf it starts in
    assert f"    idle --> D{depth - 1} : go" in text.splitlines()
    assert f"    F --> D{depth - 1} : flip" in text.splitlines()
    direct = render_mermaid(build_graph(spec), "TB", redirect_parallel_compounds=False)
    assert "    idle --> D0 : go" in direct.splitlines()


def test_a_3000_deep_hand_built_graph_renders_without_recursion() -> None:
    nodes = [
        DiagramNode(f"n{k}", f"n{k}", "compound", children=(f"n{k + 1}",)) for k in range(DEPTH)
    ]
    nodes.append(DiagramNode(f"n{DEPTH}", "leaf", "terminal", note="at the bottom"))
    graph = DiagramGraph(nodes=nodes, edges=[DiagramEdge(f"n{DEPTH}", "n0", "back")])
    text = render_mermaid(graph)
    assert text.count(" {\n") == DEPTH and text.count("}\n") == DEPTH
    assert f"n{DEPTH} --> n0 : back" in text
    assert f"n{DEPTH} --> [*]" in text
    assert f"note right of n{DEPTH} : at the bottom" in text


# --------------------------------------------------------------------------- parent cycle


def test_a_2000_state_parent_cycle_is_one_located_finding() -> None:
    definition: dict[str, Any] = {
        "states": [
            {"name": "start", "type": "initial"},
            *({"name": f"C{k}", "parent": f"C{(k + 1) % CYCLE}"} for k in range(CYCLE)),
        ],
        "transitions": [{"trigger": "go", "source": "start", "dest": "C0"}],
    }
    with pytest.raises(ConfigError) as info:
        load_spec(definition)
    cycles = [i for i in info.value.issues if i.code == "parent-cycle"]
    [cycle] = cycles
    assert cycle.path == "states[1].parent"
    names = [f"C{k}" for k in range(CYCLE)]
    assert cycle.message == "parent cycle: " + " -> ".join([*names, "C0"])
    # the cycle is broken at C0, so the rest reads as one chain below it: each link
    # is a compound state with one child and no initial_child
    others = {i.code for i in info.value.issues if i.code != "parent-cycle"}
    assert others == {"no-initial-child"}
    assert len(info.value.issues) == CYCLE


def test_a_parent_cycle_is_linted_and_drawn_as_the_chart_reads_it() -> None:
    spec = cycle_spec(CYCLE)
    chart = spec.chart
    assert chart.cycles == [tuple(f"C{k}" for k in range(CYCLE))]
    assert chart.roots == ["start", "C0"]
    assert chart.initial_state == "start"
    # entering C0 goes down the chain C0 > C<n-1> > ... > C1; nothing leaves C1
    assert [(f.code, f.path) for f in lint(spec)] == [("dead-end", "states[2]")]
    text = to_mermaid(spec)
    assert text.count(" {\n") == CYCLE - 1
    assert "    [*] --> start" in text.splitlines()
    assert "    start --> C0 : go" in text.splitlines()


def test_a_self_parent_and_a_cycle_through_regions_are_reported_once_each() -> None:
    spec = MachineSpec(
        meta=MachineMeta(),
        states=(
            State("a", type="initial", parent="a"),
            State("x", parent="P"),
            State("P", type="parallel", parent="x", regions=(Region("r", "x", ("x",)),)),
        ),
        transitions=(),
    )
    assert [f for f in run_checks(spec) if f[2] == "parent-cycle"] == [
        ("states[0].parent", "parent cycle: a -> a", "parent-cycle"),
        ("states[1].parent", "parent cycle: x -> P -> x", "parent-cycle"),
    ]
    # x stays listed in its region even though the cycle was broken elsewhere
    assert not [f for f in run_checks(spec) if f[2] == "not-in-region"]
    assert lint(spec) is not None and to_mermaid(spec).startswith("stateDiagram-v2")


# --------------------------------------------------------------------------- damaged regions


def test_repeated_and_shared_region_entries_are_reported_in_the_order_written() -> None:
    spec = MachineSpec(
        meta=MachineMeta(),
        states=(
            State("idle", type="initial"),
            State(
                "P",
                type="parallel",
                regions=(
                    Region("r", "a", ("a", "b", "a")),
                    Region("s", "c", ("c", "b")),
                    Region("r", "d", ("d", "c")),
                ),
            ),
            *(State(n, parent="P") for n in "abcd"),
        ),
        transitions=(),
    )
    assert run_checks(spec) == [
        (
            "states[1].regions[0].states[2]",
            "state 'a' is already in region 'r' of 'P'",
            "region-overlap",
        ),
        (
            "states[1].regions[1].states[1]",
            "state 'b' is already in region 'r' of 'P'",
            "region-overlap",
        ),
        ("states[1].regions[2].name", "duplicate region name 'r' in 'P'", "duplicate-region"),
        (
            "states[1].regions[2].states[1]",
            "state 'c' is already in region 's' of 'P'",
            "region-overlap",
        ),
    ]
    # 'd' is listed only by the repeated region: it is in region 'r', not outside all
    chart = spec.chart
    assert chart.region_of["d"] == ("P", "r")
    [region] = [n for n in chart.region_nodes("P") if n.name == "r"]
    assert chart.kids(region) == ["a", "b", "d"]


def test_unknown_names_get_hints_within_a_budget_and_are_all_reported() -> None:
    count = 1_000
    states = [State("idle", type="initial"), State("waiting")]
    states += [State(f"early_{k}", parent="waitng") for k in range(3)]
    states += [State(f"state_{k}", parent=f"parent_{k}") for k in range(count)]
    states.append(State("late", parent="idel"))
    spec = MachineSpec(meta=MachineMeta(), states=tuple(states), transitions=())
    unknown = [f for f in run_checks(spec) if f[2] == "unknown-state"]
    assert len(unknown) == 3 + count + 1
    # the same typo is looked up once, however often it is repeated
    assert [f[1] for f in unknown[:3]] == [
        "parent 'waitng' is not a state: did you mean 'waiting'?"
    ] * 3
    # once the comparisons are spent, the rest are still reported, without a hint
    assert unknown[-1] == (
        f"states[{len(states) - 1}].parent",
        "parent 'idel' is not a state",
        "unknown-state",
    )
    assert HINT_COMPARISONS // len(states) < count


# --------------------------------------------------------------------------- statechart constructs


def test_a_3000_level_hierarchy_with_history_and_eventless_moves_at_every_level() -> None:
    """Each level has a history state and an eventless transition into the next
    level's: checked, linted (one loop found among thousands of eventless moves),
    drawn and run, all without recursion."""
    definition = chain(DEPTH)
    states, transitions = definition["states"], definition["transitions"]
    for k in range(1, DEPTH - 1):
        states.append({"name": f"H{k}", "parent": f"L{k}", "type": "history", "history": "deep"})
    for k in range(DEPTH - 2):
        transitions.append(
            {"source": f"L{k}", "dest": f"H{k + 1}", "always": True, "guards": [{"expr": "x"}]}
        )
    spec = load_spec(definition)
    assert len(spec.chart.history) == DEPTH - 2
    # L<k> stays active when it enters its own descendant, so each move can repeat;
    # the loops share their states, so they are one finding naming the first of them
    [finding] = lint(spec)
    assert finding.code == "eventless-cycle"
    assert "go round for ever: L0 -> H1 (transition 3);" in finding.message

    drawn = to_mermaid(spec)
    assert drawn.count("(H*) H") == DEPTH - 2
    assert drawn.count(": always [x]") == DEPTH - 2

    machine = StateMachine.from_spec(spec)
    step = machine.start({"x": False})
    assert len(step.snapshot.configuration) == DEPTH
    step = machine.step(step.snapshot, "leave", {"x": False})
    assert step.snapshot.configuration == frozenset({"out"})
    assert len(step.snapshot.history) == DEPTH - 2  # every level remembered its leaf


def test_a_2000_state_eventless_ring_is_one_finding_and_the_engine_refuses_it() -> None:
    states = [State("idle", type="initial")] + [State(f"R{k}") for k in range(CYCLE)]
    ring = tuple(
        Transition("always", f"R{k}", f"R{(k + 1) % CYCLE}", eventless=True) for k in range(CYCLE)
    )
    spec = MachineSpec(
        meta=MachineMeta(),
        states=tuple(states),
        transitions=(Transition("go", "idle", "R0"), *ring),
    )
    assert run_checks(spec) == []
    [finding] = lint(spec)
    assert finding.code == "eventless-cycle" and finding.path == "transitions[1]"
    assert finding.message.count(" -> ") == CYCLE
    assert "none of them has a guard" in finding.message
    assert to_mermaid(spec).count(": always") == CYCLE
    machine = StateMachine.from_spec(spec)
    refused = machine.step(machine.start().snapshot, "go")
    assert refused.refusal is not None and refused.refusal.code == "livelock"


def test_parallel_states_nested_1000_deep_are_checked_linted_and_drawn() -> None:
    """P0 holds P1 in its first region and a leaf in its second, P1 holds P2, ..."""
    depth = 1_000
    states: list[dict[str, Any]] = [{"name": "idle", "type": "initial"}]
    for k in range(depth):
        inner = f"P{k + 1}" if k < depth - 1 else "core"
        states.append(
            {
                "name": f"P{k}",
                "type": "parallel",
                **({"parent": f"P{k - 1}"} if k else {}),
                "regions": [
                    {"name": "deeper", "initial": inner, "states": [inner]},
                    {"name": "side", "initial": f"S{k}", "states": [f"S{k}"]},
                ],
            }
        )
    transitions = [
        {"trigger": "go", "source": "idle", "dest": "P0"},
        {"source": "idle", "dest": "core", "always": True, "guards": [{"expr": "jump"}]},
        {"source": "S0", "dest": "idle", "always": True, "guards": [{"expr": "back"}]},
        {"trigger": "stop", "source": "P0", "dest": "idle"},
    ]
    spec = load_spec({"states": states, "transitions": transitions})
    chart = spec.chart
    assert chart.region_at["core"] == (f"P{depth - 1}", "deeper")
    # entering the innermost state from outside starts every side region, S0 included,
    # and S0 leads back: lint follows the entry through all 1,000 parallel states
    [finding] = lint(spec)
    assert finding.code == "eventless-cycle"
    assert "idle -> core, then S0 -> idle (transitions 1, 2)" in finding.message
    text = to_mermaid(spec)
    assert text.count(" --\n") == depth  # one separator per parallel state
    assert sum(line.endswith(" {") for line in text.splitlines()) == depth
    machine = StateMachine.from_spec(spec)
    step = machine.step(machine.start({"jump": False, "back": False}).snapshot, "go")
    assert {"core", "S0", f"S{depth - 1}"} <= step.snapshot.configuration


# --------------------------------------------------------------------------- one start


def _top_level_start_arrow(spec: MachineSpec) -> str | None:
    """The state the diagram's top-level ``[*] -->`` arrow points at."""
    drawn = render_mermaid_diagram(build_graph(spec), "TB")
    by_id = {mid: name for name, mid in drawn.state_ids.items()}
    arrows = re.findall(r"^    \[\*\] --> (\S+)$", drawn.text, flags=re.MULTILINE)
    assert len(arrows) <= 1
    return by_id[arrows[0]] if arrows else None


def _assert_one_start(definition: dict[str, Any]) -> None:
    spec = load_spec(definition)  # the checks accept it
    machine = StateMachine.from_spec(spec)
    started = machine.start().snapshot.configuration
    [top] = [s for s in started if machine.parent_of(s) is None]
    assert top == spec.chart.initial_state
    assert _top_level_start_arrow(spec) == top
    graph = build_graph(spec)
    for name in spec.chart.history:
        deep = spec.chart.states[name].is_deep_history
        assert graph.node(name).kind == ("deep-history" if deep else "history")
    assert top not in spec.chart.history
    findings = lint(spec)
    assert [f for f in findings if f.severity == "error"] == []
    unreachable = {f.path for f in findings if f.code == "unreachable-state"}
    assert not unreachable & {f"states[{spec.chart.index[s]}]" for s in started}
    for finding in findings:
        if finding.code == "implicit-initial":
            assert f"starts in {top!r}" in finding.message


def test_a_nested_initial_child_does_not_move_the_start() -> None:
    definition: dict[str, Any] = {
        "states": [
            {"name": "A"},
            {"name": "B"},
            {"name": "B1", "parent": "B", "type": "initial"},
            {"name": "B2", "parent": "B", "type": "terminal"},
        ],
        "transitions": [
            {"trigger": "go", "source": "A", "dest": "B"},
            {"trigger": "next", "source": "B1", "dest": "B2"},
        ],
    }
    _assert_one_start(definition)
    spec = load_spec(definition)
    assert spec.chart.initial_state == "A"
    assert StateMachine.from_spec(spec).initial_state_string() == "A"
    assert _top_level_start_arrow(spec) == "A"
    assert [(f.code, f.path) for f in lint(spec)] == [("implicit-initial", "states[0]")]
    assert "machine starts in 'A', the first one" in lint(spec)[0].message


@st.composite
def started_anywhere(draw: st.DrawFn) -> dict[str, Any]:
    """A generated machine whose start is marked on any state, or on none."""
    definition = draw(machines())
    states = definition["states"]
    states[0].pop("type")
    marked = draw(st.one_of(st.none(), st.integers(0, len(states) - 1)))
    if marked is not None and states[marked].get("type") is None:
        states[marked]["type"] = "initial"
    if draw(st.booleans()):
        states.append(states.pop(0))  # the first state is not always a root
    parents = {s.get("parent") for s in states}
    for state in list(states):
        name = state["name"]
        if "initial_child" in state and draw(st.booleans()):
            # a history state, entered from anywhere; it must not move the start
            kind = draw(st.sampled_from(["shallow", "deep"]))
            states.append({"name": f"h_{name}", "parent": name, "type": "history", "history": kind})
            source = draw(st.sampled_from([s["name"] for s in states if s.get("history") is None]))
            definition["transitions"].append(
                {"trigger": "recall", "source": source, "dest": f"h_{name}"}
            )
        elif (
            state.get("parent") is not None
            and name not in parents
            and state.get("type") is None
            and draw(st.booleans())
        ):
            state["type"] = "final"
    return definition


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(started_anywhere())
def test_engine_diagram_lint_and_checks_agree_on_the_start(definition: dict[str, Any]) -> None:
    _assert_one_start(definition)
