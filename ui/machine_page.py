"""What the machine page (``machine.html``) shows: the editor, the check, the simulator.

The editor page is reached from many routes (a saved machine, a draft, an example, a share
link, a refused save, a simulator step sent without JavaScript). They all build its values
here, so the page cannot show different things depending on how it was opened.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from pystator.library import Machine
from pystator.simulator import SimulationError
from ui.checking import Check, check
from ui.designer import Designer
from ui.simulating import ChildText, SimView, machine_for, simulate, unpack_trace
from ui.verifying import verify_view

__all__ = [
    "editor_context",
    "editor_page",
    "machine_page_context",
    "save_refusal",
    "simulation_view",
    "trace_from_query",
]


def editor_context(
    text: str,
    outcome: Check,
    *,
    view: str = "",
    trace: str | None = None,
    machine_id: str = "",
    draft_id: str = "",
    dirty: bool = False,
    note: str | None = None,
    base: str = "",
    children: ChildText | None = None,
) -> dict[str, Any]:
    """The editor's values; ``view="simulate"`` (or a trace) opens the simulator,
    ``view="tests"`` the Tests tab with generated tests.

    ``draft_id`` names an unsaved draft's autosave row; ``dirty`` is true when the text
    shown is an autosaved draft rather than the machine's current revision; ``base`` is the
    revision the text was edited from (a save sends it back). ``note`` is a sentence for the
    simulator panel (a damaged run in the address).
    """
    simulating = view == "simulate" or trace is not None
    sim: SimView | None = None
    if simulating:
        sim = simulation_view(text, trace or "", "show", {}, children=children)
        if note:
            sim.message = note
    tests = view == "tests" and not simulating
    return {
        "text": text,
        "check": outcome,
        "save_message": None,
        "saved": False,
        "view": "simulate" if simulating else ("tests" if tests else "diagram"),
        "sim": sim,
        "verify": verify_view(text, "paths", outcome=outcome) if tests else None,
        "sim_yaml": text,
        "machine_id": machine_id,
        "draft_id": draft_id,
        "dirty": dirty,
        "draft_refused": False,
        "base": base,
        "conflict": None,
    }


def machine_page_context(
    designer: Designer,
    editor: dict[str, Any],
    machine: Machine | None,
    name: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """The editor, plus a saved machine and its revisions, or, for text not in the library
    (``machine`` None), a draft with its name."""
    if machine is not None:
        page: dict[str, Any] = {
            "machine": machine,
            "revisions": designer.library.revisions(machine.id),
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
    return {**editor, **page, **extra}


def simulation_view(
    text: str,
    trace: str,
    do: str,
    fields: dict[str, str],
    note: str | None = None,
    children: ChildText | None = None,
) -> SimView:
    """The simulator panel for ``text`` after replaying ``trace`` and applying ``do``
    (``children`` finds the machines it invokes)."""
    machine, problem = machine_for(text, children)
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


def save_refusal(outcome: Check) -> str | None:
    """Why a text is not saved (it has errors), or None when it may be."""
    if outcome.valid:
        return None
    count = len(outcome.errors)
    noun = "problem" if count == 1 else "problems"
    return f"Not saved: fix the {count} {noun} listed first. Your text is still in the editor."


def editor_page(
    request: Request,
    designer: Designer,
    text: str,
    machine_id: str,
    view: str,
    outcome: Check | None = None,
    **panel: Any,
) -> Response:
    """The whole editor page with one panel open (``view``, its values in ``panel``): what
    a panel's route answers a plain form post (no htmx), the simulator's and the Tests tab's."""
    saved = designer.library.get(machine_id) if machine_id else None
    if outcome is None:
        outcome = check(text, designer.budget())
    editor = editor_context(text, outcome, machine_id=machine_id)
    editor.update(view=view, **panel)
    context = machine_page_context(designer, editor, saved, "shared machine")
    return designer.render(request, "machine.html", context)
