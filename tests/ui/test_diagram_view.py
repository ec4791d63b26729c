"""The reader's diagram view sent with a check or a simulator step, drawn by the server."""

from __future__ import annotations

import html
import json
import re

from starlette.testclient import TestClient

from pystator import StateMachine
from tests.ui.conftest import HTMX
from ui.simulating import simulate

NESTED = """\
meta: {machine_name: nested}
states:
  - {name: idle, type: initial}
  - {name: job, initial_child: prep}
  - {name: prep, parent: job}
  - {name: run, parent: job}
  - {name: done, type: terminal}
transitions:
  - {trigger: start, source: idle, dest: job}
  - {trigger: go, source: prep, dest: run}
  - {trigger: finish, source: run, dest: done}
"""


def drawn_text(body: str) -> str:
    found = re.search(r'<pre class="mermaid"[^>]*>(.*?)</pre>', body, re.S)
    assert found, "no diagram in the answer"
    return html.unescape(found.group(1))


def folds(body: str) -> list[dict[str, object]]:
    found = re.search(r'data-folds="([^"]*)"', body)
    assert found
    loaded: list[dict[str, object]] = json.loads(html.unescape(found.group(1)))
    return loaded


def test_a_check_draws_the_view_the_browser_sent(client: TestClient) -> None:
    data = {"yaml": NESTED, "diagram_direction": "LR", "diagram_collapsed": '["job"]'}
    body = client.post("/validate", data=data, headers=HTMX).text
    text = drawn_text(body)
    assert "direction LR" in text
    assert 'state "job (2 inside)" as job' in text
    assert "job --> done : finish" in text
    assert folds(body) == [{"state": "job", "id": "job", "collapsed": True}]


def test_without_a_view_the_check_draws_everything_top_to_bottom(client: TestClient) -> None:
    body = client.post("/validate", data={"yaml": NESTED}, headers=HTMX).text
    assert "direction TB" in drawn_text(body)
    assert folds(body) == [{"state": "job", "id": "job", "collapsed": False}]


def test_a_view_that_cannot_be_read_draws_the_default(client: TestClient) -> None:
    data = {"yaml": NESTED, "diagram_direction": "<up>", "diagram_collapsed": "{not json"}
    response = client.post("/validate", data=data, headers=HTMX)
    assert response.status_code == 200
    assert "direction TB" in drawn_text(response.text)
    data["diagram_collapsed"] = '{"job": true}'
    assert "(2 inside)" not in drawn_text(client.post("/validate", data=data, headers=HTMX).text)


def test_a_redraw_for_a_view_keeps_no_draft(client: TestClient) -> None:
    headers = {**HTMX, "HX-Current-URL": "http://127.0.0.1:8000/s/abc"}
    data = {"yaml": NESTED, "draft_id": "0123456789abcdef", "view_only": "1"}
    redraw = client.post("/validate", data=data, headers=headers)
    assert "HX-Replace-Url" not in redraw.headers
    assert client.get("/drafts/0123456789abcdef").status_code == 404
    del data["view_only"]
    edited = client.post("/validate", data=data, headers=headers)
    assert edited.headers["HX-Replace-Url"] == "/drafts/0123456789abcdef"
    assert client.get("/drafts/0123456789abcdef").status_code == 200


def test_an_edge_from_a_collapsed_box_fires_when_its_own_state_is_active() -> None:
    machine = StateMachine.from_yaml(NESTED)
    fields = {"diagram_collapsed": '["job"]'}
    trace = '[{"e":"start"},{"e":"go"}]'  # now in job.run
    view = simulate(machine, trace, "show", fields)
    assert view.active_states == ("job",)  # the page marks it: the text stays the same
    controls = json.loads(view.edge_controls_json)
    arrows = [line for line in view.mermaid.splitlines() if "-->" in line]
    finish = next(i for i, line in enumerate(arrows) if ": finish" in line)
    assert controls[f"edge{finish}"]["do"] == "send:-:finish"
    back = simulate(machine, '[{"e":"start"}]', "show", fields)  # in job.prep
    why = json.loads(back.edge_controls_json)[f"edge{finish}"]["why"]
    assert why.startswith("State run is not active now")
