"""The standalone REST API app: ``uvicorn pystator.api.main:app``.

The library file is ``$PYSTATOR_DB`` or the designer's default, so both faces see the same
machines. It is opened on the first request that needs it, not on import.

It answers to the loopback names only, plus the names in ``$PYSTATOR_ALLOWED_HOSTS``
(comma-separated); pages on the origins in ``$PYSTATOR_ALLOWED_ORIGINS`` may call it from a
browser (CORS), every other site's writes are refused.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from pystator import __version__
from pystator.api.bodies import RequestLimits
from pystator.api.guard import ApiCors, HostGuard
from pystator.api.routes import create_router, error_response, validation_error_response
from pystator.library import Library, default_db_path

__all__ = ["app", "create_app"]

_HTTP_MESSAGES = {
    404: "There is nothing at this address.",
    405: "This address does not accept that kind of request.",
}


def _listed(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def create_app(
    db_path: str | Path | None = None,
    *,
    allowed_hosts: Iterable[str] | None = None,
    allowed_origins: Iterable[str] | None = None,
) -> FastAPI:
    """The API over the library at ``db_path`` (default: ``$PYSTATOR_DB`` or the data dir).

    ``allowed_hosts`` and ``allowed_origins`` default to the environment variables above.
    """
    hosts = list(allowed_hosts) if allowed_hosts is not None else _listed("PYSTATOR_ALLOWED_HOSTS")
    origins = (
        list(allowed_origins)
        if allowed_origins is not None
        else _listed("PYSTATOR_ALLOWED_ORIGINS")
    )

    @cache
    def library() -> Library:
        return Library(db_path if db_path is not None else default_db_path())

    # FastAPI's own /docs page loads Swagger UI from a CDN; ours (in the router) does not.
    api = FastAPI(title="pystator API", version=__version__, docs_url=None, redoc_url=None)
    api.add_middleware(RequestLimits)
    if origins:
        api.add_middleware(ApiCors, origins=origins)
    api.add_middleware(HostGuard, allowed_hosts=hosts)
    api.include_router(create_router(library, allowed_origins=origins))

    @api.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        return validation_error_response(error)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        detail = error.detail if isinstance(error.detail, str) else ""
        generic = {"Not Found", "Method Not Allowed"}
        message = detail if detail and detail not in generic else ""
        default = _HTTP_MESSAGES.get(error.status_code, "The request could not be handled.")
        return error_response(error.status_code, message or default)

    @api.exception_handler(Exception)
    async def server_error(request: Request, error: Exception) -> Response:
        return error_response(500, "Something went wrong on the server; nothing was changed.")

    return api


app = create_app()
