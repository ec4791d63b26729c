"""The plain values a simulation is read through: steps, timers, actions, guard checks.

A ``Step`` is what one input did (send an event, fire a timer, move the clock, fix
a guard, edit the context), written down once when the input is replayed through
the engine: for an event or a timer, it is the engine's own ``pystator.Step``
recorded with the simulator's clock and the person's choices. ``Timer`` is the
engine's pending timer. The designer's log, the action log, the exported test and the CLI all
read these same values, so they can never disagree about what happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pystator.durations import format_duration
from pystator.errors import PystatorError
from pystator.model import ActionSpec
from pystator.snapshot import Timer
from pystator.step import MicroStep, Phase, RefusalCode

__all__ = [
    "ContextChange",
    "Divergence",
    "EnabledEvent",
    "ExecutedAction",
    "GuardCheck",
    "GuardSource",
    "Phase",
    "ReasonCode",
    "SimulationError",
    "Step",
    "StepKind",
    "Timer",
]

StepKind = Literal["start", "event", "timer", "advance", "guard", "context"]
GuardSource = Literal["expr", "registry", "set_guard", "choice", "timer"]
"""Who decided a guard: its expression, a bound registry function, ``set_guard``,
the person's choice for this event (``via``), or a timer taking its own transition."""
ReasonCode = RefusalCode
"""Why an event did nothing: the engine's ``Refusal.code``."""


class SimulationError(PystatorError, ValueError):
    """A simulation input that cannot be applied; the message says why and what to do.

    A ``PystatorError`` (so the CLI and the designer report it like any engine
    error) and a ``ValueError`` (it is always about a bad input).
    """


@dataclass(frozen=True, slots=True)
class ExecutedAction:
    """One action the step would run, in execution order (exit, transition, enter).

    ``owner`` is the state whose ``on_exit``/``on_enter`` it belongs to, or the
    transition label (``"OPEN -> FILLED"``) for a transition's own action.
    """

    step: int
    phase: Phase
    owner: str
    spec: ActionSpec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def params(self) -> Mapping[str, Any]:
        return self.spec.params


@dataclass(frozen=True, slots=True)
class GuardCheck:
    """One guard as the engine asked for it, with what decided it and what it read.

    ``detail`` renders an ``expr`` guard's values (``"80 >= 100"``) or says how a
    named guard was decided (``"chosen with via=3"``, ``"fixed with set_guard"``).
    """

    guard: str
    passed: bool
    detail: str
    decided_by: GuardSource
    transition: str

    @property
    def is_named(self) -> bool:
        return self.decided_by != "expr"


@dataclass(frozen=True, slots=True)
class ContextChange:
    """One key of a context edit; ``change`` says whether it was added, removed or changed."""

    key: str
    before: Any
    after: Any
    change: Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class Step:
    """What one input did; ``reason`` says why nothing happened when nothing did.

    ``configuration``/``state``/``clock_ms`` are as they stand *after* the step.
    ``success`` is the engine's verdict for ``event``/``timer`` steps (a non-strict
    machine ignoring an event succeeds with ``reason_code == "ignored"``); it is
    ``True`` for the other kinds. ``transitions`` labels what was taken
    (``"source -> dest"``); ``taken`` names the same transitions for tools: each one's
    index among the machine's transitions (state timeouts follow the written ones)
    and the state it matched from.
    """

    index: int
    kind: StepKind
    clock_ms: int
    configuration: frozenset[str]
    state: str
    event: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)
    via: int | None = None
    timer: Timer | None = None
    success: bool = True
    exited: tuple[str, ...] = ()
    entered: tuple[str, ...] = ()
    transitions: tuple[str, ...] = ()
    taken: tuple[tuple[int, str], ...] = ()
    actions: tuple[ExecutedAction, ...] = ()
    timers_armed: tuple[Timer, ...] = ()
    timers_cancelled: tuple[Timer, ...] = ()
    guards: tuple[GuardCheck, ...] = ()
    guard_name: str | None = None
    guard_outcome: bool | None = None
    context_changes: tuple[ContextChange, ...] = ()
    timers_fired: int = 0
    reason: str | None = None
    reason_code: ReasonCode | None = None
    microsteps: tuple[MicroStep, ...] = ()

    @property
    def chain(self) -> tuple[str, ...]:
        """When the event chained several microsteps, one line per microstep (else none).

        ``"eventless: checking -> approved"``, ``"internal ping: B -> C"``, or for an
        internal event nothing handled ``"internal left_a: nothing handles it"``.
        """
        if len(self.microsteps) < 2:
            return ()
        out: list[str] = []
        for m in self.microsteps:
            what = ", ".join(t.label for t in m.transitions) or "nothing handles it"
            if m.event is None:
                head = "start" if self.kind == "start" and not out else "eventless"
            elif m.internal:
                head = f"internal {m.event}"
            else:
                head = str(m.event)
            out.append(f"{head}: {what}" if m.transitions or m.event else head)
        return tuple(out)

    @property
    def moved(self) -> bool:
        """True when a transition fired (even a self-transition that exits nothing)."""
        return bool(self.transitions)

    @property
    def summary(self) -> str:
        """One line for logs: what the input was and where it led."""
        if self.kind == "start":
            return f"start in {self.state}"
        if self.kind == "advance":
            return f"clock -> {format_duration(self.clock_ms)} ({self.timers_fired} timer(s) fired)"
        if self.kind == "guard":
            value = "unset" if self.guard_outcome is None else str(self.guard_outcome).lower()
            return f"guard {self.guard_name} = {value}"
        if self.kind == "context":
            keys = ", ".join(c.key for c in self.context_changes) or "no change"
            return f"context edited ({keys})"
        head = f"timer {self.event}" if self.kind == "timer" else str(self.event)
        if self.reason is not None:
            return f"{head}: {self.reason}"
        return f"{head}: {', '.join(self.transitions)}"


@dataclass(frozen=True, slots=True)
class EnabledEvent:
    """An event that would do something now, and where it would go.

    ``via`` is what to pass to ``Simulation.send`` to take this choice (``None``
    when the event needs no choice); ``assumes`` lists the unset named guards
    that this choice takes as true. ``edges`` names the diagram edges the choice
    takes (each ``TakenTransition.edge``: key and matched source).
    """

    event: str
    state: str
    transitions: tuple[str, ...]
    dests: tuple[str, ...]
    via: int | None = None
    assumes: tuple[str, ...] = ()
    timer: bool = False
    edges: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        """``"execution_report -> FILLED [is_full_fill]"``."""
        guards = f" [{', '.join(self.assumes)}]" if self.assumes else ""
        return f"{self.event} -> {', '.join(self.dests)}{guards}"


@dataclass(frozen=True, slots=True)
class Divergence:
    """Where a saved trace stopped applying to the machine it was replayed on."""

    step_index: int
    input_index: int
    explanation: str

    def __str__(self) -> str:
        return f"step {self.step_index}: {self.explanation}"
