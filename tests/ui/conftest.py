"""Fixtures for the designer's route tests: an app over a temporary library and examples.

Clients talk to the designer as its own pages do: on a loopback address (other Host names are
refused) and with the page token of their browser in the ``X-CSRF-Token`` header, read from a
page the way htmx reads it (``hx-headers`` on ``<body>``). Tests of the refusals build their
requests without it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

with warnings.catch_warnings():
    # starlette 1.x asks for the httpx2 package; the installed httpx works the same here.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

from ui.app import create_app

ORDER = """\
meta:
  version: "1.0.0"
  machine_name: "order_management"

states:
  - name: PENDING
    type: initial
  - name: OPEN
    type: stable
  - name: FILLED
    type: terminal

transitions:
  - trigger: exchange_ack
    source: PENDING
    dest: OPEN
  - trigger: execution_report
    source: OPEN
    dest: FILLED
"""

LIGHT = """\
meta:
  machine_name: "traffic_light"
states:
  - name: RED
    type: initial
  - name: GREEN
transitions:
  - trigger: go
    source: RED
    dest: GREEN
  - trigger: stop
    source: GREEN
    dest: RED
"""

INVALID = """\
states:
  - name: A
    type: initial
transitions:
  - trigger: go
    source: A
    dest: NOWHERE
"""


@pytest.fixture
def examples_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "examples"
    directory.mkdir()
    (directory / "order_lifecycle.yaml").write_text(ORDER, encoding="utf-8")
    (directory / "traffic_light.yaml").write_text(LIGHT, encoding="utf-8")
    return directory


BASE_URL = "http://127.0.0.1:8000"
HTMX = {"HX-Request": "true"}


def page_token(client: TestClient, url: str = "/") -> str:
    """The page token a page gives this client's browser (its cookie jar)."""
    found = re.search(r'"X-CSRF-Token": "([0-9a-f]*)"', client.get(url).text)
    assert found, "the page carries no token"
    return found.group(1)


def designer_client(app: Any, **options: Any) -> TestClient:
    """A client of the designer ``app`` that sends its page token with every request."""
    test_client = TestClient(app, base_url=BASE_URL, raise_server_exceptions=False, **options)
    test_client.headers["X-CSRF-Token"] = page_token(test_client)
    return test_client


@pytest.fixture
def client(tmp_path: Path, examples_dir: Path) -> Iterator[TestClient]:
    app = create_app(tmp_path / "library.sqlite3", examples_dir=examples_dir)
    with designer_client(app) as test_client:
        yield test_client
