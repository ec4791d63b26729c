"""Sharing and export: self-contained links, read-only revisions, forks and downloads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from pystator.library import LibraryError
from pystator.limits import JsonInputError, load_json
from pystator.textcheck import TextRejected
from ui.checking import check
from ui.designer import DesignerDep, download, redirect
from ui.exports import file_stem, python_snippet, scxml_export, yaml_to_json
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
        steps = load_json(trace, "the simulation trace") if trace.strip() else None
        if steps is not None and not isinstance(steps, list):
            raise ShareError("The simulation trace must be a list of steps.")
        token = encode_token(form.get("yaml", ""), steps)
    except JsonInputError as error:
        context["message"] = f"The link was not made: {error}."
    except TokenTooLong as error:
        context.update(message=str(error), too_long=True)
    except ShareError as error:
        context["message"] = str(error)
    else:  # the configured address, never the request's Host header
        context["link"] = f"{designer.origin}/s/{token}"
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
        "check": check(text, designer.budget()),
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


@router.get("/machines/{machine_id}/export")
def export_current(request: Request, designer: DesignerDep, machine_id: str) -> Response:
    """Export whatever revision is current when the link is followed (a save just now too)."""
    machine = designer.library.get(machine_id)
    return RedirectResponse(f"/m/{machine.revision_id}/export", status_code=303)


@router.get("/m/{revision_id}/export")
def export_page(request: Request, designer: DesignerDep, revision_id: str) -> Response:
    text = designer.library.revision_text(revision_id)
    name = designer.library.name_for_revision(revision_id) or "machine"
    filename = f"{file_stem(name)}.yaml"
    outcome = check(text, designer.budget())
    scxml_problem = scxml_export(outcome.machine)[1] if outcome.valid else None
    context = {
        "revision_id": revision_id,
        "name": name,
        "text": text,
        "check": outcome,
        "scxml_problem": scxml_problem,
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
    outcome = check(text, designer.budget())
    if not outcome.valid:
        raise StarletteHTTPException(
            409, "This revision is not a valid machine, so only its YAML can be exported."
        )
    if fmt == "json":
        return download(yaml_to_json(text), f"{stem}.json", "application/json")
    if fmt == "scxml":
        scxml, problem = scxml_export(outcome.machine)
        if scxml is None:
            raise StarletteHTTPException(409, problem or "")
        return download(scxml, f"{stem}.scxml", "application/scxml+xml")
    if fmt == "mmd" and outcome.mermaid is not None:
        return download(outcome.mermaid, f"{stem}.mmd", "text/plain")
    raise StarletteHTTPException(404, f"There is no export format {fmt!r}.")
