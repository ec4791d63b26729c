"""The machine library: a small SQLite database of machines and their revisions.

A machine is a name plus an ordered list of revisions. A revision is immutable and
content-addressed: its id is a short SHA-256 of the YAML text, so the same text always has
the same id and ``/m/<revision id>`` is a stable, read-only link. Saving appends a revision
row in one transaction; a save that fails for any reason leaves every earlier revision as it
was. Revision texts are kept after their machine is deleted so shared links keep working.

Drafts are the designer's autosave: the editor text as last typed, valid or not, for a saved
machine (keyed by its id, dropped when a revision is saved or the machine is deleted) or for
an unsaved draft (keyed by a random draft id that the page's address carries). One row per
key, overwritten on every keystroke pause, so a reload or a closed tab never loses typing;
rows untouched for a month are pruned when the designer starts.

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
    "default_db_path",
    "draft_key",
    "machine_draft_key",
    "new_draft_id",
    "revision_id_for",
]

REVISION_ID_CHARS = 12
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
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS revisions (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    machine_id TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
    text_id    TEXT NOT NULL REFERENCES texts(id),
    created    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS revisions_by_machine ON revisions(machine_id, seq);
CREATE INDEX IF NOT EXISTS revisions_by_text ON revisions(text_id);
CREATE TABLE IF NOT EXISTS drafts (
    key     TEXT PRIMARY KEY,
    text    TEXT NOT NULL,
    name    TEXT NOT NULL DEFAULT '',
    updated TEXT NOT NULL
);
"""


class LibraryError(Exception):
    """Something the library cannot do; the message is meant for the person."""


class NotFound(LibraryError):
    """No machine or revision with that id."""


@dataclass(frozen=True)
class Machine:
    """A machine as listed: its latest revision id and how many revisions it has."""

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
class Draft:
    """Autosaved editor text; ``name`` is the name field of an unsaved draft (else empty)."""

    key: str
    text: str
    name: str
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


def revision_id_for(text: str) -> str:
    """The content address of ``text``: the first hex digits of its SHA-256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:REVISION_ID_CHARS]


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


class Library:
    """The SQLite-backed machine library at ``path`` (created on first use).

    Each call opens its own connection, so one ``Library`` can be shared by the threads
    of a web server; WAL mode lets readers proceed while a save commits.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            with db:
                yield db
        finally:
            db.close()

    # -- reading -----------------------------------------------------------------------

    _MACHINE_QUERY = """
        SELECT m.id, m.name, m.created, m.updated,
               (SELECT r.text_id FROM revisions r WHERE r.machine_id = m.id
                ORDER BY r.seq DESC LIMIT 1) AS revision_id,
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
        with self._connect() as db:
            rows = db.execute(self._MACHINE_QUERY + " ORDER BY m.updated DESC, m.name").fetchall()
        return [self._machine(row) for row in rows]

    def get(self, machine_id: str) -> Machine:
        with self._connect() as db:
            row = db.execute(self._MACHINE_QUERY + " WHERE m.id = ?", (machine_id,)).fetchone()
        if row is None:
            raise NotFound(f"There is no machine with id {machine_id!r} in this library.")
        return self._machine(row)

    def text(self, machine_id: str) -> str:
        """The YAML text of the machine's latest revision."""
        return self.revision_text(self.get(machine_id).revision_id)

    def revision_text(self, revision_id: str) -> str:
        with self._connect() as db:
            row = db.execute("SELECT text FROM texts WHERE id = ?", (revision_id,)).fetchone()
        if row is None:
            raise NotFound(f"There is no revision {revision_id!r} in this library.")
        text: str = row["text"]
        return text

    def revisions(self, machine_id: str) -> list[Revision]:
        """The machine's revisions, newest first."""
        self.get(machine_id)
        with self._connect() as db:
            rows = db.execute(
                """SELECT r.text_id, r.created, LENGTH(CAST(t.text AS BLOB)) AS size
                   FROM revisions r JOIN texts t ON t.id = r.text_id
                   WHERE r.machine_id = ? ORDER BY r.seq""",
                (machine_id,),
            ).fetchall()
        numbered = [
            Revision(row["text_id"], machine_id, number, row["created"], row["size"])
            for number, row in enumerate(rows, start=1)
        ]
        return numbered[::-1]

    def name_for_revision(self, revision_id: str) -> str | None:
        """The name of a machine that has (or had) this revision, for a fork's default name."""
        with self._connect() as db:
            row = db.execute(
                """SELECT m.name FROM revisions r JOIN machines m ON m.id = r.machine_id
                   WHERE r.text_id = ? ORDER BY r.seq LIMIT 1""",
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
        revision_id = revision_id_for(text)
        row = db.execute("SELECT text FROM texts WHERE id = ?", (revision_id,)).fetchone()
        if row is None:
            db.execute("INSERT INTO texts (id, text) VALUES (?, ?)", (revision_id, text))
        elif row["text"] != text:
            raise LibraryError(
                f"Two different texts share the revision id {revision_id}; nothing was saved."
            )
        return revision_id

    def create(self, name: str, text: str) -> Machine:
        """A new machine whose first revision is ``text``."""
        name = clean_name(name)
        check_text(text)
        machine_id = secrets.token_hex(6)
        now = _now()
        with self._connect() as db:
            revision_id = self._store_text(db, text)
            db.execute(
                "INSERT INTO machines (id, name, created, updated) VALUES (?, ?, ?, ?)",
                (machine_id, name, now, now),
            )
            db.execute(
                "INSERT INTO revisions (machine_id, text_id, created) VALUES (?, ?, ?)",
                (machine_id, revision_id, now),
            )
        return self.get(machine_id)

    def save(self, machine_id: str, text: str) -> Revision:
        """Append ``text`` as the machine's newest revision and return it.

        Saving the text the machine already has is a no-op that returns the latest revision,
        so pressing Save twice does not clutter the history.
        """
        check_text(text)
        current = self.get(machine_id)
        if current.revision_id == revision_id_for(text) and self.text(machine_id) == text:
            return self.revisions(machine_id)[0]
        now = _now()
        with self._connect() as db:
            revision_id = self._store_text(db, text)
            db.execute(
                "INSERT INTO revisions (machine_id, text_id, created) VALUES (?, ?, ?)",
                (machine_id, revision_id, now),
            )
            db.execute("UPDATE machines SET updated = ? WHERE id = ?", (now, machine_id))
        return self.revisions(machine_id)[0]

    def rename(self, machine_id: str, name: str) -> Machine:
        name = clean_name(name)
        self.get(machine_id)
        with self._connect() as db:
            db.execute(
                "UPDATE machines SET name = ?, updated = ? WHERE id = ?", (name, _now(), machine_id)
            )
        return self.get(machine_id)

    def duplicate(self, machine_id: str, name: str | None = None) -> Machine:
        """A new machine starting from this one's latest text (its history is not copied)."""
        source = self.get(machine_id)
        return self.create(name or f"{source.name} (copy)", self.text(machine_id))

    def delete(self, machine_id: str) -> None:
        self.get(machine_id)
        with self._connect() as db:
            db.execute("DELETE FROM machines WHERE id = ?", (machine_id,))
            db.execute("DELETE FROM drafts WHERE key = ?", (machine_draft_key(machine_id),))

    # -- drafts --------------------------------------------------------------------------

    def put_draft(self, key: str, text: str, name: str = "") -> Draft:
        """Store ``text`` (valid or not) as the draft under ``key``, replacing the last one.

        Text that could never be a definition (over the size limit, binary) raises
        :class:`~pystator.textcheck.TextRejected` and stores nothing.
        """
        check_text(text)
        now = _now()
        with self._connect() as db:
            db.execute(
                """INSERT INTO drafts (key, text, name, updated) VALUES (?, ?, ?, ?)
                   ON CONFLICT(key) DO UPDATE SET text = excluded.text,
                   name = excluded.name, updated = excluded.updated""",
                (key, text, name[:200], now),
            )
        return Draft(key, text, name[:200], now)

    def get_draft(self, key: str) -> Draft | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT key, text, name, updated FROM drafts WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return Draft(row["key"], row["text"], row["name"], row["updated"])

    def drop_draft(self, key: str) -> bool:
        """Forget the draft under ``key``; true when there was one."""
        with self._connect() as db:
            cursor = db.execute("DELETE FROM drafts WHERE key = ?", (key,))
        return cursor.rowcount > 0

    def prune_drafts(self, max_age: timedelta = DRAFT_MAX_AGE) -> int:
        """Drop drafts not touched for ``max_age``; returns how many went."""
        cutoff = (datetime.now(timezone.utc) - max_age).isoformat(timespec="seconds")
        with self._connect() as db:
            cursor = db.execute("DELETE FROM drafts WHERE updated < ?", (cutoff,))
        return cursor.rowcount

    def seed(self, examples: list[tuple[str, str]]) -> int:
        """Add ``(name, text)`` machines once, on the library's first start.

        Returns how many were added; later calls add nothing, so a person who deleted the
        examples does not get them back on the next start.
        """
        with self._connect() as db:
            if db.execute("SELECT 1 FROM meta WHERE key = 'seeded'").fetchone():
                return 0
            db.execute("INSERT INTO meta (key, value) VALUES ('seeded', ?)", (_now(),))
        added = 0
        for name, text in examples:
            self.create(name, text)
            added += 1
        return added
