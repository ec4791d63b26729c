"""What every designer route shares: the library, the templates, and how a page is answered.

One :class:`Designer` is made by :func:`ui.app.create_app` and kept on ``app.state``; a route
asks for it with the :data:`DesignerDep` dependency. It holds the three things routes have in
common so each route stays "parse, call the library or engine, render":

- :meth:`Designer.render`, the one place that chooses between the whole page and the named
  block htmx asked for (through :meth:`ui.rendering.Pages.render`), with the values every page
  needs (the examples menu, the flash line, the title) already filled in;
- :meth:`Designer.error_page`, the same error answer everywhere: a page, a fragment, or the
  API's JSON shape for clients that asked for JSON;
- :func:`redirect`, which also works when htmx made the request;
- :func:`diagram_view`, the reader's diagram view (direction, collapsed states) as the
  browser sends it with each check and simulator step.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from pystator.api import CHECK_SECONDS, Budget
from pystator.diagram import DiagramView
from pystator.library import Library
from ui.examples import find_example, list_examples
from ui.rendering import SECURITY_HEADERS, Pages, is_htmx
from ui.security import browser_of, page_token

__all__ = [
    "Designer",
    "DesignerDep",
    "diagram_view",
    "download",
    "get_designer",
    "redirect",
    "wants_json",
]


@dataclass(frozen=True)
class Designer:
    """One designer app's library, page renderer, examples and settings.

    ``origin`` is the address the designer is served at (share links are built from it,
    never from a request's Host header); ``token_key`` signs the page tokens (see
    :mod:`ui.security`); ``check_seconds`` bounds checking one machine.
    """

    library: Library
    pages: Pages
    examples_dir: Path
    origin: str
    token_key: str
    check_seconds: float = CHECK_SECONDS

    def machine_text_named(self, name: str) -> str | None:
        """The text of the machine called ``name``: the library's (as last saved), else the
        example of that name; how an ``invoke`` of ``machine:NAME`` finds its child."""
        for machine in self.library.machines():
            if machine.name == name:
                return self.library.text(machine.id)
        example = find_example(name, self.examples_dir)
        return example.text() if example is not None else None

    def base_context(self, request: Request) -> dict[str, Any]:
        """What the page frame (``base.html``) and every form on a page need."""
        return {
            "examples": list_examples(self.examples_dir),
            "flash": None,
            "title": None,
            "csrf_token": page_token(self.token_key, browser_of(request)),
        }

    def budget(self) -> Budget:
        """A fresh time budget for checking one request's machine."""
        return Budget(self.check_seconds)

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any],
        *,
        block: str | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """The page, or only ``block`` of it when htmx asked (see :class:`Pages`)."""
        return self.pages.render(
            request,
            template,
            {**self.base_context(request), **context},
            block=block,
            status_code=status_code,
            headers=headers,
        )

    def error_page(self, request: Request, status: int, message: str) -> Response:
        """A problem answered as the error page, its fragment, or JSON for JSON clients."""
        if wants_json(request):
            return JSONResponse(
                {"error": {"status": status, "message": message}}, status, SECURITY_HEADERS
            )
        context = {"status": status, "message": message, "title": "Problem"}
        # Headers set here too: a 500 is answered outside the middleware stack.
        return self.render(
            request,
            "error.html",
            context,
            block="error",
            status_code=status,
            headers=SECURITY_HEADERS,
        )


def get_designer(request: Request) -> Designer:
    """The designer the request's app was made with."""
    designer: Designer = request.app.state.designer
    return designer


DesignerDep = Annotated[Designer, Depends(get_designer)]


def redirect(request: Request, url: str) -> Response:
    """A redirect that also works for htmx (which would otherwise swap the target page)."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def wants_json(request: Request) -> bool:
    """True for the REST API's paths and for clients that ask for JSON rather than HTML."""
    if request.url.path.startswith("/api/") or request.url.path == "/health":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def download(text: str, filename: str, media_type: str) -> Response:
    """``text`` as a file the browser saves as ``filename``."""
    return PlainTextResponse(
        text,
        media_type=f"{media_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def diagram_view(fields: Mapping[str, str]) -> DiagramView:
    """The diagram view a request asks for: ``diagram_direction`` and ``diagram_collapsed``.

    The page keeps the view in the browser (per machine page) and adds both fields to
    every check and simulator request, so the server draws what this reader chose without
    storing it. A view is a preference: a value that cannot be read draws the default.
    """
    try:
        collapsed = json.loads(fields.get("diagram_collapsed", "") or "[]")
    except ValueError:
        collapsed = []
    if not isinstance(collapsed, list):
        collapsed = []
    return DiagramView.parse(fields.get("diagram_direction", ""), collapsed)
