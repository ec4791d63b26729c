"""A parallel state's regions are drawn in the order the YAML writes them.

ELK, Mermaid's layout, puts the regions in whatever order crosses fewest edges, or packs
them by size (into rows, from four on) when no edge leaves them; our third change to the
Mermaid bundle (``regionOrder`` in ``ui/mermaid_patch.py``) moves them back to the written
order. Each machine here is drawn top to bottom and left to right, and the region boxes
are read off the screen in reading order (rows from the top, each from the left). The same
machines drawn by the stock bundle come out in another order in both directions, so these
tests fail without the change (checked by a test of its own, not assumed). Edges that leave
a moved region must move with it: no edge may run through a region box it neither starts
nor ends in.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
import yaml

from tests.browser.test_diagram_view import draw_left_to_right, wait_drawn
from tests.browser.test_mermaid_patch import bundle, serve_bundle
from ui.share import encode_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The named regions' labels in reading order of their boxes on screen: rows from the top
# (boxes whose heights overlap share a row), each row from the left.
REGIONS_ON_SCREEN = """(names) => {
  const labels = Array.from(document.querySelectorAll('#diagram svg text.region-label'))
    .filter((label) => names.includes(label.textContent));
  const boxes = labels.map((label) => [
    label.textContent, label.parentNode.querySelector('rect.divider').getBoundingClientRect()]);
  boxes.sort(([, a], [, b]) => a.top - b.top);
  const rows = [];
  for (const box of boxes) {
    const row = rows[rows.length - 1];
    if (row && box[1].top < row.bottom) {
      row.boxes.push(box);
      row.bottom = Math.max(row.bottom, box[1].bottom);
    } else rows.push({ boxes: [box], bottom: box[1].bottom });
  }
  return rows.flatMap((row) => row.boxes.sort(([, a], [, b]) => a.left - b.left))
    .map(([name]) => name);
}"""

# Edges that run through a region box although neither of their ends is inside it: what an
# edge leaving a moved region would do if its points were not moved with the region. Each
# edge path is sampled every 4 px and mapped to the screen.
FOREIGN_CROSSINGS = """() => {
  const svg = document.querySelector('#diagram pre.mermaid > svg');
  const boxes = Array.from(svg.querySelectorAll('text.region-label')).map((label) => [
    label.textContent, label.parentNode.querySelector('rect.divider').getBoundingClientRect()]);
  const inside = (p, b, m) => p.x > b.left + m && p.x < b.right - m && p.y > b.top + m
    && p.y < b.bottom - m;
  const out = [];
  for (const path of svg.querySelectorAll('path.transition[data-id]')) {
    const m = path.getScreenCTM(), length = path.getTotalLength(), points = [];
    for (let t = 0; t <= length; t += 4) {
      const p = path.getPointAtLength(t);
      points.push({ x: m.a * p.x + m.c * p.y + m.e, y: m.b * p.x + m.d * p.y + m.f });
    }
    const ends = [points[0], points[points.length - 1]];
    for (const [name, box] of boxes) {
      if (ends.some((p) => inside(p, box, -1))) continue;
      if (points.some((p) => inside(p, box, 2))) out.push([path.dataset.id, name]);
    }
  }
  return out;
}"""

# Sizes that ELK, left alone, packs or orders otherwise than written (seen with the stock bundle).
REGION_SIZES = {"trading": 4, "risk": 3, "feed": 3, "audit": 2}


def parallel_machine(
    regions: list[str],
    *,
    out: tuple[str, ...] = (),
    into: tuple[str, ...] = (),
    nested: bool = False,
    inner: bool = False,
) -> str:
    """A parallel state ``session`` with a ring of states per region.

    ``out`` names regions whose last state has an edge leaving the parallel state, ``into``
    regions whose second state is entered from outside; ``nested`` puts the parallel state
    inside a compound state ``day``; ``inner`` puts a parallel state ``inner`` (regions
    ``left`` and ``right``) in the first region, with an edge from ``right`` leaving both.
    """
    states: list[dict[str, Any]] = [{"name": "closed", "type": "initial"}]
    transitions: list[dict[str, Any]] = [
        {"trigger": "open", "source": "closed", "dest": "session"},
        {"trigger": "close", "source": "session", "dest": "closed"},
    ]
    specs = []
    for region in regions:
        names = [f"{region}_{i}" for i in range(REGION_SIZES[region])]
        specs.append({"name": region, "initial": names[0], "states": names})
        states += [{"name": name, "parent": "session"} for name in names]
        transitions += [
            {"trigger": f"{region}_go", "source": a, "dest": b, "region": region}
            for a, b in zip(names, names[1:] + names[:1], strict=True)
        ]
        if region in out:
            transitions.append({"trigger": f"{region}_halt", "source": names[-1], "dest": "closed"})
        if region in into:
            transitions.append({"trigger": f"{region}_jump", "source": "closed", "dest": names[1]})
    if inner:
        halves = {"left": ["l0", "l1", "l2"], "right": ["q0", "q1"]}
        specs[0]["states"].append("inner")
        states.append({"name": "inner", "parent": "session", "type": "parallel", "regions": [
            {"name": half, "initial": names[0], "states": names}
            for half, names in halves.items()
        ]})  # fmt: skip
        for half, names in halves.items():
            states += [{"name": name, "parent": "inner"} for name in names]
            transitions += [
                {"trigger": f"{half}_go", "source": a, "dest": b, "region": half}
                for a, b in pairwise(names)
            ]
        transitions.append({"trigger": "enter", "source": specs[0]["states"][-2], "dest": "inner"})
        transitions.append({"trigger": "q_halt", "source": "q1", "dest": "closed"})
    session: dict[str, Any] = {"name": "session", "type": "parallel", "regions": specs}
    if nested:
        session["parent"] = "day"
        states.insert(1, {"name": "day", "initial_child": "session"})
    states.insert(1, session)
    machine = {"meta": {"machine_name": "regions"}, "states": states, "transitions": transitions}
    return yaml.safe_dump(machine, sort_keys=False)


def link(regions: list[str], **how: Any) -> tuple[str, list[list[str]]]:
    """A share link to ``parallel_machine(regions, **how)`` and its regions as written."""
    written = [regions, ["left", "right"]] if how.get("inner") else [regions]
    return f"/s/{encode_token(parallel_machine(regions, **how))}", written


CASES = {
    # (address, the regions of each parallel state in YAML order)
    "day trading (an edge leaves risk_monitor)": (
        "/examples/day_trading_fsm",
        [["trading", "risk_monitor", "data_feed"]],
    ),
    "no edge leaves a region": link(["trading", "risk", "feed"]),
    "four regions, no edge out (ELK packs them in two rows)": link(
        ["audit", "trading", "risk", "feed"]
    ),
    "four regions, edges out of two and into one": link(
        ["audit", "feed", "risk", "trading"], out=("risk", "audit"), into=("feed",)
    ),
    "inside a compound state, an edge out of the middle region": link(
        ["trading", "risk", "feed"], out=("risk",), nested=True
    ),
    "a parallel state in a region, an edge out of both": link(
        ["trading", "risk", "feed"], out=("risk",), inner=True
    ),
}


def drawn(
    browser: Any, app_url: str, case: str, *, across: bool, stock: bool
) -> tuple[list[list[str]], list[list[str]]]:
    """Each parallel state's regions as read off the screen, and the edges that run through
    a region they neither start nor end in; drawn by our bundle or the stock one."""
    address, written = CASES[case]
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    if stock:
        serve_bundle(page, bundle())
    try:
        page.goto(app_url + address)
        wait_drawn(page, "#diagram")
        if across:
            draw_left_to_right(page)
        order = [page.evaluate(REGIONS_ON_SCREEN, names) for names in written]
        crossings: list[list[str]] = page.evaluate(FOREIGN_CROSSINGS)
        return order, crossings
    finally:
        context.close()


@pytest.mark.parametrize("across", [False, True], ids=["top to bottom", "left to right"])
@pytest.mark.parametrize("case", list(CASES))
def test_regions_are_drawn_in_yaml_order(
    browser: Any, app_url: str, case: str, across: bool
) -> None:
    order, crossings = drawn(browser, app_url, case, across=across, stock=False)
    assert order == CASES[case][1]
    # An edge that leaves a moved region moved with it: it crosses no other region's box.
    assert crossings == []


def test_the_stock_bundle_draws_these_regions_out_of_order(browser: Any, app_url: str) -> None:
    """Without the change the tests above would fail: ELK alone reorders every case."""
    for case, (_, written) in CASES.items():
        for across in (False, True):
            order, _ = drawn(browser, app_url, case, across=across, stock=True)
            assert [sorted(o) for o in order] == [sorted(w) for w in written], case
            assert order != written, f"{case} ({across=}): ELK keeps the written order"
