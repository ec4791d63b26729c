"""pystator's REST API: validate machines, compute transitions, manage the machine library.

``create_router(library)`` gives the routes, so the designer can mount the very same ones;
``create_app(db_path)`` (in :mod:`pystator.api.main`) wraps them in a standalone FastAPI app.
Needs the ``api`` extra: ``pip install "pystator[api]"``.
"""

from __future__ import annotations

from pystator.api.routes import (
    MAX_REQUEST_BYTES,
    JsonBodyLimit,
    create_router,
    error_response,
    validation_error_response,
)

__all__ = [
    "MAX_REQUEST_BYTES",
    "JsonBodyLimit",
    "create_router",
    "error_response",
    "validation_error_response",
]
