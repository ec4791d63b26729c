"""Reading what a form posted: its text fields, and the machine text among them.

Routes take the posted fields with the :data:`FormDep` dependency rather than declaring each
field, so a large paste reaches the route (which says how large it is and what the limit is)
instead of Starlette's 1 MB per-field default answering with a bare 400.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request

from pystator.api import MAX_REQUEST_BYTES

__all__ = ["Fields", "FormDep", "machine_text", "query", "read_form"]

Fields = dict[str, str]


async def read_form(request: Request) -> Fields:
    """The request's text fields (files are left out), read with a generous part limit.

    The limit is far above any machine (1 MB), so an oversized paste still reaches the route
    and gets a sentence about machine size; the body limit itself is the app's middleware.
    """
    form = await request.form(max_part_size=MAX_REQUEST_BYTES)
    return {key: value for key, value in form.items() if isinstance(value, str)}


FormDep = Annotated[Fields, Depends(read_form)]


def machine_text(form: Fields) -> str:
    """The machine definition a form carries.

    The editor's textarea (``yaml``) is the text the person sees, so it wins whenever it was
    sent. The simulator panel keeps its own copy (``sim_yaml``) for its forms sent without
    JavaScript, where the editor's textarea is outside the form and not posted.
    """
    return form["yaml"] if "yaml" in form else form.get("sim_yaml", "")


def query(**values: str) -> str:
    """A URL query string from ``values`` (without the ``?``)."""
    return urlencode(values)
