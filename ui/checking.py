"""The designer's one call into the engine: check a text, return what the page shows.

``check(text)`` loads the text with :func:`pystator.config.load_spec`, compiles it with
:class:`pystator.StateMachine`, runs the linter and draws the Mermaid diagram, and turns
all of it into plain values (findings and diagram text) that templates can loop over.
No template or route interprets engine objects itself.

Findings point into the diagram too: ``Finding.target`` is the spec element a finding's path
names (``states[2]``, ``transitions[0]``, ``states[1].timeout``) and ``Check.diagram_targets``
maps each such element of a valid machine to the Mermaid ids it was drawn with (the state's
id; every edge drawn for a transition). The page keeps the map on the last good diagram, so
clicking an error in a broken text still marks the element in the diagram still shown.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pystator.textcheck import TextRejected, check_text

if TYPE_CHECKING:
    from pystator.api import Budget
    from pystator.diagram import DiagramView, MermaidDiagram
    from pystator.errors import ConfigError

__all__ = ["Check", "Finding", "check", "findings_of"]

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
_TARGET = re.compile(r"^(?:states\[\d+\](?:\.timeout(?![A-Za-z0-9_]))?|transitions\[\d+\])")


def diagram_target(path: str) -> str:
    """The diagram element a finding's path names: ``transitions[0].dest`` -> ``transitions[0]``.

    A state's ``timeout`` is drawn as its own edge, so ``states[1].timeout.destination``
    keeps ``states[1].timeout``; paths elsewhere (``meta``, ``""``) name nothing.
    """
    found = _TARGET.match(path)
    return found.group(0) if found else ""


@dataclass(frozen=True)
class Finding:
    """One problem or lint finding, located in the text when the engine knows where."""

    severity: str
    message: str
    path: str = ""
    line: int | None = None
    column: int | None = None
    code: str = ""

    @property
    def target(self) -> str:
        """The spec element to mark in the diagram (see :func:`diagram_target`)."""
        return diagram_target(self.path)

    @property
    def where(self) -> str:
        if self.line is None:
            return ""
        return f"{self.line}:{self.column}" if self.column is not None else str(self.line)

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "code": self.code,
        }


@dataclass(frozen=True)
class Check:
    """The outcome of checking one text: valid or not, every finding, and the diagram.

    ``mermaid`` is ``None`` when the text is not a valid machine: the page then keeps the
    last good diagram on screen, marked stale. ``diagram_key`` identifies the diagram text
    so the page can skip redrawing a diagram that did not change.
    """

    valid: bool
    findings: tuple[Finding, ...] = ()
    mermaid: str | None = None
    machine_name: str | None = None
    machine: Any = field(default=None, compare=False, repr=False)
    diagram_targets: dict[str, dict[str, list[Any]]] = field(default_factory=dict, compare=False)
    diagram_regions_json: str = field(default="[]", compare=False)
    diagram_folds_json: str = field(default="[]", compare=False)

    @property
    def diagram_targets_json(self) -> str:
        """``diagram_targets`` as JSON for the page:
        ``{"states[0]": {"states": ["A"], "at": [9, 5]}}``."""
        return json.dumps(self.diagram_targets, separators=(",", ":"), sort_keys=True)

    @property
    def state_names(self) -> tuple[str, ...]:
        """Every state of a valid machine, in document order (the edit bar offers them)."""
        return tuple(self.machine.state_names) if self.machine is not None else ()

    @property
    def region_places(self) -> tuple[tuple[str, str], ...]:
        """(parallel state, region) for every region a new state can be added to."""
        if self.machine is None:
            return ()
        return tuple(
            (state.name, region.name)
            for state in self.machine.spec.states
            for region in state.regions
        )

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    @property
    def notes(self) -> tuple[Finding, ...]:
        """Findings that only inform (``info``), such as where a machine starts."""
        return tuple(f for f in self.findings if f.severity not in ("error", "warning"))

    @property
    def diagram_key(self) -> str:
        if self.mermaid is None:
            return ""
        return hashlib.sha256(self.mermaid.encode("utf-8")).hexdigest()[:16]


def _finding(issue: Any) -> Finding:
    return Finding(
        severity=str(getattr(issue, "severity", "error")),
        message=str(issue.message),
        path=str(getattr(issue, "path", "") or ""),
        line=getattr(issue, "line", None),
        column=getattr(issue, "column", None),
        code=str(getattr(issue, "code", "") or ""),
    )


def findings_of(error: ConfigError) -> tuple[Finding, ...]:
    """Every problem a ``ConfigError`` carries, as findings in the order the page lists them."""
    return _sorted([_finding(issue) for issue in error.issues])


def _sorted(findings: list[Finding]) -> tuple[Finding, ...]:
    return tuple(
        sorted(
            findings,
            key=lambda f: (_SEVERITY_ORDER.get(f.severity, 3), f.line or 0, f.column or 0),
        )
    )


def check(text: str, budget: Budget | None = None, view: DiagramView | None = None) -> Check:
    """Validate ``text`` as a machine definition and draw it when it is valid.

    ``view`` is how the reader wants the diagram drawn (direction, collapsed states).

    ``budget`` is asked between the stages (load, compile, lint, draw): once its time is
    spent, or its client has gone, the check stops with one "too large to check" finding.
    """
    from pystator.api import OverBudget

    try:
        return _check(text, budget, view)
    except OverBudget as error:
        message = (
            f"This machine is too large to check within {error.seconds:g} seconds, so it was "
            "not checked or drawn. Split it into smaller machines."
        )
        return Check(False, (Finding("error", message, code="too-large"),))


def _check(text: str, budget: Budget | None, view: DiagramView | None) -> Check:
    from pystator.config import load_spec
    from pystator.errors import ConfigError
    from pystator.machine import StateMachine

    def stage() -> None:
        if budget is not None:
            budget.check()

    try:
        check_text(text)
    except TextRejected as error:
        finding = Finding("error", str(error), "", error.line, error.column, "input")
        return Check(False, (finding,))
    if not text.strip():
        return Check(
            False, (Finding("error", "The editor is empty: write a machine.", code="empty"),)
        )
    try:
        stage()
        spec = load_spec(text)
        stage()
        machine = StateMachine.from_spec(spec)
    except ConfigError as error:
        return Check(False, findings_of(error))
    stage()
    findings = [_finding(issue) for issue in _lint(machine)]
    stage()
    drawn, targets = _mermaid(machine, view)
    return Check(
        valid=True,
        findings=_sorted(findings),
        mermaid=drawn.text,
        machine_name=str(machine.name),
        machine=machine,
        diagram_targets=targets,
        diagram_regions_json=drawn.regions_json,
        diagram_folds_json=drawn.folds_json,
    )


def _lint(machine: Any) -> list[Any]:
    from pystator.lint import lint

    return list(lint(machine.spec))


def _mermaid(
    machine: Any, view: DiagramView | None
) -> tuple[MermaidDiagram, dict[str, dict[str, list[Any]]]]:
    """The diagram (as ``to_mermaid`` draws it) and the spec-path -> Mermaid id map.

    Each entry also says where its YAML starts (``"at": [line, column]``), so a click on
    the state or edge in the diagram moves the editor there.
    """
    from pystator.diagram import DiagramView, build_graph

    graph, drawn = (view or DiagramView()).draw(build_graph(machine))
    targets: dict[str, dict[str, list[Any]]] = {}
    for i, state in enumerate(machine.spec.states):
        state_id = drawn.state_ids.get(state.name)
        if state_id is not None:
            targets[f"states[{i}]"] = {"states": [state_id], "name": state.name}
    for index, edge in enumerate(graph.edges):
        if edge.key.startswith(("transitions[", "states[")) and index in drawn.edge_ids:
            entry = targets.setdefault(edge.key, {})
            entry.setdefault("edges", []).append(drawn.edge_ids[index])
    locations = machine.spec.locations
    for path, entry in targets.items():
        where = locations.get(path)
        if where is not None:
            entry["at"] = [where.line, where.column]
    return drawn, targets
