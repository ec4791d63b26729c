"""The machine library over HTTP: list, create, read, save a revision, delete."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from pystator.api.answers import RouteSettings, answer, checked_name, compile_text, machine_json
from pystator.api.schemas import MachineCreate, MachineUpdate
from pystator.api.work import Budget

__all__ = ["library_routes"]


def library_routes(settings: RouteSettings) -> APIRouter:
    """``/api/v1/machines`` and ``/api/v1/machines/{machine_id}``; the writes are guarded."""
    router = APIRouter()
    guard = list(settings.guard)

    @router.get("/api/v1/machines", tags=["library"])
    def list_machines() -> Any:
        """Every machine in the library, most recently updated first."""
        return {"machines": [machine_json(m) for m in settings.library().machines()]}

    @router.post("/api/v1/machines", status_code=201, tags=["library"], dependencies=guard)
    @answer
    def create_machine(body: MachineCreate) -> Any:
        """Add a machine; its YAML must be valid. 201 with its id and revision."""
        name = checked_name(body.name)
        compile_text(body.yaml, Budget(settings.check_seconds))
        return machine_json(settings.library().create(name, body.yaml))

    @router.get("/api/v1/machines/{machine_id}", tags=["library"])
    @answer
    def get_machine(machine_id: str) -> Any:
        """One machine: its current YAML and its revisions, newest first."""
        lib = settings.library()
        machine = lib.get(machine_id)
        return {
            **machine_json(machine),
            "yaml": lib.revision_text(machine.revision_id),
            "revisions": [asdict(r) for r in lib.revisions(machine_id)],
        }

    @router.put("/api/v1/machines/{machine_id}", tags=["library"], dependencies=guard)
    @answer
    def update_machine(machine_id: str, body: MachineUpdate) -> Any:
        """Save a new revision (and rename, if ``name`` is given). Invalid YAML saves nothing.

        With ``base_revision`` given and no longer current, the text is kept as a revision
        that is not made current and the answer is 409 naming both revisions.
        """
        lib = settings.library()
        lib.get(machine_id)
        name = checked_name(body.name) if body.name is not None else None
        compile_text(body.yaml, Budget(settings.check_seconds))
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
                    **machine_json(machine),
                    "revision": asdict(saved.revision),
                    "current": asdict(saved.current),
                },
                status_code=409,
            )
        return {**machine_json(machine), "revision": asdict(saved.revision)}

    @router.delete(
        "/api/v1/machines/{machine_id}",
        status_code=204,
        response_model=None,
        tags=["library"],
        dependencies=guard,
    )
    @answer
    def delete_machine(machine_id: str) -> Any:
        """Remove a machine; its revisions' share links keep working."""
        settings.library().delete(machine_id)
        return Response(status_code=204)

    return router
