"""The designer in real Chromium: Mermaid renders, live validation, light and dark."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import open_saved

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = "/tmp/pystator-ui-shots"


def wait_for_diagrams(page: Any) -> None:
    """Wait until Mermaid has processed every diagram and at least one SVG is drawn."""
    page.wait_for_function(
        "() => !document.querySelector('pre.mermaid:not([data-processed])')"
        " && !document.querySelector('[id^=dmermaid]')"  # Mermaid's provisional layout
        " && !!document.querySelector('pre.mermaid > svg')",
        timeout=15_000,
    )


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


def test_library_to_rendered_diagram(offline_page: Any, app_url: str) -> None:
    page = offline_page
    open_saved(page, app_url, "order_fsm")
    wait_for_diagrams(page)
    svg = page.locator("#diagram pre.mermaid svg")
    assert svg.count() == 1
    assert svg.locator("text=PENDING").count() >= 1
    assert not [e for e in page.console_errors if "Content Security Policy" in e], (
        page.console_errors
    )


def test_typing_an_error_shows_it_located_and_keeps_the_diagram(
    offline_page: Any, app_url: str
) -> None:
    page = offline_page
    open_saved(page, app_url, "order_fsm")
    wait_for_diagrams(page)
    editor = page.locator("#yaml")
    text = editor.input_value()
    broken = text.replace("dest: OPEN", "dest: NOWHERE", 1)
    editor.fill(broken)
    page.locator("#check[data-valid=false]").wait_for()
    issue = page.locator("#check .issue.error").first
    assert "NOWHERE" in issue.inner_text()
    assert page.locator("#diagram-status[data-stale=true]").count() == 1
    assert page.locator("#diagram pre.mermaid svg").count() == 1  # last good diagram stays
    assert page.locator("#dirty").is_visible()
    issue.locator("button").click()
    line = int(issue.locator("button").get_attribute("data-line"))
    cursor_line = page.evaluate(
        "() => { const t = document.getElementById('yaml');"
        " return t.value.slice(0, t.selectionStart).split('\\n').length; }"
    )
    assert cursor_line == line
    expect(page.locator(".gutter .mark-error").first).to_be_attached()  # drawn on the next frame
    editor.fill(text)
    page.locator("#check[data-valid=true]").wait_for()
    assert page.locator("#diagram-status[data-stale=false]").count() == 1


def test_ctrl_s_saves_a_revision(offline_page: Any, app_url: str) -> None:
    page = offline_page
    open_saved(page, app_url, "traffic_light")
    editor = page.locator("#yaml")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# tuned\n")
    page.keyboard.press("Control+s")
    page.locator("#save-status", has_text="Saved revision").wait_for()
    expect(page.locator("#revisions li")).to_have_count(2)
    expect(page.locator("#dirty")).to_be_hidden()
    page.reload()
    assert "# tuned" in page.locator("#yaml").input_value()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots(offline_page: Any, app_url: str, scheme: str) -> None:
    page = offline_page
    page.set_viewport_size({"width": 1440, "height": 900})
    page.emulate_media(color_scheme=scheme)
    page.goto(app_url + "/")
    expect(page.locator("h1")).to_have_text("Machine library")
    looks_like(page, scheme, page.screenshot(path=f"{SHOTS}/library-{scheme}.png"))
    open_saved(page, app_url, "day_trading_fsm")
    wait_for_diagrams(page)
    expect(page.locator("#check[data-valid=true]")).to_have_count(1)
    expect(page.locator("#diagram pre.mermaid svg")).to_contain_text("session")
    looks_like(page, scheme, page.screenshot(path=f"{SHOTS}/editor-valid-{scheme}.png"))
    editor = page.locator("#yaml")
    editor.fill(editor.input_value().replace("initial", "initail", 1))
    page.locator("#check[data-valid=false]").wait_for()
    expect(page.locator("#check")).to_contain_text("initail")
    expect(page.locator("#diagram pre.mermaid svg")).to_have_count(1)  # the last good one stays
    looks_like(page, scheme, page.screenshot(path=f"{SHOTS}/editor-invalid-{scheme}.png"))
