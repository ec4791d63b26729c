"""The Simulate view in real Chromium, as a new user would use it on the day-trading example.

Three parallel regions: events move one region at a time, a named guard is decided by
hand, an ``after`` timer is armed, fired and cancelled, the log takes the run back, the
share link reopens the same step elsewhere, and the exported pytest file passes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path("/tmp/pystator-sim-shots")
ROOT = Path(__file__).resolve().parents[2]
STATE_ID = re.compile(r"-state-(.+)-\d+$")


def wait_for_diagram(page: Any) -> None:
    page.wait_for_function(
        "() => !document.querySelector('#sim pre.mermaid:not([data-processed])')"
        " && !!document.querySelector('#sim pre.mermaid svg')",
        timeout=15_000,
    )


def act(page: Any, do: Any) -> None:
    """Do something that posts to /simulate and wait until the new diagram is drawn."""
    with page.expect_response(lambda r: urlsplit(r.url).path == "/simulate"):
        do()
    page.wait_for_load_state("domcontentloaded")
    page.wait_for_function("() => !document.querySelector('#sim-form.htmx-request')")
    wait_for_diagram(page)


def active_states(page: Any) -> set[str]:
    """State names marked active in the SVG (the page marks them from the engine's ids)."""
    ids = page.eval_on_selector_all(
        "#sim pre.mermaid svg g.node.sim-active", "nodes => nodes.map(n => n.id)"
    )
    out = set()
    for node_id in ids:
        match = STATE_ID.search(node_id)
        if match:
            out.add(match.group(1))
    return out


def press(page: Any, selector: str) -> None:
    act(page, lambda: page.locator(selector).first.click())


def steps(page: Any) -> int:
    return int(page.locator("#sim").get_attribute("data-steps"))


def last_edge_label_colours(page: Any) -> tuple[str, str]:
    """Background and text colour of the last transition's label text, as drawn."""
    marked = page.locator("#sim pre.mermaid").get_attribute("data-highlight").split()[0]
    found = page.eval_on_selector(
        f'#sim g.label[data-id="{marked}"] p',
        "p => [getComputedStyle(p).backgroundColor, getComputedStyle(p).color]",
    )
    return (found[0], found[1])


def open_simulator(page: Any, url: str) -> None:
    page.goto(url)
    act(page, lambda: page.get_by_role("link", name="Simulate").click())


def test_simulate_the_day_trading_regions(
    offline_page: Any, app_url: str, browser: Any, tmp_path: Path
) -> None:
    page = offline_page
    page.set_viewport_size({"width": 1500, "height": 1000})
    open_simulator(page, app_url + "/examples/day_trading_fsm")
    assert active_states(page) == {"pre_market"}

    # Number keys send the enabled events in order: 1 is market_open here. Shortcuts act
    # only when no control has focus (the Simulate tab has it now), so click the clock text.
    page.locator("#sim-clock").click()
    act(page, lambda: page.keyboard.press("1"))
    assert {"scanning", "normal", "connecting"} <= active_states(page)
    assert "pre_market" not in active_states(page)
    assert page.locator("#sim").get_attribute("data-state") == (
        "session:trading=scanning,risk_monitor=normal,data_feed=connecting"
    )

    # One region moves; the others keep their state.
    press(page, 'button[value="send:-:feed_connected"]')
    assert {"scanning", "normal", "connected"} <= active_states(page)
    press(page, 'button[value="send:-:signal_detected"]')
    assert {"analyzing", "normal", "connected"} <= active_states(page)
    # The last transition is marked on its edge.
    assert page.locator("#sim path.transition[data-id]").count() > 0
    marked = page.locator("#sim pre.mermaid").get_attribute("data-highlight")
    assert marked
    stroke = page.eval_on_selector(
        f'#sim path[data-id="{marked.split()[0]}"]', "p => getComputedStyle(p).stroke"
    )
    assert stroke == "rgb(232, 89, 12)"
    assert last_edge_label_colours(page) == ("rgb(255, 216, 168)", "rgb(17, 17, 17)")

    # A disabled event says why: the context lacks what the guard reads.
    reason = page.locator('#sim li[data-event="signal_confirmed"] .reason').inner_text()
    assert "position_count < max_positions" in reason

    # The after-timer armed on entering analyzing is pending.
    assert page.locator('#sim tr[data-timer-state="analyzing"]').count() == 1

    # Give the guard's expression its values, then decide the named guard by hand.
    page.locator("#sim-context").fill('{"position_count": 0, "max_positions": 3}')
    press(page, 'button[value="context"]')
    press(page, 'button[value="guard:false:has_buying_power"]')
    reason = page.locator('#sim li[data-event="signal_confirmed"] .reason').inner_text()
    assert "has_buying_power is false" in reason
    assert page.locator('#sim .event-button:has-text("signal_confirmed")').count() == 0
    press(page, 'button[value="guard:true:has_buying_power"]')
    assert page.locator('#sim .event-button:has-text("signal_confirmed")').count() == 1
    assert page.locator('#sim li[data-event="signal_confirmed"]').count() == 0

    # The clock: +5s leaves the 30s timer pending; Space fires it at 30s.
    press(page, 'button[value="advance:5s"]')
    assert page.locator("#sim-clock").inner_text() == "5s"
    assert "25s" in page.locator('#sim tr[data-timer-state="analyzing"]').inner_text()
    page.locator("#sim-clock").click()  # the +5s button kept focus after the step
    act(page, lambda: page.keyboard.press("Space"))
    assert page.locator("#sim-clock").inner_text() == "30s"
    assert "scanning" in active_states(page)
    assert "timer after:30s:analyzing" in page.locator("#sim .step.current").inner_text()

    # Leaving analyzing before its timer is due cancels the timer.
    press(page, 'button[value="send:-:signal_detected"]')
    assert page.locator('#sim tr[data-timer-state="analyzing"]').count() == 1
    press(page, 'button[value="send:-:signal_rejected"]')
    assert page.locator('#sim tr[data-timer-state="analyzing"]').count() == 0
    assert "cancelled after:30s:analyzing" in page.locator("#sim .step.current").inner_text()
    shoot(page, "simulator-light")

    # Step back by clicking the log: to just after signal_detected.
    before = steps(page)
    target = before - 2  # the signal_detected step
    press(page, f'#sim .step[data-step="{target}"] .step-jump')
    assert steps(page) == target + 1
    assert "analyzing" in active_states(page)
    assert page.locator('#sim tr[data-timer-state="analyzing"]').count() == 1
    # Ctrl+Z steps back once more (focus is not in a text field).
    page.locator("#sim-clock").click()
    act(page, lambda: page.keyboard.press("Control+z"))
    assert steps(page) == target
    state, count = page.locator("#sim").get_attribute("data-state"), steps(page)

    # Share: a fresh browser context opens the link on the same step.
    page.get_by_role("button", name="Share link").click()
    link = page.locator("#share-link")
    link.wait_for()
    url = link.input_value()
    assert urlsplit(url).netloc == urlsplit(app_url).netloc
    fresh_context = browser.new_context()
    try:
        fresh = fresh_context.new_page()
        foreign: list[str] = []
        fresh.route(
            "**/*",
            lambda route: (
                route.continue_()
                if urlsplit(route.request.url).netloc == urlsplit(app_url).netloc
                else (foreign.append(route.request.url), route.abort())
            ),
        )
        fresh.goto(url)
        wait_for_diagram(fresh)
        assert fresh.locator("#sim").get_attribute("data-state") == state
        assert steps(fresh) == count
        assert active_states(fresh) == active_states(page)
        assert not foreign
    finally:
        fresh_context.close()

    # Export the run as a pytest file and run it with the library.
    with page.expect_download() as download_info:
        page.get_by_role("button", name="pytest file").click()
    download = download_info.value
    assert download.suggested_filename == "test_day_trading_run.py"
    test_file = tmp_path / download.suggested_filename
    download.save_as(test_file)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert not [e for e in page.console_errors if "Content Security Policy" in e]


def test_simulator_in_dark_mode_and_bad_input_messages(browser: Any, app_url: str) -> None:
    context = browser.new_context(color_scheme="dark", viewport={"width": 1500, "height": 1000})
    try:
        page = context.new_page()
        open_simulator(page, app_url + "/examples/day_trading_fsm")
        page.locator("#sim-clock").click()
        act(page, lambda: page.keyboard.press("1"))
        press(page, 'button[value="send:-:feed_connected"]')
        press(page, 'button[value="send:-:risk_warning"]')
        # The last edge's label is marked and readable on the dark theme too.
        assert last_edge_label_colours(page) == ("rgb(255, 216, 168)", "rgb(17, 17, 17)")
        page.locator("#sim-payload").fill("{oops")
        press(page, 'button[value="send:-:risk_warning"]')
        assert "payload is not valid JSON" in page.locator("#sim .sim-message").inner_text()
        assert page.locator("#sim-payload").input_value() == "{oops"
        page.locator("#sim-payload").fill("")
        shoot(page, "simulator-dark")
        # Editing the definition replays the run on it and says where it diverges.
        editor = page.locator("#yaml")
        text = editor.input_value()
        with page.expect_response(lambda r: urlsplit(r.url).path == "/simulate"):
            editor.fill(
                text.replace(
                    "trigger: risk_warning\n    source: normal",
                    "trigger: risk_up\n    source: normal",
                    1,
                )
            )
        page.locator("#sim .sim-divergence").wait_for()
        assert "risk_warning" in page.locator("#sim .sim-divergence").inner_text()
    finally:
        context.close()


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


PROBE_SVG = "() => { document.querySelector('#sim pre.mermaid svg').dataset.probe = 'kept'; }"
SAME_SVG = "() => document.querySelector('#sim pre.mermaid svg').dataset.probe === 'kept'"


def test_a_step_keeps_the_drawing_and_marks_it_again(offline_page: Any, app_url: str) -> None:
    """A step changes only what is active: the page keeps its SVG (no layout, the
    simulator's speed) and moves the marks; a change of structure draws anew."""
    page = offline_page
    page.set_viewport_size({"width": 1500, "height": 1000})
    open_simulator(page, app_url + "/examples/day_trading_fsm")
    page.evaluate(PROBE_SVG)
    press(page, 'button[value="send:-:market_open"]')
    assert page.evaluate(SAME_SVG), "the step laid the chart out again"
    assert active_states(page) == {"scanning", "normal", "connecting"}  # pre_market unmarked
    session = page.locator('#sim g.statediagram-cluster[data-id="session"]')
    assert "sim-active" in (session.get_attribute("class") or "")
    fill = page.eval_on_selector(
        "#sim g.node.sim-active > :is(rect, path)", "shape => getComputedStyle(shape).fill"
    )
    assert fill == "rgb(255, 216, 168)"
    # The kept drawing is wired for the new step: its enabled edges fire what the panel says.
    edges = json.loads(page.locator("#sim pre.mermaid").get_attribute("data-edges") or "{}")
    doing = {k for k, v in edges.items() if v.get("do")}
    wired = page.eval_on_selector_all(
        "#sim path.edge-enabled[data-id]", "paths => paths.map(p => p.dataset.id)"
    )
    assert doing and set(wired) == doing
    press(page, 'button[value="send:-:feed_connected"]')
    assert page.evaluate(SAME_SVG)
    assert active_states(page) == {"scanning", "normal", "connected"}
    # Collapsing a state changes the chart: it is drawn again, still marked.
    act(page, lambda: page.locator("#sim").get_by_role("button", name="Collapse session").click())
    assert not page.evaluate(SAME_SVG)
    assert active_states(page) == {"session"}
