"""Simulator step round trip in the designer: click -> new diagram drawn, target < 150 ms median.

Run from the repository root: ``python bench/ui_sim_bench.py [--steps 30]``. It serves
the designer on a free 127.0.0.1 port (a temporary library), opens the order example's
Simulate view in headless Chromium (Debian's /usr/bin/chromium through Playwright), and
then, ~30 times, clicks the first enabled event button (or, in a terminal state, the
log's first step to go back to the start). Each sample is measured inside the page,
from the click to the moment the swapped-in panel's Mermaid diagram has an SVG: the
request, the server's replay of the trace, the swap and Mermaid's layout all count.
A few warm-up steps are not counted. Exit status 1 when the median misses the target.
It is a script, not a test: speed is never asserted by the unit tests.
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
  const button = document.querySelector(selector);
  if (!button) { reject(new Error("no button " + selector)); return; }
  const started = performance.now();
  button.click();
  const poll = () => {
    const sim = document.getElementById("sim");
    const svg = sim && sim !== old && sim.querySelector("pre.mermaid[data-processed] svg");
    if (svg) resolve(performance.now() - started);
    else if (performance.now() - started > 10000) reject(new Error("no diagram after 10 s"));
    else requestAnimationFrame(poll);
  };
  requestAnimationFrame(poll);
})
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
            samples = _measure(f"http://127.0.0.1:{port}", options.steps, options.warmup)
        finally:
            server.should_exit = True
            thread.join(timeout=10)

    median = statistics.median(samples)
    print(f"simulator step round trip (click -> new diagram), order example, {len(samples)} steps")
    print(f"  median {median:.1f} ms   p90 {_p90(samples):.1f} ms   min {min(samples):.1f} ms")
    print(f"  target < {TARGET_MS:.0f} ms median: {'met' if median < TARGET_MS else 'MISSED'}")
    return 0 if median < TARGET_MS else 1


def _measure(base_url: str, steps: int, warmup: int) -> list[float]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(base_url + "/examples/order_fsm?view=simulate")
        page.wait_for_function("() => !!document.querySelector('#sim pre.mermaid svg')")
        samples: list[float] = []
        for n in range(steps + warmup):
            if page.locator("#sim .event-button").count():
                selector = "#sim .event-button"
            else:
                selector = '#sim .step[data-step="0"] .step-jump'
            elapsed = float(page.evaluate(STEP_JS, selector))
            page.wait_for_function("() => !document.querySelector('#sim-form.htmx-request')")
            if n >= warmup:
                samples.append(elapsed)
        browser.close()
    return samples


def _p90(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


if __name__ == "__main__":
    raise SystemExit(main())
