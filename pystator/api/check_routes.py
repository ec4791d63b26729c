"""The routes that check a machine or compute a step with it; neither stores anything."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from pystator.api.answers import Refused, RouteSettings, answer, compile_text, inspect_text
from pystator.api.bodies import json_error as error_response
from pystator.api.schemas import ProcessRequest, ValidateRequest
from pystator.api.work import Budget, run_in_budget
from pystator.errors import PystatorError

__all__ = ["check_routes"]


def check_routes(settings: RouteSettings) -> APIRouter:
    """``POST /api/v1/validate`` and ``POST /api/v1/process`` (both guarded: they take JSON)."""
    router = APIRouter(dependencies=list(settings.guard))

    @router.post("/api/v1/validate", tags=["machines"])
    async def validate(request: Request, body: ValidateRequest) -> Any:
        """Check a definition: errors, then lint warnings. 200 whether or not it is valid."""
        budget = Budget(settings.check_seconds)
        try:
            machine, issues = await run_in_budget(request, budget, inspect_text, body.yaml, budget)
        except Refused as refused:
            return refused.response
        return {"valid": machine is not None, "issues": issues}

    @router.post("/api/v1/process", tags=["machines"])
    async def process(request: Request, body: ProcessRequest) -> Any:
        """Compute the transition ``event`` makes from ``state``; nothing is executed."""
        budget = Budget(settings.check_seconds)
        return await run_in_budget(request, budget, answer(_process), body, budget)

    def _process(body: ProcessRequest, budget: Budget) -> Any:
        library = settings.library
        text = body.yaml if body.yaml is not None else library().text(str(body.machine_id))
        machine = compile_text(text, budget)
        try:
            result = machine.process(body.state, body.event, body.context)
        except PystatorError as error:
            return error_response(422, str(error))
        return result.to_dict()

    return router
