"""axe-core on every page of the designer: no serious or critical violations.

axe-core is vendored for the tests only (tests/browser/vendor, never served by the app) and
injected through the DevTools protocol, so the page's Content-Security-Policy is untouched.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ui.share import encode_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = (Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js").read_text(encoding="utf-8")
TEXT = "meta: {machine_name: tiny}\nstates:\n  - {name: a, type: initial}\n  - {name: b}\n"
TEXT += "transitions:\n  - {trigger: go, source: a, dest: b}\n"


def violations(page: Any) -> list[str]:
    """Serious and critical axe-core findings on the page as it stands, one line each."""
    page.evaluate("source => { (0, eval)(source); }", AXE)
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {v['nodes']}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def wait_drawn(page: Any) -> None:
    page.wait_for_function(
        "() => ![...document.querySelectorAll('pre.mermaid:not([data-processed])')]"
        ".some(p => !p.closest('[hidden]'))",
        timeout=15_000,
    )


def saved_machine(page: Any, app_url: str) -> tuple[str, str]:
    page.goto(app_url + "/")
    href = page.get_by_role("link", name="traffic_light", exact=True).get_attribute("href")
    page.goto(app_url + str(href))
    revision = page.locator("#revisions a[href^='/m/']").first.get_attribute("href")
    return str(href), str(revision)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_has_no_serious_violations(browser: Any, app_url: str, scheme: str) -> None:
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 720})
    page = context.new_page()
    try:
        machine, revision = saved_machine(page, app_url)
        machine_id = machine.rsplit("/", 1)[1]
        pages = [
            "/",
            "/new",
            "/import",
            machine,
            machine + "?view=simulate",
            f"{machine}/delete",
            f"{machine}/diff",
            revision,
            f"{revision}/export",
            f"/s/{encode_token(TEXT)}",
            "/examples/day_trading_fsm?view=simulate",
            "/no/such/page",
        ]
        found: dict[str, list[str]] = {}
        for path in pages:
            page.goto(app_url + path)
            wait_drawn(page)
            problems = violations(page)
            if problems:
                found[path] = problems
        # The states the page reaches by using it: an edit answer and a simulator step.
        page.goto(f"{app_url}{machine}?view=simulate")
        wait_drawn(page)
        with page.expect_response(lambda r: urlsplit(r.url).path == "/simulate"):
            page.locator("#sim .event-button").first.click()
        wait_drawn(page)
        page.get_by_role("link", name="Diagram", exact=True).click()
        page.get_by_text("Edit the machine").click()
        with page.expect_response(lambda r: urlsplit(r.url).path == "/edit"):
            page.get_by_role("button", name="Delete…").click()
        page.wait_for_selector("#edit-result ol.references, #edit-result p")
        problems = violations(page)
        if problems:
            found["after a step and an edit"] = problems
        assert not found, "\n".join(f"{p}: {v}" for p, vs in found.items() for v in vs)
        assert re.fullmatch(r"[0-9a-f]+", machine_id)
    finally:
        context.close()
