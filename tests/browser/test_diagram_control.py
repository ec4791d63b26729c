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
  - {trigger: fast_track, source: idle, dest: approved, guards: [{expr: "score > 9"}]}
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


def edge_label(page: Any, where: str, text: str) -> Any:
    """The drawn label of an edge, found by what it says."""
    return page.locator(f"{where} svg g.edgeLabel").filter(has_text=text).first


def state_box(page: Any, where: str, name: str) -> Any:
    return page.locator(f"{where} svg g.node").filter(has_text=re.compile(rf"^{name}$")).first


def caret_line(page: Any) -> str:
    """The editor's line under the caret."""
    return str(
        page.evaluate(
            "() => { const t = document.getElementById('yaml'); const v = t.value;"
            " const s = v.lastIndexOf('\\n', t.selectionStart - 1) + 1;"
            " const e = v.indexOf('\\n', t.selectionStart);"
            " return v.slice(s, e < 0 ? v.length : e); }"
        )
    )


def test_clicking_a_state_or_an_edge_moves_the_editor_to_its_yaml(
    offline_page: Any, app_url: str
) -> None:
    page = offline_page
    page.goto(f"{app_url}/s/{encode_token(REVIEW)}")
    wait_drawn(page, "#diagram")
    state_box(page, "#diagram", "scored_high").click()
    expect(page.locator("#yaml")).to_be_focused()
    assert caret_line(page).strip() == "- {name: scored_high}"
    edge_label(page, "#diagram", "withdraw").click()
    assert "trigger: withdraw" in caret_line(page)
    # The comment above the states stays where the user wrote it: nothing was rewritten.
    assert page.locator("#yaml").input_value() == REVIEW
    assert page.console_errors == []


def test_clicking_an_enabled_edge_fires_it_and_a_disabled_one_says_why(
    offline_page: Any, app_url: str
) -> None:
    page = offline_page
    page.goto(f"{app_url}/s/{encode_token(REVIEW)}")
    open_simulator(page)
    guarded = edge_label(page, "#sim", "fast_track")
    guarded.hover()
    tip = page.get_by_role("tooltip")
    expect(tip).to_be_visible()
    expect(tip).to_contain_text("Event fast_track does nothing now")
    expect(tip).to_contain_text("score > 9 is false (7 > 9)")
    edge_label(page, "#sim", "withdraw").hover()
    expect(tip).to_have_text("State checking is not active now (the machine is in idle).")
    steps_before = page.locator("#sim").get_attribute("data-steps")
    with page.expect_response(lambda r: urlsplit(r.url).path == "/simulate"):
        edge_label(page, "#sim", "submit").click()
    wait_drawn(page, "#sim")
    assert page.locator("#sim").get_attribute("data-steps") != steps_before
    expect(page.locator("#sim .step.current .step-summary")).to_contain_text(
        "submit: idle -> checking"
    )
    # A disabled edge does nothing when clicked.
    steps_now = page.locator("#sim").get_attribute("data-steps")
    edge_label(page, "#sim", "fast_track").click()
    page.wait_for_timeout(300)
    assert page.locator("#sim").get_attribute("data-steps") == steps_now
    assert page.console_errors == []


def open_edit_bar(page: Any) -> None:
    bar = page.locator("#edit-bar")
    if not bar.evaluate("el => el.open"):
        page.get_by_text("Edit the machine").click()


def wait_checked(page: Any, text: str) -> None:
    """Wait until the live check has drawn a diagram that shows ``text``."""
    page.wait_for_function(
        "t => { const p = document.querySelector('#diagram pre.mermaid');"
        " return p && p.getAttribute('data-processed') && p.textContent.includes(t)"
        " || (p && p.querySelector('svg') && p.querySelector('svg').textContent.includes(t)); }",
        arg=text,
        timeout=15_000,
    )


def test_structured_edits_write_yaml_and_undo_in_one_step(offline_page: Any, app_url: str) -> None:
    page = offline_page
    page.goto(f"{app_url}/s/{encode_token(REVIEW)}")
    wait_drawn(page, "#diagram")
    open_edit_bar(page)
    editor = page.locator("#yaml")

    # Add a state inside another: the YAML grows by the new entry, comments stay.
    page.get_by_label("New state").fill("on_hold")
    page.get_by_label("where").select_option(label="inside checking")
    page.get_by_role("button", name="Add state").click()
    expect(
        page.get_by_role("status").filter(has_text="Added state on_hold inside checking.")
    ).to_be_visible()
    expect(editor).to_have_value(re.compile(r"- \{name: on_hold, parent: checking\}\n"))
    after_add = editor.input_value()
    assert "# where every review starts" in after_add
    wait_checked(page, "on_hold")

    # One Ctrl+Z in the editor takes the whole edit back.
    editor.focus()
    page.keyboard.press("Control+z")
    expect(editor).to_have_value(REVIEW)
    page.keyboard.press("Control+Shift+z")
    expect(editor).to_have_value(after_add)
    wait_checked(page, "on_hold")

    # Connect two states picked in the diagram.
    open_edit_bar(page)
    page.get_by_role("button", name="Pick in diagram").click()
    expect(page.get_by_text("Click the source state in the diagram")).to_be_visible()
    state_box(page, "#diagram", "rejected").click()
    state_box(page, "#diagram", "idle").click()
    expect(page.get_by_label("on event")).to_be_focused()
    assert page.get_by_label("from").input_value() == "rejected"
    assert page.get_by_label("to", exact=True).input_value() == "idle"
    page.get_by_label("on event").fill("reopen")
    page.get_by_role("button", name="Add transition").click()
    expect(editor).to_have_value(
        re.compile(r"- \{trigger: reopen, source: rejected, dest: idle\}\n$")
    )
    wait_checked(page, "reopen")

    # Rename: every reference follows.
    page.get_by_label("State to change").select_option("rejected")
    page.get_by_label("new name").fill("declined")
    page.get_by_role("button", name="Rename").click()
    expect(editor).not_to_have_value(re.compile("rejected"))
    assert editor.input_value().count("declined") == 4
    wait_checked(page, "declined")

    # Delete shows what refers to the state first, then deletes on confirmation.
    page.get_by_label("State to change").select_option("declined")
    page.get_by_role("button", name="Delete…").click()
    refs = page.locator("#edit-result ol.references li")
    expect(refs).to_have_count(3)
    expect(page.locator("#edit-result")).to_contain_text("the target of withdraw")
    page.get_by_role("button", name="Delete declined").click()
    expect(editor).not_to_have_value(re.compile("declined"))
    expect(page.locator("#check[data-valid=true]")).to_have_count(1)
    assert "# where every review starts" in editor.input_value()
    assert page.console_errors == []
