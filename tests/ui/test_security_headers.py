"""Every response the designer sends carries the headers that keep other sites out.

The values are written out here, not read from ``ui.rendering``: a test that compared
the headers with the module's own table would pass after a header was deleted from
it. What each one protects:

* ``Referrer-Policy: no-referrer``: a share link carries the whole machine (and its
  simulation trace) in its URL; following a link out of the designer must not hand
  that URL to another site in the ``Referer`` header.
* ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'``: no other page may
  frame the designer and trick a click into Save, Delete or Restore (the first for
  older browsers, the second for current ones).
* the rest of the CSP: scripts, fetches, forms and the base URL stay on our origin.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from httpx import Response
from starlette.testclient import TestClient

from tests.ui.conftest import HTMX, ORDER
from ui.share import encode_token

REQUESTS: dict[str, tuple[Callable[[TestClient], Response], int]] = {
    "library page": (lambda c: c.get("/"), 200),
    "library fragment": (lambda c: c.get("/", headers=HTMX), 200),
    "new machine form": (lambda c: c.get("/new"), 200),
    "example page": (lambda c: c.get("/examples/order_lifecycle"), 200),
    "share link page": (lambda c: c.get(f"/s/{encode_token(ORDER)}"), 200),
    "share fragment": (lambda c: c.post("/share", data={"yaml": ORDER}, headers=HTMX), 200),
    "validate fragment": (lambda c: c.post("/validate", data={"yaml": ORDER}, headers=HTMX), 200),
    "redirect": (lambda c: c.post("/new", data={"name": "x"}, follow_redirects=False), 303),
    "static file": (lambda c: c.get("/static/app.css"), 200),
    "missing page": (lambda c: c.get("/no/such/page"), 404),
    "wrong method": (lambda c: c.delete("/"), 405),
    "api json": (lambda c: c.get("/health"), 200),
    "api error": (lambda c: c.get("/api/v1/machines/nope"), 404),
    "oversized body": (
        lambda c: c.post("/validate", content=b"x", headers={"content-length": "40000000"}),
        413,
    ),
}


def csp_directives(value: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in value.split(";"):
        words = part.split()
        if words:
            assert words[0] not in directives, f"{words[0]} given twice"
            directives[words[0]] = words[1:]
    return directives


@pytest.mark.parametrize(("ask", "status"), REQUESTS.values(), ids=REQUESTS.keys())
def test_every_response_forbids_framing_and_referrers(
    client: TestClient, ask: Callable[[TestClient], Response], status: int
) -> None:
    response = ask(client)
    assert response.status_code == status
    headers = response.headers
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    directives = csp_directives(headers["content-security-policy"])
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]


def test_each_header_is_sent_once(client: TestClient) -> None:
    response = client.get("/")
    names = [name.lower() for name, _ in response.headers.multi_items()]
    for name in (
        "content-security-policy",
        "referrer-policy",
        "x-frame-options",
        "x-content-type-options",
    ):
        assert names.count(name) == 1, name
