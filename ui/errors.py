"""How errors become answers: a page (or its fragment) for people, JSON for the API.

Nothing a person can do gets a traceback: unknown addresses, wrong methods and missing
fields are 4xx pages that say what happened, and anything unforeseen is a 500 page that says
nothing saved was changed.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from pystator.api import validation_error_response
from pystator.library import NotFound
from ui.designer import get_designer

__all__ = ["install_error_handlers"]

_MESSAGES = {
    404: "There is nothing at this address.",
    405: "This address does not accept that kind of request.",
}
_GENERIC = {"Not Found", "Method Not Allowed"}


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    detail = error.detail if isinstance(error.detail, str) else ""
    default = _MESSAGES.get(error.status_code, "The request could not be handled.")
    message = detail if detail and detail not in _GENERIC else default
    return get_designer(request).error_page(request, error.status_code, message)


async def invalid_request(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    if request.url.path.startswith("/api/"):
        return validation_error_response(error)
    fields = sorted({str(e.get("loc", ["", "?"])[-1]) for e in error.errors()})
    message = f"The request is missing or has invalid fields: {', '.join(fields)}."
    return get_designer(request).error_page(request, 422, message)


async def not_found(request: Request, error: Exception) -> Response:
    return get_designer(request).error_page(request, 404, str(error))


async def server_error(request: Request, error: Exception) -> Response:
    message = (
        "Something went wrong on the server; nothing you saved was changed. "
        "Reload the page to try again."
    )
    return get_designer(request).error_page(request, 500, message)


def install_error_handlers(app: FastAPI) -> None:
    """Register the designer's error answers on ``app``."""
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(Exception, server_error)
