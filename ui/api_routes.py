"""The REST API mounted in the designer: the very routes of :mod:`pystator.api`.

Both faces share the designer's library (and so its machines) and one OpenAPI schema.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter

from pystator.api import create_router
from pystator.library import Library

__all__ = ["api_router"]


def api_router(library: Library, allowed_origins: Iterable[str], check_seconds: float) -> APIRouter:
    """``/health``, ``/docs`` and ``/api/v1/...`` over the designer's ``library``."""
    return create_router(library, allowed_origins=allowed_origins, check_seconds=check_seconds)
