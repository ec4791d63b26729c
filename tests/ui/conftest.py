"""Fixtures for the designer's route tests: an app over a temporary library and examples."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture
def client(tmp_path: Path, examples_dir: Path) -> Iterator[TestClient]:
    app = create_app(tmp_path / "library.sqlite3", examples_dir=examples_dir)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


HTMX = {"HX-Request": "true"}
