"""The simulator panel: each step posts the machine text and the run, and gets the panel.

The server keeps no simulation: the form carries the text and the trace, the engine replays
them (see :mod:`ui.simulating`), and the answer is the new panel (htmx) or the whole editor
page, simulating (a form sent without JavaScript).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from pystator.limits import MAX_INT_DIGITS, long_number
from pystator.simulator import Simulation, SimulationError, export_pytest, export_trace_json
from ui.designer import Designer, DesignerDep, download
from ui.exports import file_stem
from ui.forms import Fields, FormDep, machine_text, query
from ui.machine_page import editor_page, simulation_view
from ui.rendering import is_htmx
from ui.simulating import SimView, machine_for, simulate

__all__ = ["router"]

router = APIRouter()


@router.post("/simulate")
def simulate_step(request: Request, designer: DesignerDep, form: FormDep) -> Response:
    """Replay the posted trace, apply the posted action, answer with the new panel."""
    text, machine_id = machine_text(form), form.get("machine_id", "")
    view = simulation_view(
        text, form.get("trace", ""), _action(form), form, children=designer.machine_text_named
    )
    if not is_htmx(request):  # a plain form post: the whole editor page, simulating
        return _simulate_page(request, designer, text, machine_id, view)
    headers = {}
    current = request.headers.get("hx-current-url", "")
    if view.packed and current:
        path = urlsplit(current).path
        headers["HX-Replace-Url"] = f"{path}?" + query(view="simulate", trace=view.packed)
    context = {"sim": view, "sim_yaml": text, "machine_id": machine_id}
    return designer.render(request, "partials/simulate.html", context, headers=headers)


def _action(form: Fields) -> str:
    """The button's ``do`` value; numbers in it (``jump:<step>``, a clock time) are bounded."""
    for name in ("do", "to"):
        if long_number(form.get(name, "")):
            raise StarletteHTTPException(
                400, f"The simulator takes numbers of at most {MAX_INT_DIGITS} digits."
            )
    return form.get("do", "")


def _simulate_page(
    request: Request, designer: Designer, text: str, machine_id: str, view: SimView
) -> Response:
    return editor_page(request, designer, text, machine_id, "simulate", sim=view)


@router.post("/simulate/export")
def export_run(request: Request, designer: DesignerDep, form: FormDep) -> Response:
    """The run as a JSON trace or a pytest file, replayed on the simulated text first."""
    text, fmt = machine_text(form), form.get("format", "")
    if fmt not in ("json", "py"):
        return designer.error_page(request, 400, f"There is no export format {fmt!r} for a run.")
    machine, problem = machine_for(text, designer.machine_text_named)
    if machine is None:
        return designer.error_page(request, 400, problem)
    view = simulate(machine, form.get("trace", ""), "show", {})
    if view.message or view.divergence:
        return designer.error_page(
            request,
            409,
            "This run cannot be exported: "
            + (view.message or view.divergence or "")
            + " Go back to the simulator and take a step first.",
        )
    sim = Simulation.from_json(machine, '{"v":1,"context":{},"trace":' + view.trace + "}")
    stem = file_stem(machine.name or "machine")
    if fmt == "json":
        return download(export_trace_json(sim), f"{stem}_run.json", "application/json")
    try:
        code = export_pytest(sim, text if "\n" in text else text + "\n", f"{stem}.yaml")
    except SimulationError as error:
        return designer.error_page(request, 409, f"This run cannot be exported as a test: {error}")
    return download(code, f"test_{stem}_run.py", "text/x-python")
