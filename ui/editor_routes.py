"""The machine page: opening, saving, live checks with autosaved drafts, unsaved pages.

A saved machine opens at ``/machines/<id>``; text that is not in the library (an example, a
share link, a stored draft) opens as a draft page that can be saved to the library.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from pystator.api import run_in_budget
from pystator.library import LibraryError, NotFound, draft_key, machine_draft_key, new_draft_id
from pystator.textcheck import TextRejected
from ui.checking import Check, check
from ui.designer import Designer, DesignerDep, diagram_view, redirect
from ui.examples import find_example
from ui.forms import Fields, FormDep, query
from ui.machine_page import editor_context, machine_page_context, save_refusal, trace_from_query
from ui.rendering import is_htmx
from ui.security import browser_of
from ui.share import ShareError, decode_token

__all__ = ["router"]

router = APIRouter()


@router.get("/machines/{machine_id}")
def machine_page(
    request: Request, designer: DesignerDep, machine_id: str, view: str = "", trace: str = ""
) -> Response:
    """The editor on a saved machine: this browser's unsaved changes, else the current text."""
    library, browser = designer.library, browser_of(request)
    machine = library.get(machine_id)
    autosaved = library.get_draft(browser, machine_draft_key(machine_id)) if browser else None
    text = autosaved.text if autosaved else library.text(machine_id)
    base = (autosaved.base if autosaved else "") or machine.revision_id
    trace_text, note = trace_from_query(trace)
    outcome = check(text, designer.budget())
    editor = editor_context(
        text, outcome, view=view, trace=trace_text, machine_id=machine_id, note=note,
        dirty=autosaved is not None, base=base, children=designer.machine_text_named,
    )  # fmt: skip
    context = machine_page_context(designer, editor, machine)
    return designer.render(request, "machine.html", context)


@router.post("/machines/{machine_id}/save")
def save_machine(
    request: Request, designer: DesignerDep, form: FormDep, machine_id: str
) -> Response:
    """Save the editor's text as a new revision; a text with errors is not saved.

    The form says which revision the text was edited from (``base``); a save from a revision
    that is no longer current is kept, not made current, and the page says so.
    """
    text, base = form.get("yaml", ""), form.get("base", "")
    outcome = check(text, designer.budget())
    context, status = save_revision(designer, browser_of(request), machine_id, text, base, outcome)
    if context["saved"] and not is_htmx(request):
        return redirect(request, f"/machines/{machine_id}")
    status = 200 if is_htmx(request) else status  # htmx swaps only 2xx answers
    return designer.render(request, "machine.html", context, block="saved", status_code=status)


def save_revision(
    designer: Designer, browser: str, machine_id: str, text: str, base: str, outcome: Check
) -> tuple[dict[str, Any], int]:
    """Save ``text``: the page's values afterwards, and the status of the answer."""
    library = designer.library
    refusal = save_refusal(outcome)
    if refusal is None:
        try:
            saved = library.save(machine_id, text, base=base or None)
        except (TextRejected, LibraryError) as error:
            refusal = f"Not saved: {error} Your text is still in the editor."
    machine = library.get(machine_id)
    unsaved = editor_context(text, outcome, machine_id=machine_id, dirty=True, base=base)
    if refusal is not None:
        return machine_page_context(designer, unsaved, machine, save_message=refusal), 400
    if not saved.made_current:
        message = (
            f"Kept as revision #{saved.revision.number}, not made current: this machine was "
            f"saved elsewhere (revision #{saved.current.number}) after you opened it."
        )
        conflict = {
            "diff_url": f"/machines/{machine_id}/diff?"
            + query(old=saved.current.id, new=saved.revision.id),
            "revision_url": f"/machines/{machine_id}/revisions/{saved.revision.id}",
        }
        context = machine_page_context(
            designer, unsaved, machine, save_message=message, conflict=conflict
        )
        return context, 409
    library.drop_draft(browser, machine_draft_key(machine_id))
    editor = editor_context(text, outcome, machine_id=machine_id, base=machine.revision_id)
    message = f"Saved revision #{saved.revision.number} ({saved.revision.id})."
    return machine_page_context(designer, editor, machine, save_message=message, saved=True), 200


@router.post("/machines/{machine_id}/discard")
def discard_changes(request: Request, designer: DesignerDep, machine_id: str) -> Response:
    """Drop this browser's unsaved changes: the editor shows the current revision again."""
    designer.library.get(machine_id)
    designer.library.drop_draft(browser_of(request), machine_draft_key(machine_id))
    return redirect(request, f"/machines/{machine_id}")


@router.post("/validate")
async def validate(request: Request, designer: DesignerDep, form: FormDep) -> Response:
    """The live check of the editor's text; the text is also kept as this browser's draft.

    A check the editor no longer waits for (it typed again, so htmx dropped the request)
    stops at its next stage instead of running to the end.
    """
    budget = designer.budget()
    view = diagram_view(form)
    outcome = await run_in_budget(request, budget, check, form.get("yaml", ""), budget, view)
    headers: dict[str, str] = {}
    autosave = None
    if not form.get("view_only"):  # a redraw for another diagram view is not an edit
        autosave = await run_in_threadpool(autosave_draft, request, designer, form, headers)
    context = {"check": outcome, "shown_key": form.get("diagram_key", ""), "autosave": autosave}
    return designer.render(request, "partials/check.html", context, headers=headers)


def autosave_draft(
    request: Request, designer: Designer, form: Fields, headers: dict[str, str]
) -> dict[str, Any] | None:
    """Keep the posted editor text as this browser's draft, so a reload finds it again.

    A saved machine's draft is dropped when the text is back to the current revision;
    an unsaved draft moves the address to ``/drafts/<id>`` (``HX-Replace-Url``).
    Returns what the draft marker shows, or ``None`` when the page has no draft slot.
    """
    library, text, browser = designer.library, form.get("yaml", ""), browser_of(request)
    machine_id, draft_id = form.get("machine_id", ""), form.get("draft_id", "")
    try:
        if machine_id:
            machine = library.get(machine_id)
            key = machine_draft_key(machine_id)
            if text == library.text(machine_id):
                library.drop_draft(browser, key)
                return {"dirty": False, "machine": machine, "refused": False}
            library.put_draft(browser, key, text, base=form.get("base", ""))
            return {"dirty": True, "machine": machine, "refused": False}
        if draft_id:
            library.put_draft(browser, draft_key(draft_id), text, form.get("name", ""))
            current = urlsplit(request.headers.get("hx-current-url", ""))
            if current.path != f"/drafts/{draft_id}":
                kept = {k: v for k, v in parse_qsl(current.query) if k in ("view", "trace")}
                suffix = "?" + query(**kept) if kept else ""
                headers["HX-Replace-Url"] = f"/drafts/{draft_id}{suffix}"
            return {"dirty": True, "machine": None, "refused": False}
    except NotFound:
        return None
    except TextRejected:
        return {"dirty": True, "machine": None, "refused": True}
    return None


@router.get("/drafts/{draft_id}")
def stored_draft(
    request: Request, designer: DesignerDep, draft_id: str, view: str = "", trace: str = ""
) -> Response:
    """An unsaved draft as last typed (the address its page moved to on the first edit)."""
    browser = browser_of(request)
    found = designer.library.get_draft(browser, draft_key(draft_id)) if browser else None
    if found is None:
        raise NotFound(
            "This draft is not kept for this browser: a draft belongs to the browser it was "
            "typed in, and goes once it is saved to the library or 30 days after its last edit."
        )
    return draft_page(
        request, designer, found.text, found.name or None, view, trace, draft_id=draft_id
    )


@router.get("/examples/{slug}")
def example_draft(
    request: Request, designer: DesignerDep, slug: str, view: str = "", trace: str = ""
) -> Response:
    example = find_example(slug, designer.examples_dir)
    if example is None:
        raise StarletteHTTPException(404, f"There is no example called {slug!r}.")
    return draft_page(request, designer, example.text(), example.slug, view, trace)


@router.get("/s/{token}")
def shared_draft(
    request: Request,
    designer: DesignerDep,
    token: str,
    imported: str = "",
    view: str = "",
    trace: str = "",
) -> Response:
    """A self-contained share link: the machine (and a run) travel in the address."""
    try:
        shared = decode_token(token)
    except ShareError as error:
        return designer.error_page(request, 400, str(error))
    carried = json.dumps(shared.trace) if shared.trace is not None else None
    return draft_page(
        request, designer, shared.yaml, None, view, trace, imported=bool(imported), carried=carried
    )


def draft_page(
    request: Request,
    designer: Designer,
    text: str,
    name: str | None,
    view: str,
    packed_trace: str,
    *,
    imported: bool = False,
    draft_id: str | None = None,
    carried: str | None = None,
) -> Response:
    """The editor over text that is not in the library (an example, a share link).

    ``packed_trace`` is the run in the address (``?trace=``); without one, a run the text
    came with (``carried``, from a share link) opens. A new page gets a fresh ``draft_id``;
    nothing is stored until its text is edited. ``draft_id`` given means the text is that
    stored draft.
    """
    trace, note = trace_from_query(packed_trace)
    if trace is None:
        trace = carried
    outcome = check(text, designer.budget())
    editor = editor_context(
        text,
        outcome,
        view=view,
        trace=trace,
        draft_id=draft_id or new_draft_id(),
        dirty=draft_id is not None,
        note=note,
        children=designer.machine_text_named,
    )
    default_name = name or outcome.machine_name or "shared machine"
    context = machine_page_context(designer, editor, None, default_name, imported=imported)
    return designer.render(request, "machine.html", context)


@router.post("/drafts/save")
def save_draft(request: Request, designer: DesignerDep, form: FormDep) -> Response:
    """Save an unsaved page's text to the library as a new machine."""
    text, name, draft_id = form.get("yaml", ""), form.get("name", ""), form.get("draft_id", "")
    outcome = check(text, designer.budget())
    message = save_refusal(outcome)
    if message is None:
        try:
            machine = designer.library.create(
                name or outcome.machine_name or "shared machine", text
            )
        except (TextRejected, LibraryError) as error:
            message = f"Not saved: {error} Your text is still in the editor."
        else:
            if draft_id:
                with contextlib.suppress(NotFound):
                    designer.library.drop_draft(browser_of(request), draft_key(draft_id))
            return redirect(request, f"/machines/{machine.id}")
    context = machine_page_context(
        designer,
        editor_context(text, outcome, draft_id=draft_id),
        None,
        name or "shared machine",
        save_message=message,
        title="Shared machine",
    )
    status = 200 if is_htmx(request) else 400
    return designer.render(request, "machine.html", context, block="saved", status_code=status)
