"""Our changes to the vendored Mermaid (``ui/mermaid_patch.py``) draw what Mermaid drew.

The patched ``getConfig`` hands out one copy of the configuration per render instead of
a fresh one per call; if some Mermaid code wrote into its copy, the next caller would now
see the write and the picture would change. The patched ``sanitizeText`` remembers its
answer per string across renders; a key that missed something it depends on would hand
one label another's text. So every example and the 30-state machine are drawn, light and
dark, by the stock bundle (the patches undone) and by ours, all of them twice in one page
(the second pass finds every label remembered), and the SVGs compared. Mermaid draws some
shapes with rough.js, which jitters their outlines with ``Math.random``; both pages get the
same seeded generator, reset before each drawing, and the random part of Mermaid's element
ids is taken out.

The third change (``regionOrder``) is meant to change drawings: those of a parallel state
whose regions ELK put out of their written order. So the speed changes are held against a
bundle with that change alone, for every diagram, and that bundle against the stock one
for every diagram without a parallel state, which it must leave as it was
(``test_regions.py`` checks what it does to the others).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_diagram_view import EXAMPLES, THIRTY, source, wait_drawn
from ui import mermaid_patch
from ui.paths import STATIC_DIR

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BUNDLE = STATIC_DIR / "vendor" / mermaid_patch.PATCHED_NAME
ADDRESSES = [THIRTY, *(f"/examples/{p.stem}" for p in EXAMPLES)]
RANDOM_ID = re.compile(r"-id-[a-z0-9]{6,14}-")
PARALLEL = re.compile(r"^\s*--\s*$", re.M)  # the line between two regions

# A small seeded generator (mulberry32) in place of Math.random, reset per drawing.
SEEDED = """() => {
  let state = 0;
  window.seedRandom = seed => { state = seed >>> 0; };
  Math.random = () => {
    state = (state + 0x6D2B79F5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}"""

DRAW = """async sources => {
  const out = [];
  for (const pass of [0, 1]) {
    for (const [i, text] of sources.entries()) {
      window.seedRandom(i + 1);
      out.push((await mermaid.render('same' + i, text)).svg);
    }
  }
  return out;
}"""


def sources(browser: Any, app_url: str) -> list[str]:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    texts = []
    for address in ADDRESSES:
        page.goto(app_url + address)
        wait_drawn(page, "#diagram")
        texts.append(source(page, "#diagram"))
    context.close()
    assert len(texts) == len(ADDRESSES) and all(t.startswith("stateDiagram") for t in texts)
    return texts


@functools.cache
def bundle(*names: str) -> bytes:
    """The stock bundle with only the named changes of ours (made once per set of names)."""
    stock = mermaid_patch.revert(BUNDLE.read_bytes())
    return mermaid_patch.apply(stock, [p for p in mermaid_patch.PATCHES if p.name in names])


def serve_bundle(page: Any, body: bytes) -> None:
    """The page gets ``body`` wherever it asks for the vendored Mermaid."""
    page.route(
        f"**/{mermaid_patch.PATCHED_NAME}",
        lambda route: route.fulfill(body=body, content_type="text/javascript"),
    )


def drawn(
    browser: Any, app_url: str, texts: list[str], scheme: str, body: bytes | None = None
) -> list[str]:
    """Every text drawn twice by the vendored bundle, or by ``body`` in its place."""
    context = browser.new_context(viewport={"width": 1280, "height": 720}, color_scheme=scheme)
    page = context.new_page()
    page.add_init_script(f"({SEEDED})()")
    if body is not None:
        serve_bundle(page, body)
    page.goto(app_url + "/examples/" + Path(EXAMPLES[0]).stem)
    wait_drawn(page, "#diagram")
    # Which bundle runs: the patched getConfig keeps its copy on itself.
    keeps = page.evaluate("() => mermaid.mermaidAPI.getConfig.toString().includes('__s')")
    assert keeps is (body is None)
    svgs: list[str] = page.evaluate(DRAW, texts)
    context.close()
    return [RANDOM_ID.sub("-id-X-", svg) for svg in svgs]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_patched_bundle_draws_every_diagram_as_the_stock_one(
    browser: Any, app_url: str, scheme: str
) -> None:
    texts = sources(browser, app_url)
    ours = drawn(browser, app_url, texts, scheme)
    regions_only = drawn(browser, app_url, texts, scheme, bundle("regionOrder"))
    passes = [f"{address} (first drawing)" for address in ADDRESSES]
    passes += [f"{address} (drawn again)" for address in ADDRESSES]
    for drawing, mine, upstream in zip(passes, ours, regions_only, strict=True):
        assert mine == upstream, f"{drawing} is drawn differently by the patched Mermaid"
    assert ours[0] != ours[1]  # the comparison sees the drawings, not empty strings
    if scheme == "dark":
        return  # the region change reads positions only; once is enough
    stock = drawn(browser, app_url, texts, scheme, bundle())
    plain = [not PARALLEL.search(text) for text in texts] * 2
    assert 0 < sum(plain) < len(plain)  # day trading has regions, the others none
    for drawing, mine, upstream, compare in zip(passes, regions_only, stock, plain, strict=True):
        if compare:
            assert mine == upstream, f"{drawing}: the region change moved something"
