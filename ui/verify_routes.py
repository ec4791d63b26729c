"""The Tests tab: "Generate tests" and "Check" on the editor's text, and their downloads.

``POST /verify`` answers with the panel (htmx swaps ``#verify``), or, for a form sent
without JavaScript, the whole editor page with the Tests tab open. ``POST /verify/export``
gives one generated path as a pytest file (it passes: it replays the run) or one
violation's counterexample as a failing pytest file. Both recompute what they show from
the posted text and bounds (exploration is deterministic), so the server keeps nothing.
Every problem (a machine with errors, a bound out of range, a ``verify:`` section naming
unknown states) is a sentence in the panel or a 400 page, never a 500.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pystator.errors import ConfigError
from ui.checking import check
from ui.designer import DesignerDep, download
from ui.exports import file_stem
from ui.forms import FormDep, machine_text
from ui.machine_page import editor_page
from ui.rendering import is_htmx
from ui.verifying import BoundsError, machine_of, parse_bounds, run_check, run_paths, verify_view

__all__ = ["router"]

router = APIRouter()


@router.post("/verify")
def verify(request: Request, designer: DesignerDep, form: FormDep) -> Response:
    """Generate tests (``do=paths``) or check (``do=check``) the posted machine."""
    text, machine_id = machine_text(form), form.get("machine_id", "")
    # a button says what to run; the tab, reopened, runs what the panel last showed
    mode = form.get("do") or form.get("mode", "paths")
    outcome = check(text, designer.budget())
    bounds = form.get("max_steps", ""), form.get("max_states", "")
    view = verify_view(text, mode, *bounds, outcome=outcome)
    if is_htmx(request):
        context = {"verify": view, "verify_yaml": text, "machine_id": machine_id}
        return designer.render(request, "partials/verify.html", context)
    return editor_page(request, designer, text, machine_id, "tests", outcome=outcome, verify=view)


@router.post("/verify/export")
def export(request: Request, designer: DesignerDep, form: FormDep) -> Response:
    """Path ``index`` as a passing pytest file, or violation ``index`` as a failing one."""
    text, kind = machine_text(form), form.get("do", "")
    if kind not in ("paths", "check"):
        return designer.error_page(request, 400, f"There is nothing to export for {kind!r}.")
    try:
        bounds = parse_bounds(form.get("max_steps", ""), form.get("max_states", ""))
        index = int(form.get("index", "")) if form.get("index", "").isdigit() else -1
    except BoundsError as error:
        return designer.error_page(request, 400, str(error))
    machine, problem, _issues = machine_of(text, check(text, designer.budget()))
    if machine is None:
        return designer.error_page(request, 400, problem or "This is not a machine.")
    stem = file_stem(machine.name or "machine")
    source = text if text.endswith("\n") else text + "\n"
    if kind == "paths":
        runs = run_paths(machine, bounds).runs
        if not 0 <= index < len(runs):
            return _gone(request, designer, "path")
        code = runs[index].pytest(source, f"{stem}.yaml")
        return download(code, f"test_{stem}_path_{index + 1:02d}.py", "text/x-python")
    try:
        violations = run_check(machine, bounds).violations
    except ConfigError as error:
        return designer.error_page(request, 400, f"The verify: section is not valid: {error}")
    found = violations[index] if 0 <= index < len(violations) else None
    failing = found.pytest(source, f"{stem}.yaml") if found is not None else None
    if found is None or failing is None:
        return _gone(request, designer, "counterexample")
    name = found.code.replace("-", "_")
    return download(failing, f"test_{stem}_{name}_{index + 1:02d}.py", "text/x-python")


def _gone(request: Request, designer: DesignerDep, what: str) -> Response:
    return designer.error_page(
        request,
        409,
        f"That {what} is not in the results for this text any more (the machine or the "
        "bounds changed): run it again in the Tests tab, then download.",
    )
