"""pystator-ui: the browser designer for pystator machines.

A FastAPI app that serves server-rendered pages (Jinja2 templates, htmx fragments) over a
local SQLite library of machines. Everything the pages show about a machine is computed by
the engine in :mod:`pystator`; this package only parses requests, calls the engine or the
library, and renders templates.
"""

from __future__ import annotations

from ui.app import create_app

__all__ = ["create_app"]
