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
from ui.server import default_db_path, origin_of, parse_args

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


def test_hosts_and_origins_options() -> None:
    hosts = ["--allowed-host", "designer.lan", "--allowed-host", "10.0.0.5"]
    args = parse_args([*hosts, "--allowed-origin", "http://localhost:3000"])
    assert args.allowed_host == ["designer.lan", "10.0.0.5"]
    assert args.allowed_origin == ["http://localhost:3000"]
    assert origin_of("127.0.0.1", 8000, []) == "http://127.0.0.1:8000"
    assert origin_of("0.0.0.0", 9001, ["designer.lan"]) == "http://designer.lan:9001"
    assert origin_of("0.0.0.0", 9001, []) == "http://127.0.0.1:9001"
    assert origin_of("::1", 8000, []) == "http://[::1]:8000"


def test_the_console_script_serves_its_options(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """main() hands uvicorn an app that answers to --host and --allowed-host only."""
    import uvicorn

    from ui import server

    served: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(app=app, **options))
    argv = ["--host", "designer.lan", "--port", "8123", "--db", str(tmp_path / "x.db")]
    assert server.main([*argv, "--allowed-host", "alias.lan"]) == 0
    assert (served["host"], served["port"]) == ("designer.lan", 8123)
    for host, status in [("designer.lan:8123", 200), ("alias.lan", 200), ("evil.example", 400)]:
        with designer_client(served["app"]) as client:
            assert client.get("/health", headers={"Host": host}).status_code == status, host
    with designer_client(served["app"]) as client:
        shared = client.post(
            "/share", data={"yaml": "states: [{name: a}]\n"}, headers={"HX-Request": "true"}
        )
        assert "http://designer.lan:8123/s/" in shared.text
