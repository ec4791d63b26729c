"""The Tests tab in real Chromium: coverage marks on the diagram, a generated path and a
counterexample each opening in the simulator where they end.

Screenshots go to /tmp/pystator-verify-shots (README's docs/verify-*.png come from here).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from pystator import StateMachine
from pystator.verify import check, paths
from tests.ui.test_verify import AIRLOCK, GUARDED
from ui.share import encode_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path("/tmp/pystator-verify-shots")


def open_tests(page: Any, app_url: str, text: str, do: str = "paths") -> None:
    """Open ``text`` as a shared draft, show the Tests tab and run ``do``."""
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{app_url}/s/{encode_token(text)}")
    with page.expect_response(lambda r: urlsplit(r.url).path == "/verify"):
        page.locator("#tests-tab").click()
    page.wait_for_selector("#verify[data-ran]")
    if do != "paths":
        with page.expect_response(lambda r: urlsplit(r.url).path == "/verify"):
            page.locator(f'#verify-form button[value="{do}"]').click()
        page.wait_for_selector(f'#verify[data-mode="{do}"][data-ran="true"]')


def wait_for_diagram(page: Any, scope: str) -> None:
    page.wait_for_function(
        f"() => !document.querySelector('{scope} pre.mermaid:not([data-processed])')"
        f" && !!document.querySelector('{scope} pre.mermaid svg')",
        timeout=15_000,
    )


def configuration(page: Any) -> str:
    return str(page.locator("#sim").get_attribute("data-state"))


def test_covered_and_uncovered_transitions_are_marked_on_the_diagram(
    offline_page: Any, app_url: str
) -> None:
    page = offline_page
    open_tests(page, app_url, GUARDED)
    wait_for_diagram(page, "#verify")
    found = paths(StateMachine.from_yaml(GUARDED))
    covered = page.locator("#verify svg path.edge-covered")
    uncovered = page.locator("#verify svg path.edge-uncovered")
    assert covered.count() == len(found.covered_transitions)
    assert uncovered.count() == len(found.uncovered_transitions)
    # the two are drawn differently: a dashed line in another colour
    style = "e => [getComputedStyle(e).strokeDasharray, getComputedStyle(e).stroke]"
    dashes, red = uncovered.first.evaluate(style)
    solid, green = covered.first.evaluate(style)
    assert dashes == "6px, 4px" and solid != dashes and red != green
    assert page.locator(".coverage-legend").is_visible()
    page.locator("#verify svg .edgeLabel .edge-uncovered").first.hover()
    tip = page.locator("#edge-tip")
    assert "Not covered (unsatisfiable)" in tip.inner_text()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "tests-tab.png"))
    # the results belong to the text they came from: an edit says they are out of date
    stale = page.locator("#verify .verify-stale")
    assert not stale.is_visible()
    page.locator("#yaml").focus()
    page.keyboard.press("Control+End")
    page.keyboard.type("# edited\n")
    expect(stale).to_be_visible()
    assert not page.console_errors


def test_a_generated_path_opens_in_the_simulator_where_it_ends(
    offline_page: Any, app_url: str
) -> None:
    page = offline_page
    open_tests(page, app_url, GUARDED)
    found = paths(StateMachine.from_yaml(GUARDED))
    last = len(found.runs)
    page.locator(f'.verify-run[data-run="{last}"] a.verify-open').click()
    page.wait_for_url("**/s/**")
    wait_for_diagram(page, "#sim")
    run = found.runs[-1]
    assert configuration(page) == run.states[-1]
    assert page.locator("#sim").get_attribute("data-steps") == str(len(run) + 1)


def test_a_counterexample_opens_at_the_violating_step(offline_page: Any, app_url: str) -> None:
    page = offline_page
    open_tests(page, app_url, AIRLOCK, do="check")
    (violation,) = check(StateMachine.from_yaml(AIRLOCK)).violations
    assert page.locator('.verify-violation[data-code="never"]').count() == 1
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "check-tab.png"))
    page.locator('.verify-violation[data-code="never"] a.verify-open').click()
    page.wait_for_url("**/s/**")
    wait_for_diagram(page, "#sim")
    assert violation.run is not None
    assert configuration(page) == "cycling:inner=inner_open,outer=outer_open"
    assert configuration(page) == violation.run.states[-1]
    active = page.locator("#sim .sim-config strong").all_inner_texts()
    assert sorted(active) == ["inner_open", "outer_open"]
    page.screenshot(path=str(SHOTS / "counterexample.png"))
    assert not page.console_errors
