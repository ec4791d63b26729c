"""The SQLite machine library: immutable, content-addressed revisions."""

from __future__ import annotations

from pathlib import Path

import pytest

from pystator.library import Library, NotFound, revision_id_for
from pystator.textcheck import MAX_TEXT_BYTES, TextRejected


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return Library(tmp_path / "lib.sqlite3")


def test_create_and_read_back(library: Library) -> None:
    machine = library.create("  order   flow ", "states: []\n")
    assert machine.name == "order flow"
    assert library.text(machine.id) == "states: []\n"
    assert machine.revision_id == revision_id_for("states: []\n")
    assert [m.id for m in library.machines()] == [machine.id]


def test_every_save_is_a_new_revision_and_old_ones_stay(library: Library) -> None:
    machine = library.create("m", "a: 1\n")
    second = library.save(machine.id, "a: 2\n")
    third = library.save(machine.id, "a: 3\n")
    revisions = library.revisions(machine.id)
    assert [r.number for r in revisions] == [3, 2, 1]
    assert [r.id for r in revisions] == [third.id, second.id, machine.revision_id]
    assert library.revision_text(machine.revision_id) == "a: 1\n"
    assert library.text(machine.id) == "a: 3\n"


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
    # a deleted machine's revisions stay reachable by their content address
    assert library.revision_text(revision_id_for("a: 1\n")) == "a: 1\n"


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
    new = library.save(machine.id, "a: 1\nb: 3\n")
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
