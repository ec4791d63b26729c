"""The console script's options and the app over the repository's real examples."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from tests.ui.conftest import designer_client
from ui.app import create_app
from ui.examples import list_examples
from ui.paths import EXAMPLES_DIR
from ui.server import default_db_path, parse_args

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")


def test_defaults_and_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PYSTATOR_DB", raising=False)
    args = parse_args([])
    assert (args.host, args.port, args.db, args.open) == ("127.0.0.1", 8000, None, False)
    assert default_db_path().name == "library.sqlite3"
    assert "pystator" in default_db_path().parts
    args = parse_args(
        ["--host", "0.0.0.0", "--port", "9001", "--db", str(tmp_path / "x.db"), "--open"]
    )
    assert (args.host, args.port, args.db, args.open) == ("0.0.0.0", 9001, tmp_path / "x.db", True)
    monkeypatch.setenv("PYSTATOR_DB", str(tmp_path / "env.db"))
    assert default_db_path() == tmp_path / "env.db"


def test_bad_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--port", "eighty"])
    assert exit_info.value.code == 2
    assert "invalid int value" in capsys.readouterr().err


def test_every_repository_example_is_seeded_and_draws(tmp_path: Path) -> None:
    examples = list_examples(EXAMPLES_DIR)
    assert examples, "examples/*.yaml should exist in the repository"
    with designer_client(create_app(tmp_path / "lib.sqlite3")) as client:
        listing = client.get("/").text
        for example in examples:
            assert f">{example.slug}<" in listing
            page = client.get(f"/examples/{example.slug}")
            assert page.status_code == 200
            assert "✓ Valid machine" in page.text
            assert re.search(r'<pre class="mermaid"[^>]*>stateDiagram-v2', page.text)
