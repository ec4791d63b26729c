"""pystator's REST API: validate machines, compute transitions, manage the machine library.

``create_router(library)`` gives the routes, so the designer can mount the very same ones;
``create_app(db_path)`` (in :mod:`pystator.api.main`) wraps them in a standalone FastAPI app.
The middleware both apps share keeps other sites and oversized or hostile bodies out
(:mod:`pystator.api.guard`, :mod:`pystator.api.bodies`). Needs the ``api`` extra:
``pip install "pystator[api]"``.
"""

from __future__ import annotations

from pystator.api.bodies import MAX_REQUEST_BYTES, BodyTooLarge, RequestLimits
from pystator.api.guard import (
    LOCAL_HOSTS,
    ApiCors,
    HostGuard,
    allowed_host_names,
    cross_site_problem,
)
from pystator.api.routes import create_router, error_response, validation_error_response
from pystator.api.work import CHECK_SECONDS, Budget, OverBudget, run_in_budget

__all__ = [
    "CHECK_SECONDS",
    "LOCAL_HOSTS",
    "MAX_REQUEST_BYTES",
    "ApiCors",
    "BodyTooLarge",
    "Budget",
    "HostGuard",
    "OverBudget",
    "RequestLimits",
    "allowed_host_names",
    "create_router",
    "cross_site_problem",
    "error_response",
    "run_in_budget",
    "validation_error_response",
]
