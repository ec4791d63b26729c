"""Structured edits from the diagram's edit bar: add a state, connect, rename, delete.

Each request posts the editor's text and one edit; the answer is the edited text for the
page to put into the editor as one undoable change (``partials/edit.html``), or the sentence
saying why the edit cannot be made. The editing itself is :mod:`pystator.config.edit`;
this module only reads the form. A delete is asked twice: first the places that name the
state are listed, then the edit is made.

Without JavaScript the edited text becomes this browser's draft of the page and the page
reopens on it, so the form works there too.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pystator.config.edit import (
    EditError,
    add_state,
    add_transition,
    delete_state,
    rename_state,
    state_references,
)
from pystator.limits import JsonInputError, load_json
from ui.designer import DesignerDep, redirect
from ui.editor_routes import autosave_draft
from ui.forms import Fields, FormDep, machine_text
from ui.rendering import is_htmx

__all__ = ["router"]

router = APIRouter()

Edit = Callable[[str, Fields], tuple[str, str]]


def _place(form: Fields) -> tuple[str, str]:
    """The parent and region the "add a state" form chose (``["P"]``, ``["P", "R"]``)."""
    raw = form.get("place", "") or "[]"
    try:
        place = load_json(raw, "the place for the new state", max_chars=2_000)
    except JsonInputError as error:
        raise EditError(f"The place for the new state is not readable: {error}.") from None
    if not isinstance(place, list) or len(place) > 2 or not all(isinstance(p, str) for p in place):
        raise EditError("The place for the new state is not one the edit bar offers.")
    parent = place[0] if place else ""
    region = place[1] if len(place) > 1 else ""
    return parent, region


def _add_state(text: str, form: Fields) -> tuple[str, str]:
    name = form.get("name", "").strip()
    parent, region = _place(form)
    where = f" in region {region} of {parent}" if region else f" inside {parent}" if parent else ""
    return add_state(text, name, parent=parent, region=region), f"Added state {name}{where}."


def _add_transition(text: str, form: Fields) -> tuple[str, str]:
    source, dest = form.get("source", ""), form.get("dest", "")
    trigger = form.get("trigger", "").strip()
    edited = add_transition(text, source, dest, trigger)
    return edited, f"Added transition {source} → {dest} on {trigger}."


def _rename(text: str, form: Fields) -> tuple[str, str]:
    old, new = form.get("state", ""), form.get("new_name", "").strip()
    return rename_state(text, old, new), f"Renamed {old} to {new}, and every reference to it."


def _delete(text: str, form: Fields) -> tuple[str, str]:
    name = form.get("state", "")
    return delete_state(text, name), f"Deleted state {name}."


_EDITS: dict[str, Edit] = {
    "add_state": _add_state,
    "add_transition": _add_transition,
    "rename": _rename,
    "delete": _delete,
}


@router.post("/edit")
def structured_edit(request: Request, designer: DesignerDep, form: FormDep) -> Response:
    """Make one edit to the posted text; answer with the new text or why not."""
    text, op = machine_text(form), form.get("op", "")
    context: dict[str, object] = {
        "text": None,
        "message": "",
        "references": (),
        "state": "",
        "refused": False,
        "original": text,
        "machine_id": form.get("machine_id", ""),
        "draft_id": form.get("draft_id", ""),
    }
    try:
        if op == "references":
            name = form.get("state", "")
            context.update(references=state_references(text, name), state=name)
        elif op in _EDITS:
            edited, message = _EDITS[op](text, form)
            context.update(text=edited, message=message)
        else:
            raise EditError(f"The edit bar has no edit called {op!r}.")
    except EditError as error:
        context["message"] = str(error)
        context["refused"] = True
    if not is_htmx(request):
        if context["text"] is not None:
            return _reopen(request, designer, form, str(context["text"]))
        return designer.render(request, "edit.html", {**context, "title": "Edit the machine"})
    return designer.render(request, "partials/edit.html", context)


def _reopen(request: Request, designer: DesignerDep, form: Fields, text: str) -> Response:
    """A form sent without JavaScript: the edited text as this browser's draft, reopened."""
    autosave_draft(request, designer, {**form, "yaml": text}, {})
    machine_id, draft_id = form.get("machine_id", ""), form.get("draft_id", "")
    if machine_id:
        return redirect(request, f"/machines/{machine_id}")
    if draft_id:
        return redirect(request, f"/drafts/{draft_id}")
    return designer.error_page(request, 400, "This page keeps no draft to edit; save it first.")
