"""Drafts that survive a reload, zoom/pan/fit on the diagram, and issues marked in it.

Real Chromium through ``offline_page`` (no request may leave the machine). Screenshots
go to /tmp/pystator-ux-shots/ in light and dark.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_saved as open_library_machine

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path("/tmp/pystator-ux-shots")


def wait_drawn(page: Any, frame: str = "diagram") -> None:
    """Mermaid has drawn the frame's SVG and the zoom code has given it its view."""
    page.wait_for_function(
        "(key) => { const f = document.querySelector(`.diagram-frame[data-zoom=${key}]`);"
        " return !!f && !document.querySelector('[id^=dmermaid]')"
        " && !!f.querySelector('pre.mermaid > svg[data-zoom-ready]')"
        " && f.hasAttribute('data-scale'); }",
        arg=frame,
        timeout=20_000,
    )


def drawn_with(page: Any, name: str) -> None:
    page.wait_for_function(
        "(name) => document.querySelector('#diagram svg[data-zoom-ready]')"
        "?.textContent.includes(name)",
        arg=name,
        timeout=20_000,
    )


def scale(page: Any, frame: str = "diagram") -> float:
    value = page.locator(f'.diagram-frame[data-zoom="{frame}"]').get_attribute("data-scale")
    return float(value)


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found is not None, selector
    return dict(found)


def open_saved(page: Any, app_url: str, name: str) -> str:
    """Open a library machine as last saved, once its diagram is drawn; returns its address."""
    url = open_library_machine(page, app_url, name)
    wait_drawn(page)
    return url


def type_and_wait(page: Any, text: str) -> None:
    """Replace the editor text by typing and wait for the live check's answer."""
    with page.expect_response(lambda r: urlsplit(r.url).path == "/validate"):
        page.locator("#yaml").fill(text)
    page.wait_for_function("() => !document.querySelector('#yaml.htmx-request')")


# -- drafts -----------------------------------------------------------------------------------


def test_typed_text_survives_a_reload_and_can_be_discarded(offline_page: Any, app_url: str) -> None:
    page = offline_page
    url = open_saved(page, app_url, "traffic_light")
    saved = page.locator("#yaml").input_value()
    edited = saved + "\n# a note typed before the reload\n"
    type_and_wait(page, edited)
    expect(page.get_by_role("button", name="Discard changes")).to_be_visible()
    assert page.url == url  # the address stays the machine's

    page.reload()
    wait_drawn(page)
    assert page.locator("#yaml").input_value() == edited
    expect(page.locator("#dirty")).to_be_visible()

    page.get_by_role("button", name="Discard changes").click()
    page.wait_for_url(url)
    expect(page.get_by_role("button", name="Discard changes")).to_have_count(0)
    assert page.locator("#yaml").input_value() == saved
    expect(page.locator("#dirty")).to_be_hidden()


def test_an_unsaved_example_draft_reloads_from_its_address(offline_page: Any, app_url: str) -> None:
    page = offline_page
    page.goto(app_url + "/examples/traffic_light")
    wait_drawn(page)
    broken = page.locator("#yaml").input_value().replace("initial", "initail", 1)
    type_and_wait(page, broken)  # invalid text is kept too
    page.wait_for_url(re.compile(r"/drafts/[0-9a-f]{16}$"))
    page.reload()
    assert page.locator("#yaml").input_value() == broken
    expect(page.locator("#check")).to_have_attribute("data-valid", "false")


# -- zoom, pan, fit -------------------------------------------------------------------------


def test_fit_shows_the_tall_portfolio_diagram_whole(offline_page: Any, app_url: str) -> None:
    page = offline_page
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(app_url + "/examples/portfolio_optimization_fsm")
    wait_drawn(page)
    page.get_by_role("button", name="1:1").click()
    assert scale(page) == pytest.approx(1.0, rel=2e-3)
    frame = box(page, "#diagram .diagram-frame")
    svg = box(page, "#diagram .diagram-frame svg")
    assert svg["height"] > frame["height"]  # at actual size it does not fit
    page.get_by_role("button", name="Fit").click()
    svg = box(page, "#diagram .diagram-frame svg")
    assert svg["x"] >= frame["x"] - 0.5 and svg["y"] >= frame["y"] - 0.5
    assert svg["x"] + svg["width"] <= frame["x"] + frame["width"] + 0.5
    assert svg["y"] + svg["height"] <= frame["y"] + frame["height"] + 0.5
    # The frame lies inside the window: nothing of the fitted diagram is cut off.
    assert frame["y"] + frame["height"] <= 720


def test_zoom_buttons_keys_wheel_and_drag(offline_page: Any, app_url: str) -> None:
    page = offline_page
    page.set_viewport_size({"width": 1280, "height": 720})
    open_saved(page, app_url, "order_fsm")
    start = scale(page)
    page.get_by_role("button", name="Zoom in").click()
    assert scale(page) == pytest.approx(start * 1.25, rel=2e-3)
    expect(page.locator(".zoom-level").first).to_have_text(f"{round(start * 125)}%")
    page.get_by_role("button", name="Zoom out").click()
    page.get_by_role("button", name="Zoom out").click()
    assert scale(page) == pytest.approx(start / 1.25, rel=2e-3)

    # Keyboard: the frame takes focus (visibly) and + / 0 work there.
    frame = page.locator("#diagram .diagram-frame")
    page.locator("#diagram").get_by_role("button", name="Left to right").focus()
    page.keyboard.press("Tab")
    expect(frame).to_be_focused()
    outline = frame.evaluate("f => getComputedStyle(f).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("+")
    assert scale(page) == pytest.approx(start, rel=2e-3)
    page.keyboard.press("1")
    assert scale(page) == pytest.approx(1.0, rel=2e-3)

    # Ctrl+wheel zooms around the pointer; a drag pans.
    area = box(page, "#diagram .diagram-frame")
    page.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -200)
    page.keyboard.up("Control")
    page.wait_for_function(
        "() => +document.querySelector('#diagram .diagram-frame').dataset.scale > 1.05"
    )
    before = box(page, "#diagram .diagram-frame svg")
    page.mouse.down()
    page.mouse.move(
        area["x"] + area["width"] / 2 + 80, area["y"] + area["height"] / 2 + 30, steps=4
    )
    page.mouse.up()
    after = box(page, "#diagram .diagram-frame svg")
    assert after["x"] - before["x"] == pytest.approx(80, abs=1)
    assert after["y"] - before["y"] == pytest.approx(30, abs=1)

    # A new diagram from an edit keeps the view; Fit goes back to the whole diagram.
    zoomed = scale(page)
    text = page.locator("#yaml").input_value()
    type_and_wait(page, text.replace("states:", "states:\n  - name: EXTRA_STATE", 1))
    drawn_with(page, "EXTRA_STATE")
    wait_drawn(page)
    assert scale(page) == pytest.approx(zoomed, rel=2e-3)
    page.get_by_role("button", name="Fit").click()
    assert scale(page) <= 1.0
    type_and_wait(page, text)


def test_the_simulate_tab_zooms_too(offline_page: Any, app_url: str) -> None:
    page = offline_page
    page.goto(app_url + "/examples/day_trading_fsm?view=simulate")
    wait_drawn(page, "sim")
    start = scale(page, "sim")
    page.locator('.zoom-bar[data-zoom-for="sim"]').get_by_role("button", name="Zoom in").click()
    assert scale(page, "sim") == pytest.approx(start * 1.25, rel=2e-3)
    # A step swaps the panel: the new diagram keeps the zoom.
    with page.expect_response(lambda r: urlsplit(r.url).path == "/simulate"):
        page.locator("#sim .event-button").first.click()
    page.wait_for_function("() => !document.querySelector('#sim-form.htmx-request')")
    wait_drawn(page, "sim")
    assert scale(page, "sim") == pytest.approx(start * 1.25, rel=2e-3)


# Each region label with the names of the states drawn inside its box.
REGION_CONTENTS = """(frame) => Array.from(
  document.querySelectorAll(frame + ' svg text.region-label')
).map((label) => {
    const box = label.parentNode.querySelector('rect.divider').getBoundingClientRect();
    const inside = Array.from(document.querySelectorAll(frame + ' svg g.node[id]')).filter((n) => {
      const b = n.getBoundingClientRect();
      const x = b.left + b.width / 2, y = b.top + b.height / 2;
      return x >= box.left && x <= box.right && y >= box.top && y <= box.bottom;
    }).map((n) => n.textContent.trim()).filter((t) => t).sort();
    return [label.textContent, inside];
  }).sort()"""

DAY_TRADING_REGIONS = [
    ["data_feed", ["connected", "connecting", "reconnecting"]],
    ["risk_monitor", ["critical", "elevated", "normal"]],
    ["trading", ["analyzing", "executing", "scanning"]],
]


def test_region_boxes_are_named_after_their_regions(offline_page: Any, app_url: str) -> None:
    page = offline_page
    page.goto(app_url + "/examples/day_trading_fsm")
    wait_drawn(page)
    assert page.evaluate(REGION_CONTENTS, "#diagram") == DAY_TRADING_REGIONS
    # The Simulate panel's diagram is named too, and again after a step redraws it.
    page.goto(app_url + "/examples/day_trading_fsm?view=simulate")
    wait_drawn(page, "sim")
    assert page.evaluate(REGION_CONTENTS, "#sim") == DAY_TRADING_REGIONS
    with page.expect_response(lambda r: urlsplit(r.url).path == "/simulate"):
        page.locator("#sim .event-button").first.click()
    page.wait_for_function("() => !document.querySelector('#sim-form.htmx-request')")
    wait_drawn(page, "sim")
    assert page.evaluate(REGION_CONTENTS, "#sim") == DAY_TRADING_REGIONS


# -- issues marked in the diagram -------------------------------------------------------------


def test_clicking_a_bad_dest_marks_the_edge(offline_page: Any, app_url: str) -> None:
    page = offline_page
    open_saved(page, app_url, "order_fsm")
    targets = json.loads(page.locator("#diagram").get_attribute("data-targets"))
    text = page.locator("#yaml").input_value()
    type_and_wait(page, text.replace("dest: OPEN", "dest: NOWHERE", 1))
    expect(page.locator("#check")).to_have_attribute("data-valid", "false")
    issue = page.locator("#check .issue-jump", has_text="NOWHERE").first
    target = issue.get_attribute("data-target")
    assert target and re.fullmatch(r"transitions\[\d+\]", target)
    edges = targets[target]["edges"]
    issue.click()
    marked = page.locator(f'#diagram svg path[data-id="{edges[0]}"].issue-mark')
    expect(marked).to_have_count(1)
    stroke = marked.evaluate("p => getComputedStyle(p).strokeWidth")
    assert stroke == "4px"
    # The stale diagram is shown undimmed while the mark is on, and the mark goes away.
    expect(page.locator("#diagram")).to_have_css("opacity", "1")
    expect(page.locator(".issue-mark")).to_have_count(0, timeout=6_000)
    type_and_wait(page, text)


def test_clicking_a_state_warning_marks_the_state(offline_page: Any, app_url: str) -> None:
    page = offline_page
    open_saved(page, app_url, "traffic_light")
    text = page.locator("#yaml").input_value()
    type_and_wait(page, text.replace("states:", "states:\n  - name: LONELY", 1))
    issue = page.locator("#check .issue-jump", has_text="LONELY").first
    target = issue.get_attribute("data-target")
    assert target and re.fullmatch(r"states\[\d+\]", target)
    drawn_with(page, "LONELY")
    issue.click()
    node = page.locator("#diagram svg g.node.issue-mark")
    expect(node).to_have_count(1)
    assert "LONELY" in node.text_content()
    type_and_wait(page, text)


# -- how it looks -----------------------------------------------------------------------------


def looks_like(page: Any, scheme: str, png: bytes) -> None:
    """The shot is a PNG of the whole viewport, and the page is in the asked scheme."""
    size = page.viewport_size
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (size["width"], size["height"])
    rgb = page.evaluate(
        "() => getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number)"
    )
    brightness = sum(rgb[:3]) / 3
    assert brightness < 80 if scheme == "dark" else brightness > 180, (scheme, rgb)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots(offline_page: Any, app_url: str, scheme: str) -> None:
    page = offline_page
    SHOTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 720})
    page.emulate_media(color_scheme=scheme)
    page.goto(app_url + "/examples/portfolio_optimization_fsm")
    wait_drawn(page)
    looks_like(page, scheme, page.screenshot(path=str(SHOTS / f"portfolio-fit-{scheme}.png")))

    open_saved(page, app_url, "order_fsm")
    text = page.locator("#yaml").input_value()
    type_and_wait(page, text.replace("dest: OPEN", "dest: NOWHERE", 1))
    page.locator("#check .issue-jump", has_text="NOWHERE").first.click()
    page.locator(".issue-mark").first.wait_for()
    expect(page.locator("#check")).to_contain_text("NOWHERE")
    looks_like(page, scheme, page.screenshot(path=str(SHOTS / f"issue-marked-{scheme}.png")))
    type_and_wait(page, text)

    page.goto(app_url + "/examples/day_trading_fsm?view=simulate")
    wait_drawn(page, "sim")
    start = scale(page, "sim")
    page.locator('.zoom-bar[data-zoom-for="sim"]').get_by_role("button", name="Zoom in").click()
    frame = page.locator('.diagram-frame[data-zoom="sim"]')
    frame.focus()
    expect(frame).to_be_focused()
    assert scale(page, "sim") == pytest.approx(start * 1.25, rel=0.002)
    looks_like(page, scheme, page.screenshot(path=str(SHOTS / f"simulate-zoomed-{scheme}.png")))
