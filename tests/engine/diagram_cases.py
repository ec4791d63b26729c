"""Machines and diagram graphs drawn by the golden tests (hand-built, no loader needed).

Each case is a zero-argument function returning Mermaid text; the golden file
``golden/<name>.mmd`` holds what it must produce. The browser test renders every
golden file in the real Mermaid, so the cases cover the awkward corners.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from pystator.diagram import (
    DiagramEdge,
    DiagramGraph,
    DiagramNode,
    build_graph,
    render_mermaid,
    to_mermaid,
)
from pystator.model import MachineMeta, MachineSpec, Region, State, Timeout, Transition


def spec(states: list[State], transitions: list[Transition]) -> MachineSpec:
    return MachineSpec(meta=MachineMeta(), states=tuple(states), transitions=tuple(transitions))


def order_spec() -> MachineSpec:
    return spec(
        [
            State("PENDING", type="initial", timeout=Timeout(5.0, "TIMED_OUT")),
            State("OPEN", description="accepted by the exchange"),
            State("PARTIALLY_FILLED"),
            State("FILLED", type="terminal"),
            State("CANCELLED", type="terminal"),
            State("TIMED_OUT", type="terminal"),
        ],
        [
            Transition("exchange_ack", "PENDING", "OPEN", actions=("update_order_id",)),
            Transition(
                "execution_report",
                frozenset({"OPEN", "PARTIALLY_FILLED"}),
                "FILLED",
                guards=("is_full_fill",),
                actions=("update_positions",),
            ),
            Transition(
                "execution_report",
                frozenset({"OPEN", "PARTIALLY_FILLED"}),
                "PARTIALLY_FILLED",
                guards=({"expr": "fill_qty < order_qty"},),
            ),
            Transition("cancel", frozenset({"OPEN", "PARTIALLY_FILLED"}), "CANCELLED"),
            Transition("expire", "OPEN", "CANCELLED", after=1_800_000),
        ],
    )


def hierarchical_spec() -> MachineSpec:
    return spec(
        [
            State("idle", type="initial"),
            State("active", initial_child="active.scanning", on_enter=("start_feed",)),
            State("active.scanning", parent="active"),
            State("active.analyzing", parent="active"),
            State(
                "active.trading",
                parent="active",
                initial_child="active.trading.sending",
            ),
            State("active.trading.sending", parent="active.trading"),
            State("active.trading.waiting", parent="active.trading"),
            State("halted", type="terminal"),
        ],
        [
            Transition("start", "idle", "active"),
            Transition("signal_detected", "active.scanning", "active.analyzing"),
            Transition("trade", "active.analyzing", "active.trading"),
            Transition("sent", "active.trading.sending", "active.trading.waiting"),
            Transition("filled", "active.trading.waiting", "active.scanning"),
            Transition("", "active.trading.waiting", "active.analyzing", after=500),
            Transition("emergency_stop", "active", "halted"),
        ],
    )


def parallel_spec() -> MachineSpec:
    regions = (
        Region("trading", "scanning", ("scanning", "analyzing", "executing")),
        Region("risk_monitor", "normal", ("normal", "elevated", "critical")),
        Region("data_feed", "connecting", ("connecting", "connected", "failed")),
    )
    return spec(
        [
            State("setup", type="initial"),
            State("active", type="parallel", regions=regions),
            State("scanning", parent="active", on_enter=("start_scanners",)),
            State("analyzing", parent="active"),
            State("executing", parent="active", initial_child="placing"),
            State("placing", parent="executing"),
            State("confirming", parent="executing"),
            State("normal", parent="active"),
            State("elevated", parent="active"),
            State("critical", parent="active"),
            State("connecting", parent="active", timeout=Timeout(10, "failed")),
            State("connected", parent="active"),
            State("failed", parent="active"),
            State("halted", type="terminal"),
        ],
        [
            Transition("go", "setup", "active"),
            Transition("signal_detected", "scanning", "analyzing", region="trading"),
            Transition("execute", "analyzing", "executing", region="trading"),
            Transition("placed", "placing", "confirming"),
            Transition("confirmed", "executing", "scanning", region="trading"),
            Transition(
                "risk_warning",
                "normal",
                "elevated",
                region="risk_monitor",
                guards=({"expr": "exposure > limit * 0.8"},),
            ),
            Transition("risk_breach", "elevated", "critical", region="risk_monitor"),
            Transition("up", "connecting", "connected", region="data_feed"),
            Transition("critical_stop", "critical", "halted"),
            Transition("shutdown", "active", "halted"),
            Transition("resume_trading", "setup", "executing"),
        ],
    )


AWKWARD = (
    "start",
    "end",
    "state",
    "note",
    "class",
    "default",
    "order.open",
    "waiting for fill",
    "naïve-état ✓",
    "注文",
    '<script>alert("x")</script>',
    "a:b;c#d{e}",
    "s_end_1",
    "end_end",
)


def awkward_spec() -> MachineSpec:
    states = [State(AWKWARD[0], type="initial", description='first <b>bold</b> "quoted" #1; x:y')]
    states += [State(name) for name in AWKWARD[1:-1]]
    states.append(State(AWKWARD[-1], type="terminal", description="line one\nline two"))
    transitions = [
        Transition(f"go {i}: <{a}>", a, b) for i, (a, b) in enumerate(itertools.pairwise(AWKWARD))
    ]
    transitions.append(
        Transition(
            "end",
            "state",
            "note",
            guards=({"expr": 'name == "a;b" and n >= 1'}, "ok?"),
            actions=("log<x>",),
        )
    )
    return spec(states, transitions)


def deep_spec() -> MachineSpec:
    """root > L0 > L1 > ... > L5; each level Lk also holds a leaf ``Lkx``."""
    levels = ["L0", "L1", "L2", "L3", "L4", "L5"]
    states = [State("root", type="initial", initial_child="L0")]
    parent = "root"
    for k, name in enumerate(levels):
        last = k == len(levels) - 1
        states.append(State(name, parent=parent, initial_child=None if last else levels[k + 1]))
        if not last:
            states.append(State(f"{name}x", parent=name))
        parent = name
    states.append(State("out", type="terminal"))
    return spec(
        states,
        [
            Transition("deeper", "L2x", "L5"),
            Transition("leave", "L5", "out"),
            Transition("reset", "root", "L3"),
            Transition("side", "L4x", "L1x"),
            Transition("sibling", "L3x", "L4"),
        ],
    )


def deeper_than_indentation_spec(depth: int = 36) -> MachineSpec:
    """A chain nested past the 32 levels the text indents (deeper lines keep that indent)."""
    states = [State("D0", type="initial", initial_child="D1")]
    for k in range(1, depth):
        states.append(
            State(f"D{k}", parent=f"D{k - 1}", initial_child=f"D{k + 1}" if k < depth - 1 else None)
        )
    states.append(State("gone", type="terminal"))
    return spec(
        states,
        [Transition("leave", f"D{depth - 1}", "gone"), Transition("up", f"D{depth - 1}", "D3")],
    )


def statechart_spec() -> MachineSpec:
    """Every statechart construct at once: history (shallow and deep, in a compound
    and in a parallel state), final states (in a compound and in a region), eventless
    transitions, both explicit transition kinds, a raised event, and a parallel
    state inside a region of another."""
    return spec(
        [
            State("off", type="initial"),
            State("player", initial_child="radio"),
            State("radio", parent="player", initial_child="fm"),
            State("fm", parent="radio"),
            State("am", parent="radio"),
            State("cd", parent="player"),
            State("last", parent="player", type="history", history="shallow", default="cd"),
            State("exact", parent="player", type="history", history="deep", default="radio"),
            State(
                "rig",
                type="parallel",
                regions=(
                    Region("drive", "motors", ("motors", "parked")),
                    Region("signal", "silent", ("silent", "talking", "hung_up")),
                ),
            ),
            State(
                "motors",
                parent="rig",
                type="parallel",
                regions=(
                    Region("left", "left_idle", ("left_idle", "left_done")),
                    Region("right", "right_idle", ("right_idle", "right_done")),
                ),
            ),
            State("left_idle", parent="motors"),
            State("left_done", parent="motors", type="final"),
            State("right_idle", parent="motors"),
            State("right_done", parent="motors", type="final"),
            State("parked", parent="rig"),
            State("silent", parent="rig"),
            State("talking", parent="rig"),
            State("hung_up", parent="rig", type="final"),
            State("rig_memory", parent="rig", type="history", history="deep"),
            State("job", initial_child="checking"),
            State("checking", parent="job"),
            State("working", parent="job"),
            State("finished", parent="job", type="final"),
            State("archived", type="terminal"),
        ],
        [
            Transition("power", "off", "last"),
            Transition("resume", "off", "exact"),
            Transition("band", "fm", "am", actions=({"raise": "retune"},)),
            Transition("retune", "radio", "radio", kind="external"),
            Transition("disc", "radio", "cd"),
            Transition("eject", "player", "radio", kind="internal"),
            Transition("power", "player", "off"),
            Transition("drive", "off", "rig"),
            Transition("spin", "left_idle", "left_done"),
            Transition("spin", "right_idle", "right_done"),
            Transition("done.state.motors", "motors", "parked"),
            Transition("talk", "silent", "talking"),
            Transition("hang_up", "talking", "hung_up"),
            Transition("back", "parked", "rig_memory"),
            Transition("work", "off", "job"),
            Transition(
                "always", "checking", "working", guards=({"expr": "ready"},), eventless=True
            ),
            Transition("always", "working", "finished", eventless=True),
            Transition("done.state.job", "job", "archived"),
        ],
    )


def hand_graph_flat() -> str:
    graph = DiagramGraph(
        nodes=(
            DiagramNode("init", "", "initial-marker"),
            DiagramNode("Idle", "Idle"),
            DiagramNode("Busy", "Busy (working)", note="does the work"),
            DiagramNode("Done", "Done", "terminal"),
        ),
        edges=(
            DiagramEdge("init", "Idle"),
            DiagramEdge("Idle", "Busy", "start [ready]"),
            DiagramEdge("Busy", "Idle", "after 5s"),
            DiagramEdge("Busy", "Done", "finish / notify"),
        ),
        active=frozenset({"Busy"}),
        highlighted_edges=frozenset({1}),
    )
    return render_mermaid(graph, "LR")


def hand_graph_nested() -> str:
    graph = DiagramGraph(
        nodes=(
            DiagramNode("top", "", "initial-marker"),
            DiagramNode("P", "Both at once", "parallel", regions=(("m1", "a", "b"), ("m2", "x"))),
            DiagramNode("m1", "", "initial-marker"),
            DiagramNode("a", "a"),
            DiagramNode("b", "b", "compound", children=("m3", "b1", "b2")),
            DiagramNode("m3", "", "initial-marker"),
            DiagramNode("b1", "b1"),
            DiagramNode("b2", "b2"),
            DiagramNode("m2", "", "initial-marker"),
            DiagramNode("x", "x"),
            DiagramNode("Z", "Z", "terminal"),
        ),
        edges=(
            DiagramEdge("top", "P"),
            DiagramEdge("m1", "a"),
            DiagramEdge("m3", "b1"),
            DiagramEdge("m2", "x"),
            DiagramEdge("a", "b", "go"),
            DiagramEdge("b1", "b2", "next"),
            DiagramEdge("b", "a", "back"),
            DiagramEdge("P", "Z", "stop"),
        ),
        active=frozenset({"P", "b", "b2", "x"}),
    )
    return render_mermaid(graph, "TB")


CASES: dict[str, Callable[[], str]] = {
    "graph_flat": hand_graph_flat,
    "graph_nested": hand_graph_nested,
    "spec_flat": lambda: to_mermaid(order_spec(), active=frozenset({"OPEN"})),
    "spec_flat_actions_lr": lambda: to_mermaid(
        order_spec(),
        direction="LR",
        show_actions=True,
        show_notes=True,
        highlight_transition=1,
    ),
    "spec_flat_no_guards": lambda: to_mermaid(order_spec(), show_guards=False),
    "spec_hierarchical": lambda: to_mermaid(
        hierarchical_spec(),
        active=frozenset({"active", "active.trading", "active.trading.waiting"}),
    ),
    "spec_parallel_3_regions": lambda: to_mermaid(
        parallel_spec(),
        active=frozenset({"active", "executing", "confirming", "elevated", "connecting"}),
    ),
    "spec_parallel_no_redirect": lambda: render_mermaid(
        build_graph(parallel_spec()),
        "TB",
        redirect_parallel_compounds=False,
    ),
    "spec_awkward_names": lambda: to_mermaid(
        awkward_spec(),
        show_actions=True,
        show_notes=True,
        active=frozenset({"end", '<script>alert("x")</script>'}),
    ),
    "spec_deeper_than_indentation": lambda: to_mermaid(
        deeper_than_indentation_spec(), active=frozenset({"D0", "D35"})
    ),
    "spec_statechart_constructs": lambda: to_mermaid(
        statechart_spec(),
        show_actions=True,
        active=frozenset({"rig", "motors", "left_idle", "right_done", "talking"}),
    ),
    "spec_deep_nesting": lambda: to_mermaid(
        deep_spec(), active=frozenset({"root", "L0", "L1", "L2", "L3", "L4", "L5"})
    ),
}
