"""Sharing and export: self-contained links, read-only revisions, forks and downloads."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from pystator.library import LibraryError
from pystator.textcheck import TextRejected
from ui.checking import check
from ui.designer import DesignerDep, download, redirect
from ui.exports import file_stem, python_snippet, yaml_to_json
from ui.forms import FormDep
from ui.share import ShareError, TokenTooLong, encode_token

__all__ = ["router"]

router = APIRouter()


@router.post("/share")
def share(request: Request, designer: DesignerDep, form: FormDep) -> Response:
    """A link that carries the editor's text (and the simulator's run) in itself."""
    context: dict[str, Any] = {"link": None, "message": None, "too_long": False}
    trace = form.get("trace", "")
    try:
        steps = json.loads(trace) if trace.strip() else None
        if steps is not None and not isinstance(steps, list):
            raise ShareError("The simulation trace must be a list of steps.")
        token = encode_token(form.get("yaml", ""), steps)
    except json.JSONDecodeError:
        context["message"] = "The simulation trace is not valid JSON."
    except TokenTooLong as error:
        context.update(message=str(error), too_long=True)
    except ShareError as error:
        context["message"] = str(error)
    else:
        context["link"] = str(request.base_url).rstrip("/") + f"/s/{token}"
    return designer.render(request, "partials/share.html", context)


@router.get("/m/{revision_id}")
def shared_revision(request: Request, designer: DesignerDep, revision_id: str) -> Response:
    """A saved revision, read-only, with a button to fork it into the library."""
    text = designer.library.revision_text(revision_id)
    name = designer.library.name_for_revision(revision_id) or "shared machine"
    context = {
        "revision_id": revision_id,
        "name": name,
        "text": text,
        "check": check(text),
        "title": name,
    }
    return designer.render(request, "shared.html", context)


@router.post("/m/{revision_id}/fork")
def fork_revision(
    request: Request, designer: DesignerDep, form: FormDep, revision_id: str
) -> Response:
    library = designer.library
    text = library.revision_text(revision_id)
    fallback = library.name_for_revision(revision_id) or "shared machine"
    try:
        machine = library.create(form.get("name", "") or fallback, text)
    except (TextRejected, LibraryError) as error:
        return designer.error_page(request, 400, str(error))
    return redirect(request, f"/machines/{machine.id}")


@router.get("/m/{revision_id}/export")
def export_page(request: Request, designer: DesignerDep, revision_id: str) -> Response:
    text = designer.library.revision_text(revision_id)
    name = designer.library.name_for_revision(revision_id) or "machine"
    filename = f"{file_stem(name)}.yaml"
    context = {
        "revision_id": revision_id,
        "name": name,
        "text": text,
        "check": check(text),
        "filename": filename,
        "snippet": python_snippet(filename),
        "title": f"Export {name}",
    }
    return designer.render(request, "export.html", context)


@router.get("/m/{revision_id}/export.{fmt}")
def export_file(designer: DesignerDep, revision_id: str, fmt: str) -> Response:
    text = designer.library.revision_text(revision_id)
    stem = file_stem(designer.library.name_for_revision(revision_id) or "machine")
    if fmt == "yaml":
        return download(text, f"{stem}.yaml", "application/yaml")
    if fmt == "py":
        return download(python_snippet(f"{stem}.yaml"), f"load_{stem}.py", "text/x-python")
    outcome = check(text)
    if not outcome.valid:
        raise StarletteHTTPException(
            409, "This revision is not a valid machine, so only its YAML can be exported."
        )
    if fmt == "json":
        return download(yaml_to_json(text), f"{stem}.json", "application/json")
    if fmt == "mmd" and outcome.mermaid is not None:
        return download(outcome.mermaid, f"{stem}.mmd", "text/plain")
    raise StarletteHTTPException(404, f"There is no export format {fmt!r}.")
