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

Prints a table with PASS/FAIL; exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import math
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
    with tempfile.TemporaryDirectory() as tmp, TestClient(create_app(Path(tmp) / "b.db")) as client:

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60, help="server-side runs (default 60)")
    parser.add_argument("--loads", type=int, default=10, help="cold page loads (default 10)")
    parser.add_argument("--states", type=int, default=200, help="machine size (default 200)")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium part")
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
