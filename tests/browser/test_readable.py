"""On 1280x720 every machine offers a one-click view whose state names read at 11 px or more.

Fit shows a 30-state machine whole, which makes its names small; "Readable" zooms until
they are legible and centres on what matters (the simulator's active states, else the
state last clicked, else the start). Label size on screen = the label's CSS font size
times the frame's scale (the SVG is drawn at 1 unit = 1 CSS px, then scaled).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ui.share import encode_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


def machine_30() -> str:
    states: list[dict[str, Any]] = [{"name": "s00", "type": "initial"}]
    states += [{"name": f"s{i:02d}"} for i in range(1, 20)]
    states.append({"name": "work", "initial_child": "work.a"})
    states += [{"name": f"work.{c}", "parent": "work"} for c in "abcd"]
    regions = [{"name": f"r{r}", "initial": f"r{r}_a", "states": [f"r{r}_a", f"r{r}_b"]}
               for r in range(2)]  # fmt: skip
    states.append({"name": "both", "type": "parallel", "regions": regions})
    transitions: list[dict[str, Any]] = [
        {"trigger": "next", "source": f"s{i:02d}", "dest": f"s{(i + 1) % 20:02d}"}
        for i in range(20)
    ]
    transitions += [
        {"trigger": "work", "source": "s03", "dest": "work"},
        {"trigger": "on", "source": "work.a", "dest": "work.b"},
        {"trigger": "both", "source": "work", "dest": "both"},
        {"trigger": "home", "source": "both", "dest": "s00"},
    ]
    return yaml.safe_dump({"meta": {"machine_name": "thirty"}, "states": states,
                           "transitions": transitions}, sort_keys=False)  # fmt: skip


LABEL_PX = """frame => {
  const el = document.querySelector(frame);
  const label = el.querySelector('svg g.node .nodeLabel, svg g.node text');
  return parseFloat(getComputedStyle(label).fontSize) * parseFloat(el.getAttribute('data-scale'));
}"""

INSIDE = """([frame, selector]) => {
  const box = document.querySelector(frame).getBoundingClientRect();
  const el = document.querySelector(frame + ' ' + selector);
  if (!el) return false;
  const r = el.getBoundingClientRect();
  const x = (r.left + r.right) / 2, y = (r.top + r.bottom) / 2;
  return x > box.left && x < box.right && y > box.top && y < box.bottom;
}"""


def drawn(page: Any, where: str) -> None:
    page.wait_for_function(
        f"() => !!document.querySelector('{where} pre.mermaid > svg')"
        f" && !!document.querySelector('{where} .diagram-frame[data-scale],"
        f" {where}.diagram-frame[data-scale]')",
        timeout=15_000,
    )


@pytest.mark.parametrize(
    "address",
    [pytest.param(f"/s/{encode_token(machine_30())}", id="thirty-states")]
    + [pytest.param(f"/examples/{p.stem}", id=p.stem) for p in EXAMPLES],
)
def test_one_click_makes_state_names_readable(browser: Any, app_url: str, address: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        page.goto(app_url + address)
        frame = "#diagram .diagram-frame"
        drawn(page, "#diagram")
        fit = page.evaluate(LABEL_PX, frame)
        page.locator("#diagram").get_by_role("button", name="Readable").click()
        assert page.evaluate(LABEL_PX, frame) >= 11, f"fit showed {fit:.1f} px"
        assert page.evaluate(INSIDE, [frame, "g.node.statediagram-state"])
    finally:
        context.close()


def test_readable_centres_the_simulators_active_states(browser: Any, app_url: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        page.goto(f"{app_url}/s/{encode_token(machine_30())}?view=simulate")
        drawn(page, "#sim")
        page.locator("#sim").get_by_role("button", name="Readable").click()
        frame = "#sim .diagram-frame"
        assert page.evaluate(LABEL_PX, frame) >= 11
        assert page.evaluate(INSIDE, [frame, "g.node.sim-active"])
    finally:
        context.close()
