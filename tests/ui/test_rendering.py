"""The designer's renderer and header middleware, on templates and apps of the test's own.

The designer's pages use only a few of the renderer's rules, so a change to the others
would go unseen (``scripts/mutation ui/rendering.py`` found them; see docs/testing.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import UndefinedError
from starlette.requests import Request
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from ui.rendering import SECURITY_HEADERS, Pages, SecurityHeaders


@pytest.fixture
def pages(tmp_path: Path) -> Pages:
    (tmp_path / "page.html").write_text(
        "<p>{{ text }}</p>\n"
        "  {% if flag %}\n"
        "A\n"
        "  {% endif %}\n"
        "{% block part %}[{{ text }}|{{ partial }}]{% if flag %}!{% endif %}{% endblock %}"
    )
    (tmp_path / "note.txt").write_text("{{ text }}")
    (tmp_path / "where.html").write_text("{{ request.method }} {{ request.url.path }}")
    (tmp_path / "missing.html").write_text("{{ nowhere }}")
    return Pages(tmp_path)


def request(htmx: bool) -> Request:
    headers = [(b"hx-request", b"true")] if htmx else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def test_every_template_escapes_whatever_its_name(pages: Pages) -> None:
    assert pages.render_html("note.txt", {"text": "<b>"}) == "&lt;b&gt;"
    assert pages.env.from_string("{{ text }}").render(text="<b>") == "&lt;b&gt;"


def test_block_tags_leave_no_blank_lines_or_indentation(pages: Pages) -> None:
    assert pages.render_html("page.html", {"text": "t", "flag": True, "partial": False}) == (
        "<p>t</p>\nA\n[t|False]!"
    )


def test_an_undefined_name_is_an_error_not_an_empty_string(pages: Pages) -> None:
    with pytest.raises(UndefinedError):
        pages.render_html("missing.html", {})


def test_a_block_is_rendered_whole_with_the_same_context(pages: Pages) -> None:
    assert (
        pages.render_html("page.html", {"text": "x", "flag": True, "partial": 1}, "part")
        == "[x|1]!"
    )
    with pytest.raises(KeyError, match=r"template 'page\.html' has no block 'other'"):
        pages.render_html("page.html", {}, "other")


def test_htmx_gets_the_block_and_a_browser_the_page(pages: Pages) -> None:
    fragment = pages.render(request(True), "page.html", {"text": "x", "flag": False}, block="part")
    assert fragment.status_code == 200 and fragment.body == b"[x|True]"
    page = pages.render(request(False), "page.html", {"text": "x", "flag": False}, block="part")
    assert page.status_code == 200 and page.body == b"<p>x</p>\n[x|False]"


def test_headers_are_added_to_a_response_that_has_none() -> None:
    async def bare(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body", "body": b""})

    response = TestClient(SecurityHeaders(bare)).get("/")
    assert response.status_code == 204
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_a_page_can_read_the_request(pages: Pages) -> None:
    assert pages.render(request(False), "where.html").body == b"GET /"
