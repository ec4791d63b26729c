"""The JSON bodies the REST API accepts: strict, no unknown fields, each field described
(the descriptions are what the OpenAPI schema and ``/docs`` show)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["MachineCreate", "MachineUpdate", "ProcessRequest", "ValidateRequest"]


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
