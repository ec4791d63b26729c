"""Opening a state store from a URL, so tests and worker processes name stores alike.

``sqlite:///<path>`` is a ``SQLiteStateStore``; ``postgresql://...`` a
``PostgreSQLStateStore``; ``memory:`` an ``InMemoryStateStore`` (one process only).
"""

from __future__ import annotations

from typing import Any

from pystator.runtime import InMemoryStateStore, PostgreSQLStateStore, SQLiteStateStore
from pystator.runtime.state_store import StateStore


def open_store(url: str, **options: Any) -> StateStore:
    if url.startswith("sqlite:///"):
        return SQLiteStateStore(url[len("sqlite:///") :], **options)
    if url.startswith("postgresql://"):
        return PostgreSQLStateStore(url, **options)
    if url == "memory:":
        return InMemoryStateStore()
    raise ValueError(f"not a store URL: {url!r}")


def close_store(store: StateStore) -> None:
    close = getattr(store, "close", None)
    if close is not None:
        close()
