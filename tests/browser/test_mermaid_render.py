"""Every golden diagram parses and renders in the real, vendored Mermaid.

The golden files (``tests/engine/golden/*.mmd``) are what ``pystator.diagram``
emits for the examples and for machines with awkward names; here each one is
rendered by Mermaid in headless Chromium on an ``about:blank`` page (no server,
no network). ``PYSTATOR_MERMAID_JS`` may point at another ``mermaid.min.js``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = sorted((ROOT / "tests" / "engine" / "golden").glob("*.mmd"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def mermaid_js() -> Path | None:
    override = os.environ.get("PYSTATOR_MERMAID_JS")
    if override:
        return Path(override)
    found = sorted((ROOT / "static" / "vendor").glob("mermaid*.min.js"))
    return found[-1] if found else None


@pytest.fixture(scope="module")
def mermaid_page() -> Iterator[Any]:
    script = mermaid_js()
    if script is None or not script.exists():
        pytest.skip("no vendored mermaid*.min.js under static/vendor/")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.route("**/*", lambda route: route.abort())  # offline: nothing may be fetched
        page.set_content("<!doctype html><html><body><div id='out'></div></body></html>")
        page.add_script_tag(path=str(script))
        page.evaluate("mermaid.initialize({startOnLoad: false, securityLevel: 'strict'})")
        yield page
        browser.close()


RENDER = """async ([text, id]) => {
  try {
    const {svg} = await mermaid.render(id, text);
    document.getElementById('out').innerHTML = svg;
    const root = document.getElementById('out');
    return {
      ok: true,
      scripts: root.querySelectorAll('script').length,
      states: root.querySelectorAll('g.statediagram-state, g.statediagram-cluster').length,
      text: root.textContent,
    };
  } catch (e) {
    return {ok: false, error: String((e && e.message) || e)};
  }
}"""


def test_golden_files_exist() -> None:
    assert len(GOLDEN) >= 10


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_diagram_renders(mermaid_page: Any, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    result = mermaid_page.evaluate(RENDER, [text, f"d_{path.stem}"])
    assert result["ok"], f"{path.name}: Mermaid failed: {result.get('error')}"
    assert result["states"] > 0
    assert result["scripts"] == 0


def test_awkward_names_show_as_text(mermaid_page: Any) -> None:
    text = (ROOT / "tests" / "engine" / "golden" / "spec_awkward_names.mmd").read_text("utf-8")
    result = mermaid_page.evaluate(RENDER, [text, "d_awkward_text"])
    assert result["ok"], result.get("error")
    for name in ("order.open", "waiting for fill", "naïve-état ✓", "注文", "a:b;c#d{e}"):
        assert name in result["text"]
    assert '<script>alert("x")</script>' in result["text"]  # shown as text, never as markup
