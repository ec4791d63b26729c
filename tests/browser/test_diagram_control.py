"""The diagram as a control, and the step log of a chained step, in real Chromium.

Clicking a state or an edge of the diagram moves the editor to its YAML; in the
simulator, clicking an enabled edge fires that transition and a disabled one says why.
A step that chains microsteps (a raised event, an eventless transition) lists each one.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from ui.share import encode_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REVIEW = """\
meta: {machine_name: review}
data: {score: 7}
states:
  # where every review starts
  - {name: idle, type: initial}
  - name: checking
    on_enter:
      - {raise: scored}
  - {name: scored_high}
  - {name: approved, type: terminal}
  - {name: rejected, type: terminal}
transitions:
  - {trigger: submit, source: idle, dest: checking}
  - {trigger: scored, source: checking, dest: scored_high, guards: [{expr: "score > 5"}]}
  - {always: true, source: scored_high, dest: approved}
  - {trigger: scored, source: checking, dest: rejected}
  - {trigger: withdraw, source: checking, dest: rejected}
"""


def wait_drawn(page: Any, where: str) -> None:
    page.wait_for_function(
        f"() => !document.querySelector('{where} pre.mermaid:not([data-processed])')"
        f" && !!document.querySelector('{where} pre.mermaid svg')",
        timeout=15_000,
    )


def open_simulator(page: Any) -> None:
    with page.expect_response(lambda r: urlsplit(r.url).path == "/simulate"):
        page.get_by_role("link", name="Simulate").click()
    wait_drawn(page, "#sim")


def test_a_chained_step_lists_each_microstep(offline_page: Any, app_url: str) -> None:
    page = offline_page
    page.goto(f"{app_url}/s/{encode_token(REVIEW)}")
    open_simulator(page)
    with page.expect_response(lambda r: urlsplit(r.url).path == "/simulate"):
        page.get_by_role("button", name=re.compile(r"submit")).click()
    wait_drawn(page, "#sim")
    log = page.get_by_role("list", name="Microsteps of step 1")
    expect(log).to_be_visible()
    items = log.get_by_role("listitem")
    expect(items).to_have_text(
        [
            "1. submit: idle -> checking",
            "2. internal scored: checking -> scored_high",
            "3. eventless: scored_high -> approved",
        ]
    )
    expect(page.get_by_text("in 3 microsteps, in order:")).to_be_visible()
    assert page.console_errors == []
