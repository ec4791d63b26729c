"""The designer's speed targets (issue 5), checked by a script, never by a unit test.

Run from the repository root: ``python bench/ui_bench.py`` (about 30 s).

(a) Server side, for a generated 200-state machine (flat runs, nested composites, a
    parallel state with three regions, guards, timers): the validate + lint + diagram
    work behind every keystroke pause, measured through ``ui.checking.check`` and through
    ``POST /validate`` on the app (``TestClient``: routing, form parsing and the HTML
    fragment included). Target: median under 30 ms.
(b) Browser: time to the first rendered diagram of the order example in headless
    Chromium (``/usr/bin/chromium``, the flags of tests/browser/conftest.py), from
    navigation start to the SVG being in the page, over cold page loads (a fresh browser
    context each time, so nothing is cached). Target: median under 1 s.
(c) Browser, issue 15: keystroke to updated diagram for a 30-state machine (an edit that
    adds an edge, typed into the editor; until the new SVG shows it), target median
    300 ms, side by side with the same edits drawn by Mermaid's stock bundle (our changes
    to it, ``ui/mermaid_patch.py``, undone); and the bytes a cold editor page transfers
    (document, scripts, styles, as the browser's resource timing counts them), target 2 MB.

Prints a table with PASS/FAIL; exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from tests.support import CHROMIUM, CHROMIUM_ARGS, free_port  # noqa: E402
from ui.checking import check  # noqa: E402

SERVER_TARGET_MS = 30.0
BROWSER_TARGET_MS = 1000.0


def machine_200(total: int = 200) -> str:
    """YAML for a machine of ``total`` states: a ring of flat states, composites two deep
    and a three-region parallel state, with guards, actions and timers on some transitions."""
    states: list[dict[str, Any]] = [{"name": "boot", "type": "initial"}]
    transitions: list[dict[str, Any]] = []
    regions = [
        {"name": f"r{r}", "initial": f"r{r}_s0", "states": [f"r{r}_s{i}" for i in range(6)]}
        for r in range(3)
    ]
    states.append({"name": "live", "type": "parallel", "regions": regions})
    for r in range(3):
        for i in range(6):
            transitions.append(
                {"trigger": f"r{r}_next", "source": f"r{r}_s{i}", "dest": f"r{r}_s{(i + 1) % 6}"}
            )
    # regions: 1 + 18 region states; composites: 10 groups of 1 + 2 children + 2 grandchildren
    for g in range(10):
        group = f"group{g}"
        states.append({"name": group, "initial_child": f"{group}.a"})
        for child in ("a", "b"):
            name = f"{group}.{child}"
            states.append({"name": name, "parent": group, "initial_child": f"{name}.x"})
            states += [{"name": f"{name}.{leaf}", "parent": name} for leaf in ("x", "y")]
            transitions.append({"trigger": "flip", "source": f"{name}.x", "dest": f"{name}.y"})
        transitions.append({"trigger": "swap", "source": f"{group}.a", "dest": f"{group}.b"})
        transitions.append({"trigger": "leave", "source": group, "dest": "live"})
    flat = total - len(states) - 1 - 18  # boot, live, groups counted; region states implicit
    for i in range(flat):
        state: dict[str, Any] = {"name": f"S{i:03d}", "on_enter": [f"enter_{i % 7}"]}
        if i % 25 == 0:
            state["timeout"] = {"seconds": 5, "destination": "done"}
        states.append(state)
        nxt = f"S{(i + 1) % flat:03d}"
        transitions.append({"trigger": "next", "source": f"S{i:03d}", "dest": nxt})
        jump = {"trigger": "jump", "source": f"S{i:03d}", "dest": f"group{i % 10}"}
        if i % 3 == 0:
            jump["guards"] = [{"expr": f"score > {i}"}]
            jump["actions"] = ["log_jump"]
        transitions.append(jump)
    states.append({"name": "done", "type": "terminal"})
    transitions += [
        {"trigger": "start", "source": "boot", "dest": "S000"},
        {"trigger": "stop", "source": "live", "dest": "done"},
    ]
    spec = {"meta": {"machine_name": "bench_200"}, "states": states, "transitions": transitions}
    return yaml.safe_dump(spec, sort_keys=False)


def median_ms(action: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median and 90th percentile in ms of ``runs`` calls after two warm-up calls."""
    action()
    action()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), p90(samples)


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * (len(ordered) - 1))]


def server_side(runs: int, states: int) -> list[tuple[str, float, float, float | None]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from ui.app import create_app

    text = machine_200(states)
    outcome = check(text)
    assert outcome.valid, [f.message for f in outcome.errors]
    count = len(outcome.machine.states)
    broken = text.replace("dest: S001", "dest: S_MISSING", 1)
    assert not check(broken).valid
    rows: list[tuple[str, float, float, float | None]] = []
    size = f"{count} states, {len(text) // 1024} KB"
    rows.append(
        (f"check() valid ({size})", *median_ms(lambda: check(text), runs), SERVER_TARGET_MS)
    )
    rows.append(("check() invalid (one bad dest)", *median_ms(lambda: check(broken), runs), None))
    with (
        tempfile.TemporaryDirectory() as tmp,
        TestClient(create_app(Path(tmp) / "b.db"), base_url="http://127.0.0.1:8000") as client,
    ):
        # Writes carry the page token, as the designer's own pages send it.
        token = re.search(r'"X-CSRF-Token": "([0-9a-f]*)"', client.get("/").text)
        client.headers["X-CSRF-Token"] = token.group(1) if token else ""

        def post_validate() -> None:
            response = client.post("/validate", data={"yaml": text, "diagram_key": ""})
            assert response.status_code == 200 and "Valid machine" in response.text

        def post_api() -> None:
            response = client.post("/api/v1/validate", json={"yaml": text})
            assert response.status_code == 200 and response.json()["valid"]

        rows.append(
            ("POST /validate (HTML fragment)", *median_ms(post_validate, runs), SERVER_TARGET_MS)
        )
        rows.append(("POST /api/v1/validate (JSON)", *median_ms(post_api, runs), None))
    return rows


@contextmanager
def serve() -> Iterator[str]:
    import uvicorn

    from ui.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config = uvicorn.Config(create_app(Path(tmp) / "b.db"), host="127.0.0.1", port=port,
                                log_level="warning")  # fmt: skip
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=10)


# Recorded in the page before any of its scripts run: the moment the finished SVG lands in
# #diagram, on the page's own clock (0 = navigation start). While Mermaid lays a diagram out
# it draws a provisional SVG inside a temporary ``div#dmermaid-N`` in the same <pre>; the
# finished one replaces the <pre>'s content, so only a direct child SVG counts.
SVG_WATCH = """
new MutationObserver((_, observer) => {
  if (document.querySelector('#diagram pre.mermaid > svg')
      && !document.querySelector('[id^=dmermaid]')) {
    window.__svgAt = performance.now();
    observer.disconnect();
  }
}).observe(document, {subtree: true, childList: true});
"""

BREAKDOWN = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const mermaid = performance.getEntriesByType('resource').find(r => r.name.includes('mermaid'));
  return {svg: window.__svgAt, dcl: nav.domContentLoadedEventEnd,
          mermaid: mermaid ? mermaid.responseEnd : null};
}"""


def browser_side(loads: int) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    """Cold loads (fresh context each) and, for comparison, reloads in one warm context."""
    from playwright.sync_api import sync_playwright

    with serve() as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        url = f"{base}/examples/order_fsm"
        samples, warm = [], []
        for index in range(loads + 1):
            context = browser.new_context()  # fresh cache: a cold load every time
            page = context.new_page()
            page.add_init_script(SVG_WATCH)
            page.goto(url)
            page.wait_for_function("() => window.__svgAt !== undefined", timeout=20_000)
            if index:  # the first load warms the server and the browser process
                samples.append(page.evaluate(BREAKDOWN))
            context.close()
        context = browser.new_context()
        page = context.new_page()
        page.add_init_script(SVG_WATCH)
        for index in range(loads + 1):
            page.goto(url)
            page.wait_for_function("() => window.__svgAt !== undefined", timeout=20_000)
            if index:
                warm.append(page.evaluate(BREAKDOWN))
        context.close()
        browser.close()
    return samples, warm


KEYSTROKE_TARGET_MS = 300.0
TRANSFER_TARGET_KB = 2000.0


def machine_30() -> str:
    """30 states: a guarded ring with timers, a compound state, a parallel state."""
    states: list[dict[str, Any]] = [{"name": "s00", "type": "initial"}]
    states += [{"name": f"s{i:02d}"} for i in range(1, 20)]
    states[5]["timeout"] = {"seconds": 5, "destination": "s00"}
    states.append({"name": "work", "initial_child": "work.a"})
    states += [{"name": f"work.{c}", "parent": "work"} for c in "abcd"]
    regions = [
        {"name": f"r{r}", "initial": f"r{r}_a", "states": [f"r{r}_a", f"r{r}_b"]} for r in range(2)
    ]
    states.append({"name": "both", "type": "parallel", "regions": regions})
    transitions: list[dict[str, Any]] = []
    for i in range(20):
        step: dict[str, Any] = {"trigger": "next", "source": f"s{i:02d}",
                                "dest": f"s{(i + 1) % 20:02d}"}  # fmt: skip
        if i % 4 == 0:
            step["guards"] = [{"expr": f"score > {i}"}]
        transitions.append(step)
    transitions += [
        {"trigger": "work", "source": "s03", "dest": "work"},
        {"trigger": "on", "source": "work.a", "dest": "work.b"},
        {"trigger": "on", "source": "work.b", "dest": "work.c"},
        {"trigger": "on", "source": "work.c", "dest": "work.d"},
        {"trigger": "both", "source": "work", "dest": "both"},
        {"trigger": "flip", "source": "r0_a", "dest": "r0_b"},
        {"trigger": "flip", "source": "r1_a", "dest": "r1_b"},
        {"trigger": "home", "source": "both", "dest": "s00"},
    ]
    spec = {"meta": {"machine_name": "bench_30"}, "states": states, "transitions": transitions}
    return yaml.safe_dump(spec, sort_keys=False)


# Types an edge at the end of the editor (one editing command, as a paste or a structured
# edit makes; Chromium fires an input event per inserted line) and resolves with the
# milliseconds until the drawn SVG shows its label. The clock stops when the SVG is in the
# page: app.js's work on the drawing after that (region names, wiring, fold buttons, zoom)
# and the paint are not counted.
KEYSTROKE = """label => new Promise(resolve => {
  const ta = document.getElementById('yaml');
  const holder = document.getElementById('diagram-view');
  const started = performance.now();
  const done = () => {
    const svg = document.querySelector('#diagram pre.mermaid > svg');
    if (svg && !document.querySelector('[id^=dmermaid]') && svg.textContent.includes(label)) {
      observer.disconnect();
      resolve(performance.now() - started);
    }
  };
  const observer = new MutationObserver(done);
  observer.observe(holder, {subtree: true, childList: true});
  ta.focus();
  ta.setSelectionRange(ta.value.length, ta.value.length);
  document.execCommand('insertText', false,
    '- trigger: ' + label + '\\n  source: s01\\n  dest: s07\\n');
})"""

TRANSFERRED = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  return [nav, ...performance.getEntriesByType('resource')]
    .reduce((total, entry) => total + (entry.transferSize || 0), 0);
}"""


def keystrokes(browser: Any, url: str, runs: int, stock_mermaid: bool) -> list[float]:
    """Keystroke -> diagram times on a fresh page; ``stock_mermaid`` serves Mermaid's own
    bundle (our ``ui.mermaid_patch`` undone) in place of the vendored one, as the baseline."""
    from ui import mermaid_patch
    from ui.paths import STATIC_DIR

    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    if stock_mermaid:
        vendored = STATIC_DIR / "vendor" / mermaid_patch.PATCHED_NAME
        body = mermaid_patch.revert(vendored.read_bytes())
        page.route(
            f"**/{mermaid_patch.PATCHED_NAME}",
            lambda route: route.fulfill(body=body, content_type="text/javascript"),
        )
    page.goto(url)
    page.wait_for_function("() => !!document.querySelector('#diagram pre.mermaid > svg')")
    keeps = page.evaluate("() => mermaid.mermaidAPI.getConfig.toString().includes('__s')")
    assert keeps is not stock_mermaid, "the page did not run the bundle asked for"
    times = []
    for index in range(runs + 2):
        elapsed = float(page.evaluate(KEYSTROKE, f"key{index}"))
        if index >= 2:  # the first edits warm Mermaid's layout code
            times.append(elapsed)
    context.close()
    return sorted(times)


def editor_side(runs: int) -> tuple[list[float], list[float], list[float]]:
    """Keystroke -> diagram times for the 30-state machine (ours, then with the stock
    Mermaid bundle), and cold-page transfers (bytes)."""
    from playwright.sync_api import sync_playwright

    from ui.share import encode_token

    with serve() as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        url = f"{base}/s/{encode_token(machine_30())}"
        transfers = []
        for _ in range(3):
            context = browser.new_context(viewport={"width": 1280, "height": 720})
            page = context.new_page()
            page.goto(url)
            page.wait_for_function("() => !!document.querySelector('#diagram pre.mermaid > svg')")
            page.wait_for_load_state("networkidle")
            transfers.append(float(page.evaluate(TRANSFERRED)))
            context.close()
        ours = keystrokes(browser, url, runs, stock_mermaid=False)
        stock = keystrokes(browser, url, runs, stock_mermaid=True)
        browser.close()
    return ours, stock, sorted(transfers)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60, help="server-side runs (default 60)")
    parser.add_argument("--loads", type=int, default=10, help="cold page loads (default 10)")
    parser.add_argument("--states", type=int, default=200, help="machine size (default 200)")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium part")
    parser.add_argument("--keystrokes", type=int, default=20, help="edits timed (default 20)")
    args = parser.parse_args(argv)

    rows = server_side(args.runs, args.states)
    if not args.no_browser:
        samples, warm = browser_side(args.loads)
        svg = sorted(s["svg"] for s in samples)
        rows.append(
            (
                f"order example: navigation -> SVG ({len(svg)} cold loads)",
                statistics.median(svg),
                p90(svg),
                BROWSER_TARGET_MS,
            )
        )
        for key, label in (("mermaid", "  of which mermaid.js downloaded"),
                           ("dcl", "  of which DOMContentLoaded done")):  # fmt: skip
            values = sorted(s[key] for s in samples if s[key] is not None)
            if values:
                rows.append((label, statistics.median(values), p90(values), None))
        warm_svg = sorted(s["svg"] for s in warm)
        label = f"  same, reloads in a warm browser ({len(warm_svg)})"
        rows.append((label, statistics.median(warm_svg), p90(warm_svg), None))
        keys, stock, transfers = editor_side(args.keystrokes)
        label = f"30 states: keystroke -> diagram ({len(keys)} edits)"
        rows.append((label, statistics.median(keys), p90(keys), KEYSTROKE_TARGET_MS))
        label = "  baseline: the same with Mermaid's stock bundle"
        rows.append((label, statistics.median(stock), p90(stock), None))
        kb = [t / 1000 for t in transfers]
        label = "cold editor page, kB transferred (not ms)"
        rows.append((label, statistics.median(kb), max(kb), TRANSFER_TARGET_KB))

    print(f"| {'measure':<52} | median ms | p90 ms | target | verdict |")
    print(f"|{'-' * 54}|-----------|--------|--------|---------|")
    failed = False
    for label, median, slow, target in rows:
        verdict = "" if target is None else ("PASS" if median < target else "FAIL")
        failed |= verdict == "FAIL"
        shown = f"< {target:g}" if target is not None else ""
        print(f"| {label:<52} | {median:9.1f} | {slow:6.1f} | {shown:>6} | {verdict:>7} |")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
