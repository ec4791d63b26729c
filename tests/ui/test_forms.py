"""How routes read a form: one rule for which machine text a form carries."""

from __future__ import annotations

import json

from starlette.testclient import TestClient

from tests.ui.conftest import HTMX, LIGHT, ORDER
from ui.forms import machine_text


def test_the_editor_text_wins_over_the_simulator_copy() -> None:
    assert machine_text({"yaml": "a", "sim_yaml": "b"}) == "a"
    assert machine_text({"yaml": "", "sim_yaml": "b"}) == ""  # an emptied editor is empty
    assert machine_text({"sim_yaml": "b"}) == "b"  # a simulator form sent without JavaScript
    assert machine_text({}) == ""


def test_simulate_and_export_read_the_same_text(client: TestClient) -> None:
    """Both routes simulate the editor's text when a form carries both copies."""
    both = {"yaml": LIGHT, "sim_yaml": ORDER, "trace": "[]"}
    step = client.post("/simulate", data={**both, "do": "send:-:go"}, headers=HTMX)
    assert step.status_code == 200
    assert "GREEN" in step.text and "exchange_ack" not in step.text
    trace = json.dumps([{"e": "go", "s": "GREEN"}])
    exported = client.post("/simulate/export", data={**both, "trace": trace, "format": "json"})
    assert exported.status_code == 200, exported.text
    assert json.loads(exported.text)["machine"] == "traffic_light"
