"""Mermaid text for hand-built graphs and specs, checked against golden files.

Rewrite the golden files after an intended change with
``PYSTATOR_UPDATE_GOLDEN=1 python -m pytest tests/engine/test_diagram.py`` and
review the diff. The real-Mermaid parse check of the same files is in
``tests/browser/test_mermaid_render.py``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from pystator.diagram import (
    DiagramEdge,
    DiagramGraph,
    DiagramNode,
    active_composite_ids,
    build_graph,
    escape_label,
    mermaid_ids,
    render_mermaid,
    render_mermaid_diagram,
    to_mermaid,
)
from pystator.model import MachineMeta, MachineSpec, Region, State, Transition
from tests.engine.diagram_cases import (
    AWKWARD,
    CASES,
    awkward_spec,
    hierarchical_spec,
    order_spec,
    parallel_spec,
    statechart_spec,
)

GOLDEN = Path(__file__).parent / "golden"


def spec_of(states: list[State]) -> MachineSpec:
    return MachineSpec(meta=MachineMeta(), states=tuple(states), transitions=())


UPDATE = os.environ.get("PYSTATOR_UPDATE_GOLDEN") == "1"
ID = r"[A-Za-z_][A-Za-z0-9_]*"


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / f"{name}.mmd"
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run with PYSTATOR_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    check_golden(name, CASES[name]())


def assert_well_formed(text: str) -> None:
    """A Node-free sanity check of the grammar we emit (the browser test runs Mermaid)."""
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    assert re.fullmatch(r" {4}direction (LR|TB|BT|RL)", lines[1])
    depth = 0
    statement = re.compile(
        rf"state \"[^\"\n]*\" as {ID}( \{{)?"
        rf"|(\[\*\]|{ID}) --> (\[\*\]|{ID})( : [^\n]+)?"
        r"|--"
        rf"|note right of {ID} : [^\n]+"
        r"|classDef \w+ [^\s]+( [^\s]+)*"
        rf"|class {ID}(,{ID})* \w+"
        r"|%% pystator:highlight edge\d+"
        r"|\}"
    )
    for line in lines[2:]:
        body = line.strip()
        assert statement.fullmatch(body), f"unexpected line: {line!r}"
        if body.endswith("{"):
            depth += 1
        elif body == "}":
            depth -= 1
            assert depth >= 0
        elif body == "--":
            assert depth > 0, "region separator outside a composite"
        if not body.startswith(("state ", "note ")):
            assert '"' not in body
        label = body.split(" : ", 1)[1] if " : " in body else ""
        label = re.sub(r"#(\w+);", "", label)  # Mermaid entity codes are the escapes
        assert not re.search(r"[<>\";{}]", label), f"unescaped label: {line!r}"
    assert depth == 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_case_is_well_formed(name: str) -> None:
    assert_well_formed(CASES[name]())


def test_mermaid_ids_are_safe_unique_and_deterministic() -> None:
    names = [*AWKWARD, "s_x_0", "x", "a b", "a_b", "a-b", "", "  "]
    ids = mermaid_ids(names)
    assert ids == mermaid_ids(names)
    assert len(set(ids.values())) == len(set(names))
    for name, mid in ids.items():
        assert re.fullmatch(ID, mid), (name, mid)
        assert mid.lower() not in {"end", "state", "note", "class", "default", "direction"}
    assert ids["x"] == "x" and ids["a_b"] == "a_b"
    assert ids["end"].startswith("s_end_")
    # a real name that looks like a generated id never takes another state's id
    assert ids["s_end_1"] != ids["end"]


def test_escape_label_keeps_text_and_removes_syntax() -> None:
    assert escape_label('a "b" #1; c:d') == "a #quot;b#quot; #35;1#59; c#58;d"
    assert escape_label("<script>x</script>") == "#lt;script#gt;x#lt;/script#gt;"
    assert escape_label("{x}\n y\t%%") == "#123;x#125; y #37;#37;"
    assert escape_label("naïve ✓") == "naïve ✓"


def test_names_render_as_labels_with_safe_ids() -> None:
    text = to_mermaid(awkward_spec())
    ids = mermaid_ids(s.name for s in awkward_spec().states)
    for name in AWKWARD:
        assert f'state "{escape_label(name)}" as {ids[name]}' in text
    assert "<script>" not in text


def test_flat_machine_edges_guards_delays_and_timeouts() -> None:
    text = to_mermaid(order_spec(), show_actions=True)
    assert "[*] --> PENDING" in text
    assert "OPEN --> FILLED : execution_report [is_full_fill] / update_positions" in text
    assert "PARTIALLY_FILLED --> FILLED : execution_report" in text
    assert "OPEN --> PARTIALLY_FILLED : execution_report [fill_qty #lt; order_qty]" in text
    assert "OPEN --> CANCELLED : expire after 30m" in text
    assert "PENDING --> TIMED_OUT : timeout 5s" in text
    for terminal in ("FILLED", "CANCELLED", "TIMED_OUT"):
        assert f"{terminal} --> [*]" in text
    assert "[is_full_fill]" not in to_mermaid(order_spec(), show_guards=False)
    assert "update_positions" not in to_mermaid(order_spec())


def test_hierarchy_nests_children_with_their_own_initial_marker() -> None:
    text = to_mermaid(hierarchical_spec())
    ids = mermaid_ids(s.name for s in hierarchical_spec().states)
    block = text.split(f'state "active" as {ids["active"]} {{', 1)[1]
    assert block.lstrip().startswith(f'state "active.scanning" as {ids["active.scanning"]}')
    assert f"[*] --> {ids['active.scanning']}" in block
    # an edge between states declared in different blocks is written at the top level
    top_level = [line for line in text.splitlines() if line.startswith("    ") and line[4] != " "]
    assert f"    {ids['active']} --> halted : emergency_stop" in top_level
    assert f"    {ids['active.trading.waiting']} --> {ids['active.scanning']} : filled" in top_level


def test_parallel_regions_are_separated_and_each_has_an_initial_marker() -> None:
    text = to_mermaid(parallel_spec())
    block = text.split('state "active" as active {', 1)[1]
    regions = block.split("\n        --\n")
    assert len(regions) == 3
    for initial, region in zip(("scanning", "normal", "connecting"), regions, strict=True):
        assert f"[*] --> {initial}" in region
    assert "connecting --> failed : timeout 10s" in regions[2]


def test_regions_are_listed_by_name_with_their_states_for_the_page_to_label() -> None:
    drawn = render_mermaid_diagram(build_graph(parallel_spec()), "TB")
    ids = drawn.state_ids
    assert [(r.parallel, r.name) for r in drawn.regions] == [
        (ids["active"], "trading"),
        (ids["active"], "risk_monitor"),
        (ids["active"], "data_feed"),
    ]
    trading = drawn.regions[0]
    assert set(trading.members) == {ids[s] for s in ("scanning", "analyzing", "executing")}
    assert json.loads(drawn.regions_json)[2] == {
        "parallel": ids["active"],
        "name": "data_feed",
        "states": list(drawn.regions[2].members),
    }
    unnamed = DiagramGraph(
        [
            DiagramNode("p", "p", "parallel", regions=[["a"], ["b"]]),
            DiagramNode("a", "a"),
            DiagramNode("b", "b"),
        ]
    )
    assert render_mermaid_diagram(unnamed).regions == ()
    assert render_mermaid_diagram(build_graph(order_spec())).regions_json == "[]"


def test_compound_endpoints_inside_regions_are_redirected_to_the_initial_leaf() -> None:
    graph = build_graph(parallel_spec())
    redirected = render_mermaid(graph, "TB")
    assert "analyzing --> placing : execute" in redirected
    assert "setup --> placing : resume_trading" in redirected
    assert "placing --> scanning : confirmed" in redirected
    direct = render_mermaid(graph, "TB", redirect_parallel_compounds=False)
    assert "analyzing --> executing : execute" in direct
    assert "executing --> scanning : confirmed" in direct
    # outside parallel states compound endpoints stay as written
    assert "active --> halted : shutdown" in redirected


def test_active_configuration_is_highlighted() -> None:
    config = frozenset({"active", "executing", "confirming", "elevated", "connecting"})
    diagram = render_mermaid_diagram(build_graph(parallel_spec(), active=config), "TB")
    assert "    class confirming,elevated,connecting active" in diagram.text
    assert "    class active,executing activeComposite" in diagram.text
    assert diagram.active_composites == ("active", "executing")
    assert active_composite_ids(build_graph(parallel_spec(), active=config)) == (
        "active",
        "executing",
    )
    assert "classDef" not in to_mermaid(parallel_spec())
    # names outside the machine are ignored rather than drawn
    assert "class" not in to_mermaid(order_spec(), active=frozenset({"NOPE"})).split("direction")[1]


def test_edge_ids_follow_mermaid_numbering_and_mark_the_last_transition() -> None:
    diagram = render_mermaid_diagram(build_graph(order_spec(), highlight_transition=1), "TB")
    relations = [
        line.strip() for line in diagram.text.splitlines() if " --> " in line and "%%" not in line
    ]
    graph = build_graph(order_spec(), highlight_transition=1)
    marked = sorted(graph.highlighted_edges)
    assert [graph.edges[i].key for i in marked] == ["transitions[1]", "transitions[1]"]
    assert [graph.edges[i].source for i in marked] == ["OPEN", "PARTIALLY_FILLED"]
    for index, edge_id in diagram.edge_ids.items():
        relation = relations[int(edge_id.removeprefix("edge"))]
        edge = graph.edges[index]
        assert relation.startswith(
            "[*] -->" if edge.key.startswith("initial") else f"{edge.source} --> {edge.target}"
        )
    for i in marked:
        assert f"%% pystator:highlight {diagram.edge_ids[i]}" in diagram.text
    assert diagram.text.count("%% pystator:highlight") == 2


def test_without_marks_in_the_text_every_configuration_draws_the_same_text() -> None:
    """The simulator marks states on the page: one layout serves every step."""
    first = build_graph(order_spec(), active={"PENDING"})
    later = build_graph(order_spec(), active={"OPEN"}, highlight_transition=1)
    a = render_mermaid_diagram(first, "TB", marks_in_text=False)
    b = render_mermaid_diagram(later, "TB", marks_in_text=False)
    assert a.text == b.text
    assert "active" not in a.text and "pystator:highlight" not in b.text
    assert (a.active_states, b.active_states) == (("PENDING",), ("OPEN",))
    marked = render_mermaid_diagram(later, "TB")
    assert "class OPEN active" in marked.text and marked.active_states == ("OPEN",)
    assert marked.text != b.text


def test_notes_come_from_descriptions_only_when_asked() -> None:
    assert "note right of OPEN : accepted by the exchange" in to_mermaid(
        order_spec(), show_notes=True
    )
    assert "note" not in to_mermaid(order_spec())


def test_accepts_anything_with_a_spec() -> None:
    class Holder:
        spec = order_spec()

    assert to_mermaid(Holder()) == to_mermaid(order_spec())


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="MachineSpec or a StateMachine"):
        build_graph("not a machine")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="direction must be one of"):
        render_mermaid(DiagramGraph(nodes=()), "UP")
    with pytest.raises(ValueError, match="unknown node kind"):
        DiagramNode("a", "a", "fancy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown child"):
        DiagramGraph(nodes=(DiagramNode("a", "a", "compound", children=("b",)),))
    with pytest.raises(ValueError, match="unknown node"):
        DiagramGraph(nodes=(DiagramNode("a", "a"),), edges=(DiagramEdge("a", "zz"),))
    with pytest.raises(ValueError, match="defined twice"):
        DiagramGraph(nodes=(DiagramNode("a", "a"), DiagramNode("a", "b")))


def test_empty_graph_renders_a_header_only() -> None:
    assert render_mermaid(DiagramGraph(nodes=())) == "stateDiagram-v2\n    direction LR\n"


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_NAMES = sorted(
    {p.stem for p in EXAMPLES.glob("*.yaml")}
    | {p.stem.removeprefix("example_") for p in GOLDEN.glob("example_*.mmd")}
)


@pytest.mark.parametrize("stem", EXAMPLE_NAMES)
def test_example_golden(stem: str) -> None:
    from pystator import StateMachine

    path = EXAMPLES / f"{stem}.yaml"
    assert path.exists(), f"golden example_{stem}.mmd has no examples/{stem}.yaml: remove it"
    machine = StateMachine.from_yaml(path)
    text = to_mermaid(machine, active=machine.initial_configuration())
    assert_well_formed(text)
    check_golden(f"example_{stem}", text)


def test_regions_and_their_states_are_drawn_in_the_order_written() -> None:
    machine = spec_of(
        [
            State("idle", type="initial"),
            State(
                "P",
                type="parallel",
                regions=(Region("second", "z", ("z", "y")), Region("first", "a", ("a",))),
            ),
            State("a", parent="P"),
            State("y", parent="P"),
            State("z", parent="P"),
        ]
    )
    graph = build_graph(machine)
    parallel = graph.node("P")
    assert parallel.region_names == ("second", "first")
    assert [[m for m in r if not m.startswith("[*]")] for r in parallel.regions] == [
        ["z", "y"],
        ["a"],
    ]
    text = render_mermaid(graph)
    assert text.index('state "z"') < text.index('state "y"') < text.index('state "a"')


def test_a_damaged_spec_is_drawn_as_the_chart_reads_it() -> None:
    machine = spec_of(
        [
            State("A"),
            State("A", type="terminal"),  # a repeated name: the first declaration counts
            State("orphan", parent="nowhere"),  # an unknown parent: drawn at the top level
            State("B", parent="C"),
            State("C", parent="B"),  # a cycle, broken at B
        ]
    )
    graph = build_graph(machine)
    assert [n.id for n in graph.nodes if n.kind != "initial-marker"] == ["A", "orphan", "B", "C"]
    assert graph.node("A").kind == "simple"
    assert [r for r in graph.roots or () if not r.startswith("[*]")] == ["A", "orphan", "B"]
    assert "    [*] --> A" in render_mermaid(graph).splitlines()


def _block(text: str, name: str) -> str:
    """The lines of ``name``'s composite block, up to its closing brace."""
    lines = text.splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.strip() == f'state "{name}" as {name} {{'
    )
    pad = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    end = lines.index(f"{pad}}}", start)
    return "\n".join(lines[start + 1 : end])


def test_history_and_final_states_are_drawn_as_what_they_are() -> None:
    graph = build_graph(statechart_spec())
    kinds = {n.id: n.kind for n in graph.nodes}
    assert (kinds["last"], kinds["exact"], kinds["rig_memory"]) == (
        "history",
        "deep-history",
        "deep-history",
    )
    assert (kinds["finished"], kinds["left_done"], kinds["archived"]) == (
        "final",
        "final",
        "terminal",
    )
    assert graph.node("last").label == "last"  # the mark is the renderer's
    text = render_mermaid(graph, "TB")
    player = _block(text, "player")
    assert 'state "(H) last" as last' in player and 'state "(H*) exact" as exact' in player
    assert text.splitlines()[-1] == "    class last,exact,rig_memory history"
    assert "    classDef history " in text
    # a final state ends its own block: the completion of its parent
    assert "        finished --> [*]" in _block(text, "job").splitlines()
    assert "left_done --> [*]" in _block(text, "motors")
    assert "    archived --> [*]" in text.splitlines()
    assert "finished --> [*]" not in text.replace(_block(text, "job"), "")
    # no history node, no history class
    assert "history" not in to_mermaid(hierarchical_spec())


def test_eventless_and_kind_marked_transitions_read_apart() -> None:
    text = to_mermaid(statechart_spec(), show_actions=True)
    assert "checking --> working : always [ready]" in text
    assert "working --> finished : always\n" in text
    assert "radio --> radio : retune (external)" in text
    assert "player --> radio : eject (internal)" in text
    assert "radio --> cd : disc\n" in text  # the default kind has no mark
    assert "fm --> am : band / raise retune" in text
    # eventless is the transition's nature, whatever trigger a hand-built one carries
    machine = spec_of([State("a", type="initial"), State("b")])
    hand = MachineSpec(
        meta=machine.meta,
        states=machine.states,
        transitions=(
            Transition("", "a", "b", eventless=True, actions=({"assign": "n", "expr": "n + 1"},)),
        ),
    )
    assert "a --> b : always / n = n + 1" in to_mermaid(hand, show_actions=True)


def test_a_parallel_state_inside_a_region_is_drawn_with_its_own_regions() -> None:
    graph = build_graph(statechart_spec())
    rig, motors = graph.node("rig"), graph.node("motors")
    assert rig.region_names == ("drive", "signal") and motors.region_names == ("left", "right")
    assert "motors" in rig.regions[0]
    text = render_mermaid(graph, "TB")
    drive = _block(text, "rig").split("\n        --\n")[0]
    assert drive.count("\n            --\n") == 1  # the motors' own separator, one level in
    assert_well_formed(text)


def test_hand_built_history_nodes_are_marked_and_styled() -> None:
    graph = DiagramGraph(
        nodes=(
            DiagramNode("box", "box", "compound", children=("m", "a", "h")),
            DiagramNode("m", "", "initial-marker"),
            DiagramNode("a", "a"),
            DiagramNode("h", "memory", "deep-history"),
            DiagramNode("end", "end", "final"),
        ),
        edges=(DiagramEdge("m", "a"), DiagramEdge("end", "h", "back")),
    )
    text = render_mermaid(graph)
    assert '        state "(H*) memory" as h' in text
    assert "    class h history" in text
    assert "    s_end_3 --> [*]" in text  # at the top level, where it is declared
    with pytest.raises(ValueError, match="unknown node kind 'shallow'"):
        DiagramNode("x", "x", "shallow")  # type: ignore[arg-type]


def test_a_hand_built_transition_naming_an_unknown_state_draws_no_edge() -> None:
    machine = spec_of([State("a", type="initial"), State("b")])
    hand = MachineSpec(
        meta=machine.meta,
        states=machine.states,
        transitions=(
            Transition("lost", "a", "nowhere"),
            Transition("go", frozenset({"ghost", "a"}), "b"),
        ),
    )
    graph = build_graph(hand, highlight_transition=1)
    drawn = [(e.source, e.target, e.key) for e in graph.edges if e.key.startswith("t")]
    assert drawn == [("a", "b", "transitions[1]")]
    assert [graph.edges[k].key for k in graph.highlighted_edges] == ["transitions[1]"]
    assert "nowhere" not in to_mermaid(hand) and "ghost" not in to_mermaid(hand)
