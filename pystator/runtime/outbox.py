"""What one step writes, and what is left to deliver after it: the commit and its outbox.

The orchestrator turns a computed step into a ``StepCommit``: the new state and
version, the opaque engine snapshot, the audit row, the complete set of pending
timers, one outbox row per action to run, the context update and the event id's
dedup record. A store writes all of that in one transaction or nothing
(``StateStore.commit_many``). The commit does not care where its effects came from:
today the orchestrator derives them from a ``TransitionResult``, later from the
engine's ``Step``.

After the commit, two kinds of work are pending, each recorded in the store and
delivered at least once:

- **actions**: an outbox row per action (``PendingAction``), keyed by a stable
  idempotency key ``"<entity>:<version>:<n>"`` that the action sees as
  ``ctx[IDEMPOTENCY_KEY]`` on every run, so user code can deduplicate its side
  effects;
- **timer arming**: a pending timer carries ``arm_at``, the time from which any
  dispatcher hands it to the scheduler (again); delivering it moves ``arm_at`` to
  just after its due time, so a timer the scheduler lost (a Redis restart without
  its last second, a killed Celery worker) is handed over again.

Each row is claimed with a lease (``due_at``/``arm_at`` moved to ``now + lease`` under
an owner token) so one process delivers it at a time, and a claim never outlives
what another process can take over: when the lease runs out, anyone may claim it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pystator.runtime.timers import ScheduledTimer

__all__ = [
    "IDEMPOTENCY_KEY",
    "ActionEffect",
    "AuditEntry",
    "CommitResult",
    "DeadLetter",
    "FailedAction",
    "PendingAction",
    "StepCommit",
    "action_key",
    "new_owner",
]

IDEMPOTENCY_KEY = "_idempotency_key"
"""The context key under which an action finds its stable idempotency key."""

Phase = Literal["exit", "transition", "enter"]


def action_key(entity_id: str, version: int, seq: int) -> str:
    """The idempotency key of the ``seq``-th action of the commit that made ``version``."""
    return f"{entity_id}:{version}:{seq}"


def new_owner() -> str:
    """A claim token: which process (and which claim) holds a row right now."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class AuditEntry:
    """What the caller records for one transition; the store adds entity and version."""

    from_state: str
    to_state: str
    trigger: str
    event_id: str | None = None
    timestamp: float = field(default_factory=time.time)


@dataclass(frozen=True)
class ActionEffect:
    """One action a step runs after its commit: written as an outbox row.

    ``state`` is the state that owns the action (``None`` when the step does not
    say); ``context`` is what the action will see, and must be JSON for the SQL
    stores, since a re-run after a crash reads it back from the row.
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    phase: Phase = "transition"
    state: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PendingAction:
    """An outbox row as claimed: the action, its key, and how it went so far."""

    key: str
    entity_id: str
    version: int
    seq: int
    effect: ActionEffect
    attempts: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class FailedAction:
    """A failed try to record: ``retry_at`` is when the row may be claimed again.

    ``keep_claim`` keeps it with its current owner (the inline runner that retries
    it itself after the backoff; if that runner dies, the row is free at
    ``retry_at``); otherwise it is released to any dispatcher.
    """

    key: str
    attempts: int
    error: str
    retry_at: float
    keep_claim: bool = False


@dataclass(frozen=True)
class DeadLetter:
    """An action or timer firing that failed every attempt of its policy.

    ``kind`` is ``"action"`` or ``"timer"``; ``key`` the action's idempotency key or
    the timer id; ``payload`` what is needed to run it again by hand.
    """

    kind: Literal["action", "timer"]
    key: str
    entity_id: str
    payload: Mapping[str, Any]
    error: str
    attempts: int
    failed_at: float = field(default_factory=time.time)
    id: int | None = None


@dataclass(frozen=True)
class StepCommit:
    """Everything one step writes, in one transaction.

    ``expected_version`` is the version the step was computed from (0 creates the
    entity). ``timers`` is the complete set of pending timers after the step: the
    store drops the others and adds the new ones, claimed for ``owner`` until
    ``lease_until`` so the committer can hand them to its scheduler first.
    ``actions`` become outbox rows claimed the same way. With ``arm_after`` set, new
    timers are due for (re)delivery only at ``due_at + arm_after``: the committer
    hands them to its scheduler itself, and a dispatcher steps in only if that
    never happened (a crash) or the scheduler lost them. ``context=None`` keeps the
    stored context. ``event_id`` plus ``outcome`` is the dedup record: a second
    commit with the same event id for the entity is refused as a duplicate.
    ``changes_state=False`` writes only the dedup record and whatever bookkeeping
    rides along (``dead_letters``, ``done_actions``), checking but not bumping the
    version: that is how a rejected event is remembered.
    """

    entity_id: str
    expected_version: int
    state: str
    audit: AuditEntry | None = None
    timers: tuple[ScheduledTimer, ...] = ()
    actions: tuple[ActionEffect, ...] = ()
    snapshot: Mapping[str, Any] | None = field(default=None, hash=False)
    context: Mapping[str, Any] | None = field(default=None, hash=False)
    event_id: str | None = None
    outcome: Mapping[str, Any] | None = field(default=None, hash=False)
    changes_state: bool = True
    owner: str = ""
    lease_until: float = 0.0
    arm_after: float | None = None
    dead_letters: tuple[DeadLetter, ...] = ()
    done_actions: tuple[str, ...] = ()

    @property
    def version(self) -> int:
        """The version this commit produces."""
        return self.expected_version + (1 if self.changes_state else 0)

    def action_keys(self) -> tuple[str, ...]:
        return tuple(action_key(self.entity_id, self.version, n) for n in range(len(self.actions)))


@dataclass(frozen=True)
class CommitResult:
    """How one commit of a batch went: written, lost a race, or a duplicate.

    Exactly one of ``version`` (written), ``conflict`` (the version the store holds)
    and ``duplicate`` (the first outcome of the event id) is set.
    """

    version: int | None = None
    conflict: int | None = None
    duplicate: Mapping[str, Any] | None = field(default=None, hash=False)

    @property
    def written(self) -> bool:
        return self.version is not None
