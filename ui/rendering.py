"""Rendering pages and fragments, and the headers every response carries.

One helper, :meth:`Pages.render`, decides between the whole page and one named block of
it: when htmx makes the request (``HX-Request: true``) and the route names a block, only
that block is rendered, from the same template and the same context. Routes therefore
stay a few lines and a fragment can never drift from the page it is part of.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "SECURITY_HEADERS",
    "Pages",
    "SecurityHeaders",
    "is_htmx",
]

# Mermaid writes a <style> element into every SVG it renders, and sets inline style
# attributes on nodes; with style-src 'self' Chromium drops them and the diagram loses its
# colours, arrow heads and label backgrounds (checked in tests/browser). Styles cannot run
# code, so allowing inline *styles* keeps the protection that matters: scripts come only
# from our own origin, and nothing may be fetched from anywhere else.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    # Share links carry the machine in the URL: never hand it to another site.
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


SECURITY_HEADERS = {name.decode(): value.decode() for name, value in _HEADERS}


class SecurityHeaders:
    """ASGI middleware adding the CSP and related headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in _HEADERS if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_htmx(request: Request) -> bool:
    """True when htmx made the request (and so expects a fragment, not a page)."""
    return request.headers.get("hx-request", "").lower() == "true"


class Pages:
    """The Jinja2 environment (autoescape on) and the page-or-fragment renderer."""

    def __init__(self, templates_dir: Path, globals_: Mapping[str, Any] | None = None) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(globals_ or {})

    def render_html(
        self, template_name: str, context: Mapping[str, Any], block: str | None = None
    ) -> str:
        """The template's whole text, or only ``block`` rendered with the same context."""
        template = self.env.get_template(template_name)
        if block is None:
            return template.render(context)
        if block not in template.blocks:
            raise KeyError(f"template {template_name!r} has no block {block!r}")
        ctx = template.new_context(dict(context))
        return "".join(template.blocks[block](ctx))

    def render(
        self,
        request: Request,
        template_name: str,
        context: Mapping[str, Any] | None = None,
        *,
        block: str | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """The page, or just ``block`` when htmx asked.

        ``request`` and ``partial`` (true when only the block is rendered, so a block can add
        out-of-band pieces that the full page already contains) are put in the context.
        """
        chosen = block if block is not None and is_htmx(request) else None
        values = {"request": request, "partial": chosen is not None, **(context or {})}
        html = self.render_html(template_name, values, chosen)
        return HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
