"""The keyboard as a first-class user, in real Chromium.

Tab leaves the editor after Escape (and the page says so), a key on a focused control is
that control's, focus stays on the same control (or its successor) after a step, and a
keyboard alone gets from the start page to sending an event.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def focused(page: Any) -> dict[str, str]:
    """What has focus: its tag, id, text and form value."""
    found: dict[str, str] = page.evaluate(
        "() => { const e = document.activeElement; return {tag: e.tagName, id: e.id || '',"
        " text: (e.innerText || '').trim(), value: e.getAttribute('value') || ''}; }"
    )
    return found


def tab_until(page: Any, matches: Any, limit: int = 120) -> dict[str, str]:
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if matches(now):
            return now
    raise AssertionError(f"Tab never reached the control; last focus: {focused(page)}")


def wait_sim(page: Any) -> None:
    page.wait_for_function(
        "() => !document.querySelector('#sim-form.htmx-request')"
        " && !!document.querySelector('#sim pre.mermaid svg')",
        timeout=15_000,
    )


def test_escape_releases_tab_from_the_editor_and_says_so(offline_page: Any, app_url: str) -> None:
    page = offline_page
    page.goto(f"{app_url}/examples/traffic_light")
    editor = page.locator("#yaml")
    editor.focus()
    page.keyboard.press("Control+Home")
    original = editor.input_value()
    page.keyboard.press("Tab")
    assert editor.input_value() == "  " + original  # Tab indents while the editor has it
    expect(editor).to_be_focused()
    hint = page.locator("#editor-keys")
    expect(hint).to_have_text("Tab indents. Press Escape, then Tab, to leave the editor.")
    page.keyboard.press("Escape")
    expect(hint).to_have_text(re.compile("Tab now moves to the next control"))
    page.keyboard.press("Tab")
    expect(editor).not_to_be_focused()
    assert editor.input_value() == "  " + original
    # Back in the editor, typing takes Tab back.
    editor.focus()
    page.keyboard.press("End")
    page.keyboard.type("x")
    page.keyboard.press("Tab")
    expect(editor).to_be_focused()
    expect(hint).to_have_text(re.compile("^Tab indents"))


def test_a_key_on_a_focused_button_is_that_buttons(offline_page: Any, app_url: str) -> None:
    """Space presses the focused event button; it does not fire the next timer."""
    page = offline_page
    page.goto(f"{app_url}/examples/traffic_light?view=simulate")
    wait_sim(page)
    fault = page.locator("#sim .event-button", has_text="fault")
    fault.focus()
    with page.expect_response(lambda r: urlsplit(r.url).path == "/simulate"):
        page.keyboard.press("Space")
    wait_sim(page)
    expect(page.locator("#sim .step.current .step-summary")).to_contain_text("fault")
    assert page.locator("#sim-clock").inner_text() == "0ms"  # no timer fired
    # A digit typed into a field goes into the field, never to the "send event 1" shortcut.
    steps = page.locator("#sim").get_attribute("data-steps")
    page.locator("#sim-to").fill("")
    page.locator("#sim-to").press("1")
    page.wait_for_timeout(300)
    assert page.locator("#sim").get_attribute("data-steps") == steps
    assert page.locator("#sim-to").input_value() == "1"


def test_focus_stays_on_the_control_after_a_step(offline_page: Any, app_url: str) -> None:
    page = offline_page
    page.goto(f"{app_url}/examples/traffic_light?view=simulate")
    wait_sim(page)
    plus = page.get_by_role("button", name="+5s")
    plus.focus()
    with page.expect_response(lambda r: urlsplit(r.url).path == "/simulate"):
        page.keyboard.press("Enter")
    wait_sim(page)
    assert focused(page)["value"] == "advance:5s"  # the same button, in the new panel
    assert page.locator("#sim-clock").inner_text() == "5s"
    # A pressed button that is gone after the step hands focus to its successor.
    fault = page.locator("#sim .event-button", has_text="fault")
    fault.focus()
    with page.expect_response(lambda r: urlsplit(r.url).path == "/simulate"):
        page.keyboard.press("Enter")
    wait_sim(page)
    now = focused(page)
    assert now["tag"] != "BODY" and page.evaluate(
        "() => document.getElementById('sim').contains(document.activeElement)"
    ), now


def test_keyboard_only_from_the_start_page_to_sending_an_event(
    offline_page: Any, app_url: str
) -> None:
    page = offline_page
    page.goto(f"{app_url}/")
    tab_until(page, lambda f: f["tag"] == "A" and f["text"] == "traffic_light")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/machines/[0-9a-f]+$"))
    page.wait_for_function("() => !!document.querySelector('#diagram pre.mermaid svg')")
    # Tab reaches the editor, which keeps Tab until Escape lets it go.
    tab_until(page, lambda f: f["id"] == "yaml")
    page.keyboard.press("Escape")
    tab_until(page, lambda f: f["id"] == "simulate-tab")
    with page.expect_response(lambda r: urlsplit(r.url).path == "/simulate"):
        page.keyboard.press("Enter")
    wait_sim(page)
    tab_until(page, lambda f: f["tag"] == "BUTTON" and "fault" in f["text"])
    with page.expect_response(lambda r: urlsplit(r.url).path == "/simulate"):
        page.keyboard.press("Enter")
    wait_sim(page)
    expect(page.locator("#sim .step.current .step-summary")).to_contain_text(
        "fault: green -> flashing"
    )
    assert focused(page)["tag"] != "BODY"
