"""Invoke adapters at the spec's path (``orchestration.invoke``)."""

from pystator.runtime.invoke import InvokeAdapter, NoOpInvokeAdapter

__all__ = ["InvokeAdapter", "NoOpInvokeAdapter"]
