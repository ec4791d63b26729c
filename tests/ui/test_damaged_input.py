"""Damaged machines through the designer: every answer is a page, never a server error.

The same damaged definitions the engine's mutation test uses (tests/engine) are typed
into the editor: ``/validate`` must answer with located problems or a diagram, the
Simulate panel must answer with a panel (events sent, the clock moved), and the REST
API with JSON (200, or 422 for a machine or step it refuses), whatever the text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from starlette.testclient import TestClient

from tests.engine.test_mutations import damaged
from tests.ui.conftest import HTMX, designer_client
from tests.ui.test_simulate import trace_of
from ui.app import create_app

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _client(tmp_path: Path) -> TestClient:
    return designer_client(create_app(tmp_path / "library.sqlite3"))


def _text(definition: dict[str, Any]) -> str:
    return yaml.safe_dump(definition, sort_keys=False, allow_unicode=True)


@SETTINGS
@given(definition=damaged())
def test_validate_answers_every_damaged_machine(tmp_path: Path, definition: dict[str, Any]) -> None:
    with _client(tmp_path) as client:
        response = client.post("/validate", data={"yaml": _text(definition)}, headers=HTMX)
    assert response.status_code == 200, response.text[:500]
    assert "Traceback" not in response.text


@SETTINGS
@given(definition=damaged())
def test_the_simulator_answers_every_damaged_machine(
    tmp_path: Path, definition: dict[str, Any]
) -> None:
    text = _text(definition)
    headers = {**HTMX, "HX-Current-URL": "http://t/x"}
    with _client(tmp_path) as client:
        trace = "[]"
        for do, extra in [
            ("event", {"event": "a"}),
            ("event", {"event": "b", "payload": '{"n": 5}'}),
            ("advance_to", {"to": "2m"}),
            ("fire", {}),
            ("undo", {}),
        ]:
            data = {"yaml": text, "trace": trace, "do": do, **extra}
            response = client.post("/simulate", data=data, headers=headers)
            assert response.status_code == 200, (do, response.text[:500])
            assert "Traceback" not in response.text
            trace = trace_of(response.text)


@SETTINGS
@given(definition=damaged())
def test_the_rest_api_answers_every_damaged_machine(
    tmp_path: Path, definition: dict[str, Any]
) -> None:
    text = _text(definition)
    with _client(tmp_path) as client:
        checked = client.post("/api/v1/validate", json={"yaml": text})
        assert checked.status_code == 200, checked.text[:500]
        for state, event in [("s0", "a"), ("s1", "b"), ("par", "a"), ("nowhere", "a")]:
            body = {"yaml": text, "state": state, "event": event, "context": {"n": 2}}
            stepped = client.post("/api/v1/process", json=body)
            assert stepped.status_code in (200, 422), stepped.text[:500]
            assert "error" in stepped.json() or "success" in stepped.json()
