"""In Chromium: a page on another origin cannot act for the user; saves export what they saved;
each browser keeps its own drafts.

The hostile page is served by a second local server on another port (the same site as the
designer, so the browser even sends the designer's cookie), which is the hardest case for the
designer to tell apart from its own pages.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIGHT = """\
meta:
  machine_name: "lamp"
states:
  - name: OFF
    type: initial
  - name: ON
transitions:
  - trigger: flip
    source: OFF
    dest: ON
  - trigger: flip
    source: ON
    dest: OFF
"""


def new_machine(app_url: str, name: str) -> str:
    """A machine of this test's own, made through the REST API as a program would."""
    made = httpx.post(f"{app_url}/api/v1/machines", json={"name": name, "yaml": LIGHT})
    assert made.status_code == 201, made.text
    machine_id: str = made.json()["id"]
    return machine_id


@pytest.fixture
def other_site() -> Iterator[tuple[str, dict[str, str]]]:
    """A second local server on another port; tests put the page it serves in ``pages``."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "not here").encode()
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_a_page_on_another_origin_cannot_delete_a_machine(
    page: Any, app_url: str, other_site: tuple[str, dict[str, str]]
) -> None:
    machine = new_machine(app_url, "kept safe")
    page.goto(f"{app_url}/machines/{machine}")  # the person has the designer open: a cookie
    expect(page.locator("#yaml")).to_have_value(LIGHT)
    site, pages = other_site
    pages["/"] = f"""<!doctype html><title>free prizes</title>
<form id="f" method="post" action="{app_url}/machines/{machine}/delete"></form>
<script>
  const api = "{app_url}/api/v1/machines/{machine}";
  window.tries = Promise.allSettled([
    fetch(api, {{method: "DELETE", credentials: "include"}}),
    fetch(api, {{method: "PUT", mode: "no-cors", credentials: "include",
                 headers: {{"Content-Type": "text/plain"}},
                 body: JSON.stringify({{yaml: "states: [{{name: pwned}}]"}})}}),
    fetch("{app_url}/api/v1/machines", {{method: "POST", mode: "no-cors",
                 headers: {{"Content-Type": "text/plain"}},
                 body: JSON.stringify({{name: "planted", yaml: "states: [{{name: x}}]"}})}}),
    fetch("{app_url}/", {{credentials: "include"}}).then(r => r.text()),
  ]).then(results => results.map(r => r.status));
</script>"""
    page.goto(site + "/")
    outcomes = page.evaluate("() => window.tries")
    assert outcomes[0] == "rejected"  # DELETE needs a preflight that is never granted
    assert outcomes[3] == "rejected"  # and no page of the designer can be read (no token)
    page.evaluate("() => document.getElementById('f').submit()")
    page.wait_for_url(f"{app_url}/machines/{machine}/delete")
    expect(page.get_by_role("heading", name="Refused: not from a designer page")).to_be_visible()
    expect(page.locator(".error-message")).to_contain_text("only the designer's own pages")
    kept = httpx.get(f"{app_url}/api/v1/machines/{machine}")
    assert kept.status_code == 200 and kept.json()["yaml"] == LIGHT
    names = {m["name"] for m in httpx.get(f"{app_url}/api/v1/machines").json()["machines"]}
    assert "planted" not in names
    # The designer's own delete form still works.
    page.goto(f"{app_url}/machines/{machine}/delete")
    page.get_by_role("button", name="Delete", exact=True).click()
    page.wait_for_url(re.compile(r"/\?deleted="))
    assert httpx.get(f"{app_url}/api/v1/machines/{machine}").status_code == 404


def test_export_right_after_save_downloads_what_was_saved(
    offline_page: Any, app_url: str, tmp_path: Path
) -> None:
    page = offline_page
    machine = new_machine(app_url, "exported lamp")
    page.goto(f"{app_url}/machines/{machine}")
    edited = LIGHT.replace("ON", "BRIGHT")
    page.locator("#yaml").fill(edited)
    page.locator("#check[data-valid=true]").wait_for()
    page.get_by_role("button", name="Save", exact=True).click()
    page.locator("#save-status", has_text="Saved revision #2").wait_for()
    page.get_by_role("link", name="Export").click()  # no reload in between
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile(r"^Download .*\.yaml$")).click()
    saved = tmp_path / "lamp.yaml"
    download.value.save_as(saved)
    assert saved.read_text(encoding="utf-8") == edited
    # and the revision list (swapped in with the save) links the same revision
    page.go_back()
    link = page.locator("#revisions li", has_text="current").get_by_role("link", name="link")
    page.goto(app_url + str(link.get_attribute("href")))
    assert page.locator("pre.code.readonly").inner_text().strip() == edited.strip()


def test_two_browsers_keep_separate_drafts(browser: Any, app_url: str) -> None:
    machine = new_machine(app_url, "shared lamp")
    url = f"{app_url}/machines/{machine}"
    first, second = browser.new_context(), browser.new_context()
    try:
        mine, theirs = first.new_page(), second.new_page()
        mine.goto(url)
        typed = LIGHT.replace("OFF", "DIM")
        mine.locator("#yaml").fill(typed)
        expect(mine.get_by_role("button", name="Discard changes")).to_be_visible()
        theirs.goto(url)
        expect(theirs.locator("#yaml")).to_have_value(LIGHT)
        expect(theirs.locator("#dirty")).to_be_hidden()
        mine.reload()
        expect(mine.locator("#yaml")).to_have_value(typed)
        expect(mine.locator("#dirty")).to_be_visible()
        # An unsaved page's draft address opens only in the browser that typed it.
        mine.goto(f"{app_url}/examples/traffic_light")
        mine.locator("#yaml").fill("states:\n  - name: ONLY_MINE\n")
        mine.wait_for_url(re.compile(r"/drafts/[0-9a-f]{16}$"))
        theirs.goto(mine.url)
        expect(theirs.locator(".error-message")).to_contain_text("not kept for this browser")
    finally:
        first.close()
        second.close()


def test_a_stale_tab_is_told_and_its_save_is_not_made_current(browser: Any, app_url: str) -> None:
    machine = new_machine(app_url, "two tabs")
    context = browser.new_context()
    try:
        one, two = context.new_page(), context.new_page()
        for tab in (one, two):
            tab.goto(f"{app_url}/machines/{machine}")
        one.locator("#yaml").fill(LIGHT.replace("ON", "FIRST"))
        one.get_by_role("button", name="Save", exact=True).click()
        one.locator("#save-status", has_text="Saved revision #2").wait_for()
        two.locator("#yaml").fill(LIGHT.replace("ON", "SECOND"))
        two.get_by_role("button", name="Save", exact=True).click()
        status = two.locator("#save-status")
        expect(status).to_contain_text("Kept as revision #3, not made current")
        status.get_by_role("link", name="Compare the two revisions").click()
        expect(two.locator("pre.diff")).to_contain_text("SECOND")
        expect(two.locator("pre.diff")).to_contain_text("FIRST")
        current = httpx.get(f"{app_url}/api/v1/machines/{machine}").json()["yaml"]
        assert "FIRST" in current and "SECOND" not in current
    finally:
        context.close()
