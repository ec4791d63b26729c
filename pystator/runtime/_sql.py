"""The SQL both relational stores share, written once as generators.

Each operation is a generator that yields rounds: lists of ``Q`` (a statement and
its parameters), receiving the list of ``R`` (rows and row count) for each round;
the SQLite and PostgreSQL drivers (sync and async) only execute what it yields,
inside one transaction for writes. So the logic of a commit (check versions and
dedup records, then write state, audit, dedup, timers and outbox) exists once,
whatever the driver. A round is what PostgreSQL gets in one network round trip
(pipeline mode): a commit is two rounds (check, then write), whatever it holds.

Statements use ``?`` placeholders; the PostgreSQL driver rewrites them to ``%s``.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pystator.runtime.errors import OrchestratorUsageError
from pystator.runtime.outbox import (
    ActionEffect,
    CommitResult,
    DeadLetter,
    FailedAction,
    PendingAction,
    StepCommit,
)
from pystator.runtime.timers import ScheduledTimer

__all__ = ["SCHEMA", "Dialect", "Op", "Q", "R"]

T = TypeVar("T")


@dataclass(frozen=True)
class Q:
    """One statement to run: ``many`` runs it once per parameter tuple."""

    sql: str
    params: Any = ()
    many: bool = False


@dataclass(frozen=True)
class R:
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rowcount: int = 0


Round = list[Q]
Op = Generator[Round, list[R], T]


@dataclass(frozen=True)
class Dialect:
    """What differs between SQLite and PostgreSQL in the statements themselves."""

    name: str
    real: str
    integer: str
    serial: str
    lock_entities: str  # row locks taken while a commit checks versions
    skip_locked: str  # how a claim skips rows another claimer holds


SQLITE = Dialect("sqlite", "REAL", "INTEGER", "INTEGER PRIMARY KEY AUTOINCREMENT", "", "")
POSTGRES = Dialect(
    "postgresql",
    "DOUBLE PRECISION",
    "BIGINT",
    "BIGSERIAL PRIMARY KEY",
    " FOR UPDATE OF e",
    " FOR UPDATE SKIP LOCKED",
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS pystator_entities (
    entity_id  TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    version    {integer} NOT NULL,
    context    TEXT,
    snapshot   TEXT,
    updated_at {real} NOT NULL
);
CREATE TABLE IF NOT EXISTS pystator_audit (
    id         {serial},
    entity_id  TEXT NOT NULL,
    version    {integer} NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    trigger    TEXT NOT NULL,
    event_id   TEXT,
    timestamp  {real} NOT NULL,
    UNIQUE (entity_id, version)
);
CREATE TABLE IF NOT EXISTS pystator_events (
    entity_id   TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    recorded_at {real} NOT NULL,
    PRIMARY KEY (entity_id, event_id)
);
CREATE INDEX IF NOT EXISTS pystator_events_recorded ON pystator_events (recorded_at);
CREATE TABLE IF NOT EXISTS pystator_timers (
    seq       {serial},
    timer_id  TEXT NOT NULL UNIQUE,
    entity_id TEXT NOT NULL,
    state     TEXT NOT NULL,
    event     TEXT NOT NULL,
    due_at    {real} NOT NULL,
    arm_at    {real} NOT NULL
);
CREATE INDEX IF NOT EXISTS pystator_timers_entity ON pystator_timers (entity_id);
CREATE INDEX IF NOT EXISTS pystator_timers_arm ON pystator_timers (arm_at);
CREATE TABLE IF NOT EXISTS pystator_outbox (
    key        TEXT PRIMARY KEY,
    entity_id  TEXT NOT NULL,
    version    {integer} NOT NULL,
    seq        {integer} NOT NULL,
    name       TEXT NOT NULL,
    params     TEXT NOT NULL,
    phase      TEXT NOT NULL,
    state      TEXT,
    context    TEXT NOT NULL,
    attempts   {integer} NOT NULL DEFAULT 0,
    last_error TEXT,
    due_at     {real} NOT NULL,
    owner      TEXT,
    created_at {real} NOT NULL
);
CREATE INDEX IF NOT EXISTS pystator_outbox_due ON pystator_outbox (due_at);
CREATE TABLE IF NOT EXISTS pystator_dead_letters (
    id        {serial},
    kind      TEXT NOT NULL,
    key       TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    payload   TEXT NOT NULL,
    error     TEXT NOT NULL,
    attempts  {integer} NOT NULL,
    failed_at {real} NOT NULL
);
"""


def schema(d: Dialect) -> list[str]:
    """The ``CREATE`` statements, one per item, for ``d``."""
    text = SCHEMA.format(real=d.real, integer=d.integer, serial=d.serial)
    return [s.strip() for s in text.split(";") if s.strip()]


def dumps(value: Any, what: str) -> str:
    """JSON for a column; a value JSON cannot hold is the caller's error, named."""
    try:
        return json.dumps(value, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise OrchestratorUsageError(
            f"{what} must be plain JSON (dicts, lists, strings, numbers, booleans, null) "
            f"to be stored: {exc}"
        ) from exc


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def marks(n: int) -> str:
    return ",".join("?" * n)


# ---------------------------------------------------------------------- reads
def load(entity_id: str, event_id: str | None) -> Op[tuple[Any, dict[str, Any] | None]]:
    """The entity, its timers and the recorded outcome of ``event_id``, in one statement."""
    from pystator.runtime.state_store import StoredState

    (res,) = yield [
        Q(
            "SELECT e.state, e.version, e.context, e.snapshot, "
            "t.timer_id, t.state, t.event, t.due_at, "
            "(SELECT outcome FROM pystator_events WHERE entity_id = ? AND event_id = ?) "
            "FROM (SELECT 1 AS one) AS one "
            "LEFT JOIN pystator_entities e ON e.entity_id = ? "
            "LEFT JOIN pystator_timers t ON t.entity_id = e.entity_id "
            "ORDER BY t.due_at, t.seq",
            (entity_id, event_id, entity_id),
        )
    ]
    first = res.rows[0]
    outcome = loads(first[8]) if first[8] is not None else None
    if first[0] is None:
        return None, outcome
    timers = tuple(
        ScheduledTimer(str(r[4]), entity_id, str(r[5]), str(r[6]), float(r[7]))
        for r in res.rows
        if r[4] is not None
    )
    stored = StoredState(
        entity_id, str(first[0]), int(first[1]), loads(first[2]), timers, loads(first[3])
    )
    return stored, outcome


def audit_trail(entity_id: str) -> Op[list[Any]]:
    from pystator.runtime.state_store import AuditRecord

    (res,) = yield [
        Q(
            "SELECT entity_id, version, from_state, to_state, trigger, event_id, timestamp "
            "FROM pystator_audit WHERE entity_id = ? ORDER BY version",
            (entity_id,),
        )
    ]
    return [AuditRecord(r[0], int(r[1]), r[2], r[3], r[4], r[5], float(r[6])) for r in res.rows]


def dead_letters(entity_id: str | None) -> Op[list[DeadLetter]]:
    where, params = ("WHERE entity_id = ? ", (entity_id,)) if entity_id is not None else ("", ())
    (res,) = yield [
        Q(
            "SELECT kind, key, entity_id, payload, error, attempts, failed_at, id "
            f"FROM pystator_dead_letters {where}ORDER BY id",
            params,
        )
    ]
    return [
        DeadLetter(r[0], r[1], r[2], loads(r[3]), r[4], int(r[5]), float(r[6]), int(r[7]))
        for r in res.rows
    ]


_ACTION_COLUMNS = (
    "key, entity_id, version, seq, name, params, phase, state, context, attempts, last_error"
)


def _action(r: Sequence[Any]) -> PendingAction:
    effect = ActionEffect(str(r[4]), loads(r[5]), r[6], r[7], loads(r[8]))
    return PendingAction(str(r[0]), str(r[1]), int(r[2]), int(r[3]), effect, int(r[9]), r[10])


def pending_actions(entity_id: str | None) -> Op[list[PendingAction]]:
    where, params = ("WHERE entity_id = ? ", (entity_id,)) if entity_id is not None else ("", ())
    (res,) = yield [
        Q(
            f"SELECT {_ACTION_COLUMNS} FROM pystator_outbox {where}"
            "ORDER BY entity_id, version, seq",
            params,
        )
    ]
    return [_action(r) for r in res.rows]


# ---------------------------------------------------------------------- the step's transaction
def commit_many(d: Dialect, commits: Sequence[StepCommit], now: float) -> Op[list[CommitResult]]:
    """Check every commit, then write those that hold, in the caller's transaction.

    Round one creates the new entities (``ON CONFLICT DO NOTHING``: a concurrent
    creator wins, and its row then shows a version we did not expect), reads every
    entity's version under a row lock (PostgreSQL; SQLite holds the database write
    lock from ``BEGIN IMMEDIATE``) and the dedup records, so the checks stay true
    until round two writes what passed. Two commits of one batch for the same
    entity are taken in order: the second must have been computed from the first's
    version.
    """
    creating = list(dict.fromkeys(c.entity_id for c in commits if c.expected_version == 0))
    states = {c.entity_id: c.state for c in commits if c.expected_version == 0}
    round_one = [
        Q(
            "INSERT INTO pystator_entities (entity_id, state, version, context, snapshot, "
            "updated_at) VALUES (?, ?, 0, NULL, NULL, ?) ON CONFLICT (entity_id) DO NOTHING",
            (entity_id, states[entity_id], now),
        )
        for entity_id in creating
    ]
    ids = sorted({c.entity_id for c in commits})
    round_one.append(
        Q(
            "SELECT e.entity_id, e.version, t.timer_id FROM pystator_entities e "
            "LEFT JOIN pystator_timers t ON t.entity_id = e.entity_id "
            f"WHERE e.entity_id IN ({marks(len(ids))}) ORDER BY e.entity_id{d.lock_entities}",
            tuple(ids),
        )
    )
    keyed = [(c.entity_id, c.event_id) for c in commits if c.event_id is not None]
    if keyed:
        round_one.append(
            Q(
                "SELECT entity_id, event_id, outcome FROM pystator_events "
                f"WHERE (entity_id, event_id) IN (VALUES {','.join(['(?, ?)'] * len(keyed))})",
                tuple(v for pair in keyed for v in pair),
            )
        )
    answers = yield round_one
    current: dict[str, int] = {}
    timer_ids: dict[str, set[str]] = {}
    for entity_id, version, timer_id in answers[len(creating)].rows:
        current[entity_id] = int(version)
        ids_of = timer_ids.setdefault(entity_id, set())
        if timer_id is not None:
            ids_of.add(timer_id)
    seen: dict[tuple[str, str], Any] = {}
    if keyed:
        seen = {(r[0], r[1]): loads(r[2]) for r in answers[len(creating) + 1].rows}

    results: list[CommitResult] = []
    accepted: list[StepCommit] = []
    for c in commits:
        actual = current.get(c.entity_id, 0)
        if actual != c.expected_version:
            results.append(CommitResult(conflict=actual))
            continue
        if c.event_id is not None:
            first = seen.get((c.entity_id, c.event_id))
            if first is not None:
                results.append(CommitResult(duplicate=first))
                continue
            seen[(c.entity_id, c.event_id)] = dict(c.outcome or {})
        current[c.entity_id] = c.version
        results.append(CommitResult(version=c.version))
        accepted.append(c)
    if accepted:
        yield _write(accepted, timer_ids, now)
    return results


def _write(accepted: list[StepCommit], timer_ids: dict[str, set[str]], now: float) -> Round:
    """Round two of a commit: every write of the accepted commits."""
    out: Round = []
    moving = [c for c in accepted if c.changes_state]
    if moving:
        out.append(
            Q(
                "UPDATE pystator_entities SET state = ?, version = ?, "
                "context = COALESCE(?, context), snapshot = ?, updated_at = ? "
                "WHERE entity_id = ?",
                [
                    (
                        c.state,
                        c.version,
                        dumps(dict(c.context), "the context") if c.context is not None else None,
                        dumps(dict(c.snapshot), "the snapshot") if c.snapshot is not None else None,
                        now,
                        c.entity_id,
                    )
                    for c in moving
                ],
                many=True,
            )
        )
    audits = [(c, c.audit) for c in moving if c.audit is not None]
    if audits:
        out.append(
            Q(
                "INSERT INTO pystator_audit (entity_id, version, from_state, to_state, "
                "trigger, event_id, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        c.entity_id,
                        c.version,
                        a.from_state,
                        a.to_state,
                        a.trigger,
                        a.event_id,
                        a.timestamp,
                    )
                    for c, a in audits
                    if a is not None
                ],
                many=True,
            )
        )
    outcomes = [c for c in accepted if c.event_id is not None]
    if outcomes:
        out.append(
            Q(
                "INSERT INTO pystator_events (entity_id, event_id, outcome, recorded_at) "
                "VALUES (?, ?, ?, ?)",
                [
                    (c.entity_id, c.event_id, dumps(dict(c.outcome or {}), "the outcome"), now)
                    for c in outcomes
                ],
                many=True,
            )
        )
    drop: list[tuple[str]] = []
    add: list[tuple[Any, ...]] = []
    for c in moving:
        had = timer_ids.get(c.entity_id, set())
        wanted = {t.timer_id for t in c.timers}
        drop.extend((t,) for t in sorted(had - wanted))
        add.extend(
            (t.timer_id, c.entity_id, t.state, t.event, t.due_at, _arm_at(c, t))
            for t in c.timers
            if t.timer_id not in had
        )
        timer_ids[c.entity_id] = wanted
    if drop:
        out.append(Q("DELETE FROM pystator_timers WHERE timer_id = ?", drop, many=True))
    if add:
        out.append(
            Q(
                "INSERT INTO pystator_timers (timer_id, entity_id, state, event, due_at, "
                "arm_at) VALUES (?, ?, ?, ?, ?, ?)",
                add,
                many=True,
            )
        )
    rows = [
        (
            key,
            c.entity_id,
            c.version,
            seq,
            a.name,
            dumps(dict(a.params), f"params of {a.name}"),
            a.phase,
            a.state,
            dumps(dict(a.context), f"the context of action {a.name!r}"),
            c.lease_until,
            c.owner or None,
            now,
        )
        for c in moving
        for seq, (key, a) in enumerate(zip(c.action_keys(), c.actions, strict=True))
    ]
    if rows:
        out.append(
            Q(
                "INSERT INTO pystator_outbox (key, entity_id, version, seq, name, params, "
                "phase, state, context, attempts, last_error, due_at, owner, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, ?, ?)",
                rows,
                many=True,
            )
        )
    out += _bury([d for c in accepted for d in c.dead_letters])
    done = [(k,) for c in accepted for k in c.done_actions]
    if done:
        out.append(Q("DELETE FROM pystator_outbox WHERE key = ?", done, many=True))
    return out


def _arm_at(c: StepCommit, timer: ScheduledTimer) -> float:
    return c.lease_until if c.arm_after is None else timer.due_at + c.arm_after


def _bury(dead: Sequence[DeadLetter]) -> Round:
    if not dead:
        return []
    out = [
        Q(
            "INSERT INTO pystator_dead_letters (kind, key, entity_id, payload, error, "
            "attempts, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    d.kind,
                    d.key,
                    d.entity_id,
                    dumps(dict(d.payload), "a dead letter"),
                    d.error,
                    d.attempts,
                    d.failed_at,
                )
                for d in dead
            ],
            many=True,
        )
    ]
    actions = [(d.key,) for d in dead if d.kind == "action"]
    if actions:
        out.append(Q("DELETE FROM pystator_outbox WHERE key = ?", actions, many=True))
    return out


# ---------------------------------------------------------------------- deliveries
def claim(d: Dialect, owner: str, now: float, lease_until: float, limit: int) -> Op[Any]:
    """Lease up to ``limit`` due outbox rows and timers to ``owner``."""
    from pystator.runtime.state_store import Claimed

    actions_res, timers_res = yield [
        Q(
            "UPDATE pystator_outbox SET owner = ?, due_at = ? WHERE key IN ("
            "SELECT key FROM pystator_outbox WHERE due_at <= ? ORDER BY due_at LIMIT ?"
            f"{d.skip_locked}) RETURNING {_ACTION_COLUMNS}",
            (owner, lease_until, now, limit),
        ),
        Q(
            "UPDATE pystator_timers SET arm_at = ? WHERE timer_id IN ("
            "SELECT timer_id FROM pystator_timers WHERE arm_at <= ? ORDER BY arm_at LIMIT ?"
            f"{d.skip_locked}) RETURNING timer_id, entity_id, state, event, due_at",
            (lease_until, now, limit),
        ),
    ]
    actions = sorted(
        (_action(r) for r in actions_res.rows), key=lambda a: (a.entity_id, a.version, a.seq)
    )
    timers = sorted(
        (
            ScheduledTimer(str(r[0]), str(r[1]), str(r[2]), str(r[3]), float(r[4]))
            for r in timers_res.rows
        ),
        key=lambda t: t.due_at,
    )
    return Claimed(tuple(actions), tuple(timers))


def renew(owner: str, keys: Sequence[str], lease_until: float) -> Op[set[str]]:
    if not keys:
        return set()
    (res,) = yield [
        Q(
            f"UPDATE pystator_outbox SET due_at = ? WHERE owner = ? "
            f"AND key IN ({marks(len(keys))}) RETURNING key",
            (lease_until, owner, *keys),
        )
    ]
    return {str(r[0]) for r in res.rows}


def settle(
    owner: str,
    done: Sequence[str],
    failed: Sequence[FailedAction],
    armed: Mapping[str, float],
    dead: Sequence[DeadLetter],
) -> Op[None]:
    out: Round = []
    if done:
        out.append(Q(f"DELETE FROM pystator_outbox WHERE key IN ({marks(len(done))})", tuple(done)))
    if failed:
        out.append(
            Q(
                "UPDATE pystator_outbox SET attempts = ?, last_error = ?, due_at = ?, owner = ? "
                "WHERE key = ? AND owner = ?",
                [
                    (f.attempts, f.error, f.retry_at, owner if f.keep_claim else None, f.key, owner)
                    for f in failed
                ],
                many=True,
            )
        )
    if armed:
        out.append(
            Q(
                "UPDATE pystator_timers SET arm_at = ? WHERE timer_id = ?",
                [(at, timer_id) for timer_id, at in armed.items()],
                many=True,
            )
        )
    out += _bury(dead)
    if out:
        yield out


def purge_outcomes(before: float) -> Op[int]:
    (res,) = yield [Q("DELETE FROM pystator_events WHERE recorded_at < ?", (before,))]
    return res.rowcount


def run_sync(op: Op[T], execute: Any) -> T:
    """Drive ``op`` with ``execute(q) -> R``, one statement after another (SQLite)."""
    try:
        batch = next(op)
        while True:
            batch = op.send([execute(q) for q in batch])
    except StopIteration as stop:
        result: T = stop.value
        return result
