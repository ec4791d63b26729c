"""The SQLite machine library: immutable revisions that belong to one machine each."""

from __future__ import annotations

from pathlib import Path

import pytest

from pystator.library import Library, NotFound
from pystator.textcheck import MAX_TEXT_BYTES, TextRejected


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return Library(tmp_path / "lib.sqlite3")


def test_create_and_read_back(library: Library) -> None:
    machine = library.create("  order   flow ", "states: []\n")
    assert machine.name == "order flow"
    assert library.text(machine.id) == "states: []\n"
    assert library.revision_text(machine.revision_id) == "states: []\n"
    assert [m.id for m in library.machines()] == [machine.id]


def test_every_save_is_a_new_revision_and_old_ones_stay(library: Library) -> None:
    machine = library.create("m", "a: 1\n")
    second = library.save(machine.id, "a: 2\n").revision
    third = library.save(machine.id, "a: 3\n").revision
    revisions = library.revisions(machine.id)
    assert [r.number for r in revisions] == [3, 2, 1]
    assert [r.id for r in revisions] == [third.id, second.id, machine.revision_id]
    assert library.revision_text(machine.revision_id) == "a: 1\n"
    assert library.text(machine.id) == "a: 3\n"


def test_the_same_text_in_two_machines_is_two_revisions(library: Library) -> None:
    """Storage is shared, identity is not: each revision names its own machine."""
    one, two = library.create("one", "a: 1\n"), library.create("two", "a: 1\n")
    assert one.revision_id != two.revision_id
    assert library.name_for_revision(one.revision_id) == "one"
    assert library.name_for_revision(two.revision_id) == "two"


def test_exactly_one_revision_is_current_after_a_restore(library: Library) -> None:
    machine = library.create("m", "a: 1\n")
    library.save(machine.id, "a: 2\n")
    restored = library.save(machine.id, library.revision_text(machine.revision_id)).revision
    revisions = library.revisions(machine.id)
    assert [r.number for r in revisions] == [3, 2, 1]
    assert len({r.id for r in revisions}) == 3
    assert library.get(machine.id).revision_id == restored.id == revisions[0].id


def test_a_save_from_a_stale_base_is_kept_but_not_made_current(library: Library) -> None:
    machine = library.create("m", "a: 1\n")
    first_tab = library.save(machine.id, "a: 2\n", base=machine.revision_id)
    assert first_tab.made_current
    second_tab = library.save(machine.id, "a: 3\n", base=machine.revision_id)
    assert not second_tab.made_current
    assert second_tab.current == first_tab.revision
    assert library.text(machine.id) == "a: 2\n"
    assert library.revision_text(second_tab.revision.id) == "a: 3\n"
    assert [r.number for r in library.revisions(machine.id)] == [3, 2, 1]
    # from the current base, or with the very text that is current, a save is not stale
    assert library.save(machine.id, "a: 4\n", base=first_tab.revision.id).made_current
    assert library.save(machine.id, "a: 4\n", base=machine.revision_id).made_current


def test_concurrent_identical_saves_make_one_revision(library: Library) -> None:
    """Twenty threads saving the same text at once: no error, one new revision."""
    from concurrent.futures import ThreadPoolExecutor

    machine = library.create("m", "a: 1\n")
    with ThreadPoolExecutor(20) as pool:
        outcomes = list(pool.map(lambda _: library.save(machine.id, "a: 2\n"), range(20)))
    assert {o.revision.id for o in outcomes} == {library.get(machine.id).revision_id}
    assert len(library.revisions(machine.id)) == 2
    with ThreadPoolExecutor(20) as pool:
        made = list(pool.map(lambda n: library.create(f"m{n}", "same: text\n"), range(20)))
    assert len({m.revision_id for m in made}) == 20


def test_drafts_belong_to_one_browser(library: Library) -> None:
    library.put_draft("browser-a", "machine/x", "a: 1\n", base="r1")
    assert library.get_draft("browser-b", "machine/x") is None
    draft = library.get_draft("browser-a", "machine/x")
    assert draft is not None and (draft.text, draft.base) == ("a: 1\n", "r1")
    assert not library.drop_draft("browser-b", "machine/x")
    assert library.drop_draft("browser-a", "machine/x")


def test_a_library_made_by_the_previous_version_is_upgraded(tmp_path: Path) -> None:
    """Old links keep their revision; texts shared by machines get ids of their own."""
    import sqlite3

    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE texts (id TEXT PRIMARY KEY, text TEXT NOT NULL);
        CREATE TABLE machines (id TEXT PRIMARY KEY, name TEXT NOT NULL,
                               created TEXT NOT NULL, updated TEXT NOT NULL);
        CREATE TABLE revisions (seq INTEGER PRIMARY KEY AUTOINCREMENT,
            machine_id TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
            text_id TEXT NOT NULL REFERENCES texts(id), created TEXT NOT NULL);
        CREATE TABLE drafts (key TEXT PRIMARY KEY, text TEXT NOT NULL,
                             name TEXT NOT NULL DEFAULT '', updated TEXT NOT NULL);
        INSERT INTO texts VALUES ('aaaaaaaaaaaa', 'a: 1\n'), ('bbbbbbbbbbbb', 'b: 1\n'),
                                 ('cccccccccccc', 'gone: 1\n');
        INSERT INTO machines VALUES ('m1', 'one', 't', 't'), ('m2', 'two', 't', 't');
        INSERT INTO revisions (machine_id, text_id, created) VALUES
            ('m1', 'aaaaaaaaaaaa', 't'), ('m1', 'bbbbbbbbbbbb', 't'), ('m2', 'aaaaaaaaaaaa', 't');
        INSERT INTO drafts VALUES ('machine/m1', 'typed: 1\n', '', '2999-01-01T00:00:00');
        """
    )
    db.close()
    library = Library(path)
    assert library.name_for_revision("aaaaaaaaaaaa") == "one"  # the old link, as before
    assert library.get("m1").revision_id == "bbbbbbbbbbbb"
    two = library.get("m2").revision_id
    assert two != "aaaaaaaaaaaa" and library.revision_text(two) == "a: 1\n"
    assert library.revision_text("cccccccccccc") == "gone: 1\n"  # a deleted machine's text
    assert library.save("m2", "a: 2\n").made_current
    assert library.get_draft("", "machine/m1") is None  # an unowned draft shows to no one
    Library(path)  # upgrading twice changes nothing


def test_saving_identical_text_adds_nothing(library: Library) -> None:
    machine = library.create("m", "a: 1\n")
    library.save(machine.id, "a: 1\n")
    assert len(library.revisions(machine.id)) == 1


def test_a_refused_save_leaves_the_previous_revision(library: Library) -> None:
    machine = library.create("m", "a: 1\n")
    with pytest.raises(TextRejected, match="MB"):
        library.save(machine.id, "x" * (MAX_TEXT_BYTES + 1))
    with pytest.raises(TextRejected, match="binary"):
        library.save(machine.id, "a\x00b")
    assert library.text(machine.id) == "a: 1\n"
    assert len(library.revisions(machine.id)) == 1


def test_rename_duplicate_delete(library: Library) -> None:
    machine = library.create("m", "a: 1\n")
    library.save(machine.id, "a: 2\n")
    assert library.rename(machine.id, "renamed").name == "renamed"
    copy = library.duplicate(machine.id)
    assert copy.name == "renamed (copy)"
    assert library.text(copy.id) == "a: 2\n"
    assert len(library.revisions(copy.id)) == 1
    library.delete(machine.id)
    with pytest.raises(NotFound):
        library.get(machine.id)
    # a deleted machine's revisions stay reachable, under its name
    first = library.revisions(copy.id)[0]
    library.delete(copy.id)
    assert library.revision_text(first.id) == "a: 2\n"
    assert library.name_for_revision(first.id) == "renamed (copy)"
    assert copy.id not in {m.id for m in library.machines()}


def test_unknown_ids_raise_not_found(library: Library) -> None:
    for call in (library.get, library.text, library.revisions, library.delete):
        with pytest.raises(NotFound, match="nope"):
            call("nope")
    with pytest.raises(NotFound):
        library.revision_text("0123456789ab")


def test_names_are_checked(library: Library) -> None:
    with pytest.raises(TextRejected, match="needs a name"):
        library.create(" \t ", "a: 1\n")
    with pytest.raises(TextRejected, match="at most"):
        library.create("n" * 500, "a: 1\n")


def test_diff_is_a_unified_diff(library: Library) -> None:
    machine = library.create("m", "a: 1\nb: 2\n")
    new = library.save(machine.id, "a: 1\nb: 3\n").revision
    diff = library.diff(machine.revision_id, new.id)
    assert diff[0] == f"--- revision {machine.revision_id}"
    assert "-b: 2" in diff and "+b: 3" in diff


def test_seed_happens_once(library: Library) -> None:
    assert library.seed([("one", "a: 1\n"), ("two", "a: 2\n")]) == 2
    library.delete(library.machines()[0].id)
    assert library.seed([("one", "a: 1\n")]) == 0
    assert len(library.machines()) == 1


def test_library_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "lib.sqlite3"
    machine = Library(path).create("m", "a: 1\n")
    assert Library(path).text(machine.id) == "a: 1\n"
