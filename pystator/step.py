"""``Step``: what one event does to one snapshot, complete and self-describing.

``StateMachine.start`` and ``StateMachine.step`` return a ``Step``. It is computed,
never performed: a host applies it. The simulator shows it and keeps its snapshot;
the orchestrator writes its snapshot, then delivers its effects (timers to a
scheduler, actions to an executor). No host recomputes anything a step says: where
the machine starts, which timers a state arms, which state owns an action.

Effects are ordered as they must be applied. For each microstep: every exited state
(innermost first) with its ``on_exit`` actions and then the cancelling of its
timers; then the transitions' own actions in the order of ``transitions:``; then
every entered state (outermost first) with its ``on_enter`` actions and then the
arming of its timers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

from pystator.errors import FSMError
from pystator.model import ActionSpec, Transition
from pystator.result import GuardEvaluation
from pystator.snapshot import Snapshot, Timer

__all__ = [
    "Assign",
    "CancelTimer",
    "Effect",
    "Log",
    "MicroStep",
    "Phase",
    "RaiseEvent",
    "Refusal",
    "RefusalCode",
    "RunAction",
    "ScheduleTimer",
    "Step",
    "TakenTransition",
]

Phase = Literal["exit", "transition", "enter"]
_NO_CONTEXT: Mapping[str, Any] = MappingProxyType({})
RefusalCode = Literal[
    "no-transition",
    "unknown-trigger",
    "guard-false",
    "terminal",
    "ignored",
    "missing-guard",
    "stale-timer",
    "livelock",
]


@dataclass(frozen=True, slots=True)
class TakenTransition:
    """A transition a step took, from the state it matched (the leaf or an ancestor).

    ``index`` is the machine's stable number for it (``machine.transition_index``);
    ``key`` is where it is written (``transitions[3]``, or ``states[1].timeout`` for
    a state's timeout): the diagram's edges carry the same key, so a host can mark
    the edge a step took without recomputing anything.
    """

    index: int
    key: str
    source: str
    transition: Transition

    @property
    def dest(self) -> str:
        return self.transition.dest

    @property
    def trigger(self) -> str:
        return self.transition.trigger

    @property
    def label(self) -> str:
        """``"OPEN -> FILLED"``."""
        return f"{self.source} -> {self.transition.dest}"

    @property
    def edge(self) -> tuple[str, str]:
        """``(key, source)``: names one edge of the diagram (a transition with several
        sources is one edge per source)."""
        return self.key, self.source


@dataclass(frozen=True, slots=True)
class RunAction:
    """Run ``action`` (with its params) in ``phase``.

    ``owner`` is the state whose ``on_exit``/``on_enter`` it belongs to, or the
    transition label (``"OPEN -> FILLED"``) for a transition's own action.
    """

    action: ActionSpec
    phase: Phase
    owner: str

    @property
    def name(self) -> str:
        return self.action.name

    @property
    def params(self) -> Mapping[str, Any]:
        return self.action.params


@dataclass(frozen=True, slots=True)
class RaiseEvent:
    """Put ``event`` on the internal queue (``{raise: EVENT}``, or a ``done.state.*`` event).

    The engine processes it within the same step, before the next external event;
    the effect is listed so a host can show it, not for the host to deliver.
    """

    event: str
    phase: Phase
    owner: str
    data: Any = None
    """What ``_event.data`` holds when it is processed (a ``<send>``'s params, an
    error's detail); ``None`` for a plain ``{raise: EVENT}``."""


@dataclass(frozen=True, slots=True)
class Assign:
    """The machine set ``location`` to ``value`` (an ``assign`` action, a ``foreach`` item).

    It is already applied: ``Step.context`` and the snapshot's ``data`` hold the
    result, and later guards of the same step read it. The effect says what changed
    and where, for a host to show or audit; no host performs it.
    """

    location: str
    value: Any
    phase: Phase
    owner: str


@dataclass(frozen=True, slots=True)
class Log:
    """A ``log`` action: ``label`` and the value of its expression, for the host to show."""

    label: str
    value: Any
    phase: Phase
    owner: str


@dataclass(frozen=True, slots=True)
class ScheduleTimer:
    """Arm ``timer``: fire its trigger at ``timer.due_ms`` unless it is cancelled first.

    A ``send`` action arms one too (``timer.send_id`` set): its event is delivered
    as an external event when due, even after the state that sent it was left.
    """

    timer: Timer


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Disarm ``timer``: the state that armed it was left, or a ``cancel`` action named it."""

    timer: Timer


Effect: TypeAlias = "RunAction | RaiseEvent | Assign | Log | ScheduleTimer | CancelTimer"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an event did nothing: a stable ``code``, a sentence, and the engine's error."""

    code: RefusalCode
    message: str
    error: FSMError | None = None


@dataclass(frozen=True, slots=True)
class MicroStep:
    """One set of transitions taken together (a step may chain several, see ``Step``).

    ``event`` is what it handled: the step's event, an internal event, or ``None``
    for eventless transitions (and for the start). An internal event that no
    transition handled is a microstep with no transitions: it is shown, not lost.
    """

    event: str | None
    transitions: tuple[TakenTransition, ...]
    exited: tuple[str, ...]
    entered: tuple[str, ...]
    effects: tuple[Effect, ...]
    internal: bool = False


@dataclass(frozen=True, slots=True)
class Step:
    """What ``event`` did: the next snapshot, what changed, and the effects to apply.

    ``event`` is ``None`` for the step that starts a machine. ``refusal`` is set when
    the event did nothing (then ``snapshot`` is the one given, minus a timer that
    fired); a non-strict machine's ignored event is a refusal with code ``ignored``
    that still counts as a ``success``. ``guards`` lists every guard evaluated, in
    order, with its outcome and what it read.

    One event may chain several microsteps (SCXML's macrostep): the event's own
    transitions, then eventless transitions and internal events until none is left.
    ``microsteps`` lists them in order; ``exited``, ``entered``, ``transitions`` and
    ``effects`` are theirs concatenated. A chain that never settles is refused as a
    whole (code ``livelock``), naming the loop.
    """

    event: str | None
    snapshot: Snapshot
    exited: tuple[str, ...] = ()
    entered: tuple[str, ...] = ()
    transitions: tuple[TakenTransition, ...] = ()
    guards: tuple[GuardEvaluation, ...] = ()
    effects: tuple[Effect, ...] = ()
    refusal: Refusal | None = None
    microsteps: tuple[MicroStep, ...] = ()
    timer: Timer | None = None
    context: Mapping[str, Any] = field(default_factory=lambda: _NO_CONTEXT)
    """The context after the step: the one given, with what the machine assigned
    (``assign`` actions, ``foreach`` variables) applied; a step that did nothing
    leaves it as given. ``snapshot.data`` keeps the machine's own variables for the
    next step; a host that shows or stores a context (the simulator) follows this."""

    @property
    def success(self) -> bool:
        return self.refusal is None or self.refusal.code == "ignored"

    @property
    def moved(self) -> bool:
        """True when a transition was taken (even a self-transition that exits nothing)."""
        return bool(self.transitions)

    @property
    def configuration(self) -> frozenset[str]:
        return self.snapshot.configuration

    @property
    def actions(self) -> tuple[RunAction, ...]:
        """The actions to run, in order."""
        return tuple(e for e in self.effects if isinstance(e, RunAction))

    @property
    def assignments(self) -> tuple[Assign, ...]:
        """What the machine assigned, in order (already applied to ``context``)."""
        return tuple(e for e in self.effects if isinstance(e, Assign))

    @property
    def logs(self) -> tuple[Log, ...]:
        return tuple(e for e in self.effects if isinstance(e, Log))

    @property
    def timers_armed(self) -> tuple[Timer, ...]:
        return tuple(e.timer for e in self.effects if isinstance(e, ScheduleTimer))

    @property
    def timers_cancelled(self) -> tuple[Timer, ...]:
        return tuple(e.timer for e in self.effects if isinstance(e, CancelTimer))

    @property
    def error(self) -> FSMError | None:
        return self.refusal.error if self.refusal is not None else None
