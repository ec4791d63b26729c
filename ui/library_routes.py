"""The library: listing, creating and importing machines, their revisions and history."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from pystator.errors import ConfigError
from pystator.library import LibraryError, NotFound
from pystator.textcheck import MAX_TEXT_BYTES, TextRejected, decode_file
from ui.checking import Finding, check, findings_of
from ui.designer import Designer, DesignerDep, redirect
from ui.examples import BLANK_MACHINE, find_example
from ui.forms import FormDep, query
from ui.share import ShareError, encode_token

__all__ = ["router"]

router = APIRouter()


@router.get("/", name="library")
def library_page(request: Request, designer: DesignerDep, deleted: str | None = None) -> Response:
    context = {
        "machines": designer.library.machines(),
        "flash": f"Deleted {deleted}." if deleted else None,
    }
    return designer.render(request, "library.html", context, block="machines")


@router.get("/new")
def new_page(request: Request, designer: DesignerDep, example: str = "") -> Response:
    context = {"chosen": example, "error": None, "name": ""}
    return designer.render(request, "new.html", context, block="form")


@router.post("/new")
def create_machine(request: Request, designer: DesignerDep, form: FormDep) -> Response:
    name, example = form.get("name", ""), form.get("example", "")
    found = find_example(example, designer.examples_dir) if example else None
    if example and found is None:
        message = f"There is no example called {example!r}."
        return _new_error(request, designer, message, name, example)
    text = found.text() if found else BLANK_MACHINE
    try:
        machine = designer.library.create(name or (found.slug if found else "new machine"), text)
    except (TextRejected, LibraryError) as error:
        return _new_error(request, designer, str(error), name, example)
    return redirect(request, f"/machines/{machine.id}")


def _new_error(
    request: Request, designer: Designer, message: str, name: str, example: str
) -> Response:
    context = {"chosen": example, "error": message, "name": name}
    return designer.render(request, "new.html", context, block="form", status_code=400)


@router.get("/import")
def import_page(request: Request, designer: DesignerDep) -> Response:
    context = {"error": None, "findings": ()}
    return designer.render(request, "import.html", context, block="form")


@router.post("/import")
async def import_file(
    request: Request,
    designer: DesignerDep,
    file: Annotated[UploadFile, File()],
    name: Annotated[str, Form()] = "",
) -> Response:
    """A valid file becomes a machine; an invalid one opens as a draft to fix.

    An SCXML document (``.scxml``, or text that starts with ``<``) is read into a machine
    and opened as YAML; one the reader refuses stays a file to fix, with each problem at
    its line and column in the SCXML.
    """
    data = await file.read(MAX_TEXT_BYTES + 1)
    filename = file.filename or ""
    try:
        text = decode_file(data, filename)
    except TextRejected as error:
        return _import_error(request, designer, str(error))
    if _is_scxml(text, filename):
        try:
            text = _scxml_to_yaml(text, filename)
        except ConfigError as error:
            message = (
                f"{filename or 'The file'} is not an SCXML document the designer can read; "
                "fix these problems in the SCXML and import it again."
            )
            return _import_error(request, designer, message, findings_of(error))
    outcome = check(text, designer.budget())
    if not outcome.valid:
        try:
            token = encode_token(text)
        except ShareError:
            message = (
                f"{filename or 'The file'} is not a valid machine; fix these problems "
                "and import it again."
            )
            return _import_error(request, designer, message, outcome.findings)
        return redirect(request, f"/s/{token}?imported=1")
    fallback = Path(filename).stem or outcome.machine_name or "imported machine"
    try:
        machine = designer.library.create(name or fallback, text)
    except (TextRejected, LibraryError) as error:
        return _import_error(request, designer, str(error))
    return redirect(request, f"/machines/{machine.id}")


def _is_scxml(text: str, filename: str) -> bool:
    return filename.lower().endswith(".scxml") or text.lstrip().startswith("<")


def _scxml_to_yaml(text: str, filename: str) -> str:
    """The machine an SCXML document describes, as YAML for the editor."""
    from pystator.config import dump_spec
    from pystator.scxml import read_scxml

    return dump_spec(read_scxml(text, source_name=filename or None))


def _import_error(
    request: Request, designer: Designer, message: str, findings: tuple[Finding, ...] = ()
) -> Response:
    context = {"error": message, "findings": findings}
    return designer.render(request, "import.html", context, block="form", status_code=400)


@router.post("/machines/{machine_id}/rename")
def rename_machine(
    request: Request, designer: DesignerDep, form: FormDep, machine_id: str
) -> Response:
    try:
        designer.library.rename(machine_id, form.get("name", ""))
    except TextRejected as error:
        return designer.error_page(request, 400, str(error))
    return redirect(request, f"/machines/{machine_id}")


@router.post("/machines/{machine_id}/duplicate")
def duplicate_machine(request: Request, designer: DesignerDep, machine_id: str) -> Response:
    copy = designer.library.duplicate(machine_id)
    return redirect(request, f"/machines/{copy.id}")


@router.get("/machines/{machine_id}/delete")
def confirm_delete(request: Request, designer: DesignerDep, machine_id: str) -> Response:
    machine = designer.library.get(machine_id)
    context = {"machine": machine, "title": f"Delete {machine.name}"}
    return designer.render(request, "delete.html", context, block="confirm")


@router.post("/machines/{machine_id}/delete")
def delete_machine(request: Request, designer: DesignerDep, machine_id: str) -> Response:
    machine = designer.library.get(machine_id)
    designer.library.delete(machine_id)
    return redirect(request, "/?" + query(deleted=machine.name))


@router.get("/machines/{machine_id}/revisions/{revision_id}")
def revision_page(
    request: Request, designer: DesignerDep, machine_id: str, revision_id: str
) -> Response:
    library = designer.library
    machine = library.get(machine_id)
    revisions = library.revisions(machine_id)
    revision = next((r for r in revisions if r.id == revision_id), None)
    if revision is None:
        raise NotFound(f"Machine {machine.name!r} has no revision {revision_id!r}.")
    text = library.revision_text(revision_id)
    context = {
        "machine": machine,
        "revision": revision,
        "revisions": revisions,
        "text": text,
        "check": check(text, designer.budget()),
        "title": f"{machine.name} revision {revision.number}",
    }
    return designer.render(request, "revision.html", context)


@router.post("/machines/{machine_id}/revisions/{revision_id}/restore")
def restore_revision(
    request: Request, designer: DesignerDep, machine_id: str, revision_id: str
) -> Response:
    library = designer.library
    if revision_id not in {r.id for r in library.revisions(machine_id)}:
        raise NotFound(f"This machine has no revision {revision_id!r}.")
    library.save(machine_id, library.revision_text(revision_id))
    return redirect(request, f"/machines/{machine_id}")


@router.get("/machines/{machine_id}/diff")
def diff_page(
    request: Request, designer: DesignerDep, machine_id: str, old: str = "", new: str = ""
) -> Response:
    library = designer.library
    machine = library.get(machine_id)
    revisions = library.revisions(machine_id)
    ids = [r.id for r in revisions]
    new = new or (ids[0] if ids else "")
    old = old or (ids[1] if len(ids) > 1 else new)
    for rid in (old, new):
        if rid not in ids:
            raise NotFound(f"Machine {machine.name!r} has no revision {rid!r}.")
    context = {
        "machine": machine,
        "revisions": revisions,
        "old": old,
        "new": new,
        "diff": library.diff(old, new),
        "title": f"{machine.name}: changes",
    }
    return designer.render(request, "diff.html", context, block="diff")
