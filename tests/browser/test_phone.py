"""Phone and narrow windows (390x844): one scroll, and the simulator's controls in it."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NESTED_SCROLLERS = """
sel => [...document.querySelectorAll(sel)].flatMap(el => {
  const out = [];
  for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    const y = getComputedStyle(p).overflowY;
    if ((y === 'auto' || y === 'scroll') && p.scrollHeight > p.clientHeight + 1)
      out.push((p.id ? '#' + p.id : p.tagName.toLowerCase()) + '.' + p.className);
  }
  return out;
})
"""


@pytest.mark.parametrize("path", ["/examples/day_trading_fsm", "/examples/traffic_light"])
def test_the_simulator_on_a_phone_is_one_scroll(browser: Any, app_url: str, path: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        page.goto(f"{app_url}{path}?view=simulate")
        page.wait_for_function("() => !!document.querySelector('#sim pre.mermaid svg')")
        assert page.evaluate("() => document.documentElement.scrollHeight > innerHeight")
        for selector in ("#sim .event-button", "#sim-clock", "#sim-fire", "#sim .step-jump"):
            assert page.locator(selector).count() > 0, selector
            assert page.evaluate(NESTED_SCROLLERS, selector) == [], selector
        # Every event button can be scrolled to with the page alone, and is fully visible.
        for button in page.locator("#sim .event-button").all():
            button.scroll_into_view_if_needed()
            box = button.bounding_box()
            assert box and box["y"] >= 0 and box["y"] + box["height"] <= 844
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 392
    finally:
        context.close()
