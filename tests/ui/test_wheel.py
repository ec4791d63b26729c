"""The wheel works on its own: build it, install it with ``[ui]`` into a fresh virtual
environment, start ``pystator-ui`` from an unrelated directory and fetch every page kind,
every asset the pages link, the API and its docs.

This is the check that templates, static files (vendored htmx and Mermaid with their
licenses) and examples are package data, and that nothing reads files from the checkout.
The source is copied to a temporary directory first so the build leaves no ``build/`` or
``*.egg-info`` behind in the repository. pip's cache is reused; PyPI may be reached.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_SLUGS = sorted(p.stem for p in (ROOT / "examples").glob("*.yaml"))
NOT_SOURCE = shutil.ignore_patterns(
    ".git", "__pycache__", "*.egg-info", "build", "dist", ".venv*", ".*_cache", ".hypothesis",
    "test-results", "tests", "bench", "docs", "*.sqlite3", "*.db",
)  # fmt: skip
BIN = "Scripts" if sys.platform == "win32" else "bin"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path

    def tool(self, name: str) -> Path:
        return self.venv / BIN / name


def _run(command: list[str | Path], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"


def _clean_env() -> dict[str, str]:
    """The environment without anything that would let the checkout leak into imports."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYSTATOR_DB"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    _run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-w", "dist", "-q"], work)
    wheels = sorted((work / "dist").glob("pystator-*.whl"))
    assert len(wheels) == 1, wheels
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], work)
    python = venv / BIN / "python"
    _run([python, "-m", "pip", "install", "-q", f"{wheels[0]}[ui]"], work)
    return Installed(wheels[0], venv)


@pytest.fixture(scope="module")
def server(installed: Installed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``pystator-ui`` from the virtual environment, started in an empty directory."""
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    port = free_port()
    db = elsewhere / "data" / "library.sqlite3"
    log = (elsewhere / "server.log").open("w+")
    process = subprocess.Popen(
        [installed.tool("pystator-ui"), "--port", str(port), "--db", str(db)],
        cwd=elsewhere,
        env=_clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"pystator-ui exited with {process.returncode}:\n{log.read()}")
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("pystator-ui did not answer /health within 30 s")
            time.sleep(0.1)
        assert db.exists(), "the library file should be created where --db says"
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def test_the_wheel_carries_templates_assets_licenses_and_examples(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    expected = {
        f"ui/{p.relative_to(ROOT).as_posix()}"
        for folder in ("templates", "static")
        for p in (ROOT / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    } | {f"ui/examples/{slug}.yaml" for slug in EXAMPLE_SLUGS}
    assert expected <= names, sorted(expected - names)
    assert {"ui/static/vendor/LICENSE-mermaid.txt", "ui/static/vendor/LICENSE-htmx.txt"} <= names
    # Imported from the environment, not from the checkout.
    where = subprocess.run(
        [
            installed.tool("python"),
            "-c",
            "import ui, pystator; print(ui.__file__, pystator.__file__)",
        ],
        cwd=installed.venv,
        env=_clean_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(ROOT) not in where and "site-packages" in where


def _assets(html: str) -> set[str]:
    return set(re.findall(r'(?:src|href)="(/static/[^"]+)"', html))


def test_every_page_and_asset_is_served(server: str) -> None:
    with httpx.Client(base_url=server, timeout=15) as client:
        machines = client.get("/api/v1/machines")
        assert machines.status_code == 200
        by_name = {m["name"]: m for m in machines.json()["machines"]}
        assert sorted(by_name) == EXAMPLE_SLUGS, "the examples should be seeded on first start"
        machine = by_name["order_fsm"]
        mid, rev = machine["id"], machine["revision_id"]

        pages = [
            "/", "/new", "/import", f"/machines/{mid}", f"/machines/{mid}/revisions/{rev}",
            f"/machines/{mid}/diff", f"/machines/{mid}/delete", f"/m/{rev}", f"/m/{rev}/export",
            *(f"/examples/{slug}" for slug in EXAMPLE_SLUGS),
        ]  # fmt: skip
        yaml_text = client.get(f"/api/v1/machines/{mid}").json()["yaml"]
        token = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', client.get("/").text)
        assert token, "pages carry this browser's token"
        shared = client.post(
            "/share", data={"yaml": yaml_text}, headers={"X-CSRF-Token": token.group(1)}
        )
        assert shared.status_code == 200
        link = re.search(r'value="(http://[^"]+/s/[^"]+)"', shared.text)
        assert link, shared.text
        pages.append(httpx.URL(link.group(1)).path)

        assets: set[str] = set()
        for path in pages:
            page = client.get(path)
            assert page.status_code == 200, (path, page.text[:500])
            assert page.headers["content-type"].startswith("text/html"), path
            assert "content-security-policy" in page.headers, path
            assets |= _assets(page.text)
        designer = client.get(f"/machines/{mid}").text
        assert re.search(r'<pre class="mermaid"[^>]*>stateDiagram-v2', designer)
        assert "✓ Valid machine" in designer

        assert {"/static/app.css", "/static/app.js"} <= assets
        vendored = {a.rsplit("/", 1)[-1].split("-")[0] for a in assets if "/vendor/" in a}
        assert vendored == {"htmx", "mermaid"}, assets
        assets |= {"/static/vendor/LICENSE-htmx.txt", "/static/vendor/LICENSE-mermaid.txt"}
        for asset in sorted(assets):
            response = client.get(asset)
            assert response.status_code == 200, asset
            local = ROOT / asset.removeprefix("/")
            assert response.content == local.read_bytes(), f"{asset} differs from {local}"

        for fmt, needle in (("yaml", "order"), ("json", '"states"'), ("mmd", "stateDiagram-v2"),
                            ("py", "StateMachine")):  # fmt: skip
            download = client.get(f"/m/{rev}/export.{fmt}")
            assert download.status_code == 200, fmt
            assert "attachment" in download.headers["content-disposition"]
            assert needle in download.text, fmt

        health = client.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        docs = client.get("/docs")
        assert docs.status_code == 200 and "/api/v1/validate" in docs.text
        schema = client.get("/openapi.json")
        assert schema.status_code == 200 and "/api/v1/machines" in schema.json()["paths"]
        valid = client.post("/api/v1/validate", json={"yaml": yaml_text})
        assert valid.status_code == 200 and valid.json()["valid"] is True

        missing = client.get("/machines/does-not-exist")
        assert missing.status_code == 404, missing.text[:300]
        assert "<!doctype html>" in missing.text and "does-not-exist" in missing.text
