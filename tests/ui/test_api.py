"""The REST API, standalone (pystator.api.main) and mounted in the designer: same answers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pystator.api.main import create_app as create_api_app
from pystator.textcheck import MAX_TEXT_BYTES
from tests.ui.conftest import BASE_URL, INVALID, LIGHT, ORDER
from ui.app import create_app as create_designer_app

BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
)


@pytest.fixture(params=["standalone", "designer"])
def api(request: pytest.FixtureRequest, tmp_path: Path, examples_dir: Path) -> Iterator[TestClient]:
    db = tmp_path / "api.sqlite3"
    if request.param == "standalone":
        app = create_api_app(db)
    else:
        app = create_designer_app(db, examples_dir=examples_dir)
    with TestClient(app, base_url=BASE_URL, raise_server_exceptions=False) as client:
        if request.param == "designer":  # start from an empty library in both cases
            for machine in client.get("/api/v1/machines").json()["machines"]:
                client.delete(f"/api/v1/machines/{machine['id']}")
        yield client


def _error(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/json")  # type: ignore[attr-defined]
    error: dict[str, object] = response.json()["error"]  # type: ignore[attr-defined]
    assert error["status"] == status
    assert isinstance(error["message"], str) and error["message"]
    return error


def test_health(api: TestClient) -> None:
    from pystator import __version__

    assert api.get("/health").json() == {"status": "ok", "version": __version__}


def test_validate_valid_machine_reports_lint_as_warnings(api: TestClient) -> None:
    body = api.post("/api/v1/validate", json={"yaml": ORDER}).json()
    assert body["valid"] is True
    assert all(issue["severity"] == "warning" for issue in body["issues"])


def test_validate_invalid_machine_is_200_with_located_issues(api: TestClient) -> None:
    response = api.post("/api/v1/validate", json={"yaml": INVALID})
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    issue = next(i for i in body["issues"] if "NOWHERE" in i["message"])
    assert issue["severity"] == "error"
    assert issue["line"] == 7 and issue["path"] == "transitions[0].dest"
    assert set(issue) >= {"severity", "message", "path", "line", "column"}


@pytest.mark.parametrize(
    "text", ["", "states: [", BOMB, "[" * 30_000, "- " * 30_000 + "x", "a\x00b"]
)
def test_validate_bad_text_is_an_issue_not_a_crash(api: TestClient, text: str) -> None:
    body = api.post("/api/v1/validate", json={"yaml": text}).json()
    assert body["valid"] is False and body["issues"][0]["severity"] == "error"


@pytest.mark.parametrize(
    ("payload", "field"),
    [({}, "yaml"), ({"yaml": 5}, "yaml"), ({"yaml": "x", "extra": 1}, "extra")],
)
def test_validate_bad_body_is_422_naming_the_field(
    api: TestClient, payload: dict[str, object], field: str
) -> None:
    error = _error(api.post("/api/v1/validate", json=payload), 422)
    assert field in str(error["message"])


def test_malformed_json_is_422(api: TestClient) -> None:
    response = api.post(
        "/api/v1/validate", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert "JSON" in str(_error(response, 422)["message"])


def test_oversized_text_is_413(api: TestClient) -> None:
    big = "# " + "x" * MAX_TEXT_BYTES
    _error(api.post("/api/v1/validate", json={"yaml": big}), 413)
    _error(api.post("/api/v1/machines", json={"name": "big", "yaml": big}), 413)


def test_oversized_body_is_413_before_reading(api: TestClient) -> None:
    response = api.post(
        "/api/v1/validate",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": "40000000"},
    )
    _error(response, 413)


def test_process_from_yaml(api: TestClient) -> None:
    response = api.post(
        "/api/v1/process", json={"yaml": ORDER, "state": "PENDING", "event": "exchange_ack"}
    )
    assert response.status_code == 200
    result = response.json()
    assert result["success"] is True
    assert (result["source_state"], result["target_state"]) == ("PENDING", "OPEN")


def test_process_from_library_and_rejected_event(api: TestClient) -> None:
    machine_id = api.post("/api/v1/machines", json={"name": "light", "yaml": LIGHT}).json()["id"]
    ok = api.post(
        "/api/v1/process", json={"machine_id": machine_id, "state": "RED", "event": "go"}
    ).json()
    assert ok["target_state"] == "GREEN"
    refused = api.post(
        "/api/v1/process", json={"machine_id": machine_id, "state": "RED", "event": "stop"}
    )
    assert refused.status_code == 200 and refused.json()["success"] is False
    assert refused.json()["error"] is not None


def test_process_errors(api: TestClient) -> None:
    invalid = api.post("/api/v1/process", json={"yaml": INVALID, "state": "A", "event": "go"})
    assert any("NOWHERE" in i["message"] for i in _error(invalid, 422)["issues"])  # type: ignore[attr-defined]
    unknown = api.post("/api/v1/process", json={"yaml": ORDER, "state": "NOPE", "event": "x"})
    assert "NOPE" in str(_error(unknown, 422)["message"])
    missing = api.post("/api/v1/process", json={"machine_id": "nope", "state": "A", "event": "x"})
    assert "nope" in str(_error(missing, 404)["message"])
    both = api.post(
        "/api/v1/process", json={"yaml": ORDER, "machine_id": "x", "state": "A", "event": "x"}
    )
    assert "exactly one" in str(_error(both, 422)["message"])
    neither = api.post("/api/v1/process", json={"state": "A", "event": "x"})
    _error(neither, 422)
    bad_context = api.post(
        "/api/v1/process", json={"yaml": ORDER, "state": "PENDING", "event": "x", "context": []}
    )
    assert "context" in str(_error(bad_context, 422)["message"])


def test_machine_crud(api: TestClient) -> None:
    assert api.get("/api/v1/machines").json() == {"machines": []}
    created = api.post("/api/v1/machines", json={"name": "order", "yaml": ORDER})
    assert created.status_code == 201
    machine = created.json()
    assert machine["name"] == "order" and machine["revision_count"] == 1
    machine_id, first = machine["id"], machine["revision_id"]

    listed = api.get("/api/v1/machines").json()["machines"]
    assert [m["id"] for m in listed] == [machine_id]
    got = api.get(f"/api/v1/machines/{machine_id}").json()
    assert got["yaml"] == ORDER and [r["id"] for r in got["revisions"]] == [first]

    updated = api.put(f"/api/v1/machines/{machine_id}", json={"yaml": LIGHT, "name": "light"})
    assert updated.status_code == 200
    assert updated.json()["name"] == "light" and updated.json()["revision"]["number"] == 2
    got = api.get(f"/api/v1/machines/{machine_id}").json()
    assert got["yaml"] == LIGHT and got["revision_count"] == 2

    assert api.delete(f"/api/v1/machines/{machine_id}").status_code == 204
    _error(api.get(f"/api/v1/machines/{machine_id}"), 404)
    assert api.get("/api/v1/machines").json() == {"machines": []}


def test_invalid_yaml_saves_nothing(api: TestClient) -> None:
    error = _error(api.post("/api/v1/machines", json={"name": "bad", "yaml": INVALID}), 422)
    assert error["issues"]
    assert api.get("/api/v1/machines").json() == {"machines": []}
    machine_id = api.post("/api/v1/machines", json={"name": "ok", "yaml": ORDER}).json()["id"]
    for text in (INVALID, BOMB, "[" * 30_000):
        _error(api.put(f"/api/v1/machines/{machine_id}", json={"yaml": text}), 422)
    got = api.get(f"/api/v1/machines/{machine_id}").json()
    assert got["yaml"] == ORDER and got["revision_count"] == 1
    _error(api.put(f"/api/v1/machines/{machine_id}", json={"yaml": ORDER, "name": "  "}), 422)
    assert api.get(f"/api/v1/machines/{machine_id}").json()["name"] == "ok"


def test_unknown_ids_are_404_json(api: TestClient) -> None:
    _error(api.get("/api/v1/machines/nope"), 404)
    _error(api.put("/api/v1/machines/nope", json={"yaml": ORDER}), 404)
    _error(api.delete("/api/v1/machines/nope"), 404)
    _error(api.get("/api/v1/nothing-here"), 404)
    _error(api.patch("/api/v1/machines"), 405)


def test_script_in_names_round_trips_as_data(api: TestClient) -> None:
    name = "<script>alert(1)</script>"
    text = ORDER.replace('"order_management"', '"<img src=x onerror=alert(1)>"')
    created = api.post("/api/v1/machines", json={"name": name, "yaml": text})
    assert created.status_code == 201 and created.json()["name"] == name
    got = api.get(f"/api/v1/machines/{created.json()['id']}")
    assert got.headers["content-type"].startswith("application/json")
    assert got.json()["name"] == name and got.json()["yaml"] == text


def test_docs_are_offline_and_schema_lists_endpoints(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    for path in (
        "/health",
        "/api/v1/validate",
        "/api/v1/process",
        "/api/v1/machines",
        "/api/v1/machines/{machine_id}",
    ):
        assert path in schema["paths"]
    page = api.get("/docs")
    assert page.status_code == 200 and "/api/v1/process" in page.text
    assert "http://" not in page.text and "https://" not in page.text


def test_designer_shares_its_library_with_the_api(client: TestClient) -> None:
    machines = client.get("/api/v1/machines").json()["machines"]
    assert {m["name"] for m in machines} == {"order_lifecycle", "traffic_light"}
    machine_id = client.post("/api/v1/machines", json={"name": "via api", "yaml": LIGHT}).json()[
        "id"
    ]
    assert "via api" in client.get("/").text
    assert client.get(f"/machines/{machine_id}").status_code == 200


def test_standalone_app_opens_the_library_lazily(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "sub" / "env.sqlite3"
    monkeypatch.setenv("PYSTATOR_DB", str(db))
    app = create_api_app()
    assert not db.exists()
    with TestClient(app, base_url=BASE_URL) as client:
        assert client.get("/health").status_code == 200
        assert not db.exists()
        assert client.get("/api/v1/machines").json() == {"machines": []}
    assert db.exists()


def test_module_level_app_exists() -> None:
    from pystator.api.main import app

    assert "/api/v1/process" in app.openapi()["paths"]


def test_the_api_answers_the_host_it_was_started_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pystator api --host NAME`` puts NAME on the allowlist (through the environment)."""
    import uvicorn

    from pystator.cli import main

    monkeypatch.setenv("PYSTATOR_ALLOWED_HOSTS", "")  # so the variable is restored afterwards
    monkeypatch.delenv("PYSTATOR_ALLOWED_HOSTS")
    monkeypatch.setattr(uvicorn, "run", lambda *args, **options: None)
    assert main(["api", "--host", "api.lan"]) == 0
    assert os.environ["PYSTATOR_ALLOWED_HOSTS"] == "api.lan"
    app = create_api_app(tmp_path / "a.sqlite3")
    with TestClient(app, base_url="http://api.lan:8000") as named:
        assert named.get("/health").status_code == 200
    with TestClient(app, base_url="http://evil.example:8000") as other:
        assert other.get("/health").status_code == 400
