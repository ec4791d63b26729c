"""Simulator step round trip in the designer: click -> new diagram drawn, target < 150 ms median.

Run from the repository root: ``python bench/ui_sim_bench.py [--steps 30]``. It serves
the designer on a free 127.0.0.1 port (a temporary library), opens the order example's
Simulate view in headless Chromium (Debian's /usr/bin/chromium through Playwright), and
then, ~30 times, clicks the first enabled event button (or, in a terminal state, the
log's first step to go back to the start). Each sample is measured inside the page,
from the click to the moment the swapped-in panel's diagram shows the new active
states (every state the engine lists in ``data-active`` marked in the SVG): the
request, the server's replay of the trace, the swap and the drawing all count.

Two pages are measured side by side in one run: the designer as it is (a step that
changes only what is active keeps the drawing and marks it again), and the baseline,
the same page with the kept drawing taken away before each swap, so that every step
waits for Mermaid's layout as it did before. A few warm-up steps are not counted.
Exit status 1 when the designer's median misses the target. It is a script, not a
test: speed is never asserted by the unit tests.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import uvicorn  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.support import CHROMIUM, CHROMIUM_ARGS, free_port  # noqa: E402
from ui.app import create_app  # noqa: E402

TARGET_MS = 150.0

# Clicks a button and resolves with the ms until the new panel's diagram is drawn.
STEP_JS = """
(selector) => new Promise((resolve, reject) => {
  const old = document.getElementById("sim");
  const oldSvg = old && old.querySelector("pre.mermaid svg");
  const button = document.querySelector(selector);
  if (!button) { reject(new Error("no button " + selector)); return; }
  const started = performance.now();
  button.click();
  const poll = () => {
    const sim = document.getElementById("sim");
    const pre = sim && sim !== old && sim.querySelector("pre.mermaid[data-processed]");
    const svg = pre && pre.querySelector("svg");
    const wanted = pre ? (pre.dataset.active || "").split(" ").filter(Boolean).length : 0;
    const marked = svg ? svg.querySelectorAll(".sim-active").length : 0;
    if (svg && wanted && marked >= wanted) resolve([performance.now() - started, svg === oldSvg]);
    else if (performance.now() - started > 10000) reject(new Error("no diagram after 10 s"));
    else requestAnimationFrame(poll);
  };
  requestAnimationFrame(poll);
})
"""

# The baseline: before each swap, the drawing is taken out of the old panel (this
# listener is added before the page's own, so the page finds nothing to keep).
NO_KEPT_DRAWING = """
document.addEventListener("htmx:beforeSwap", (event) => {
  const target = event.detail && event.detail.target;
  if (!target || target.id !== "sim") return;
  target.querySelectorAll("pre.mermaid svg").forEach((svg) => svg.remove());
});
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=4)
    options = parser.parse_args()

    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Path(tmp) / "library.sqlite3")
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            url = f"http://127.0.0.1:{port}"
            samples, kept = _measure(url, options.steps, options.warmup, baseline=False)
            base, _ = _measure(url, options.steps, options.warmup, baseline=True)
        finally:
            server.should_exit = True
            thread.join(timeout=10)

    median = statistics.median(samples)
    print(f"simulator step round trip (click -> new diagram), order example, {len(samples)} steps")
    for label, values in (("designer", samples), ("baseline: layout every step", base)):
        print(
            f"  {label:<28} median {statistics.median(values):6.1f} ms   "
            f"p90 {_p90(values):6.1f} ms   min {min(values):6.1f} ms"
        )
    print(f"  the designer kept its drawing in {kept} of {len(samples)} steps")
    print(f"  target < {TARGET_MS:.0f} ms median: {'met' if median < TARGET_MS else 'MISSED'}")
    return 0 if median < TARGET_MS else 1


def _measure(base_url: str, steps: int, warmup: int, *, baseline: bool) -> tuple[list[float], int]:
    """The samples in ms, and how many steps kept the drawing they had."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        if baseline:
            page.add_init_script(NO_KEPT_DRAWING)
        page.goto(base_url + "/examples/order_fsm?view=simulate")
        page.wait_for_function("() => !!document.querySelector('#sim pre.mermaid svg')")
        samples: list[float] = []
        kept = 0
        for n in range(steps + warmup):
            if page.locator("#sim .event-button").count():
                selector = "#sim .event-button"
            else:
                selector = '#sim .step[data-step="0"] .step-jump'
            elapsed, same = page.evaluate(STEP_JS, selector)
            page.wait_for_function("() => !document.querySelector('#sim-form.htmx-request')")
            if n >= warmup:
                samples.append(float(elapsed))
                kept += bool(same)
        browser.close()
    return samples, kept


def _p90(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


if __name__ == "__main__":
    raise SystemExit(main())
