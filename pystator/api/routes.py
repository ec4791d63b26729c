"""The REST API's routes, request models and JSON error answers.

Every mistake a caller can make (bad JSON, a missing field, an invalid machine, an unknown
state or machine id, an oversized body) is answered with a 4xx and the JSON
``{"error": {"status", "message", "issues"?}}``; only a bug in pystator gives a 500.

Writes are refused when a browser says another site sent them, and accept only
``application/json`` (see :mod:`pystator.api.guard`). Checking a machine has a time budget
and stops when the client disconnects (see :mod:`pystator.api.work`).

The routes are grouped by concern: :mod:`pystator.api.check_routes` (validate, process) and
:mod:`pystator.api.library_routes` (the machine library); what they share (settings, the
JSON answer for a refusal) is in :mod:`pystator.api.answers`, their bodies in
:mod:`pystator.api.schemas`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response

from pystator import __version__
from pystator.api.answers import RouteSettings
from pystator.api.bodies import MAX_REQUEST_BYTES, json_error
from pystator.api.check_routes import check_routes
from pystator.api.guard import SAFE_METHODS, cross_site_problem
from pystator.api.library_routes import library_routes
from pystator.api.work import CHECK_SECONDS
from pystator.library import Library

__all__ = [
    "MAX_REQUEST_BYTES",
    "create_router",
    "error_response",
    "validation_error_response",
]

error_response = json_error


def validation_error_response(error: RequestValidationError) -> Response:
    """A 422 naming each bad field and what is wrong with it, in words."""
    issues = []
    for problem in error.errors():
        location = [str(part) for part in problem.get("loc", ()) if part != "body"]
        field = ".".join(location) or "body"
        message = str(problem.get("msg", "invalid"))
        if problem.get("type") == "json_invalid":
            message = "The body is not valid JSON."
        issues.append({"severity": "error", "message": f"{field}: {message}", "path": field})
    summary = "; ".join(issue["message"] for issue in issues) or "The request is invalid."
    return error_response(422, f"The request body is invalid: {summary}", issues)


# -- routes ----------------------------------------------------------------------------------


def create_router(
    library: Library | Callable[[], Library],
    *,
    allowed_origins: Iterable[str] = (),
    check_seconds: float = CHECK_SECONDS,
) -> APIRouter:
    """``/health``, ``/docs`` and ``/api/v1/...`` over ``library``.

    ``library`` may be a callable returning the library, so an app can open it lazily.
    ``allowed_origins`` are the other origins whose pages may write (with CORS set up by
    :class:`~pystator.api.guard.ApiCors`); ``check_seconds`` bounds checking one machine.
    """
    get_library: Callable[[], Library] = library if callable(library) else (lambda: library)
    guard = [Depends(_same_origin_json(tuple(allowed_origins)))]
    settings = RouteSettings(get_library, check_seconds, guard)
    router = APIRouter()

    @router.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        """Liveness check with the pystator version."""
        return {"status": "ok", "version": __version__}

    router.include_router(library_routes(settings))
    router.include_router(check_routes(settings))

    @router.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        """The endpoints, from the OpenAPI schema, as a page with no external requests."""
        return HTMLResponse(_docs_page(request.app.openapi()))

    return router


def _same_origin_json(trusted: tuple[str, ...]) -> Callable[[Request], None]:
    """The dependency of every route that writes: it comes from our own origin (or a trusted
    one) and carries JSON."""

    def same_origin_json(request: Request) -> None:
        if request.method in SAFE_METHODS:
            return
        problem = cross_site_problem(request, trusted)
        if problem is not None:
            raise HTTPException(403, f"This request was refused because {problem}.")
        kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if request.method != "DELETE" and kind != "application/json":
            raise HTTPException(
                415, f"The body must be sent as application/json, not {kind or 'nothing'}."
            )

    return same_origin_json


def _docs_page(schema: dict[str, Any]) -> str:
    rows = []
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            summary = operation.get("description") or operation.get("summary") or ""
            rows.append(
                f"<tr><td><code>{html.escape(method.upper())}</code></td>"
                f"<td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(summary.strip().splitlines()[0] if summary else '')}</td></tr>"
            )
    title = html.escape(str(schema.get("info", {}).get("title", "API")))
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{title}</title><h1>{title}</h1>"
        '<p>The full schema is at <a href="/openapi.json">/openapi.json</a>.</p>'
        "<table><thead><tr><th>Method</th><th>Path</th><th>What it does</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></html>"
    )
