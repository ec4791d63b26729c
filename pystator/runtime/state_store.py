"""Where entities live between events: one protocol; in-memory, SQLite and PostgreSQL.

A stored entity is the engine's state string (a leaf name, or
``"par:region=leaf,..."`` for a parallel configuration), a version every commit
increments, an opaque engine ``snapshot`` document, the optional context, and its
pending timers. Beside the entities a store keeps the audit trail, the dedup
records of event ids, the outbox of actions still to run and the dead letters.

``commit_many`` is the one write that matters: each ``StepCommit`` is checked
(the version it was computed from, its event id not seen before) and written whole
(state, version, snapshot, audit row, timers, outbox rows, dedup record, context)
or not at all, so the trail, the timers and the actions never disagree with the
state. The other writes are bookkeeping of deliveries: ``claim`` leases due
outbox rows and timers to one deliverer, ``renew`` extends a lease while work runs,
``settle`` records what was delivered, failed or died.
"""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from pystator.runtime.errors import DuplicateEventError, StateConflictError
from pystator.runtime.outbox import (
    AuditEntry,
    CommitResult,
    DeadLetter,
    FailedAction,
    PendingAction,
    StepCommit,
)
from pystator.runtime.timers import ScheduledTimer

__all__ = [
    "AuditEntry",
    "AuditRecord",
    "Claimed",
    "InMemoryStateStore",
    "PostgreSQLStateStore",
    "SQLiteStateStore",
    "StateStore",
    "StoredState",
    "commit_one",
]


@dataclass(frozen=True)
class StoredState:
    """An entity as persisted: state string, version, context, pending timers, snapshot."""

    entity_id: str
    state: str
    version: int
    context: Mapping[str, Any] | None = field(default=None, hash=False)
    timers: tuple[ScheduledTimer, ...] = ()
    snapshot: Mapping[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True)
class AuditRecord:
    """One row of the audit trail: the transition that produced ``version``."""

    entity_id: str
    version: int
    from_state: str
    to_state: str
    trigger: str
    event_id: str | None
    timestamp: float


@dataclass(frozen=True)
class Claimed:
    """What one ``claim`` leased to its owner: outbox actions and timers to arm."""

    actions: tuple[PendingAction, ...] = ()
    timers: tuple[ScheduledTimer, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.actions or self.timers)


@runtime_checkable
class StateStore(Protocol):
    """Entities, their audit trail, dedup records, outbox and dead letters.

    Every operation has a sync and an ``async_`` form. ``load_with_outcome`` reads
    the entity and the recorded outcome of ``event_id`` in one snapshot.
    ``commit_many`` never raises for a lost race or a duplicate: each commit's
    ``CommitResult`` says what happened to it. A store that cannot be reached, or
    stays locked past its timeout, raises ``StoreUnavailableError`` and writes
    nothing.
    """

    def load(self, entity_id: str) -> StoredState | None: ...

    def load_with_outcome(
        self, entity_id: str, event_id: str | None
    ) -> tuple[StoredState | None, dict[str, Any] | None]: ...

    def commit_many(self, commits: Sequence[StepCommit]) -> list[CommitResult]: ...

    def claim(self, owner: str, now: float, lease_until: float, limit: int) -> Claimed: ...

    def renew(self, owner: str, keys: Sequence[str], lease_until: float) -> set[str]: ...

    def settle(
        self,
        owner: str,
        *,
        done: Sequence[str] = (),
        failed: Sequence[FailedAction] = (),
        armed: Mapping[str, float] | None = None,
        dead: Sequence[DeadLetter] = (),
    ) -> None: ...

    def audit_trail(self, entity_id: str) -> list[AuditRecord]: ...

    def dead_letters(self, entity_id: str | None = None) -> list[DeadLetter]: ...

    def pending_actions(self, entity_id: str | None = None) -> list[PendingAction]: ...

    def purge_outcomes(self, before: float) -> int: ...

    async def async_load(self, entity_id: str) -> StoredState | None: ...

    async def async_load_with_outcome(
        self, entity_id: str, event_id: str | None
    ) -> tuple[StoredState | None, dict[str, Any] | None]: ...

    async def async_commit_many(self, commits: Sequence[StepCommit]) -> list[CommitResult]: ...

    async def async_claim(
        self, owner: str, now: float, lease_until: float, limit: int
    ) -> Claimed: ...

    async def async_renew(
        self, owner: str, keys: Sequence[str], lease_until: float
    ) -> set[str]: ...

    async def async_settle(
        self,
        owner: str,
        *,
        done: Sequence[str] = (),
        failed: Sequence[FailedAction] = (),
        armed: Mapping[str, float] | None = None,
        dead: Sequence[DeadLetter] = (),
    ) -> None: ...

    async def async_audit_trail(self, entity_id: str) -> list[AuditRecord]: ...

    async def async_dead_letters(self, entity_id: str | None = None) -> list[DeadLetter]: ...


def commit_one(result: CommitResult, commit: StepCommit) -> int:
    """The version one commit wrote, or the error that says why it was refused."""
    if result.version is not None:
        return result.version
    if result.duplicate is not None:
        raise DuplicateEventError(commit.entity_id, str(commit.event_id), result.duplicate)
    raise StateConflictError(commit.entity_id, commit.expected_version, result.conflict or 0)


class StoreConveniences:
    """``commit``, ``save`` and the async forms, written once over ``commit_many``.

    Stores whose work is blocking set ``_offload = True``: their ``async_`` methods
    then run the sync ones in a worker thread.
    """

    _offload = True

    # What a concrete store provides (see ``StateStore``).
    def load_with_outcome(
        self, entity_id: str, event_id: str | None
    ) -> tuple[StoredState | None, dict[str, Any] | None]:
        raise NotImplementedError

    def commit_many(self, commits: Sequence[StepCommit]) -> list[CommitResult]:
        raise NotImplementedError

    def claim(self, owner: str, now: float, lease_until: float, limit: int) -> Claimed:
        raise NotImplementedError

    def renew(self, owner: str, keys: Sequence[str], lease_until: float) -> set[str]:
        raise NotImplementedError

    def settle(
        self,
        owner: str,
        *,
        done: Sequence[str] = (),
        failed: Sequence[FailedAction] = (),
        armed: Mapping[str, float] | None = None,
        dead: Sequence[DeadLetter] = (),
    ) -> None:
        raise NotImplementedError

    def audit_trail(self, entity_id: str) -> list[AuditRecord]:
        raise NotImplementedError

    def dead_letters(self, entity_id: str | None = None) -> list[DeadLetter]:
        raise NotImplementedError

    def load(self, entity_id: str) -> StoredState | None:
        return self.load_with_outcome(entity_id, None)[0]

    def commit(self, commit: StepCommit) -> int:
        """Write one step; ``StateConflictError`` or ``DuplicateEventError`` if refused."""
        (result,) = self.commit_many([commit])
        return commit_one(result, commit)

    def save(
        self,
        entity_id: str,
        new_state: str,
        expected_version: int,
        audit: AuditEntry | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        timers: Sequence[ScheduledTimer] = (),
        snapshot: Mapping[str, Any] | None = None,
    ) -> int:
        """A commit of state, audit, context and timers only (``expected_version=0`` creates)."""
        return self.commit(
            StepCommit(
                entity_id,
                expected_version,
                new_state,
                audit,
                tuple(timers),
                snapshot=snapshot,
                context=context,
            )
        )

    async def aclose(self) -> None:
        """Release what the async methods hold in this event loop (nothing, here)."""

    async def _call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        if self._offload:
            return await asyncio.to_thread(func, *args, **kwargs)
        return func(*args, **kwargs)

    async def async_load(self, entity_id: str) -> StoredState | None:
        result: StoredState | None = await self._call(self.load, entity_id)
        return result

    async def async_load_with_outcome(
        self, entity_id: str, event_id: str | None
    ) -> tuple[StoredState | None, dict[str, Any] | None]:
        result: tuple[StoredState | None, dict[str, Any] | None] = await self._call(
            self.load_with_outcome, entity_id, event_id
        )
        return result

    async def async_commit_many(self, commits: Sequence[StepCommit]) -> list[CommitResult]:
        result: list[CommitResult] = await self._call(self.commit_many, commits)
        return result

    async def async_commit(self, commit: StepCommit) -> int:
        (result,) = await self.async_commit_many([commit])
        return commit_one(result, commit)

    async def async_save(
        self,
        entity_id: str,
        new_state: str,
        expected_version: int,
        audit: AuditEntry | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        timers: Sequence[ScheduledTimer] = (),
        snapshot: Mapping[str, Any] | None = None,
    ) -> int:
        return await self.async_commit(
            StepCommit(
                entity_id,
                expected_version,
                new_state,
                audit,
                tuple(timers),
                snapshot=snapshot,
                context=context,
            )
        )

    async def async_claim(self, owner: str, now: float, lease_until: float, limit: int) -> Claimed:
        result: Claimed = await self._call(self.claim, owner, now, lease_until, limit)
        return result

    async def async_renew(self, owner: str, keys: Sequence[str], lease_until: float) -> set[str]:
        result: set[str] = await self._call(self.renew, owner, keys, lease_until)
        return result

    async def async_settle(
        self,
        owner: str,
        *,
        done: Sequence[str] = (),
        failed: Sequence[FailedAction] = (),
        armed: Mapping[str, float] | None = None,
        dead: Sequence[DeadLetter] = (),
    ) -> None:
        await self._call(self.settle, owner, done=done, failed=failed, armed=armed, dead=dead)

    async def async_audit_trail(self, entity_id: str) -> list[AuditRecord]:
        result: list[AuditRecord] = await self._call(self.audit_trail, entity_id)
        return result

    async def async_dead_letters(self, entity_id: str | None = None) -> list[DeadLetter]:
        result: list[DeadLetter] = await self._call(self.dead_letters, entity_id)
        return result


@dataclass
class _Row:
    state: str
    version: int
    context: Mapping[str, Any] | None
    snapshot: Mapping[str, Any] | None


@dataclass
class _Outbox:
    action: PendingAction
    due_at: float
    owner: str | None


class InMemoryStateStore(StoreConveniences):
    """Dicts behind one lock: for tests, the simulator and single-process apps.

    It keeps the same contract as the SQL stores (one step is applied whole or not
    at all), minus durability: everything is gone with the process.
    """

    _offload = False

    def __init__(self) -> None:
        self._entities: dict[str, _Row] = {}
        self._timers: dict[str, list[Any]] = {}  # timer id -> [timer, arm_at]
        self._by_entity: dict[str, list[str]] = {}
        self._outcomes: dict[tuple[str, str], tuple[dict[str, Any], float]] = {}
        self._outbox: dict[str, _Outbox] = {}
        self._dead: list[DeadLetter] = []
        self._audit: dict[str, list[AuditRecord]] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- reads
    def load_with_outcome(
        self, entity_id: str, event_id: str | None
    ) -> tuple[StoredState | None, dict[str, Any] | None]:
        with self._lock:
            row = self._entities.get(entity_id)
            outcome = None
            if event_id is not None and (entity_id, event_id) in self._outcomes:
                outcome = copy.deepcopy(self._outcomes[(entity_id, event_id)][0])
            if row is None:
                return None, outcome
            timers = tuple(self._timers[t][0] for t in self._by_entity.get(entity_id, ()))
            return (
                StoredState(
                    entity_id,
                    row.state,
                    row.version,
                    # Copies, as the SQL stores hand out: only a commit changes the entity.
                    copy.deepcopy(row.context),
                    tuple(sorted(timers, key=lambda t: t.due_at)),
                    copy.deepcopy(row.snapshot),
                ),
                outcome,
            )

    def audit_trail(self, entity_id: str) -> list[AuditRecord]:
        with self._lock:
            return list(self._audit.get(entity_id, ()))

    def dead_letters(self, entity_id: str | None = None) -> list[DeadLetter]:
        with self._lock:
            return [
                _with_own_payload(d)
                for d in self._dead
                if entity_id is None or d.entity_id == entity_id
            ]

    def pending_actions(self, entity_id: str | None = None) -> list[PendingAction]:
        with self._lock:
            rows = [
                _with_own_effect(o.action)
                for o in self._outbox.values()
                if entity_id is None or o.action.entity_id == entity_id
            ]
        return sorted(rows, key=lambda a: (a.entity_id, a.version, a.seq))

    def entity_ids(self) -> list[str]:
        with self._lock:
            return list(self._entities)

    # ---------------------------------------------------------------- the step's transaction
    def commit_many(self, commits: Sequence[StepCommit]) -> list[CommitResult]:
        now = time.time()
        with self._lock:
            return [self._commit(c, now) for c in commits]

    def _commit(self, c: StepCommit, now: float) -> CommitResult:
        row = self._entities.get(c.entity_id)
        actual = row.version if row is not None else 0
        if actual != c.expected_version:
            return CommitResult(conflict=actual)
        if c.event_id is not None:
            seen = self._outcomes.get((c.entity_id, c.event_id))
            if seen is not None:
                return CommitResult(duplicate=copy.deepcopy(seen[0]))
            self._outcomes[(c.entity_id, c.event_id)] = (copy.deepcopy(dict(c.outcome or {})), now)
        version = c.version
        if c.changes_state:
            kept = c.context if c.context is not None else (row.context if row else None)
            self._entities[c.entity_id] = _Row(
                c.state,
                version,
                copy.deepcopy(dict(kept)) if kept is not None else None,
                copy.deepcopy(dict(c.snapshot)) if c.snapshot is not None else None,
            )
            self._replace_timers(c)
            if c.audit is not None:
                self._audit.setdefault(c.entity_id, []).append(
                    _record(c.entity_id, version, c.audit)
                )
            for seq, (key, effect) in enumerate(zip(c.action_keys(), c.actions, strict=True)):
                pending = _with_own_effect(PendingAction(key, c.entity_id, version, seq, effect))
                self._outbox[key] = _Outbox(pending, c.lease_until, c.owner or None)
        self._bury(c.dead_letters)
        for key in c.done_actions:
            self._outbox.pop(key, None)
        return CommitResult(version=version)

    def _bury(self, dead: Sequence[DeadLetter]) -> None:
        for letter in dead:
            if letter.kind == "action":
                self._outbox.pop(letter.key, None)
        self._dead.extend(_numbered(dead, len(self._dead)))

    def _replace_timers(self, c: StepCommit) -> None:
        wanted = {t.timer_id for t in c.timers}
        for timer_id in self._by_entity.get(c.entity_id, ()):
            if timer_id not in wanted:
                self._timers.pop(timer_id, None)
        for timer in c.timers:
            if timer.timer_id not in self._timers:
                arm_at = c.lease_until if c.arm_after is None else timer.due_at + c.arm_after
                self._timers[timer.timer_id] = [timer, arm_at]
        self._by_entity[c.entity_id] = [t.timer_id for t in c.timers]

    # ---------------------------------------------------------------- deliveries
    def claim(self, owner: str, now: float, lease_until: float, limit: int) -> Claimed:
        with self._lock:
            actions: list[PendingAction] = []
            for row in sorted(self._outbox.values(), key=lambda o: o.due_at):
                if len(actions) >= limit or row.due_at > now:
                    break
                row.due_at, row.owner = lease_until, owner
                actions.append(_with_own_effect(row.action))
            timers: list[ScheduledTimer] = []
            for entry in sorted(self._timers.values(), key=lambda e: float(e[1])):
                if len(timers) >= limit or entry[1] > now:
                    break
                entry[1] = lease_until
                timers.append(entry[0])
        return Claimed(tuple(_in_step_order(actions)), tuple(timers))

    def renew(self, owner: str, keys: Sequence[str], lease_until: float) -> set[str]:
        held: set[str] = set()
        with self._lock:
            for key in keys:
                row = self._outbox.get(key)
                if row is not None and row.owner == owner:
                    row.due_at = lease_until
                    held.add(key)
        return held

    def settle(
        self,
        owner: str,
        *,
        done: Sequence[str] = (),
        failed: Sequence[FailedAction] = (),
        armed: Mapping[str, float] | None = None,
        dead: Sequence[DeadLetter] = (),
    ) -> None:
        with self._lock:
            for key in done:
                self._outbox.pop(key, None)
            for f in failed:
                row = self._outbox.get(f.key)
                if row is None or row.owner != owner:
                    continue
                row.action = _tried(row.action, f.attempts, f.error)
                row.due_at = f.retry_at
                row.owner = owner if f.keep_claim else None
            for timer_id, arm_at in (armed or {}).items():
                if timer_id in self._timers:
                    self._timers[timer_id][1] = arm_at
            self._bury(dead)

    def purge_outcomes(self, before: float) -> int:
        with self._lock:
            old = [k for k, (_, at) in self._outcomes.items() if at < before]
            for k in old:
                del self._outcomes[k]
            return len(old)

    def timer_arm_at(self, timer_id: str) -> float | None:
        """When the timer is next handed to a scheduler (``None``: not pending)."""
        with self._lock:
            entry = self._timers.get(timer_id)
            return None if entry is None else float(entry[1])


def _record(entity_id: str, version: int, audit: AuditEntry) -> AuditRecord:
    return AuditRecord(
        entity_id,
        version,
        audit.from_state,
        audit.to_state,
        audit.trigger,
        audit.event_id,
        audit.timestamp,
    )


def _tried(action: PendingAction, attempts: int, error: str) -> PendingAction:
    return PendingAction(
        action.key, action.entity_id, action.version, action.seq, action.effect, attempts, error
    )


def _numbered(letters: Iterable[DeadLetter], start: int) -> list[DeadLetter]:
    return [replace(_with_own_payload(d), id=n) for n, d in enumerate(letters, start + 1)]


def _with_own_effect(action: PendingAction) -> PendingAction:
    """``action`` with params and context of its own (see ``_with_own_payload``)."""
    effect = action.effect
    return replace(
        action,
        effect=replace(
            effect,
            params=copy.deepcopy(dict(effect.params)),
            context=copy.deepcopy(dict(effect.context)),
        ),
    )


def _with_own_payload(letter: DeadLetter) -> DeadLetter:
    """``letter`` with a payload of its own: the memory store keeps and hands out
    copies, as the SQL stores do by their nature."""
    return replace(letter, payload=copy.deepcopy(dict(letter.payload)))


def _in_step_order(actions: Iterable[PendingAction]) -> list[PendingAction]:
    return sorted(actions, key=lambda a: (a.entity_id, a.version, a.seq))


# The SQL stores build on the values above; they import psycopg only when a
# PostgreSQL store is created, so importing them here costs nothing.
from pystator.runtime.postgres_store import PostgreSQLStateStore  # noqa: E402
from pystator.runtime.sqlite_store import SQLiteStateStore  # noqa: E402
