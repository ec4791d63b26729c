"""The designer app: routes that parse a request, call the library or engine, render.

``create_app(db_path)`` builds a FastAPI app over the SQLite library at ``db_path``
(seeded from ``examples/`` on first start). Routes decide what to show; templates only
render it (STYLE.md 13-15). Every form works without JavaScript; htmx requests get the
named block of the same template instead of the page.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from pystator.api import create_router, validation_error_response
from pystator.library import (
    Library,
    LibraryError,
    Machine,
    NotFound,
    draft_key,
    machine_draft_key,
    new_draft_id,
)
from pystator.simulator import SimulationError, export_pytest, export_trace_json
from pystator.textcheck import MAX_TEXT_BYTES, TextRejected, decode_file
from ui.checking import Check, check
from ui.examples import BLANK_MACHINE, find_example, list_examples
from ui.exports import file_stem, python_snippet, yaml_to_json
from ui.paths import EXAMPLES_DIR, STATIC_DIR, TEMPLATES_DIR
from ui.rendering import (
    MAX_BODY_BYTES,
    SECURITY_HEADERS,
    BodyLimit,
    Pages,
    SecurityHeaders,
    is_htmx,
)
from ui.share import ShareError, TokenTooLong, decode_token, encode_token
from ui.simulating import SimView, machine_for, simulate, unpack_trace

__all__ = ["create_app"]

HTMX_JS = "vendor/htmx-2.0.11.min.js"
MERMAID_JS = "vendor/mermaid-12.3.0.min.js"


def _redirect(request: Request, url: str) -> Response:
    """A redirect that also works for htmx (which would otherwise swap the target page)."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def _wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/") or request.url.path == "/health":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def create_app(db_path: str | Path, examples_dir: Path = EXAMPLES_DIR) -> FastAPI:
    """The designer over the library at ``db_path``, seeded with the examples once.

    ``examples_dir`` holds the ``*.yaml`` files offered by "New" and "Open example".
    """
    library = Library(db_path)
    library.seed([(example.slug, example.text()) for example in list_examples(examples_dir)])
    library.prune_drafts()
    pages = Pages(
        TEMPLATES_DIR,
        {"htmx_js": HTMX_JS, "mermaid_js": MERMAID_JS, "max_text_bytes": MAX_TEXT_BYTES},
    )

    # FastAPI's own /docs loads Swagger UI from a CDN; the API router serves an offline /docs.
    app = FastAPI(title="pystator-ui", docs_url=None, redoc_url=None)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.state.library = library
    app.state.pages = pages
    app.include_router(create_router(library))

    def base_context() -> dict[str, Any]:
        return {"examples": list_examples(examples_dir), "flash": None, "title": None}

    def machine_page_context(
        editor: dict[str, Any], machine: Machine | None, name: str = "", **extra: Any
    ) -> dict[str, Any]:
        """What machine.html needs: the editor, plus a saved machine and its revisions,
        or, for text not in the library (``machine`` None), a draft with its name."""
        if machine is not None:
            page: dict[str, Any] = {
                "machine": machine,
                "revisions": library.revisions(machine.id),
                "title": machine.name,
                "draft": False,
            }
        else:
            page = {
                "machine": None,
                "revisions": [],
                "draft": True,
                "imported": False,
                "default_name": name,
                "title": name,
            }
        return {**base_context(), **editor, **page, **extra}

    def error_page(request: Request, status: int, message: str) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"error": {"status": status, "message": message}}, status, SECURITY_HEADERS
            )
        context = {**base_context(), "status": status, "message": message, "title": "Problem"}
        # Headers set here too: a 500 is answered outside the middleware stack.
        return pages.render(
            request,
            "error.html",
            context,
            block="error",
            status_code=status,
            headers=SECURITY_HEADERS,
        )

    # -- errors ---------------------------------------------------------------------------

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        messages = {
            404: "There is nothing at this address.",
            405: "This address does not accept that kind of request.",
        }
        detail = error.detail if isinstance(error.detail, str) else ""
        default = messages.get(error.status_code, "The request could not be handled.")
        message = (
            detail if detail and detail not in {"Not Found", "Method Not Allowed"} else default
        )
        return error_page(request, error.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return validation_error_response(error)
        fields = sorted({str(e.get("loc", ["", "?"])[-1]) for e in error.errors()})
        return error_page(
            request, 422, f"The request is missing or has invalid fields: {', '.join(fields)}."
        )

    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound) -> Response:
        return error_page(request, 404, str(error))

    @app.exception_handler(Exception)
    async def server_error(request: Request, error: Exception) -> Response:
        return error_page(
            request,
            500,
            "Something went wrong on the server; nothing you saved was changed. "
            "Reload the page to try again.",
        )

    # -- library --------------------------------------------------------------------------

    @app.get("/", name="library")
    def library_page(request: Request, deleted: str | None = None) -> Response:
        context = {
            **base_context(),
            "machines": library.machines(),
            "flash": f"Deleted {deleted}." if deleted else None,
        }
        return pages.render(request, "library.html", context, block="machines")

    @app.get("/new")
    def new_page(request: Request, example: str = "") -> Response:
        context = {**base_context(), "chosen": example, "error": None, "name": ""}
        return pages.render(request, "new.html", context, block="form")

    @app.post("/new")
    def create_machine(
        request: Request,
        name: Annotated[str, Form()] = "",
        example: Annotated[str, Form()] = "",
    ) -> Response:
        found = find_example(example, examples_dir) if example else None
        if example and found is None:
            return _new_error(request, f"There is no example called {example!r}.", name, example)
        text = found.text() if found else BLANK_MACHINE
        try:
            machine = library.create(name or (found.slug if found else "new machine"), text)
        except (TextRejected, LibraryError) as error:
            return _new_error(request, str(error), name, example)
        return _redirect(request, f"/machines/{machine.id}")

    def _new_error(request: Request, message: str, name: str, example: str) -> Response:
        context = {**base_context(), "chosen": example, "error": message, "name": name}
        return pages.render(request, "new.html", context, block="form", status_code=400)

    @app.get("/import")
    def import_page(request: Request) -> Response:
        context = {**base_context(), "error": None, "findings": ()}
        return pages.render(request, "import.html", context, block="form")

    @app.post("/import")
    async def import_file(
        request: Request,
        file: Annotated[UploadFile, File()],
        name: Annotated[str, Form()] = "",
    ) -> Response:
        data = await file.read(MAX_TEXT_BYTES + 1)
        filename = file.filename or ""
        try:
            text = decode_file(data, filename)
        except TextRejected as error:
            return _import_error(request, str(error))
        outcome = check(text)
        if not outcome.valid:
            try:
                token = encode_token(text)
            except ShareError:
                return _import_error(
                    request,
                    f"{filename or 'The file'} is not a valid machine; fix these problems "
                    "and import it again.",
                    outcome,
                )
            return _redirect(request, f"/s/{token}?imported=1")
        fallback = Path(filename).stem or outcome.machine_name or "imported machine"
        try:
            machine = library.create(name or fallback, text)
        except (TextRejected, LibraryError) as error:
            return _import_error(request, str(error))
        return _redirect(request, f"/machines/{machine.id}")

    def _import_error(request: Request, message: str, outcome: Check | None = None) -> Response:
        findings = outcome.findings if outcome else ()
        context = {**base_context(), "error": message, "findings": findings}
        return pages.render(request, "import.html", context, block="form", status_code=400)

    # -- one machine ----------------------------------------------------------------------

    def editor_context(
        text: str,
        outcome: Check,
        *,
        view: str = "",
        trace: str | None = None,
        machine_id: str = "",
        draft_id: str = "",
        dirty: bool = False,
    ) -> dict[str, Any]:
        """The editor page's values; ``view="simulate"`` (or a trace) opens the simulator.

        ``draft_id`` names an unsaved draft's autosave row; ``dirty`` is true when the text
        shown is an autosaved draft rather than the machine's latest revision.
        """
        simulating = view == "simulate" or trace is not None
        sim: SimView | None = None
        if simulating:
            sim = simulation_view(text, trace or "", "show", {})
        return {
            "text": text,
            "check": outcome,
            "save_message": None,
            "saved": False,
            "view": "simulate" if simulating else "diagram",
            "sim": sim,
            "sim_yaml": text,
            "machine_id": machine_id,
            "draft_id": draft_id,
            "dirty": dirty,
            "draft_refused": False,
        }

    def simulation_view(
        text: str, trace: str, do: str, fields: dict[str, str], note: str | None = None
    ) -> SimView:
        machine, problem = machine_for(text)
        view = simulate(machine, trace, do, fields, machine_problem=problem)
        if note:
            view.message = f"{note} {view.message or ''}".strip()
        return view

    def trace_from_query(packed: str) -> tuple[str | None, str | None]:
        """The trace a page address carries (``?trace=``), and a note when it is damaged."""
        if not packed:
            return None, None
        try:
            return unpack_trace(packed), None
        except SimulationError as error:
            return "", f"The run in this address could not be opened: {error}."

    @app.get("/machines/{machine_id}")
    def machine_page(
        request: Request, machine_id: str, view: str = "", trace: str = ""
    ) -> Response:
        machine = library.get(machine_id)
        autosaved = library.get_draft(machine_draft_key(machine_id))
        text = autosaved.text if autosaved else library.text(machine_id)
        trace_text, note = trace_from_query(trace)
        editor = editor_context(
            text,
            check(text),
            view=view,
            trace=trace_text,
            machine_id=machine_id,
            dirty=autosaved is not None,
        )
        if note and editor["sim"] is not None:
            editor["sim"].message = note
        return pages.render(request, "machine.html", machine_page_context(editor, machine))

    @app.post("/machines/{machine_id}/save")
    async def save_machine(request: Request, machine_id: str) -> Response:
        form = await read_form(request)
        return await run_in_threadpool(save_revision, request, machine_id, form.get("yaml", ""))

    def save_revision(request: Request, machine_id: str, yaml: str) -> Response:
        machine = library.get(machine_id)
        outcome = check(yaml)
        message, saved = _save_refusal(outcome), False
        if message is None:
            try:
                revision = library.save(machine_id, yaml)
            except (TextRejected, LibraryError) as error:
                message = f"Not saved: {error} Your text is still in the editor."
            else:
                message, saved = f"Saved revision {revision.id}.", True
                library.drop_draft(machine_draft_key(machine_id))
        if not is_htmx(request) and saved:
            return _redirect(request, f"/machines/{machine_id}")
        context = machine_page_context(
            editor_context(yaml, outcome, machine_id=machine_id, dirty=not saved),
            library.get(machine_id) if saved else machine,
            save_message=message,
            saved=saved,
        )
        status = 200 if saved or is_htmx(request) else 400
        return pages.render(request, "machine.html", context, block="saved", status_code=status)

    @app.post("/machines/{machine_id}/discard")
    def discard_changes(request: Request, machine_id: str) -> Response:
        """Drop the autosaved draft: the editor shows the latest revision again."""
        library.get(machine_id)
        library.drop_draft(machine_draft_key(machine_id))
        return _redirect(request, f"/machines/{machine_id}")

    @app.post("/machines/{machine_id}/rename")
    def rename_machine(request: Request, machine_id: str, name: Annotated[str, Form()]) -> Response:
        try:
            library.rename(machine_id, name)
        except TextRejected as error:
            return error_page(request, 400, str(error))
        return _redirect(request, f"/machines/{machine_id}")

    @app.post("/machines/{machine_id}/duplicate")
    def duplicate_machine(request: Request, machine_id: str) -> Response:
        copy = library.duplicate(machine_id)
        return _redirect(request, f"/machines/{copy.id}")

    @app.get("/machines/{machine_id}/delete")
    def confirm_delete(request: Request, machine_id: str) -> Response:
        machine = library.get(machine_id)
        context = {**base_context(), "machine": machine, "title": f"Delete {machine.name}"}
        return pages.render(request, "delete.html", context, block="confirm")

    @app.post("/machines/{machine_id}/delete")
    def delete_machine(request: Request, machine_id: str) -> Response:
        machine = library.get(machine_id)
        library.delete(machine_id)
        return _redirect(request, "/?" + _query(deleted=machine.name))

    @app.get("/machines/{machine_id}/revisions/{revision_id}")
    def revision_page(request: Request, machine_id: str, revision_id: str) -> Response:
        machine = library.get(machine_id)
        revisions = library.revisions(machine_id)
        revision = next((r for r in revisions if r.id == revision_id), None)
        if revision is None:
            raise NotFound(f"Machine {machine.name!r} has no revision {revision_id!r}.")
        text = library.revision_text(revision_id)
        context = {
            **base_context(),
            "machine": machine,
            "revision": revision,
            "revisions": revisions,
            "text": text,
            "check": check(text),
            "title": f"{machine.name} revision {revision.number}",
        }
        return pages.render(request, "revision.html", context)

    @app.post("/machines/{machine_id}/revisions/{revision_id}/restore")
    def restore_revision(request: Request, machine_id: str, revision_id: str) -> Response:
        if revision_id not in {r.id for r in library.revisions(machine_id)}:
            raise NotFound(f"This machine has no revision {revision_id!r}.")
        library.save(machine_id, library.revision_text(revision_id))
        return _redirect(request, f"/machines/{machine_id}")

    @app.get("/machines/{machine_id}/diff")
    def diff_page(request: Request, machine_id: str, old: str = "", new: str = "") -> Response:
        machine = library.get(machine_id)
        revisions = library.revisions(machine_id)
        ids = [r.id for r in revisions]
        new = new or (ids[0] if ids else "")
        old = old or (ids[1] if len(ids) > 1 else new)
        for rid in (old, new):
            if rid not in ids:
                raise NotFound(f"Machine {machine.name!r} has no revision {rid!r}.")
        context = {
            **base_context(),
            "machine": machine,
            "revisions": revisions,
            "old": old,
            "new": new,
            "diff": library.diff(old, new),
            "title": f"{machine.name}: changes",
        }
        return pages.render(request, "diff.html", context, block="diff")

    # -- live checking and sharing --------------------------------------------------------

    @app.post("/validate")
    async def validate(request: Request) -> Response:
        form = await read_form(request)
        outcome = await run_in_threadpool(check, form.get("yaml", ""))
        headers: dict[str, str] = {}
        autosave = await run_in_threadpool(autosave_draft, request, form, headers)
        context = {
            "check": outcome,
            "shown_key": form.get("diagram_key", ""),
            "autosave": autosave,
        }
        return pages.render(request, "partials/check.html", context, headers=headers)

    def autosave_draft(
        request: Request, form: dict[str, str], headers: dict[str, str]
    ) -> dict[str, Any] | None:
        """Keep the posted editor text as the page's draft, so a reload finds it again.

        A saved machine's draft is dropped when the text is back to the latest revision;
        an unsaved draft moves the address to ``/drafts/<id>`` (``HX-Replace-Url``).
        Returns what the draft marker shows, or ``None`` when the page has no draft slot.
        """
        text = form.get("yaml", "")
        machine_id, draft_id = form.get("machine_id", ""), form.get("draft_id", "")
        try:
            if machine_id:
                machine = library.get(machine_id)
                key = machine_draft_key(machine_id)
                if text == library.text(machine_id):
                    library.drop_draft(key)
                    return {"dirty": False, "machine": machine, "refused": False}
                library.put_draft(key, text)
                return {"dirty": True, "machine": machine, "refused": False}
            if draft_id:
                library.put_draft(draft_key(draft_id), text, form.get("name", ""))
                current = urlsplit(request.headers.get("hx-current-url", ""))
                if current.path != f"/drafts/{draft_id}":
                    kept = {k: v for k, v in parse_qsl(current.query) if k in ("view", "trace")}
                    query = "?" + _query(**kept) if kept else ""
                    headers["HX-Replace-Url"] = f"/drafts/{draft_id}{query}"
                return {"dirty": True, "machine": None, "refused": False}
        except NotFound:
            return None
        except TextRejected:
            return {"dirty": True, "machine": None, "refused": True}
        return None

    @app.post("/share")
    async def share(request: Request) -> Response:
        form = await read_form(request)
        yaml, trace = form.get("yaml", ""), form.get("trace", "")
        context: dict[str, Any] = {"link": None, "message": None}
        try:
            steps = json.loads(trace) if trace.strip() else None
            if steps is not None and not isinstance(steps, list):
                raise ShareError("The simulation trace must be a list of steps.")
            token = encode_token(yaml, steps)
        except json.JSONDecodeError:
            context["message"] = "The simulation trace is not valid JSON."
        except TokenTooLong as error:
            context["message"] = str(error)
            context["too_long"] = True
        except ShareError as error:
            context["message"] = str(error)
        else:
            context["link"] = str(request.base_url).rstrip("/") + f"/s/{token}"
        return pages.render(request, "partials/share.html", {"too_long": False, **context})

    @app.get("/drafts/{draft_id}")
    def stored_draft(request: Request, draft_id: str, view: str = "", trace: str = "") -> Response:
        """An unsaved draft as last typed (the address its page moved to on the first edit)."""
        found = library.get_draft(draft_key(draft_id))
        if found is None:
            raise NotFound(
                "This draft is no longer kept: drafts go once they are saved to the library, "
                "and 30 days after their last edit."
            )
        trace_text, note = trace_from_query(trace)
        return draft_page(
            request,
            found.text,
            found.name or None,
            view=view,
            trace=trace_text,
            note=note,
            draft_id=draft_id,
        )

    @app.get("/examples/{slug}")
    def example_draft(request: Request, slug: str, view: str = "", trace: str = "") -> Response:
        example = find_example(slug, examples_dir)
        if example is None:
            raise StarletteHTTPException(404, f"There is no example called {slug!r}.")
        trace_text, note = trace_from_query(trace)
        return draft_page(
            request, example.text(), example.slug, view=view, trace=trace_text, note=note
        )

    @app.get("/s/{token}")
    def shared_draft(
        request: Request, token: str, imported: str = "", view: str = "", trace: str = ""
    ) -> Response:
        try:
            shared = decode_token(token)
        except ShareError as error:
            return error_page(request, 400, str(error))
        trace_text, note = trace_from_query(trace)
        if trace_text is None and shared.trace is not None:
            trace_text = json.dumps(shared.trace)
        return draft_page(
            request,
            shared.yaml,
            None,
            imported=bool(imported),
            view=view,
            trace=trace_text,
            note=note,
        )

    def draft_page(
        request: Request,
        text: str,
        name: str | None,
        *,
        imported: bool = False,
        view: str = "",
        trace: str | None = None,
        note: str | None = None,
        draft_id: str | None = None,
    ) -> Response:
        """The editor over text that is not in the library (an example, a share link).

        A new page gets a fresh ``draft_id``; nothing is stored until its text is edited.
        ``draft_id`` given means the text is that stored draft.
        """
        outcome = check(text)
        default_name = name or outcome.machine_name or "shared machine"
        editor = editor_context(
            text,
            outcome,
            view=view,
            trace=trace,
            draft_id=draft_id or new_draft_id(),
            dirty=draft_id is not None,
        )
        if note and editor["sim"] is not None:
            editor["sim"].message = note
        context = machine_page_context(editor, None, default_name, imported=imported)
        return pages.render(request, "machine.html", context)

    @app.post("/drafts/save")
    async def save_draft(request: Request) -> Response:
        form = await read_form(request)
        return await run_in_threadpool(
            save_draft_text,
            request,
            form.get("yaml", ""),
            form.get("name", ""),
            form.get("draft_id", ""),
        )

    def save_draft_text(request: Request, yaml: str, name: str, draft_id: str = "") -> Response:
        outcome = check(yaml)
        message = _save_refusal(outcome)
        if message is None:
            try:
                machine = library.create(name or outcome.machine_name or "shared machine", yaml)
            except (TextRejected, LibraryError) as error:
                message = f"Not saved: {error} Your text is still in the editor."
            else:
                if draft_id:
                    with contextlib.suppress(NotFound):
                        library.drop_draft(draft_key(draft_id))
                return _redirect(request, f"/machines/{machine.id}")
        context = machine_page_context(
            editor_context(yaml, outcome, draft_id=draft_id),
            None,
            name or "shared machine",
            save_message=message,
            title="Shared machine",
        )
        status = 200 if is_htmx(request) else 400
        return pages.render(request, "machine.html", context, block="saved", status_code=status)

    # -- the simulator --------------------------------------------------------------------

    @app.post("/simulate")
    async def simulate_route(request: Request) -> Response:
        form = await read_form(request)
        return await run_in_threadpool(simulate_step, request, form)

    def simulate_step(request: Request, form: dict[str, str]) -> Response:
        """Replay the posted trace, apply the posted action, answer with the new panel."""
        text = form["yaml"] if "yaml" in form else form.get("sim_yaml", "")
        view = simulation_view(text, form.get("trace", ""), form.get("do", ""), form)
        machine_id = form.get("machine_id", "")
        if not is_htmx(request):  # a plain form post: the whole editor page, simulating
            return simulate_page(request, text, machine_id, view)
        context = {"sim": view, "sim_yaml": text, "machine_id": machine_id}
        headers = {}
        current = request.headers.get("hx-current-url", "")
        if view.packed and current:
            path = urlsplit(current).path
            headers["HX-Replace-Url"] = f"{path}?" + _query(view="simulate", trace=view.packed)
        return pages.render(request, "partials/simulate.html", context, headers=headers)

    def simulate_page(request: Request, text: str, machine_id: str, view: SimView) -> Response:
        saved = library.get(machine_id) if machine_id else None
        editor = editor_context(text, check(text), machine_id=machine_id)
        editor.update({"view": "simulate", "sim": view})
        context = machine_page_context(editor, saved, "shared machine")
        return pages.render(request, "machine.html", context)

    @app.post("/simulate/export")
    async def simulate_export(request: Request) -> Response:
        form = await read_form(request)
        return await run_in_threadpool(export_run, request, form)

    def export_run(request: Request, form: dict[str, str]) -> Response:
        """The run as a JSON trace or a pytest file, replayed on the simulated text first."""
        text = form.get("sim_yaml", "") or form.get("yaml", "")
        fmt = form.get("format", "")
        if fmt not in ("json", "py"):
            return error_page(request, 400, f"There is no export format {fmt!r} for a run.")
        machine, problem = machine_for(text)
        if machine is None:
            return error_page(request, 400, problem)
        view = simulate(machine, form.get("trace", ""), "show", {})
        if view.message or view.divergence:
            return error_page(
                request,
                409,
                "This run cannot be exported: "
                + (view.message or view.divergence or "")
                + " Go back to the simulator and take a step first.",
            )
        from pystator.simulator import Simulation

        sim = Simulation.from_json(machine, '{"v":1,"context":{},"trace":' + view.trace + "}")
        stem = file_stem(machine.name or "machine")
        if fmt == "json":
            return _download(export_trace_json(sim), f"{stem}_run.json", "application/json")
        try:
            code = export_pytest(sim, text if "\n" in text else text + "\n", f"{stem}.yaml")
        except SimulationError as error:
            return error_page(request, 409, f"This run cannot be exported as a test: {error}")
        return _download(code, f"test_{stem}_run.py", "text/x-python")

    # -- saved revisions: read-only links and export --------------------------------------

    @app.get("/m/{revision_id}")
    def shared_revision(request: Request, revision_id: str) -> Response:
        text = library.revision_text(revision_id)
        name = library.name_for_revision(revision_id) or "shared machine"
        context = {
            **base_context(),
            "revision_id": revision_id,
            "name": name,
            "text": text,
            "check": check(text),
            "title": name,
        }
        return pages.render(request, "shared.html", context)

    @app.post("/m/{revision_id}/fork")
    def fork_revision(
        request: Request, revision_id: str, name: Annotated[str, Form()] = ""
    ) -> Response:
        text = library.revision_text(revision_id)
        fallback = library.name_for_revision(revision_id) or "shared machine"
        try:
            machine = library.create(name or fallback, text)
        except (TextRejected, LibraryError) as error:
            return error_page(request, 400, str(error))
        return _redirect(request, f"/machines/{machine.id}")

    @app.get("/m/{revision_id}/export")
    def export_page(request: Request, revision_id: str) -> Response:
        text = library.revision_text(revision_id)
        name = library.name_for_revision(revision_id) or "machine"
        filename = f"{file_stem(name)}.yaml"
        outcome = check(text)
        context = {
            **base_context(),
            "revision_id": revision_id,
            "name": name,
            "text": text,
            "check": outcome,
            "filename": filename,
            "snippet": python_snippet(filename),
            "title": f"Export {name}",
        }
        return pages.render(request, "export.html", context)

    @app.get("/m/{revision_id}/export.{fmt}")
    def export_file(revision_id: str, fmt: str) -> Response:
        text = library.revision_text(revision_id)
        stem = file_stem(library.name_for_revision(revision_id) or "machine")
        if fmt == "yaml":
            return _download(text, f"{stem}.yaml", "application/yaml")
        if fmt == "py":
            return _download(python_snippet(f"{stem}.yaml"), f"load_{stem}.py", "text/x-python")
        outcome = check(text)
        if not outcome.valid:
            raise StarletteHTTPException(
                409, "This revision is not a valid machine, so only its YAML can be exported."
            )
        if fmt == "json":
            return _download(yaml_to_json(text), f"{stem}.json", "application/json")
        if fmt == "mmd" and outcome.mermaid is not None:
            return _download(outcome.mermaid, f"{stem}.mmd", "text/plain")
        raise StarletteHTTPException(404, f"There is no export format {fmt!r}.")

    return app


async def read_form(request: Request) -> dict[str, str]:
    """The request's text fields, read with a part limit far above the machine limit.

    Starlette's default (1 MB per field) would answer a large paste with a bare 400; reading
    it here lets the route say how large the text is and what the limit is.
    """
    form = await request.form(max_part_size=MAX_BODY_BYTES)
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _save_refusal(outcome: Check) -> str | None:
    if outcome.valid:
        return None
    count = len(outcome.errors)
    noun = "problem" if count == 1 else "problems"
    return f"Not saved: fix the {count} {noun} listed first. Your text is still in the editor."


def _download(text: str, filename: str, media_type: str) -> Response:
    return PlainTextResponse(
        text,
        media_type=f"{media_type}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _query(**values: str) -> str:
    from urllib.parse import urlencode

    return urlencode(values)
