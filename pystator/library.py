"""The machine library: a small SQLite database of machines and their revisions.

A machine is a name plus an ordered list of revisions, one of which is its *current*
revision: the one the editor opens, the library lists, and export and share use. A revision
belongs to exactly one machine and has its own id, so ``/m/<revision id>`` is a stable,
read-only link that always names the same machine. The texts behind revisions are stored
once each, keyed by their SHA-256 (two machines with the same text share the storage, not
the identity).

Every write is one ``BEGIN IMMEDIATE`` transaction: concurrent saves are serialised, so a
save either lands whole or not at all and never trips over another one (twenty identical
saves at once make one revision). A save says which revision its text was edited from
(``base``); when the machine has moved on since, the text is kept as a new revision but not
made current, and the caller is told (:class:`Saved`), so one tab never silently replaces
another tab's save. Deleting a machine hides it from the library and drops its drafts; its
revisions stay readable so shared links keep working.

Drafts are the designer's autosave: the editor text as last typed, valid or not, for a saved
machine (keyed by its id) or for an unsaved page (keyed by a random draft id its address
carries). Each draft belongs to one browser (``owner``, the designer's browser id), so
another browser never sees it. One row per owner and key, overwritten on every keystroke
pause; rows untouched for a month are pruned when the designer starts.

The library knows nothing about machine semantics: the routes validate text with the engine
before they save it. It only refuses text that cannot be a definition at all (see
:mod:`pystator.textcheck`).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pystator.textcheck import check_text, clean_name

__all__ = [
    "DRAFT_MAX_AGE",
    "Draft",
    "Library",
    "LibraryError",
    "Machine",
    "NotFound",
    "Revision",
    "Saved",
    "default_db_path",
    "draft_key",
    "machine_draft_key",
    "new_draft_id",
    "text_id_for",
]

ID_CHARS = 12
DRAFT_MAX_AGE = timedelta(days=30)
_DRAFT_ID = re.compile(r"^[0-9a-f]{16}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS texts (
    id   TEXT PRIMARY KEY,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS machines (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    current TEXT,
    deleted TEXT
);
CREATE TABLE IF NOT EXISTS revisions (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT,
    machine_id TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
    text_id    TEXT NOT NULL REFERENCES texts(id),
    created    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS drafts (
    owner   TEXT NOT NULL,
    key     TEXT NOT NULL,
    text    TEXT NOT NULL,
    name    TEXT NOT NULL DEFAULT '',
    base    TEXT NOT NULL DEFAULT '',
    updated TEXT NOT NULL,
    PRIMARY KEY (owner, key)
);
"""

_INDEXES = """
CREATE INDEX IF NOT EXISTS revisions_by_machine ON revisions(machine_id, seq);
CREATE INDEX IF NOT EXISTS revisions_by_text ON revisions(text_id);
CREATE UNIQUE INDEX IF NOT EXISTS revisions_by_id ON revisions(id);
CREATE INDEX IF NOT EXISTS drafts_by_key ON drafts(key);
"""


class LibraryError(Exception):
    """Something the library cannot do; the message is meant for the person."""


class NotFound(LibraryError):
    """No machine or revision with that id."""


@dataclass(frozen=True)
class Machine:
    """A machine as listed: its current revision id and how many revisions it has."""

    id: str
    name: str
    created: str
    updated: str
    revision_id: str
    revision_count: int


@dataclass(frozen=True)
class Revision:
    """One saved version of one machine; ``number`` counts from 1 within the machine."""

    id: str
    machine_id: str
    number: int
    created: str
    size: int


@dataclass(frozen=True)
class Saved:
    """What a save did.

    ``revision`` holds the saved text (the current revision itself when the text was
    already current). ``made_current`` is false when the save came from a stale base: the
    machine was saved from elsewhere after the text was opened, so the text was kept as
    ``revision`` but ``current`` (the other save) stays the machine's current revision.
    """

    revision: Revision
    current: Revision
    made_current: bool


@dataclass(frozen=True)
class Draft:
    """Autosaved editor text of one browser (``owner``).

    ``name`` is the name field of an unsaved page (else empty); ``base`` is the revision a
    saved machine's draft was edited from (else empty).
    """

    owner: str
    key: str
    text: str
    name: str
    base: str
    updated: str


def new_draft_id() -> str:
    """A fresh, unguessable id for an unsaved draft (16 hex digits)."""
    return secrets.token_hex(8)


def draft_key(draft_id: str) -> str:
    """The drafts-table key of an unsaved draft; ``NotFound`` for a malformed id.

    Checking the shape here means an address can never name a machine's draft.
    """
    if not _DRAFT_ID.match(draft_id):
        raise NotFound(f"There is no draft {draft_id!r}: the address is not a draft address.")
    return f"draft/{draft_id}"


def machine_draft_key(machine_id: str) -> str:
    """The drafts-table key of a saved machine's unsaved changes."""
    return f"machine/{machine_id}"


def text_id_for(text: str) -> str:
    """Where ``text`` is stored: the first hex digits of its SHA-256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:ID_CHARS]


def default_db_path() -> Path:
    """``$PYSTATOR_DB`` if set, else ``library.sqlite3`` in the user's data directory.

    The designer and the REST API both call this, so by default they share one library.
    """
    env = os.environ.get("PYSTATOR_DB")
    if env:
        return Path(env).expanduser()
    try:
        from platformdirs import user_data_dir  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
        return base / "pystator" / "library.sqlite3"
    return Path(user_data_dir("pystator")) / "library.sqlite3"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _run(db: sqlite3.Connection, script: str) -> None:
    """Run each statement of ``script`` inside the open transaction (``executescript``
    would commit it first)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def _upgrade(db: sqlite3.Connection) -> None:
    """Bring a library made by an earlier version up to this schema, keeping its links.

    Earlier revisions were named by their text's address, shared by every machine with that
    text. Each text's first revision keeps that id (so old ``/m/<id>`` links open the same
    revision as before); later revisions with the same text get ids of their own. Drafts
    made before drafts had owners belong to no browser and are left to be pruned.
    """
    if "current" not in _columns(db, "machines"):
        db.execute("ALTER TABLE machines ADD COLUMN current TEXT")
        db.execute("ALTER TABLE machines ADD COLUMN deleted TEXT")
    if "id" not in _columns(db, "revisions"):
        db.execute("ALTER TABLE revisions ADD COLUMN id TEXT")
    used = {row[0] for row in db.execute("SELECT id FROM revisions WHERE id IS NOT NULL")}
    rows = db.execute("SELECT seq, text_id FROM revisions WHERE id IS NULL ORDER BY seq")
    for seq, text_id in rows.fetchall():
        revision_id = text_id if text_id not in used else _fresh_id(used)
        used.add(revision_id)
        db.execute("UPDATE revisions SET id = ? WHERE seq = ?", (revision_id, seq))
    db.execute(
        """UPDATE machines SET current = (SELECT r.id FROM revisions r
           WHERE r.machine_id = machines.id ORDER BY r.seq DESC LIMIT 1)
           WHERE current IS NULL"""
    )
    if "owner" not in _columns(db, "drafts"):
        db.execute("ALTER TABLE drafts RENAME TO drafts_unowned")
        _run(db, _SCHEMA)
        db.execute(
            """INSERT INTO drafts (owner, key, text, name, updated)
               SELECT '', key, text, name, updated FROM drafts_unowned"""
        )
        db.execute("DROP TABLE drafts_unowned")


def _fresh_id(used: set[str] | None = None) -> str:
    while True:
        candidate = secrets.token_hex(ID_CHARS // 2)
        if used is None or candidate not in used:
            return candidate


class Library:
    """The SQLite-backed machine library at ``path`` (created on first use).

    Each call opens its own connection, so one ``Library`` can be shared by the threads
    of a web server; WAL mode lets readers proceed while a save commits. A new library file
    (and a folder made for it) is readable by its owner only: it holds unsaved drafts and
    the designer's signing key.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, mode=0o700)
        if not self.path.exists():
            self.path.touch(mode=0o600)
        with self._transaction(write=True) as db:
            _run(db, _SCHEMA)
            _upgrade(db)
            _run(db, _INDEXES)

    @contextmanager
    def _transaction(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """A connection inside one transaction: ``BEGIN IMMEDIATE`` for writes, so two
        writers queue for the lock instead of interleaving their reads and writes."""
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        finally:
            db.close()

    # -- reading -----------------------------------------------------------------------

    _MACHINE_QUERY = """
        SELECT m.id, m.name, m.created, m.updated, m.current AS revision_id,
               (SELECT COUNT(*) FROM revisions r WHERE r.machine_id = m.id) AS revision_count
        FROM machines m
    """

    @staticmethod
    def _machine(row: sqlite3.Row) -> Machine:
        return Machine(
            id=row["id"],
            name=row["name"],
            created=row["created"],
            updated=row["updated"],
            revision_id=row["revision_id"],
            revision_count=row["revision_count"],
        )

    def machines(self) -> list[Machine]:
        """Every machine, most recently updated first."""
        with self._transaction() as db:
            rows = db.execute(
                self._MACHINE_QUERY + " WHERE m.deleted IS NULL ORDER BY m.updated DESC, m.name"
            ).fetchall()
        return [self._machine(row) for row in rows]

    def get(self, machine_id: str) -> Machine:
        with self._transaction() as db:
            return self._get(db, machine_id)

    def _get(self, db: sqlite3.Connection, machine_id: str) -> Machine:
        row = db.execute(
            self._MACHINE_QUERY + " WHERE m.id = ? AND m.deleted IS NULL", (machine_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"There is no machine with id {machine_id!r} in this library.")
        return self._machine(row)

    def text(self, machine_id: str) -> str:
        """The YAML text of the machine's current revision."""
        return self.revision_text(self.get(machine_id).revision_id)

    def revision_text(self, revision_id: str) -> str:
        """The text of a revision (of any machine, deleted ones too)."""
        with self._transaction() as db:
            row = db.execute(
                """SELECT t.text FROM revisions r JOIN texts t ON t.id = r.text_id
                   WHERE r.id = ?""",
                (revision_id,),
            ).fetchone()
            if row is None:  # a link made before revisions had ids of their own
                row = db.execute("SELECT text FROM texts WHERE id = ?", (revision_id,)).fetchone()
        if row is None:
            raise NotFound(f"There is no revision {revision_id!r} in this library.")
        text: str = row["text"]
        return text

    def revisions(self, machine_id: str) -> list[Revision]:
        """The machine's revisions, newest first."""
        with self._transaction() as db:
            self._get(db, machine_id)
            return self._revisions(db, machine_id)

    @staticmethod
    def _revisions(db: sqlite3.Connection, machine_id: str) -> list[Revision]:
        rows = db.execute(
            """SELECT r.id, r.created, LENGTH(CAST(t.text AS BLOB)) AS size
               FROM revisions r JOIN texts t ON t.id = r.text_id
               WHERE r.machine_id = ? ORDER BY r.seq""",
            (machine_id,),
        ).fetchall()
        numbered = [
            Revision(row["id"], machine_id, number, row["created"], row["size"])
            for number, row in enumerate(rows, start=1)
        ]
        return numbered[::-1]

    def name_for_revision(self, revision_id: str) -> str | None:
        """The name of the machine this revision belongs to (deleted or not)."""
        with self._transaction() as db:
            row = db.execute(
                """SELECT m.name FROM revisions r JOIN machines m ON m.id = r.machine_id
                   WHERE r.id = ?""",
                (revision_id,),
            ).fetchone()
        return None if row is None else str(row["name"])

    def diff(self, old_revision: str, new_revision: str) -> list[str]:
        """A unified diff between two revisions (any two: they need not share a machine)."""
        old = self.revision_text(old_revision)
        new = self.revision_text(new_revision)
        return list(
            difflib.unified_diff(
                old.splitlines(),
                new.splitlines(),
                fromfile=f"revision {old_revision}",
                tofile=f"revision {new_revision}",
                lineterm="",
            )
        )

    # -- writing -----------------------------------------------------------------------

    @staticmethod
    def _store_text(db: sqlite3.Connection, text: str) -> str:
        text_id = text_id_for(text)
        db.execute(
            "INSERT INTO texts (id, text) VALUES (?, ?) ON CONFLICT DO NOTHING", (text_id, text)
        )
        row = db.execute("SELECT text FROM texts WHERE id = ?", (text_id,)).fetchone()
        if row["text"] != text:
            raise LibraryError(
                f"Two different texts share the storage id {text_id}; nothing was saved."
            )
        return text_id

    @classmethod
    def _add_revision(
        cls, db: sqlite3.Connection, machine_id: str, text: str, now: str, *, current: bool
    ) -> str:
        revision_id = _fresh_id()
        while db.execute("SELECT 1 FROM revisions WHERE id = ?", (revision_id,)).fetchone():
            revision_id = _fresh_id()  # pragma: no cover - 48 random bits
        db.execute(
            "INSERT INTO revisions (id, machine_id, text_id, created) VALUES (?, ?, ?, ?)",
            (revision_id, machine_id, cls._store_text(db, text), now),
        )
        if current:
            db.execute(
                "UPDATE machines SET current = ?, updated = ? WHERE id = ?",
                (revision_id, now, machine_id),
            )
        return revision_id

    def create(self, name: str, text: str) -> Machine:
        """A new machine whose first (and current) revision is ``text``."""
        name = clean_name(name)
        check_text(text)
        machine_id, now = _fresh_id(), _now()
        with self._transaction(write=True) as db:
            db.execute(
                "INSERT INTO machines (id, name, created, updated) VALUES (?, ?, ?, ?)",
                (machine_id, name, now, now),
            )
            self._add_revision(db, machine_id, text, now, current=True)
            return self._get(db, machine_id)

    def save(self, machine_id: str, text: str, base: str | None = None) -> Saved:
        """Save ``text`` as the machine's newest revision and say what happened.

        ``base`` is the revision the text was edited from. When it is given and is no longer
        the current revision, the text is kept as a new revision that does not become
        current (``made_current`` false). Saving the current text again adds nothing.
        """
        check_text(text)
        with self._transaction(write=True) as db:
            machine = self._get(db, machine_id)
            current_text = db.execute(
                """SELECT t.text FROM revisions r JOIN texts t ON t.id = r.text_id
                   WHERE r.id = ?""",
                (machine.revision_id,),
            ).fetchone()["text"]
            made_current = current_text != text and (base is None or base == machine.revision_id)
            revision_id = machine.revision_id
            if current_text != text:
                revision_id = self._add_revision(db, machine_id, text, _now(), current=made_current)
            revisions = {r.id: r for r in self._revisions(db, machine_id)}
            current = self._get(db, machine_id).revision_id
        return Saved(revisions[revision_id], revisions[current], revision_id == current)

    def rename(self, machine_id: str, name: str) -> Machine:
        name = clean_name(name)
        with self._transaction(write=True) as db:
            self._get(db, machine_id)
            db.execute(
                "UPDATE machines SET name = ?, updated = ? WHERE id = ?", (name, _now(), machine_id)
            )
            return self._get(db, machine_id)

    def duplicate(self, machine_id: str, name: str | None = None) -> Machine:
        """A new machine starting from this one's current text (its history is not copied)."""
        source = self.get(machine_id)
        return self.create(name or f"{source.name} (copy)", self.text(machine_id))

    def delete(self, machine_id: str) -> None:
        """Take the machine out of the library and drop every browser's draft of it.

        Its revisions stay readable by id, so links to them keep working.
        """
        with self._transaction(write=True) as db:
            self._get(db, machine_id)
            db.execute("UPDATE machines SET deleted = ? WHERE id = ?", (_now(), machine_id))
            db.execute("DELETE FROM drafts WHERE key = ?", (machine_draft_key(machine_id),))

    def secret(self, name: str) -> str:
        """A random value kept in the library under ``name``, made on first use."""
        with self._transaction(write=True) as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (f"secret/{name}", secrets.token_hex(32)),
            )
            row = db.execute("SELECT value FROM meta WHERE key = ?", (f"secret/{name}",))
            value: str = row.fetchone()["value"]
        return value

    # -- drafts --------------------------------------------------------------------------

    def put_draft(self, owner: str, key: str, text: str, name: str = "", base: str = "") -> Draft:
        """Store ``text`` (valid or not) as ``owner``'s draft under ``key``, replacing theirs.

        Text that could never be a definition (over the size limit, binary) raises
        :class:`~pystator.textcheck.TextRejected` and stores nothing.
        """
        if not owner:
            raise LibraryError("A draft belongs to a browser: give its owner.")
        check_text(text)
        now, name = _now(), name[:200]
        with self._transaction(write=True) as db:
            db.execute(
                """INSERT INTO drafts (owner, key, text, name, base, updated)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT(owner, key) DO UPDATE SET text = excluded.text,
                   name = excluded.name, base = excluded.base, updated = excluded.updated""",
                (owner, key, text, name, base, now),
            )
        return Draft(owner, key, text, name, base, now)

    def get_draft(self, owner: str, key: str) -> Draft | None:
        """``owner``'s draft under ``key``; another browser's draft is never returned."""
        with self._transaction() as db:
            row = db.execute(
                """SELECT owner, key, text, name, base, updated FROM drafts
                   WHERE owner = ? AND key = ?""",
                (owner, key),
            ).fetchone()
        if row is None or not owner:
            return None
        return Draft(
            row["owner"], row["key"], row["text"], row["name"], row["base"], row["updated"]
        )

    def drop_draft(self, owner: str, key: str) -> bool:
        """Forget ``owner``'s draft under ``key``; true when there was one."""
        with self._transaction(write=True) as db:
            cursor = db.execute("DELETE FROM drafts WHERE owner = ? AND key = ?", (owner, key))
        return cursor.rowcount > 0

    def prune_drafts(self, max_age: timedelta = DRAFT_MAX_AGE) -> int:
        """Drop drafts not touched for ``max_age``; returns how many went."""
        cutoff = (datetime.now(timezone.utc) - max_age).isoformat(timespec="seconds")
        with self._transaction(write=True) as db:
            cursor = db.execute("DELETE FROM drafts WHERE updated < ?", (cutoff,))
        return cursor.rowcount

    def seed(self, examples: list[tuple[str, str]]) -> int:
        """Add ``(name, text)`` machines once, on the library's first start.

        Returns how many were added; later calls add nothing, so a person who deleted the
        examples does not get them back on the next start.
        """
        with self._transaction(write=True) as db:
            if db.execute("SELECT 1 FROM meta WHERE key = 'seeded'").fetchone():
                return 0
            db.execute("INSERT INTO meta (key, value) VALUES ('seeded', ?)", (_now(),))
        added = 0
        for name, text in examples:
            self.create(name, text)
            added += 1
        return added
