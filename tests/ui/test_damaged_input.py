"""Damaged machines through the designer: every answer is a page, never a server error.

The same damaged definitions the engine's mutation test uses (tests/engine) are typed
into the editor: ``/validate`` must answer with located problems or a diagram, the
Simulate panel must answer with a panel (events sent, the clock moved), and the REST
API with JSON (200, or 422 for a machine or step it refuses), whatever the text.

The hostile generators go through the same three doors: machine text with tags, huge
numbers, lone surrogates and alias byte bombs (``hostile_text``), and JSON contexts,
payloads and traces nested far too deep, with thousands of digits, escaped lone surrogates
or ``Infinity`` (:func:`hostile_json`). Each gets a clear answer: a located problem in the
page or a 4xx with JSON, never a 5xx or a traceback.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.engine.test_mutations import damaged, hostile_text
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


# -- hostile generators ---------------------------------------------------------------------------

LIGHT = "states:\n  - {name: red, type: initial}\n  - {name: green}\ntransitions:\n" + (
    "  - {trigger: go, source: red, dest: green}\n  - {trigger: stop, source: green, dest: red}\n"
)


@st.composite
def hostile_json(draw: st.DrawFn) -> tuple[str, str]:
    """A JSON object text with one hostile value somewhere, and the words its refusal says."""
    depth = draw(st.sampled_from([65, 300, 5_000, 100_000]))
    digits = draw(st.sampled_from([101, 4_301, 5_000]))
    value, words = draw(
        st.sampled_from(
            [
                ("[" * depth + "]" * depth, "levels deep"),
                ("-" * draw(st.booleans()) + "7" * digits, "digits"),
                ('"a\\ud800b"', "lone surrogate"),
                ('"\\udfff"', "lone surrogate"),
                ("Infinity", "Infinity"),
                ("NaN", "NaN"),
            ]
        )
    )
    nesting = draw(st.integers(0, 3))
    inner = value
    for level in range(nesting):
        inner = f'{{"k{level}": [1, {inner}]}}'
    return '{"n": 1, "x": ' + inner + "}", words


FORM = "application/x-www-form-urlencoded"
JSON = {"content-type": "application/json"}


def _form(**fields: str) -> bytes:
    """A form body as a hostile client may send it: a lone surrogate as its raw bytes."""
    return urlencode(fields, encoding="utf-8", errors="surrogatepass").encode("ascii")


def _refusal(text: str) -> str:
    return html.unescape(" ".join(re.findall(r'role="alert">([^<]*)<', text)))


@SETTINGS
@given(text=hostile_text())
def test_every_door_answers_hostile_machine_text(tmp_path: Path, text: str) -> None:
    headers = {**HTMX, "HX-Current-URL": "http://t/x", "content-type": FORM}
    with _client(tmp_path) as client:
        checked = client.post("/validate", content=_form(yaml=text), headers=headers)
        assert checked.status_code == 200, checked.text[:500]
        if 'data-valid="false"' in checked.text:
            assert re.search(r'data-line="\d+"', checked.text), checked.text[:500]  # located
        stepped = client.post(
            "/simulate", content=_form(yaml=text, trace="[]", do="send:-:a"), headers=headers
        )
        assert stepped.status_code == 200, stepped.text[:500]
        api = client.post(  # ensure_ascii: a lone surrogate travels as \\ud800
            "/api/v1/validate", content=json.dumps({"yaml": text}), headers=JSON
        )
        assert api.status_code in (200, 422), api.text[:500]
        answer = api.json()
        for issue in answer.get("issues", []) or answer.get("error", {}).get("issues", []):
            assert issue["line"] is not None or issue["path"], issue
        for response in (checked, stepped, api):
            assert "Traceback" not in response.text
            assert len(response.content) < 500_000  # alias bombs do not come back amplified


@SETTINGS
@given(hostile=hostile_json(), where=st.sampled_from(["context", "payload", "trace"]))
def test_the_simulator_answers_hostile_json_with_what_is_wrong(
    tmp_path: Path, hostile: tuple[str, str], where: str
) -> None:
    text, words = hostile
    fields = {
        "context": {"do": "context", "context": text, "trace": "[]"},
        "payload": {"do": "event", "event": "go", "payload": text, "trace": "[]"},
        "trace": {"do": "show", "trace": '[{"e": "go", "p": ' + text + "}]"},
    }[where]
    with _client(tmp_path) as client:
        response = client.post("/simulate", data={"yaml": LIGHT, **fields}, headers=HTMX)
    assert response.status_code == 200, response.text[:500]
    assert "Traceback" not in response.text
    assert words in _refusal(response.text), (where, _refusal(response.text))


@SETTINGS
@given(hostile=hostile_json(), where=st.sampled_from(["context", "payload", "body"]))
def test_the_rest_api_answers_hostile_json_with_a_located_422(
    tmp_path: Path, hostile: tuple[str, str], where: str
) -> None:
    text, words = hostile
    step = {"yaml": LIGHT, "state": "red", "event": "go"}
    if where == "body":
        body = text[:-1] + ", " + json.dumps(step)[1:]
    else:
        body = json.dumps(step)[:-1] + f', "{where}": ' + text + "}"
    with _client(tmp_path) as client:
        response = client.post("/api/v1/process", content=body, headers=JSON)
    assert response.status_code == 422, response.text[:500]
    error = response.json()["error"]
    assert words in error["message"], error
    assert all(issue["line"] is not None or issue["path"] for issue in error["issues"]), error
