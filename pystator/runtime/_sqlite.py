"""The SQLite connections of one store, shared by the SQLite state and idempotency stores.

A file gets one connection per thread (a sqlite3 connection is not meant to be used by
two threads at once), which lets the async methods run the blocking calls in worker
threads. A private database (``":memory:"``, or ``""`` for a temporary one) is a new,
empty database on every connection, so there all threads share the one connection,
one transaction at a time behind ``lock``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

__all__ = ["Connections"]


class Connections:
    def __init__(self, path: str, timeout: float, pragmas: Sequence[str]) -> None:
        self.path = path
        self._timeout = timeout
        self._pragmas = tuple(pragmas)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        private = path in (":memory:", "")
        self._shared: sqlite3.Connection | None = self._open() if private else None
        self.lock: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if private else contextlib.nullcontext()
        )
        """Held around each use of a connection: a real lock only where one is shared."""

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        for pragma in self._pragmas:
            conn.execute(pragma)
        with self._all_lock:
            self._all.append(conn)
        return conn

    def get(self) -> sqlite3.Connection:
        """This thread's connection (the shared one for a private database)."""
        if self._shared is not None:
            return self._shared
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close every connection opened (in any thread)."""
        with self._all_lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()  # a shared connection stays closed: its data is gone
