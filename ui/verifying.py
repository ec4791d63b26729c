"""The designer's Tests tab: generated test paths with coverage, and the model checker.

``verify_view(text, mode, max_steps, max_states)`` checks the text the way the editor does
(:func:`ui.checking.check`), then asks :mod:`pystator.verify` (``paths`` for "Generate
tests", ``check`` for "Check") and turns the answer into plain values the template loops
over: coverage figures, each run's steps with its "Open in simulator" link, what stays
uncovered with the engine's reason, each violation with its counterexample. The coverage
marks on the diagram are the engine's own edges: each drawn edge carries the
``(key, source)`` the engine names a taken transition by, so the page only looks up whether
``pystator.verify`` covered it. Nothing here decides what a machine does.

The exploration is bounded three ways: moves from the start and configurations (from the
form, with defaults and limits), and wall-clock time (``VERIFY_SECONDS``), so the tab stays
responsive on any machine; when a bound cuts it short the panel says which.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pystator.diagram import build_graph, render_mermaid_diagram
from pystator.errors import ConfigError
from pystator.machine import StateMachine
from pystator.verify import DEFAULT_MAX_STATES, DEFAULT_MAX_STEPS, PathSet, Report, check, paths
from ui.checking import Check, Finding, findings_of
from ui.checking import check as check_text

__all__ = [
    "MAX_STATES_LIMIT",
    "MAX_STEPS_LIMIT",
    "VERIFY_SECONDS",
    "Bounds",
    "BoundsError",
    "RunView",
    "VerifyView",
    "ViolationView",
    "machine_of",
    "parse_bounds",
    "run_check",
    "run_paths",
    "verify_view",
]

VERIFY_SECONDS = 3.0
MAX_STEPS_LIMIT = 100
MAX_STATES_LIMIT = 100_000
MODES = ("paths", "check")


class BoundsError(ValueError):
    """A bound in the form that is not a whole number in its range (the message says so)."""


@dataclass(frozen=True)
class Bounds:
    max_steps: int = DEFAULT_MAX_STEPS
    max_states: int = DEFAULT_MAX_STATES


@dataclass(frozen=True)
class RunView:
    """One generated path or counterexample: its steps and where it opens."""

    number: int
    moves: tuple[str, ...]
    covers: tuple[str, ...] = ()
    share: str | None = None
    trace: str = "[]"


@dataclass(frozen=True)
class ViolationView:
    index: int
    code: str
    message: str
    where: str
    line: int | None
    column: int | None
    run: RunView | None


@dataclass
class VerifyView:
    """Everything the Tests panel shows (see the module docstring)."""

    mode: str = "paths"
    max_steps: str = str(DEFAULT_MAX_STEPS)
    max_states: str = str(DEFAULT_MAX_STATES)
    problem: str | None = None
    issues: tuple[Finding, ...] = ()
    ran: bool = False
    summary: str = ""
    figures: list[tuple[str, int, int]] = field(default_factory=list)
    explored: int = 0
    bound_note: str | None = None
    mermaid: str = ""
    regions_json: str = "[]"
    coverage_json: str = "{}"
    runs: list[RunView] = field(default_factory=list)
    uncovered: list[tuple[str, str, str]] = field(default_factory=list)
    ok: bool = True
    violations: list[ViolationView] = field(default_factory=list)


def parse_bounds(max_steps: str, max_states: str) -> Bounds:
    """The form's bounds: blank means the default; anything else must be a whole number
    within the limits (``BoundsError`` says which field and why)."""
    return Bounds(
        _whole(max_steps, "Max moves", DEFAULT_MAX_STEPS, MAX_STEPS_LIMIT),
        _whole(max_states, "Max configurations", DEFAULT_MAX_STATES, MAX_STATES_LIMIT),
    )


def _whole(text: str, name: str, default: int, limit: int) -> int:
    text = text.strip().replace(",", "").replace("_", "")
    if not text:
        return default
    if len(text) > 12 or not text.isdigit():
        raise BoundsError(f"{name} must be a whole number from 1 to {limit:,}; got {text[:20]!r}.")
    value = int(text)
    if not 1 <= value <= limit:
        raise BoundsError(
            f"{name} must be from 1 to {limit:,} (got {value:,}): larger bounds would keep "
            "the designer busy for minutes; use 'pystator check' or 'pystator paths' for them."
        )
    return value


def verify_view(
    text: str,
    mode: str,
    max_steps: str = "",
    max_states: str = "",
    outcome: Check | None = None,
) -> VerifyView:
    """The Tests panel for ``text``: ``mode`` is ``"paths"`` or ``"check"``; ``outcome`` is
    the editor's check of the same text when the caller has it already."""
    view = VerifyView(
        mode=mode if mode in MODES else "paths",
        max_steps=max_steps.strip()[:20] or str(DEFAULT_MAX_STEPS),
        max_states=max_states.strip()[:20] or str(DEFAULT_MAX_STATES),
    )
    try:
        bounds = parse_bounds(max_steps, max_states)
    except BoundsError as error:
        view.problem = str(error)
        return view
    machine, problem, issues = machine_of(text, outcome)
    if machine is None:
        view.problem, view.issues = problem, issues
        return view
    if view.mode == "paths":
        _paths(view, machine, text, bounds)
    else:
        try:
            report = run_check(machine, bounds)
        except ConfigError as error:
            view.problem = "The verify: section names states this machine does not have."
            view.issues = findings_of(error)
            return view
        _report(view, report, text)
    view.ran = True
    return view


def machine_of(
    text: str, outcome: Check | None = None
) -> tuple[StateMachine | None, str | None, tuple[Finding, ...]]:
    """The compiled machine, or why there is none (a sentence and the editor's findings).

    ``outcome`` is the editor's check of ``text`` when the caller has made it (with the
    designer's time budget); otherwise the text is checked here."""
    if outcome is None:
        outcome = check_text(text)
    if outcome.valid and outcome.machine is not None:
        return outcome.machine, None, ()
    count = len(outcome.errors)
    noun = "problem" if count == 1 else "problems"
    sentence = (
        f"The machine has {count} {noun} (listed beside the editor): fix them first, "
        "then generate tests or check it."
    )
    return None, sentence, outcome.errors


def _limits(bounds: Bounds) -> dict[str, Any]:
    return {
        "max_steps": bounds.max_steps,
        "max_states": bounds.max_states,
        "max_seconds": VERIFY_SECONDS,
    }


def run_paths(machine: StateMachine, bounds: Bounds) -> PathSet:
    return paths(machine, **_limits(bounds))


def run_check(machine: StateMachine, bounds: Bounds) -> Report:
    return check(machine, **_limits(bounds))


def _bound_note(explored: int, complete: bool, bound: str, cut_by: list[str]) -> str | None:
    if complete:
        return None
    why = "time" if "time" in cut_by else "bound"
    advice = (
        "give it more moves or configurations below"
        if why == "bound"
        else "the rest takes longer than the designer waits; 'pystator check' has no time bound"
    )
    return (
        f"The exploration stopped at its {why} ({bound}) after {explored:,} configurations: "
        f"what lies beyond was not looked at ({advice})."
    )


def _paths(view: VerifyView, machine: StateMachine, text: str, bounds: Bounds) -> None:
    found = run_paths(machine, bounds)
    data = found.to_dict()
    f = data["figures"]
    view.summary = found.summary()
    view.figures = [
        ("Transitions", f["transitions"]["covered"], f["transitions"]["total"]),
        ("Solvable transitions", f["solvable_transitions"]["covered"],
         f["solvable_transitions"]["total"]),
        ("States", f["states"]["covered"], f["states"]["total"]),
    ]  # fmt: skip
    if f["history"]["total"]:
        view.figures.append(("History", f["history"]["covered"], f["history"]["total"]))
    view.explored = f["explored"]
    view.bound_note = _bound_note(f["explored"], f["complete"], f["bound"], f["cut_by"])
    view.runs = [
        RunView(
            n + 1,
            tuple(entry["moves"]),
            tuple(entry["covers"]),
            run.share_path(text),
            json.dumps(run.trace(), separators=(",", ":")),
        )
        for n, (run, entry) in enumerate(zip(found.runs, data["runs"], strict=True))
    ]
    view.uncovered = [(u["label"], u["code"], u["reason"]) for u in data["uncovered"]]
    view.uncovered += [(u["item"], u["code"], u["reason"]) for u in data["uncovered_states"]]
    covered = {(c["key"], c["source"]): c["run"] + 1 for c in data["covered"]}
    missing = {(u["key"], u["source"]): u for u in data["uncovered"]}
    _diagram(view, machine, covered, missing)


def _diagram(
    view: VerifyView,
    machine: StateMachine,
    covered: dict[tuple[str, str], int],
    missing: dict[tuple[str, str], dict[str, Any]],
) -> None:
    """The diagram, and per drawn edge whether a run takes it (the engine's edge names)."""
    graph = build_graph(machine)
    drawn = render_mermaid_diagram(graph, "TB")
    marks: dict[str, dict[str, Any]] = {}
    for index, edge in enumerate(graph.edges):
        edge_id = drawn.edge_ids.get(index)
        key = (edge.key, edge.source)
        if edge_id is None:
            continue
        if key in covered:
            marks[edge_id] = {"covered": True, "tip": f"Covered by path {covered[key]}."}
        elif key in missing:
            why = missing[key]
            marks[edge_id] = {
                "covered": False,
                "tip": f"Not covered ({why['code']}): {why['reason']}.",
            }
    view.mermaid = drawn.text
    view.regions_json = drawn.regions_json
    view.coverage_json = json.dumps(marks, separators=(",", ":"), ensure_ascii=False)


def _report(view: VerifyView, report: Report, text: str) -> None:
    data = report.to_dict(text)
    view.ok = report.ok
    view.summary = report.summary()
    view.explored = data["explored"]
    view.bound_note = _bound_note(data["explored"], data["complete"], data["bound"], data["cut_by"])
    for index, (violation, entry) in enumerate(
        zip(report.violations, data["violations"], strict=True)
    ):
        run = None
        if violation.run is not None:
            run = RunView(
                index + 1,
                tuple(entry["counterexample"] or ()),
                share=entry.get("share"),
                trace=json.dumps(violation.run.trace(), separators=(",", ":")),
            )
        where = f"{violation.line}:{violation.column}" if violation.line is not None else ""
        view.violations.append(
            ViolationView(
                index,
                violation.code,
                violation.message,
                where,
                violation.line,
                violation.column,
                run,
            )
        )
