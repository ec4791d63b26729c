"""Findings point at diagram elements: spec paths map to the Mermaid ids they were drawn with."""

from __future__ import annotations

import json
import re

import pytest
from starlette.testclient import TestClient

from pystator.diagram import build_graph, render_mermaid_diagram
from tests.ui.conftest import HTMX, INVALID, ORDER
from ui.checking import check, diagram_target

TIMED = """\
states:
  - name: waiting room
    type: initial
    timeout: {seconds: 5, destination: DONE}
  - name: DONE
    type: terminal
  - name: LONELY
transitions:
  - trigger: go
    source: waiting room
    dest: DONE
"""


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("transitions[0].dest", "transitions[0]"),
        ("transitions[12]", "transitions[12]"),
        ("states[3].name", "states[3]"),
        ("states[1].timeout.destination", "states[1].timeout"),
        ("states[1].timeouts", "states[1]"),
        ("meta.machine_name", ""),
        ("", ""),
    ],
)
def test_a_path_names_its_diagram_element(path: str, target: str) -> None:
    assert diagram_target(path) == target


def test_targets_are_the_ids_the_diagram_was_drawn_with() -> None:
    outcome = check(TIMED)
    assert outcome.valid
    graph = build_graph(outcome.machine)
    drawn = render_mermaid_diagram(graph, "TB")
    targets = outcome.diagram_targets
    # A state whose name is not a plain word still maps to the id in the text.
    waiting = targets["states[0]"]["states"][0]
    assert waiting == drawn.state_ids["waiting room"] and waiting != "waiting room"
    assert f'state "waiting room" as {waiting}' in outcome.mermaid
    assert targets["states[2]"] == {"states": ["LONELY"], "name": "LONELY", "at": [7, 5]}
    assert targets["transitions[0]"]["edges"] == [
        drawn.edge_ids[next(i for i, e in enumerate(graph.edges) if e.key == "transitions[0]")]
    ]
    assert re.fullmatch(r"edge\d+", targets["states[0].timeout"]["edges"][0])
    assert json.loads(outcome.diagram_targets_json) == targets


def test_a_transition_from_several_sources_maps_to_every_edge() -> None:
    outcome = check(ORDER.replace("source: OPEN", "source: [PENDING, OPEN]"))
    assert len(outcome.diagram_targets["transitions[1]"]["edges"]) == 2


def test_the_page_carries_the_map_and_the_issue_its_target(client: TestClient) -> None:
    page = client.get("/examples/order_lifecycle").text
    found = re.search(r'id="diagram" class="diagram" data-targets="([^"]*)"', page)
    assert found and "transitions[0]" in found.group(1).replace("&#34;", '"')
    answer = client.post("/validate", data={"yaml": INVALID}, headers=HTMX).text
    assert 'data-target="transitions[0]"' in answer
    # A broken text sends no new diagram: the page keeps the last good one and its map.
    assert 'id="diagram"' not in answer


def test_each_target_says_where_its_yaml_starts() -> None:
    """A click on a state or an edge moves the editor to the line:column given here."""
    outcome = check(TIMED)
    lines = TIMED.splitlines()
    for path, expected in [
        ("states[0]", "name: waiting room"),
        ("states[1]", "name: DONE"),
        ("states[0].timeout", "timeout: {seconds: 5"),
        ("transitions[0]", "trigger: go"),
    ]:
        line, column = outcome.diagram_targets[path]["at"]
        assert lines[line - 1][column - 1 :].startswith(expected), path
