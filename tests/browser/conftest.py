"""Browser fixtures: Debian's Chromium through Playwright, and the app on a free local port.

Never ``playwright install``: the browser is /usr/bin/chromium (apt-get install -y
--no-install-recommends chromium). Every request a page makes is routed through a
check that fails the test if it goes to any host but the app's.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import expect

from tests.support import CHROMIUM, CHROMIUM_ARGS, free_port
from ui.app import create_app


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            "Chromium is missing: install it with "
            "`apt-get install -y --no-install-recommends chromium` (never `playwright install`)."
        )
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The designer served by uvicorn in a background thread, over a temporary library."""
    db = tmp_path_factory.mktemp("ui") / "library.sqlite3"
    port = free_port()
    app = create_app(db, origin=f"http://127.0.0.1:{port}")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the designer did not start within 15 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def offline_page(page: Any, app_url: str) -> Iterator[Any]:
    """A page whose every request must go to the app; anything else fails the test."""
    allowed = urlsplit(app_url).netloc
    foreign: list[str] = []
    console_errors: list[str] = []

    def guard(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).netloc == allowed or url.startswith("data:"):
            route.continue_()
        else:
            foreign.append(url)
            route.abort()

    page.route("**/*", guard)

    def on_console(message: Any) -> None:
        if message.type != "error":
            return
        text = message.text
        if text.startswith("htmx:sendAbort"):
            # The editor's hx-sync="this:replace" cancels a superseded /validate on
            # purpose, and htmx logs that as an error after the request's afterRequest.
            if console_errors and console_errors[-1] == "htmx:afterRequest" + text[14:]:
                console_errors.pop()
            return
        console_errors.append(text)

    page.on("console", on_console)
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    page.console_errors = console_errors
    yield page
    assert not foreign, f"requests left the machine: {foreign}"


def open_saved(page: Any, app_url: str, name: str) -> str:
    """Open a library machine as last saved and return its address.

    An earlier test may have left an autosaved draft of it: that is discarded.
    """
    page.goto(app_url + "/")
    page.get_by_role("link", name=name, exact=True).click()
    page.wait_for_url(re.compile(r"/machines/[0-9a-f]+$"))
    discard = page.get_by_role("button", name="Discard changes")
    if discard.count():
        discard.click()
        page.wait_for_load_state()
        expect(page.get_by_role("button", name="Discard changes")).to_have_count(0)
    return str(page.url)
