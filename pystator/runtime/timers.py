"""Timers, the scheduler protocol, and what a scheduler does when a firing fails.

A delayed transition (``after``) or a state ``timeout`` becomes a ``ScheduledTimer``
when its state is entered. The timer id is fresh for every entry, and the
orchestrator persists the ids of the pending timers with the entity's state; a
firing whose id is no longer pending (the state was left, or re-entered and
re-armed) is discarded. That makes "an old timer never fires" a property of the
stored state rather than of each scheduler's cancel, which matters for backends
where cancelling is best effort (Celery).

A firing that raises is never dropped: ``attempt_firing`` tells the scheduler when
to try again (exponential backoff from the retry policy). Transient failures (the
store unreachable or locked, a race lost too often) are retried without limit;
others count against the policy's ``max_attempts``, after which the timer goes to
``on_dead`` (the orchestrator records a dead letter and applies the fallback).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pystator.runtime.retry import RetryPolicy

__all__ = [
    "Clock",
    "DeadHandler",
    "FireHandler",
    "Firing",
    "ScheduledTimer",
    "Scheduler",
    "attempt_firing",
    "describe",
    "is_transient",
    "new_timer_id",
    "stop_task",
    "wall_clock",
]

log = logging.getLogger("pystator.runtime")

Clock = Callable[[], float]
"""Seconds since the epoch, as ``time.time``; injected so tests can move time."""

FireHandler = Callable[[str, str, str], Awaitable[Any]]
"""``on_fire(entity_id, event, timer_id)``: what a scheduler calls when a timer is due."""

DeadHandler = Callable[["ScheduledTimer", str, int], Awaitable[Any]]
"""``on_dead(timer, error, attempts)``: a firing that failed every attempt of the policy."""


def wall_clock() -> float:
    """The default clock: wall time, comparable across processes and machines."""
    return time.time()


def new_timer_id() -> str:
    """A timer id that is never reused, so a re-armed timer is a different timer."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class ScheduledTimer:
    """One pending firing of ``event`` for ``entity_id`` at clock time ``due_at``.

    ``state`` is the state whose entry armed the timer; leaving it cancels the timer.
    """

    timer_id: str
    entity_id: str
    state: str
    event: str
    due_at: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "timer_id": self.timer_id,
            "entity_id": self.entity_id,
            "state": self.state,
            "event": self.event,
            "due_at": self.due_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScheduledTimer:
        return cls(
            timer_id=str(data["timer_id"]),
            entity_id=str(data["entity_id"]),
            state=str(data["state"]),
            event=str(data["event"]),
            due_at=float(data["due_at"]),
        )


@runtime_checkable
class Scheduler(Protocol):
    """Fires timers at their due time by calling ``on_fire``.

    The orchestrator sets ``on_fire`` and calls ``schedule`` / ``cancel`` /
    ``cancel_entity`` after each commit. Implementations take an injectable
    ``clock``. All operations are coroutines because the distributed backends talk
    to a server.
    """

    clock: Clock
    on_fire: FireHandler | None

    async def schedule(self, timer: ScheduledTimer) -> None: ...

    async def cancel(self, timer_id: str) -> None: ...

    async def cancel_entity(self, entity_id: str, state: str | None = None) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def is_transient(exc: BaseException) -> bool:
    """A failure that says nothing about the timer: the store was down, locked or raced."""
    from pystator.runtime.errors import ConflictRetriesExhausted, StoreUnavailableError

    return isinstance(exc, (StoreUnavailableError, ConflictRetriesExhausted))


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True)
class Firing:
    """How one try at firing a timer went.

    ``retry_in`` is ``None`` when the timer is finished with (fired, or handed to
    ``on_dead``), else the seconds to wait before the next try. ``attempts``
    counts the failures that count against the policy, ``tries`` all of them.
    """

    retry_in: float | None
    attempts: int
    tries: int
    error: str | None = None


async def attempt_firing(
    on_fire: FireHandler | None,
    on_dead: DeadHandler | None,
    retry: RetryPolicy,
    timer: ScheduledTimer,
    attempts: int = 0,
    tries: int = 0,
) -> Firing:
    """Hand a due timer to ``on_fire`` once; say whether and when to try again.

    A scheduler's loop must outlive one failing
    handler, so nothing is raised (a ``BaseException`` such as cancellation is).
    """
    if on_fire is None:
        log.warning("timer %s is due but no handler is set; will retry", timer.timer_id)
        return Firing(retry.max_delay, attempts, tries + 1, "no handler")
    try:
        await on_fire(timer.entity_id, timer.event, timer.timer_id)
        return Firing(None, attempts, tries)
    except Exception as exc:
        error = describe(exc)
        tries += 1
        if is_transient(exc):
            log.warning("timer %s: %s; retrying", timer.timer_id, error)
            return Firing(retry.delay_for(tries), attempts, tries, error)
        attempts += 1
        log.warning(
            "timer %s (%s for %s) failed (attempt %d of %d): %s",
            timer.timer_id,
            timer.event,
            timer.entity_id,
            attempts,
            retry.max_attempts,
            error,
        )
        if attempts < retry.max_attempts:
            return Firing(retry.delay_for(attempts), attempts, tries, error)
        if on_dead is None:
            log.error(
                "timer %s failed every attempt and no on_dead is set; retrying", timer.timer_id
            )
            return Firing(retry.max_delay, attempts, tries, error)
        try:
            await on_dead(timer, error, attempts)
            return Firing(None, attempts, tries, error)
        except Exception as dead_exc:
            log.warning(
                "timer %s: recording its dead letter failed (%s); retrying",
                timer.timer_id,
                describe(dead_exc),
            )
            return Firing(retry.delay_for(tries), attempts, tries, error)


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel a background loop (if any) and wait until it has ended.

    One cancel is not always enough: a client reading under its own timeout may turn
    a cancellation that lands as the timeout expires into a ``TimeoutError``
    (redis-py does), and a loop that survives outages then carries on. So the
    cancel is repeated until the task has ended, and the loops themselves check
    ``being_cancelled()`` where they catch errors.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait((task,), timeout=0.5)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def being_cancelled() -> bool:
    """Whether the running task has been asked to stop (Python 3.11+ can tell)."""
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)
    return bool(cancelling is not None and cancelling())
