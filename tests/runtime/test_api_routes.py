"""The REST API's routes as ``create_router`` assembles them: which exist, in which order,
which are guarded, and how a library failure is answered.

The routes live in groups by concern (checking, the library); these tests hold the whole
router to what a client sees, so regrouping them can change none of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from pystator.api import create_router
from pystator.library import Library, LibraryError, Machine

BASE_URL = "http://127.0.0.1:8000"
MACHINE = """
meta: {machine_name: door}
states: [{name: shut, type: initial}, {name: open}]
transitions: [{trigger: push, source: shut, dest: open}]
"""
WRITES = [
    ("post", "/api/v1/validate", {"yaml": MACHINE}),
    ("post", "/api/v1/process", {"yaml": MACHINE, "state": "shut", "event": "push"}),
    ("post", "/api/v1/machines", {"name": "door", "yaml": MACHINE}),
    ("put", "/api/v1/machines/{id}", {"yaml": MACHINE}),
    ("delete", "/api/v1/machines/{id}", None),
]


class _FullDisk(Library):
    """A library whose writes fail the way a broken store does: with a LibraryError."""

    def create(self, name: str, text: str) -> Machine:
        raise LibraryError("The disk is full; nothing was saved.")


def _client(library: Library) -> TestClient:
    app = FastAPI(docs_url=None, redoc_url=None)  # as pystator.api.main: ours is /docs
    app.include_router(create_router(library))
    return TestClient(app, base_url=BASE_URL, raise_server_exceptions=False)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    with _client(Library(tmp_path / "lib.sqlite3")) as client:
        yield client


def test_paths_and_methods_in_the_schema_keep_their_order(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert [(path, list(operations)) for path, operations in paths.items()] == [
        ("/health", ["get"]),
        ("/api/v1/machines", ["get", "post"]),
        ("/api/v1/machines/{machine_id}", ["get", "put", "delete"]),
        ("/api/v1/validate", ["post"]),
        ("/api/v1/process", ["post"]),
    ]
    assert "/api/v1/machines" in api.get("/docs").text


def _request(api: TestClient, method: str, path: str, body: object, **headers: str) -> int:
    machine_id = api.post("/api/v1/machines", json={"name": "d", "yaml": MACHINE}).json()["id"]
    url = path.replace("{id}", machine_id)
    if body is None:
        return api.request(method, url, headers=headers).status_code
    return api.request(method, url, json=body, headers=headers).status_code


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_every_write_is_guarded(api: TestClient, method: str, path: str, body: object) -> None:
    assert _request(api, method, path, body, origin="http://evil.example") == 403
    assert _request(api, method, path, body, **{"sec-fetch-site": "cross-site"}) == 403
    assert _request(api, method, path, body) in (200, 201, 204)


@pytest.mark.parametrize(
    ("method", "path", "body"), WRITES[:4], ids=[f"{m} {p}" for m, p, _ in WRITES[:4]]
)
def test_every_write_with_a_body_takes_json_only(
    api: TestClient, method: str, path: str, body: object
) -> None:
    machine_id = api.post("/api/v1/machines", json={"name": "d", "yaml": MACHINE}).json()["id"]
    response = api.request(
        method,
        path.replace("{id}", machine_id),
        content="yaml=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert "application/x-www-form-urlencoded" in response.json()["detail"]


def test_reads_are_not_guarded(api: TestClient) -> None:
    for path in ("/health", "/api/v1/machines", "/openapi.json", "/docs"):
        assert api.get(path, headers={"origin": "http://evil.example"}).status_code == 200


def test_a_library_that_cannot_write_is_a_422_with_its_words(tmp_path: Path) -> None:
    with _client(_FullDisk(tmp_path / "lib.sqlite3")) as api:
        response = api.post("/api/v1/machines", json={"name": "door", "yaml": MACHINE})
        assert response.status_code == 422
        assert response.json()["error"]["message"] == "The disk is full; nothing was saved."
        assert api.get("/api/v1/machines").json() == {"machines": []}
