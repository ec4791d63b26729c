"""A reader's diagram view: collapsed compound states and the drawing direction.

``collapse`` is tested on hand-built graphs (what it keeps, re-points and drops), and
``DiagramView`` on a machine, through the Mermaid text it draws.
"""

from __future__ import annotations

from pystator import StateMachine
from pystator.diagram import (
    DEFAULT_DIRECTION,
    MAX_COLLAPSED,
    DiagramEdge,
    DiagramGraph,
    DiagramNode,
    DiagramView,
    build_graph,
    collapse,
    render_mermaid_diagram,
)


def nested() -> DiagramGraph:
    """idle -> job{prep -> run{a -> b}} -> done, with job's start marker and an inner loop."""
    return DiagramGraph(
        nodes=(
            DiagramNode("idle", "idle"),
            DiagramNode("[*]job", "", "initial-marker"),
            DiagramNode("job", "job", "compound", children=("[*]job", "prep", "run")),
            DiagramNode("prep", "prep"),
            DiagramNode("run", "run", "compound", children=("a", "b")),
            DiagramNode("a", "a"),
            DiagramNode("b", "b"),
            DiagramNode("done", "done", "terminal"),
        ),
        edges=(
            DiagramEdge("idle", "job", "start", "transitions[0]"),
            DiagramEdge("[*]job", "prep", "", "initial:job"),
            DiagramEdge("prep", "run", "go", "transitions[1]"),
            DiagramEdge("a", "b", "step", "transitions[2]"),
            DiagramEdge("b", "done", "finish", "transitions[3]"),
            DiagramEdge("idle", "idle", "poll", "transitions[4]"),
        ),
        active=frozenset({"job", "run", "b"}),
        highlighted_edges=frozenset({5}),  # the self-loop, drawn sixth
    )


def test_a_collapsed_state_is_one_box_saying_how_many_states_it_hides() -> None:
    shown = collapse(nested(), ["job"])
    ids = [n.id for n in shown.nodes]
    assert ids == ["idle", "job", "done"]
    job = shown.node("job")
    assert (job.kind, job.hidden, job.members) == ("collapsed", 4, ())
    text = render_mermaid_diagram(shown).text
    assert 'state "job (4 inside)" as job' in text
    assert "class job collapsed" in text


def test_edges_into_and_out_of_hidden_states_point_at_the_box() -> None:
    shown = collapse(nested(), ["job"])
    edges = [(e.source, e.target, e.key, e.origin) for e in shown.edges]
    assert edges == [
        ("idle", "job", "transitions[0]", ""),
        ("job", "done", "transitions[3]", "b"),  # leaves b in the machine
        ("idle", "idle", "transitions[4]", ""),  # a real self-loop stays
    ]
    assert shown.edges[1].state == "b"


def test_edges_inside_the_box_and_its_start_arrow_are_dropped() -> None:
    shown = collapse(nested(), ["job"])
    keys = {e.key for e in shown.edges}
    assert not keys & {"initial:job", "transitions[1]", "transitions[2]"}


def test_the_highlighted_edge_follows_its_new_position() -> None:
    shown = collapse(nested(), ["job"])
    assert [shown.edges[i].key for i in shown.highlighted_edges] == ["transitions[4]"]


def test_nested_collapsed_states_fold_into_the_outermost() -> None:
    inner_only = collapse(nested(), ["run"])
    assert [n.id for n in inner_only.nodes if n.kind == "collapsed"] == ["run"]
    assert ("run", "done") in {(e.source, e.target) for e in inner_only.edges}
    for graph in (nested(), inner_first(nested())):
        both = collapse(graph, ["run", "job"])
        assert [n.id for n in both.nodes if n.kind == "collapsed"] == ["job"]
        assert "run" not in both
        assert ("job", "done") in {(e.source, e.target) for e in both.edges}


def inner_first(graph: DiagramGraph) -> DiagramGraph:
    """The same graph with its nodes listed innermost first."""
    return DiagramGraph(tuple(reversed(graph.nodes)), graph.edges, ("idle", "job", "done"))


def test_names_that_are_not_composite_states_change_nothing() -> None:
    graph = nested()
    assert collapse(graph, ["idle", "nowhere", ""]) is graph


def test_an_active_collapsed_state_is_drawn_active() -> None:
    text = render_mermaid_diagram(collapse(nested(), ["job"])).text
    assert "class job active" in text


def test_folds_list_what_can_be_collapsed_and_expanded() -> None:
    drawn = render_mermaid_diagram(collapse(nested(), ["run"]))
    assert drawn.folds_json == (
        '[{"state":"job","id":"job","collapsed":false},{"state":"run","id":"run","collapsed":true}]'
    )


PARALLEL = """\
meta: {machine_name: both}
states:
  - {name: idle, type: initial}
  - name: on
    type: parallel
    regions:
      - {name: left, initial: a1, states: [a1, a2]}
      - {name: right, initial: b1, states: [b1, b2]}
  - {name: a1}
  - {name: a2}
  - {name: b1}
  - {name: b2}
transitions:
  - {trigger: start, source: idle, dest: on}
  - {trigger: go, source: a1, dest: a2}
  - {trigger: back, source: b2, dest: idle}
"""


def test_a_collapsed_parallel_state_hides_its_regions() -> None:
    machine = StateMachine.from_yaml(PARALLEL)
    _, drawn = DiagramView(collapsed=frozenset({"on"})).draw(build_graph(machine))
    assert "--\n" not in drawn.text and "a1" not in drawn.text
    assert "on --> idle : back" in drawn.text
    assert drawn.regions == ()


def test_a_view_draws_in_its_direction() -> None:
    machine = StateMachine.from_yaml(PARALLEL)
    _, drawn = DiagramView("LR").draw(build_graph(machine))
    assert drawn.text.splitlines()[1] == "    direction LR"


def test_a_view_read_from_loose_input_drops_what_it_cannot_use() -> None:
    view = DiagramView.parse("sideways", ["on", 3, None, "x"])
    assert view == DiagramView(DEFAULT_DIRECTION, frozenset({"on", "x"}))
    assert DiagramView.parse("LR", []).direction == "LR"
    many = DiagramView.parse("TB", (f"s{i}" for i in range(MAX_COLLAPSED + 50)))
    assert len(many.collapsed) == MAX_COLLAPSED
