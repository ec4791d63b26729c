"""The one error tree of pystator.

::

    PystatorError
    ├── ConfigError                 a machine definition is invalid (holds every Issue)
    └── FSMError                    something about processing an event
        ├── UndefinedStateError     a state name the machine does not know
        ├── InvalidTransitionError  the event cannot move the machine from here
        │   ├── UndefinedTriggerError   no transition anywhere uses this trigger
        │   ├── GuardRejectedError      candidates exist, every one was rejected by a guard
        │   └── TerminalStateError      the machine is in a terminal state
        └── GuardNotFoundError      a named guard is used but was never registered

Errors carry their context as attributes (state, trigger, guard, issues) as well as
in the message, so faces (CLI, API, designer) can render them without parsing text.
A transition that cannot happen is *returned* inside a ``TransitionResult``; only
programming errors such as an unknown state name are raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "ConfigError",
    "FSMError",
    "GuardNotFoundError",
    "GuardRejectedError",
    "InvalidTransitionError",
    "Issue",
    "PystatorError",
    "TerminalStateError",
    "UndefinedStateError",
    "UndefinedTriggerError",
]

Severity = Literal["error", "warning", "info"]


class PystatorError(Exception):
    """Root of every error pystator raises or returns."""


@dataclass(frozen=True)
class Issue:
    """One located problem in a machine definition.

    ``line`` and ``column`` are 1-based and point into the source text; they are
    ``None`` when the machine came from a dict with no source text.
    """

    message: str
    path: str = ""
    line: int | None = None
    column: int | None = None
    code: str = "invalid"
    severity: Severity = "error"
    source: str | None = None

    @property
    def location(self) -> str:
        """``file:line:col`` (or the parts of it that are known)."""
        parts = [self.source] if self.source else []
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        where = self.location
        head = f"{where}: " if where else ""
        path = f"{self.path}: " if self.path else ""
        return f"{head}{path}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "column": self.column,
        }


class ConfigError(PystatorError, ValueError):
    """A machine definition has one or more problems; ``issues`` lists all of them."""

    def __init__(self, issues: list[Issue] | tuple[Issue, ...]) -> None:
        self.issues: tuple[Issue, ...] = tuple(issues)
        count = len(self.issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"invalid state machine ({count} {noun}):\n{lines}")


class FSMError(PystatorError):
    """Base for errors about processing an event; ``context`` holds the details."""

    def __init__(self, message: str, context: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.context: dict[str, Any] = dict(context or {})

    def to_dict(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "message": self.message, **self.context}


class UndefinedStateError(FSMError):
    """A state name that the machine does not define."""

    def __init__(self, state: str, known: list[str] | None = None) -> None:
        hint = ""
        if known:
            from pystator._text import did_you_mean

            hint = did_you_mean(state, known)
        super().__init__(f"state {state!r} is not defined{hint}", {"state": state})
        self.state = state


class InvalidTransitionError(FSMError):
    """The event cannot move the machine from its current configuration."""

    def __init__(
        self,
        message: str,
        current_state: str = "",
        trigger: str = "",
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            message, {"current_state": current_state, "trigger": trigger, **(context or {})}
        )
        self.current_state = current_state
        self.trigger = trigger


class UndefinedTriggerError(InvalidTransitionError):
    """No transition in the whole machine uses this trigger."""


class TerminalStateError(InvalidTransitionError):
    """Terminal states accept no event."""


@dataclass(frozen=True)
class _Rejection:
    transition: str
    guard: str
    detail: str


class GuardRejectedError(InvalidTransitionError):
    """Candidate transitions exist but a guard rejected each of them.

    ``rejections`` lists, per candidate, the first guard that was false and why.
    """

    def __init__(
        self,
        current_state: str,
        trigger: str,
        rejections: list[tuple[str, str, str]],
    ) -> None:
        parts = [f"{guard} ({detail})" if detail else guard for _, guard, detail in rejections]
        message = (
            f"no transition for {trigger!r} from {current_state!r}: "
            f"guard {'; '.join(parts)} is false"
            if len(parts) == 1
            else f"no transition for {trigger!r} from {current_state!r}: guards false: "
            + "; ".join(parts)
        )
        super().__init__(
            message,
            current_state,
            trigger,
            {"rejections": [{"transition": t, "guard": g, "detail": d} for t, g, d in rejections]},
        )
        self.rejections = tuple(_Rejection(t, g, d) for t, g, d in rejections)
        self.guard = rejections[0][1] if rejections else ""


class GuardNotFoundError(FSMError):
    """A transition uses a named guard that no bound registry provides."""

    def __init__(self, guard: str) -> None:
        super().__init__(
            f"guard {guard!r} is not registered: register it in a GuardRegistry "
            "and call machine.bind_guards(registry)",
            {"guard": guard},
        )
        self.guard = guard
