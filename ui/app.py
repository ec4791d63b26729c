"""The designer app: routes that parse a request, call the library or engine, render.

``create_app(db_path)`` builds a FastAPI app over the SQLite library at ``db_path`` (seeded
from ``examples/`` on first start) out of small routers, one module per concern:

=======================  ===========================================================
``ui.library_routes``    the library page, new, import, rename, duplicate, delete, history
``ui.editor_routes``     the machine page, saving, live checks and drafts, unsaved pages
``ui.edit_routes``       structured edits: add a state, connect, rename, delete
``ui.simulate_routes``   the simulator panel and exporting a run
``ui.share_routes``      share links, read-only revisions, forks and export downloads
``ui.verify_routes``     the Tests tab: generated tests, the model checker, their pytest files
``ui.api_routes``        the REST API's routes, mounted over the same library
``ui.errors``            how errors become pages (and JSON for the API)
=======================  ===========================================================

What the routes share (the library, the page-or-fragment renderer, the error page) is in
:mod:`ui.designer`; reading forms is in :mod:`ui.forms`. Routes decide what to show;
templates only render it (STYLE.md 13-15). Every form works without JavaScript; htmx
requests get the named block of the same template instead of the page.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI

from pystator.api import CHECK_SECONDS, ApiCors, HostGuard, RequestLimits
from pystator.library import Library
from pystator.textcheck import MAX_TEXT_BYTES
from ui import (
    edit_routes,
    editor_routes,
    library_routes,
    share_routes,
    simulate_routes,
    verify_routes,
)
from ui.api_routes import api_router
from ui.assets import AssetFiles
from ui.designer import Designer
from ui.errors import install_error_handlers
from ui.examples import list_examples
from ui.mermaid_patch import PATCHED_NAME
from ui.paths import EXAMPLES_DIR, STATIC_DIR, TEMPLATES_DIR
from ui.rendering import Pages, SecurityHeaders
from ui.security import BrowserId, require_same_origin

__all__ = ["create_app"]

HTMX_JS = "vendor/htmx-2.0.11.min.js"
MERMAID_JS = f"vendor/{PATCHED_NAME}"
DEFAULT_ORIGIN = "http://127.0.0.1:8000"


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path == "/health"


def create_app(
    db_path: str | Path,
    examples_dir: Path = EXAMPLES_DIR,
    *,
    origin: str = DEFAULT_ORIGIN,
    allowed_hosts: Iterable[str] = (),
    allowed_origins: Iterable[str] = (),
    check_seconds: float = CHECK_SECONDS,
) -> FastAPI:
    """The designer over the library at ``db_path``, seeded with the examples once.

    ``examples_dir`` holds the ``*.yaml`` files offered by "New" and "Open example".
    ``origin`` is where the designer is served (share links point there); it answers to the
    loopback names, ``origin``'s host and ``allowed_hosts``, and lets pages on
    ``allowed_origins`` call its REST API. ``check_seconds`` bounds checking one machine.
    """
    library = Library(db_path)
    library.seed([(example.slug, example.text()) for example in list_examples(examples_dir)])
    library.prune_drafts()
    pages = Pages(
        TEMPLATES_DIR,
        {"htmx_js": HTMX_JS, "mermaid_js": MERMAID_JS, "max_text_bytes": MAX_TEXT_BYTES},
    )

    # FastAPI's own /docs loads Swagger UI from a CDN; the API router serves an offline /docs.
    app = FastAPI(title="pystator-ui", docs_url=None, redoc_url=None)
    trusted = tuple(allowed_origins)
    # Outermost last: headers on every answer, then foreign Hosts refused, then CORS for
    # trusted origins (API only), the browser id, and the body limits.
    app.add_middleware(RequestLimits, json_paths=_is_api)
    app.add_middleware(BrowserId)
    if trusted:
        app.add_middleware(ApiCors, origins=trusted)
    app.add_middleware(HostGuard, allowed_hosts=[urlsplit(origin).hostname or "", *allowed_hosts])
    app.add_middleware(SecurityHeaders)
    app.mount("/static", AssetFiles(directory=str(STATIC_DIR)), name="static")
    app.state.designer = Designer(
        library,
        pages,
        examples_dir,
        origin=origin.rstrip("/"),
        token_key=library.secret("page-token"),
        check_seconds=check_seconds,
    )
    app.state.library = library
    app.state.pages = pages
    install_error_handlers(app)
    routers = (library_routes, editor_routes, edit_routes, simulate_routes, share_routes)
    for routes in (*routers, verify_routes):
        app.include_router(routes.router, dependencies=[Depends(require_same_origin)])
    app.include_router(api_router(library, trusted, check_seconds))
    return app
