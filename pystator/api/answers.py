"""What the REST API's routes share: how a refusal, a library error or an invalid machine
becomes a JSON answer, and the settings the routes are built with.

A helper that cannot go on raises :class:`Refused` carrying the response; :func:`answer`
turns it (and the library's errors) into that response, so a route reads as the happy path.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from fastapi.responses import Response

from pystator.api.bodies import json_error as error_response
from pystator.api.work import Budget, OverBudget
from pystator.errors import ConfigError
from pystator.library import Library, LibraryError, Machine, NotFound
from pystator.machine import StateMachine
from pystator.textcheck import MAX_TEXT_BYTES, TextRejected, check_text, clean_name

__all__ = [
    "Refused",
    "RouteSettings",
    "answer",
    "checked_name",
    "compile_text",
    "inspect_text",
    "issue_json",
    "machine_json",
]


@dataclass(frozen=True)
class RouteSettings:
    """What every group of routes is built with: the library (a callable, so an app can open
    it lazily), the time budget for checking one machine, and the dependencies that guard
    the routes that write (same origin, JSON bodies)."""

    library: Callable[[], Library]
    check_seconds: float
    guard: Sequence[Any]


class Refused(Exception):
    """Carries the error response out of a helper; the route returns it."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


def issue_json(issue: Any, severity: str | None = None) -> dict[str, Any]:
    return {
        "severity": severity or str(getattr(issue, "severity", "error")),
        "message": str(issue.message),
        "path": str(getattr(issue, "path", "") or ""),
        "line": getattr(issue, "line", None),
        "column": getattr(issue, "column", None),
        "code": str(getattr(issue, "code", "") or ""),
    }


def _plain_issue(
    message: str, code: str, line: int | None = None, column: int | None = None
) -> dict[str, Any]:
    return {
        "severity": "error",
        "message": message,
        "path": "",
        "line": line,
        "column": column,
        "code": code,
    }


def _too_large_issue(error: OverBudget) -> dict[str, Any]:
    return _plain_issue(
        f"This machine is too large to check within {error.seconds:g} seconds; split it "
        "into smaller machines.",
        "too-large",
    )


def inspect_text(text: str, budget: Budget) -> tuple[StateMachine | None, list[dict[str, Any]]]:
    """Compile ``text``; return the machine (or None) and every error and lint warning.

    Text over the size limit raises Refused(413): the caller sent too much, not a bad machine.
    ``budget`` is asked between stages; a spent one gives a "too large to check" issue.
    """
    from pystator.lint import lint

    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_TEXT_BYTES:
        raise Refused(
            error_response(
                413, f"The machine text is {size:,} bytes; the limit is {MAX_TEXT_BYTES:,}."
            )
        )
    try:
        check_text(text)
    except TextRejected as error:
        return None, [_plain_issue(str(error), "input", error.line, error.column)]
    if not text.strip():
        return None, [_plain_issue("The text is empty: give a machine definition.", "empty")]
    try:
        budget.check()
        spec = _load(text)
        budget.check()
        machine = StateMachine.from_spec(spec)
        budget.check()
        findings = lint(machine.spec)
    except ConfigError as error:
        return None, [issue_json(issue, "error") for issue in error.issues]
    except OverBudget as error:
        return None, [_too_large_issue(error)]
    return machine, [issue_json(finding, "warning") for finding in findings]


def _load(text: str) -> Any:
    from pystator.config import load_spec

    return load_spec(text)


def compile_text(text: str, budget: Budget) -> StateMachine:
    machine, issues = inspect_text(text, budget)
    if machine is None:
        raise Refused(error_response(422, "The machine is not valid.", issues))
    return machine


def machine_json(machine: Machine) -> dict[str, Any]:
    return asdict(machine)


def checked_name(name: str) -> str:
    try:
        return clean_name(name)
    except TextRejected as error:
        raise Refused(error_response(422, str(error))) from None


def answer(route: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the refusals and library errors a route raises into JSON answers."""

    @functools.wraps(route)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return route(*args, **kwargs)
        except Refused as refused:
            return refused.response
        except NotFound as error:
            return error_response(404, str(error))
        except (LibraryError, TextRejected) as error:
            return error_response(422, str(error))

    return wrapped
