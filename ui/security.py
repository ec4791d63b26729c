"""The designer's browser id, and the token that proves a write came from its own page.

Every browser that opens a page gets a random **browser id** in a cookie
(``pystator_browser``: HttpOnly, SameSite=Lax, kept 400 days). It names that browser's
drafts (another browser never sees them) and the **page token**: an HMAC of the browser id
under a key kept in the library. Every page puts the token in its forms (a hidden
``csrf_token`` field, so forms work without JavaScript) and in the header htmx sends
(``X-CSRF-Token``, from ``hx-headers`` on ``<body>``).

:func:`require_same_origin` guards every state-changing page route: the request must not come
from another site (see :func:`pystator.api.guard.cross_site_problem`) and must carry the token
of the browser that sends it. A page on another origin can make the browser send the cookie
(same site, other port) or set one of its own, but it cannot read our pages, so it never has
the token, and without our key it cannot make one.

A new browser id is only handed out on a plain page request that is not another site's
subresource or form, so no other site can replace a browser's id (and so orphan its drafts)
by making it send a request without its cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from http.cookies import SimpleCookie

from fastapi import Request
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pystator.api.guard import SAFE_METHODS, cross_site_problem
from ui.forms import read_form

__all__ = [
    "BROWSER_COOKIE",
    "TOKEN_FIELD",
    "TOKEN_HEADER",
    "BrowserId",
    "browser_of",
    "page_token",
    "require_same_origin",
]

BROWSER_COOKIE = "pystator_browser"
TOKEN_FIELD = "csrf_token"
TOKEN_HEADER = "X-CSRF-Token"
_SCOPE_KEY = "pystator.browser"
_ID = re.compile(r"^[0-9a-f]{32}$")
_MAX_AGE = 400 * 24 * 3600  # the longest a browser keeps a cookie


def _cookie_id(headers: Headers) -> str:
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header names no browser
        return ""
    morsel = cookie.get(BROWSER_COOKIE)
    value = morsel.value if morsel is not None else ""
    return value if _ID.match(value) else ""


def _may_hand_out(scope: Scope, headers: Headers) -> bool:
    """Only a page the person opens gets a new id, never another site's request."""
    if scope.get("method") not in ("GET", "HEAD"):
        return False
    site = headers.get("sec-fetch-site", "")
    mode = headers.get("sec-fetch-mode", "")
    return site in ("", "same-origin", "none") or mode == "navigate"


class BrowserId:
    """ASGI middleware: the request's browser id in the scope, and a cookie for a new one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        browser = _cookie_id(headers)
        fresh = ""
        if not browser and _may_hand_out(scope, headers):
            browser = fresh = secrets.token_hex(16)
        scope[_SCOPE_KEY] = browser

        async def send_with_cookie(message: Message) -> None:
            if fresh and message["type"] == "http.response.start":
                cookie = (
                    f"{BROWSER_COOKIE}={fresh}; Path=/; Max-Age={_MAX_AGE}; HttpOnly; SameSite=Lax"
                )
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def browser_of(request: Request) -> str:
    """The id of the browser that sent ``request`` ("" when it has none yet)."""
    browser: str = request.scope.get(_SCOPE_KEY, "")
    return browser


def page_token(key: str, browser: str) -> str:
    """The token a page for ``browser`` carries ("" for a request with no browser id)."""
    if not browser:
        return ""
    return hmac.new(key.encode(), browser.encode(), hashlib.sha256).hexdigest()


_RELOAD = " Reload the designer's page and try again; nothing was changed."


async def require_same_origin(request: Request) -> None:
    """Refuse (403) a state-changing request from another site or without the page token."""
    if request.method in SAFE_METHODS:
        return
    problem = cross_site_problem(request)
    if problem is not None:
        raise HTTPException(
            403,
            f"The designer refused this change because {problem}: only the designer's own "
            "pages may change your library." + _RELOAD,
        )
    key: str = request.app.state.designer.token_key
    expected = page_token(key, browser_of(request))
    sent = request.headers.get(TOKEN_HEADER, "")
    if not sent:
        sent = (await read_form(request)).get(TOKEN_FIELD, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(
            403,
            "The designer refused this change: it did not come with the token of a page this "
            "browser opened from the designer (the page may be older than a restart, or the "
            "request came from somewhere else)." + _RELOAD,
        )
