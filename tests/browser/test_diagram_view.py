"""The reader's diagram view in the browser: readable names, collapse, direction, focus.

Label size is measured on screen: the label element's drawn box (getBoundingClientRect)
against its own unscaled layout box gives the scale it is really shown at, whatever the
page's zoom code believes; times its font size that is the size a person reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_readable import machine_30
from ui.share import encode_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))
THIRTY = f"/s/{encode_token(machine_30())}"

# The smallest on-screen font size of the state labels drawn inside the frame (px).
SCREEN_PX = """frame => {
  const box = document.querySelector(frame).getBoundingClientRect();
  let smallest = Infinity;
  for (const label of document.querySelectorAll(frame + ' svg g.node .nodeLabel')) {
    const r = label.getBoundingClientRect();
    const x = (r.left + r.right) / 2, y = (r.top + r.bottom) / 2;
    const outside = x < box.left || x > box.right || y < box.top || y > box.bottom;
    if (outside || !label.offsetHeight) continue;
    const shown = parseFloat(getComputedStyle(label).fontSize) * r.height / label.offsetHeight;
    smallest = Math.min(smallest, shown);
  }
  return smallest;
}"""


def wait_drawn(page: Any, where: str) -> None:
    page.wait_for_function(
        f"() => !!document.querySelector('{where} pre.mermaid[data-processed] > svg')"
        f" && !document.querySelector('{where} pre.mermaid:not([data-processed])')"
        f" && !!document.querySelector('{where} .diagram-frame[data-scale]')",
        timeout=20_000,
    )


def draw_left_to_right(page: Any) -> None:
    """Press the editor diagram's Left to right and wait until it is drawn so."""
    page.locator("#diagram").get_by_role("button", name="Left to right").click()
    page.wait_for_function(
        "() => (document.querySelector('#diagram pre.mermaid').getAttribute('data-source')"
        " || '').includes('direction LR')",
        timeout=20_000,
    )
    wait_drawn(page, "#diagram")


def source(page: Any, where: str) -> str:
    text: str = page.evaluate(
        f"() => document.querySelector('{where} pre.mermaid').getAttribute('data-source') || ''"
    )
    return text


def new_page(browser: Any) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    return context, context.new_page()


@pytest.mark.parametrize(
    "address",
    [pytest.param(THIRTY, id="thirty-states")]
    + [pytest.param(f"/examples/{p.stem}", id=p.stem) for p in EXAMPLES],
)
def test_readable_shows_names_at_11px_on_screen(browser: Any, app_url: str, address: str) -> None:
    context, page = new_page(browser)
    try:
        page.goto(app_url + address)
        wait_drawn(page, "#diagram")
        page.locator("#diagram").get_by_role("button", name="Readable").click()
        shown = page.evaluate(SCREEN_PX, "#diagram .diagram-frame")
        assert 11 <= shown < 100, f"names read at {shown:.1f} px"
    finally:
        context.close()


def test_a_compound_state_collapses_to_one_box_and_stays_so(browser: Any, app_url: str) -> None:
    context, page = new_page(browser)
    try:
        page.goto(app_url + THIRTY)
        wait_drawn(page, "#diagram")
        diagram = page.locator("#diagram")
        drawn = page.locator("#diagram pre.mermaid > svg")
        assert drawn.get_by_text("work.a", exact=True).count() == 1
        diagram.get_by_role("button", name="Collapse work").click()
        expand = diagram.get_by_role("button", name="Expand work")
        expand.wait_for()
        wait_drawn(page, "#diagram")
        assert drawn.get_by_text("work (4 inside)").count() == 1
        assert drawn.get_by_text("work.a", exact=True).count() == 0
        assert "s03 --> work : work" in source(page, "#diagram")
        assert page.locator("#dirty").is_hidden()  # a view is not an edit
        page.reload()  # kept by this browser
        wait_drawn(page, "#diagram")
        expand.wait_for()
        assert drawn.get_by_text("work.a", exact=True).count() == 0
        expand.focus()
        page.keyboard.press("Enter")  # the toggle is a keyboard control too
        diagram.get_by_role("button", name="Collapse work").wait_for()
        wait_drawn(page, "#diagram")
        assert drawn.get_by_text("work.a", exact=True).count() == 1
    finally:
        context.close()


def test_another_browser_keeps_its_own_view(browser: Any, app_url: str) -> None:
    first, page = new_page(browser)
    second, other = new_page(browser)
    try:
        page.goto(app_url + THIRTY)
        wait_drawn(page, "#diagram")
        page.locator("#diagram").get_by_role("button", name="Collapse both").click()
        page.locator("#diagram").get_by_role("button", name="Expand both").wait_for()
        other.goto(app_url + THIRTY)
        wait_drawn(other, "#diagram")
        assert other.locator("#diagram").get_by_role("button", name="Collapse both").count() == 1
    finally:
        first.close()
        second.close()


def test_left_to_right_draws_the_machine_across(browser: Any, app_url: str) -> None:
    context, page = new_page(browser)
    try:
        page.goto(app_url + THIRTY)
        wait_drawn(page, "#diagram")
        button = page.locator("#diagram").get_by_role("button", name="Left to right")
        assert button.get_attribute("aria-pressed") == "false"
        draw_left_to_right(page)
        size = page.evaluate(
            "() => { const svg = document.querySelector('#diagram pre.mermaid > svg');"
            " return [svg.viewBox.baseVal.width, svg.viewBox.baseVal.height]; }"
        )
        assert size[0] > 3 * size[1]
        pressed = page.locator("#diagram").get_by_role("button", name="Left to right")
        assert pressed.get_attribute("aria-pressed") == "true"
    finally:
        context.close()


INSIDE_SHARE = """([frame, selector]) => {
  const box = document.querySelector(frame).getBoundingClientRect();
  const r = document.querySelector(frame + ' ' + selector).getBoundingClientRect();
  const inside = r.left >= box.left - 1 && r.right <= box.right + 1
    && r.top >= box.top - 1 && r.bottom <= box.bottom + 1;
  return [inside, Math.max(r.width / box.width, r.height / box.height)];
}"""


def test_focus_fits_the_active_region_in_the_simulator(browser: Any, app_url: str) -> None:
    context, page = new_page(browser)
    try:
        page.goto(f"{app_url}{THIRTY}?view=simulate")
        wait_drawn(page, "#sim")
        for event in ("next", "next", "next", "work", "both"):
            page.locator("#sim .event-button", has_text=event).first.click()
            page.wait_for_function("() => !document.querySelector('#sim-form.htmx-request')")
            wait_drawn(page, "#sim")
        assert page.locator("#sim .state-badge, #sim").first.is_visible()
        page.locator("#sim").get_by_role("button", name="Focus").click()
        frame = "#sim .diagram-frame"
        inside, share = page.evaluate(
            INSIDE_SHARE, [frame, 'g.statediagram-cluster.sim-active[data-id="both"]']
        )
        assert inside and share > 0.5, f"the active region fills {share:.0%} of the frame"
        assert page.evaluate(SCREEN_PX, frame) >= 11
    finally:
        context.close()
