"""The orchestrator and invoke adapters at the spec's ``orchestration`` import path."""

from pystator.runtime.invoke import InvokeAdapter, NoOpInvokeAdapter
from pystator.runtime.orchestrator import Orchestrator, OrchestratorResult

__all__ = ["InvokeAdapter", "NoOpInvokeAdapter", "Orchestrator", "OrchestratorResult"]
