"""The store protocol written once over SQL operations; a store supplies the dialect and
how one operation runs (``_read`` in a snapshot, ``_write`` in one transaction).

SQLite and PostgreSQL differ in connections, locking and the async path, not in what
each protocol call asks of the database: that lives in ``_sql`` and here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pystator.runtime import _sql
from pystator.runtime.outbox import (
    CommitResult,
    DeadLetter,
    FailedAction,
    PendingAction,
    StepCommit,
)
from pystator.runtime.state_store import AuditRecord, Claimed, StoreConveniences, StoredState

__all__ = ["SqlStore"]

T = TypeVar("T")


class SqlStore(StoreConveniences):
    """The synchronous protocol of a SQL-backed ``StateStore``."""

    dialect: _sql.Dialect

    def _read(self, op: _sql.Op[T]) -> T:
        raise NotImplementedError

    def _write(self, op: _sql.Op[T]) -> T:
        raise NotImplementedError

    def load_with_outcome(
        self, entity_id: str, event_id: str | None
    ) -> tuple[StoredState | None, dict[str, Any] | None]:
        result: tuple[StoredState | None, dict[str, Any] | None] = self._read(
            _sql.load(entity_id, event_id)
        )
        return result

    def commit_many(self, commits: Sequence[StepCommit]) -> list[CommitResult]:
        if not commits:
            return []
        return self._write(_sql.commit_many(self.dialect, commits, time.time()))

    def claim(self, owner: str, now: float, lease_until: float, limit: int) -> Claimed:
        result: Claimed = self._write(_sql.claim(self.dialect, owner, now, lease_until, limit))
        return result

    def renew(self, owner: str, keys: Sequence[str], lease_until: float) -> set[str]:
        return self._write(_sql.renew(owner, keys, lease_until)) if keys else set()

    def settle(
        self,
        owner: str,
        *,
        done: Sequence[str] = (),
        failed: Sequence[FailedAction] = (),
        armed: Mapping[str, float] | None = None,
        dead: Sequence[DeadLetter] = (),
    ) -> None:
        if done or failed or armed or dead:
            self._write(_sql.settle(owner, done, failed, armed or {}, dead))

    def audit_trail(self, entity_id: str) -> list[AuditRecord]:
        result: list[AuditRecord] = self._read(_sql.audit_trail(entity_id))
        return result

    def dead_letters(self, entity_id: str | None = None) -> list[DeadLetter]:
        return self._read(_sql.dead_letters(entity_id))

    def pending_actions(self, entity_id: str | None = None) -> list[PendingAction]:
        return self._read(_sql.pending_actions(entity_id))

    def purge_outcomes(self, before: float) -> int:
        return self._write(_sql.purge_outcomes(before))
