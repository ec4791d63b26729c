"""``Snapshot``: everything the engine needs to know about one entity between steps.

The engine is stateless: a host keeps a snapshot per entity (the simulator in its
trace, the orchestrator in its store) and hands it back with the next event. A
snapshot is a plain immutable value with a JSON form (``to_dict``/``from_dict``), so a
store can persist it whole and a share link can carry it.

Time is not part of a snapshot: the host owns the clock and passes ``now`` (in
milliseconds on whatever clock it uses) to each step; timers record their due time
on that clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from operator import attrgetter
from types import MappingProxyType
from typing import Any

from pystator.durations import format_duration

__all__ = ["Snapshot", "Timer"]


@dataclass(frozen=True, slots=True)
class Timer:
    """A pending ``after`` transition or state ``timeout``, armed when ``state`` was entered.

    ``id`` is the arming order within the entity (the snapshot counts them), so timers
    due at the same time fire in ``id`` order, and a re-armed timer is a new timer.
    ``transition`` is the delayed transition's index in the machine (state timeouts
    count after the written transitions).

    A timer armed by a ``send`` action carries its ``send_id`` (the action's ``id``,
    or one the engine made up) and the event's ``data``; it has no transition
    (``-1``) and no ``dest``, and leaving ``state`` does not cancel it: only a
    ``cancel`` action does, or its firing.

    ``owner`` is empty for a timer of the machine whose snapshot holds it. A timer of a
    running child machine (``invoke: machine:``) as the parent sees it, in
    ``Snapshot.pending`` and in the parent's step effects, carries the path of invoke
    ids down to the machine that armed it: the parent hands it to that child when it
    fires, and two machines' timers with equal fields stay two timers.
    """

    id: int
    state: str
    due_ms: int
    trigger: str
    dest: str
    armed_at_ms: int
    transition: int = -1
    send_id: str | None = None
    data: Any = field(default=None, hash=False, compare=False)
    owner: tuple[str, ...] = ()

    @property
    def is_send(self) -> bool:
        """Whether a ``send`` action armed it (rather than an ``after`` or ``timeout``)."""
        return self.send_id is not None

    @property
    def label(self) -> str:
        at = format_duration(self.due_ms)
        if self.send_id is not None:
            return f"{self.trigger} (sent by {self.state}, id {self.send_id}) at {at}"
        return f"{self.trigger} ({self.state} -> {self.dest}) at {at}"

    @property
    def order(self) -> tuple[int, int]:
        """The firing order: due time, then arming order."""
        return self.due_ms, self.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "due_ms": self.due_ms,
            "trigger": self.trigger,
            "dest": self.dest,
            "armed_at_ms": self.armed_at_ms,
            "transition": self.transition,
            **({"send_id": self.send_id, "data": self.data} if self.send_id is not None else {}),
            **({"owner": list(self.owner)} if self.owner else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Timer:
        send_id = data.get("send_id")
        return cls(
            int(data["id"]),
            str(data["state"]),
            int(data["due_ms"]),
            str(data["trigger"]),
            str(data["dest"]),
            int(data["armed_at_ms"]),
            int(data.get("transition", -1)),
            None if send_id is None else str(send_id),
            data.get("data"),
            tuple(str(o) for o in data.get("owner") or ()),
        )

    def owned_by(self, inv_id: str) -> Timer:
        """This timer as the parent of child ``inv_id`` sees it (its path one step longer)."""
        return replace(self, owner=(inv_id, *self.owner))

    def for_child(self) -> Timer:
        """This timer as the next machine down its path sees it (the path one step shorter)."""
        return replace(self, owner=self.owner[1:])


_NO_HISTORY: Mapping[str, frozenset[str]] = MappingProxyType({})
_NO_DATA: Mapping[str, Any] = MappingProxyType({})
_NO_CHILDREN: Mapping[str, Snapshot] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One entity as the engine sees it between two steps.

    ``configuration`` is the set of active states (every active leaf with all its
    ancestors, parallel states included). ``timers`` are the pending timers in firing
    order. ``history`` maps each history state to the states it remembers. The
    internal event queue is always empty between steps (a step runs until it is), so
    it is not stored. ``next_timer_id`` numbers the next timer armed.

    ``data`` holds the machine's own variables (its ``data:`` declarations and the
    locations its actions assign) as the last step left them: they are part of the
    entity's state, so a host that stores the snapshot stores them too (see
    docs/semantics.md, "Datamodel").
    """

    configuration: frozenset[str]
    timers: tuple[Timer, ...] = ()
    history: Mapping[str, frozenset[str]] = field(default_factory=lambda: _NO_HISTORY, hash=False)
    next_timer_id: int = 0
    data: Mapping[str, Any] = field(default_factory=lambda: _NO_DATA, hash=False)
    children: Mapping[str, Snapshot] = field(default_factory=lambda: _NO_CHILDREN, hash=False)
    """The snapshot of each running child machine (``invoke`` with ``src: machine:NAME``),
    by invoke id: the engine is stateless, so a child lives inside its parent's snapshot
    and is stored, shared and restored with it."""

    def timer(self, timer_id: int) -> Timer | None:
        """The pending timer with ``timer_id`` (None when it fired or was cancelled)."""
        for timer in self.timers:
            if timer.id == timer_id:
                return timer
        return None

    @property
    def pending(self) -> tuple[Timer, ...]:
        """Every pending timer, the running child machines' included (each with its
        ``owner`` path, at any depth), in firing order.

        A host that schedules real timers (the orchestrator) or fires virtual ones (the
        simulator, the model checker) reads this, not ``timers``: a child's ``after``
        fires only if its host arms it, and firing one of these (``step(snapshot,
        timer)``) hands it down its path. Across machines the order is due time, then
        arming time, the parent before its children (a child starts after its
        parent's entry), then arming order; for one machine that is ``timers``'s order.
        """
        if not self.children:
            return self.timers
        found = list(self.timers)
        for inv_id, child in self.children.items():
            found.extend(t.owned_by(inv_id) for t in child.pending)
        return tuple(sorted(found, key=_pending_order))

    @property
    def next_timer(self) -> Timer | None:
        """The timer that fires first, a child machine's included (see ``pending``)."""
        pending = self.pending
        return pending[0] if pending else None

    def holds(self, timer: Timer) -> bool:
        """Whether ``timer`` (owner path included) is pending here or down its path."""
        if not timer.owner:
            return timer in self.timers
        child = self.children.get(timer.owner[0])
        return child is not None and child.holds(timer.for_child())

    def without_timer(self, timer: Timer) -> Snapshot:
        """This snapshot with ``timer`` (as ``pending`` lists it) no longer pending: a
        host gave up on firing it."""
        if not timer.owner:
            return replace(self, timers=tuple(t for t in self.timers if t != timer))
        head = timer.owner[0]
        child = self.children[head].without_timer(timer.for_child())
        return replace(self, children=MappingProxyType({**self.children, head: child}))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form; ``from_dict`` reads it back into an equal snapshot."""
        out: dict[str, Any] = {
            "configuration": sorted(self.configuration),
            "timers": [t.to_dict() for t in self.timers],
            "next_timer_id": self.next_timer_id,
        }
        if self.history:
            out["history"] = {k: sorted(v) for k, v in sorted(self.history.items())}
        if self.data:
            out["data"] = dict(self.data)
        if self.children:
            out["children"] = {k: v.to_dict() for k, v in sorted(self.children.items())}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Snapshot:
        history = data.get("history") or {}
        children = data.get("children") or {}
        return cls(
            frozenset(str(s) for s in data["configuration"]),
            sorted_timers(Timer.from_dict(t) for t in data.get("timers", ())),
            MappingProxyType({str(k): frozenset(map(str, v)) for k, v in history.items()})
            if history
            else _NO_HISTORY,
            int(data.get("next_timer_id", 0)),
            MappingProxyType(dict(data["data"])) if data.get("data") else _NO_DATA,
            MappingProxyType({str(k): cls.from_dict(v) for k, v in children.items()})
            if children
            else _NO_CHILDREN,
        )


def sorted_timers(timers: Iterable[Timer]) -> tuple[Timer, ...]:
    """Timers in firing order (``Timer.order``)."""
    return tuple(sorted(timers, key=attrgetter("order")))


def _pending_order(timer: Timer) -> tuple[int, int, tuple[str, ...], int]:
    return timer.due_ms, timer.armed_at_ms, timer.owner, timer.id
