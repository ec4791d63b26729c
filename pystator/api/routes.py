"""The REST API's routes, request models and JSON error answers.

Every mistake a caller can make (bad JSON, a missing field, an invalid machine, an unknown
state or machine id, an oversized body) is answered with a 4xx and the JSON
``{"error": {"status", "message", "issues"?}}``; only a bug in pystator gives a 500.

Writes are refused when a browser says another site sent them, and accept only
``application/json`` (see :mod:`pystator.api.guard`). Checking a machine has a time budget
and stops when the client disconnects (see :mod:`pystator.api.work`).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pystator import __version__
from pystator.api.bodies import MAX_REQUEST_BYTES, json_error
from pystator.api.guard import SAFE_METHODS, cross_site_problem
from pystator.api.work import CHECK_SECONDS, Budget, OverBudget, run_in_budget
from pystator.errors import ConfigError, PystatorError
from pystator.library import Library, LibraryError, Machine, NotFound
from pystator.machine import StateMachine
from pystator.textcheck import MAX_TEXT_BYTES, TextRejected, check_text, clean_name

__all__ = [
    "MAX_REQUEST_BYTES",
    "create_router",
    "error_response",
    "validation_error_response",
]

error_response = json_error


def validation_error_response(error: RequestValidationError) -> Response:
    """A 422 naming each bad field and what is wrong with it, in words."""
    issues = []
    for problem in error.errors():
        location = [str(part) for part in problem.get("loc", ()) if part != "body"]
        field = ".".join(location) or "body"
        message = str(problem.get("msg", "invalid"))
        if problem.get("type") == "json_invalid":
            message = "The body is not valid JSON."
        issues.append({"severity": "error", "message": f"{field}: {message}", "path": field})
    summary = "; ".join(issue["message"] for issue in issues) or "The request is invalid."
    return error_response(422, f"The request body is invalid: {summary}", issues)


# -- request bodies --------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ValidateRequest(_Body):
    yaml: str = Field(description="The machine definition, YAML or JSON text.")


class ProcessRequest(_Body):
    yaml: str | None = Field(None, description="A machine definition (or give machine_id).")
    machine_id: str | None = Field(None, description="A machine in the library (or give yaml).")
    state: str = Field(description='The current state: a leaf name or "par:region=leaf,...".')
    event: str = Field(description="The trigger to process.")
    context: dict[str, Any] = Field(default_factory=dict, description="Guard context values.")

    @model_validator(mode="after")
    def _one_machine(self) -> ProcessRequest:
        if (self.yaml is None) == (self.machine_id is None):
            raise ValueError("give exactly one of 'yaml' or 'machine_id'")
        return self


class MachineCreate(_Body):
    name: str = Field(description="A name for the new machine.")
    yaml: str = Field(description="Its first revision.")


class MachineUpdate(_Body):
    yaml: str = Field(description="The new revision's text.")
    name: str | None = Field(None, description="A new name, if it changes.")
    base_revision: str | None = Field(
        None,
        description=(
            "The revision the text was edited from. If the machine was saved since, the text "
            "is kept as a new revision that is not made current, and the answer is 409."
        ),
    )


# -- helpers ---------------------------------------------------------------------------------


class _Refused(Exception):
    """Carries the error response out of a helper; the route returns it."""

    def __init__(self, response: Response) -> None:
        super().__init__()
        self.response = response


def _issue(issue: Any, severity: str | None = None) -> dict[str, Any]:
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


def _inspect(text: str, budget: Budget) -> tuple[StateMachine | None, list[dict[str, Any]]]:
    """Compile ``text``; return the machine (or None) and every error and lint warning.

    Text over the size limit raises _Refused(413): the caller sent too much, not a bad machine.
    ``budget`` is asked between stages; a spent one gives a "too large to check" issue.
    """
    from pystator.lint import lint

    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_TEXT_BYTES:
        raise _Refused(
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
        return None, [_issue(issue, "error") for issue in error.issues]
    except OverBudget as error:
        return None, [_too_large_issue(error)]
    return machine, [_issue(finding, "warning") for finding in findings]


def _load(text: str) -> Any:
    from pystator.config import load_spec

    return load_spec(text)


def _compile(text: str, budget: Budget) -> StateMachine:
    machine, issues = _inspect(text, budget)
    if machine is None:
        raise _Refused(error_response(422, "The machine is not valid.", issues))
    return machine


def _machine_json(machine: Machine) -> dict[str, Any]:
    return asdict(machine)


def _name(name: str) -> str:
    try:
        return clean_name(name)
    except TextRejected as error:
        raise _Refused(error_response(422, str(error))) from None


# -- routes ----------------------------------------------------------------------------------


def create_router(
    library: Library | Callable[[], Library],
    *,
    allowed_origins: Iterable[str] = (),
    check_seconds: float = CHECK_SECONDS,
) -> APIRouter:
    """``/health``, ``/docs`` and ``/api/v1/...`` over ``library``.

    ``library`` may be a callable returning the library, so an app can open it lazily.
    ``allowed_origins`` are the other origins whose pages may write (with CORS set up by
    :class:`~pystator.api.guard.ApiCors`); ``check_seconds`` bounds checking one machine.
    """
    get_library: Callable[[], Library] = library if callable(library) else (lambda: library)
    trusted = tuple(allowed_origins)

    def same_origin_json(request: Request) -> None:
        """Writes come from our own origin (or a trusted one) and carry JSON."""
        if request.method in SAFE_METHODS:
            return
        problem = cross_site_problem(request, trusted)
        if problem is not None:
            raise HTTPException(403, f"This request was refused because {problem}.")
        kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if request.method != "DELETE" and kind != "application/json":
            raise HTTPException(
                415, f"The body must be sent as application/json, not {kind or 'nothing'}."
            )

    router = APIRouter()
    guarded = APIRouter(dependencies=[Depends(same_origin_json)])

    def answer(route: Callable[..., Any]) -> Callable[..., Any]:
        """Turn the refusals and library errors a route raises into JSON answers."""
        import functools

        @functools.wraps(route)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                return route(*args, **kwargs)
            except _Refused as refused:
                return refused.response
            except NotFound as error:
                return error_response(404, str(error))
            except (LibraryError, TextRejected) as error:
                return error_response(422, str(error))

        return wrapped

    @router.get("/health", tags=["service"])
    def health() -> dict[str, str]:
        """Liveness check with the pystator version."""
        return {"status": "ok", "version": __version__}

    @guarded.post("/api/v1/validate", tags=["machines"])
    async def validate(request: Request, body: ValidateRequest) -> Any:
        """Check a definition: errors, then lint warnings. 200 whether or not it is valid."""
        budget = Budget(check_seconds)
        try:
            machine, issues = await run_in_budget(request, budget, _inspect, body.yaml, budget)
        except _Refused as refused:
            return refused.response
        return {"valid": machine is not None, "issues": issues}

    @guarded.post("/api/v1/process", tags=["machines"])
    async def process(request: Request, body: ProcessRequest) -> Any:
        """Compute the transition ``event`` makes from ``state``; nothing is executed."""
        budget = Budget(check_seconds)
        return await run_in_budget(request, budget, answer(_process), body, budget)

    def _process(body: ProcessRequest, budget: Budget) -> Any:
        text = body.yaml if body.yaml is not None else get_library().text(str(body.machine_id))
        machine = _compile(text, budget)
        try:
            result = machine.process(body.state, body.event, body.context)
        except PystatorError as error:
            return error_response(422, str(error))
        return result.to_dict()

    @router.get("/api/v1/machines", tags=["library"])
    def list_machines() -> Any:
        """Every machine in the library, most recently updated first."""
        return {"machines": [_machine_json(m) for m in get_library().machines()]}

    @guarded.post("/api/v1/machines", status_code=201, tags=["library"])
    @answer
    def create_machine(body: MachineCreate) -> Any:
        """Add a machine; its YAML must be valid. 201 with its id and revision."""
        name = _name(body.name)
        _compile(body.yaml, Budget(check_seconds))
        return _machine_json(get_library().create(name, body.yaml))

    @router.get("/api/v1/machines/{machine_id}", tags=["library"])
    @answer
    def get_machine(machine_id: str) -> Any:
        """One machine: its current YAML and its revisions, newest first."""
        lib = get_library()
        machine = lib.get(machine_id)
        return {
            **_machine_json(machine),
            "yaml": lib.revision_text(machine.revision_id),
            "revisions": [asdict(r) for r in lib.revisions(machine_id)],
        }

    @guarded.put("/api/v1/machines/{machine_id}", tags=["library"])
    @answer
    def update_machine(machine_id: str, body: MachineUpdate) -> Any:
        """Save a new revision (and rename, if ``name`` is given). Invalid YAML saves nothing.

        With ``base_revision`` given and no longer current, the text is kept as a revision
        that is not made current and the answer is 409 naming both revisions.
        """
        lib = get_library()
        lib.get(machine_id)
        name = _name(body.name) if body.name is not None else None
        _compile(body.yaml, Budget(check_seconds))
        saved = lib.save(machine_id, body.yaml, base=body.base_revision)
        machine = lib.rename(machine_id, name) if name is not None else lib.get(machine_id)
        if not saved.made_current:
            return JSONResponse(
                {
                    "error": {
                        "status": 409,
                        "message": (
                            f"The machine was saved since revision {body.base_revision}: your "
                            f"text is kept as revision {saved.revision.id}, and revision "
                            f"{saved.current.id} stays current."
                        ),
                    },
                    **_machine_json(machine),
                    "revision": asdict(saved.revision),
                    "current": asdict(saved.current),
                },
                status_code=409,
            )
        return {**_machine_json(machine), "revision": asdict(saved.revision)}

    @guarded.delete(
        "/api/v1/machines/{machine_id}", status_code=204, response_model=None, tags=["library"]
    )
    @answer
    def delete_machine(machine_id: str) -> Any:
        """Remove a machine; its revisions' share links keep working."""
        get_library().delete(machine_id)
        return Response(status_code=204)

    @router.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        """The endpoints, from the OpenAPI schema, as a page with no external requests."""
        return HTMLResponse(_docs_page(request.app.openapi()))

    router.include_router(guarded)
    return router


def _docs_page(schema: dict[str, Any]) -> str:
    rows = []
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            summary = operation.get("description") or operation.get("summary") or ""
            rows.append(
                f"<tr><td><code>{html.escape(method.upper())}</code></td>"
                f"<td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(summary.strip().splitlines()[0] if summary else '')}</td></tr>"
            )
    title = html.escape(str(schema.get("info", {}).get("title", "API")))
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{title}</title><h1>{title}</h1>"
        '<p>The full schema is at <a href="/openapi.json">/openapi.json</a>.</p>'
        "<table><thead><tr><th>Method</th><th>Path</th><th>What it does</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></html>"
    )
