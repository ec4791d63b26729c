"""Where the designer's templates, static files and examples live.

In a checkout they sit at the top of the repository (``templates/``, ``static/``,
``examples/``); in an installed wheel they are package data inside ``ui/``. Looking in
the package first and the repository second means one code path serves both.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["EXAMPLES_DIR", "STATIC_DIR", "TEMPLATES_DIR", "asset_dir"]

_PACKAGE = Path(__file__).resolve().parent


def asset_dir(name: str) -> Path:
    """``ui/<name>`` when it exists (installed wheel), else ``<repo>/<name>`` (checkout)."""
    inside = _PACKAGE / name
    return inside if inside.is_dir() else _PACKAGE.parent / name


TEMPLATES_DIR = asset_dir("templates")
STATIC_DIR = asset_dir("static")
EXAMPLES_DIR = asset_dir("examples")
