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
pytestmark = [pytest.mark.slow, pytest.mark.browser]


def mermaid_js() -> Path | None:
    override = os.environ.get("PYSTATOR_MERMAID_JS")
    if override:
        return Path(override)
    found = sorted((ROOT / "static" / "vendor").glob("mermaid*.min.js"))
    return found[-1] if found else None


@pytest.fixture(scope="module")
def mermaid_page(browser: Any) -> Iterator[Any]:
    """A blank page with the vendored Mermaid loaded (Chromium from tests/browser/conftest)."""
    script = mermaid_js()
    assert script is not None and script.exists(), (
        "no vendored mermaid*.min.js under static/vendor/ (see THIRD-PARTY-NOTICES.md there)"
    )
    page = browser.new_page()
    page.route("**/*", lambda route: route.abort())  # offline: nothing may be fetched
    page.set_content("<!doctype html><html><body><div id='out'></div></body></html>")
    page.add_script_tag(path=str(script))
    page.evaluate("mermaid.initialize({startOnLoad: false, securityLevel: 'strict'})")
    yield page
    page.close()


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


CONSTRUCTS = """async ([text, id]) => {
  const {svg} = await mermaid.render(id, text);
  const root = document.getElementById('out');
  root.innerHTML = svg;
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom];
  };
  const cluster = (name) => root.querySelector(`g.statediagram-cluster[data-id="${name}"]`);
  const node = (name) => [...root.querySelectorAll('g.node')]
    .find((g) => new RegExp(`-state-${name}-\\\\d+$`).test(g.id));
  const shape = (g) => g.querySelector('rect, path');
  return {
    history: ['last', 'exact', 'rig_memory'].map((name) => {
      const g = node(name);
      return {
        text: g.textContent,
        classes: g.getAttribute('class'),
        dashed: getComputedStyle(shape(g)).strokeDasharray,
      };
    }),
    plain: getComputedStyle(shape(node('cd'))).strokeDasharray,
    ends: [...root.querySelectorAll('g.node')]
      .filter((g) => /_end-\\d+$/.test(g.id)).map((g) => [g.id, box(g)]),
    clusters: Object.fromEntries(['job', 'rig', 'motors', 'player', 'radio']
      .map((name) => [name, box(cluster(name))])),
    regions: [...root.querySelectorAll('g.statediagram-cluster:not([data-id])')].map(box),
    labels: [...root.querySelectorAll('.edgeLabel')].map((e) => e.textContent),
  };
}"""


def inside(inner: list[float], outer: list[float]) -> bool:
    return (
        outer[0] <= inner[0]
        and outer[1] <= inner[1]
        and inner[2] <= outer[2]
        and inner[3] <= outer[3]
    )


def test_statechart_constructs_are_drawn_apart(mermaid_page: Any) -> None:
    """History nodes, final states, eventless and kind-marked edges and a parallel state
    inside a region come out of the real Mermaid as what they are."""
    path = ROOT / "tests" / "engine" / "golden" / "spec_statechart_constructs.mmd"
    drawn = mermaid_page.evaluate(CONSTRUCTS, [path.read_text("utf-8"), "d_constructs"])
    history = {h["text"]: h for h in drawn["history"]}
    assert set(history) == {"(H) last", "(H*) exact", "(H*) rig_memory"}
    for item in history.values():
        assert "history" in item["classes"].split()
        assert item["dashed"] not in ("", "none"), item  # a pseudo-state: a dashed outline
    assert drawn["plain"] in ("", "none")
    clusters = drawn["clusters"]
    # A final state points at its own block's end: the job's end circle sits in the job.
    job_ends = [b for name, b in drawn["ends"] if "-state-job_end-" in name]
    assert job_ends and inside(job_ends[0], clusters["job"])
    # The final states of the motors' regions end inside the motors block.
    assert sum(inside(b, clusters["motors"]) for _, b in drawn["ends"]) == 2
    # A parallel state inside a region of another: nested boxes, four region boxes.
    assert inside(clusters["motors"], clusters["rig"])
    assert inside(clusters["radio"], clusters["player"])
    regions = drawn["regions"]  # Mermaid draws each region as a box of its own
    assert sum(inside(r, clusters["motors"]) for r in regions) == 2
    assert sum(inside(r, clusters["rig"]) for r in regions) == 4
    labels = set(drawn["labels"])
    for label in (
        "always [ready]",
        "always",
        "retune (external)",
        "eject (internal)",
        "band / raise retune",
        "done.state.job",
    ):
        assert label in labels, (label, sorted(labels))
