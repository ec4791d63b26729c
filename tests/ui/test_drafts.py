"""Autosaved drafts: what is typed survives a reload, for saved machines and unsaved pages."""

from __future__ import annotations

import html
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pystator.library import (
    Library,
    NotFound,
    draft_key,
    machine_draft_key,
    new_draft_id,
)
from pystator.textcheck import MAX_TEXT_BYTES, TextRejected
from tests.ui.conftest import HTMX, INVALID, LIGHT, ORDER


def create(client: TestClient, example: str = "order_lifecycle") -> str:
    response = client.post(
        "/new", data={"name": "mine", "example": example}, follow_redirects=False
    )
    assert response.status_code == 303
    return str(response.headers["location"]).rsplit("/", 1)[1]


def editor_text(page: str) -> str:
    found = re.search(r'<textarea id="yaml"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, "no editor on the page"
    return html.unescape(found.group(1))


def marker_shown(page: str) -> bool:
    found = re.search(r'<span id="dirty" class="dirty"( hidden)?', page)
    assert found, "no unsaved-changes marker"
    return found.group(1) is None


def type_text(client: TestClient, text: str, current_url: str, **fields: str):  # type: ignore[no-untyped-def]
    headers = {**HTMX, "HX-Current-URL": "http://127.0.0.1:8000" + current_url}
    return client.post("/validate", data={"yaml": text, **fields}, headers=headers)


EDITED = ORDER.replace("OPEN", "WORKING")


# -- saved machines --------------------------------------------------------------------------


def test_typing_keeps_a_draft_that_a_reload_shows(client: TestClient) -> None:
    mid = create(client)
    answer = type_text(client, EDITED, f"/machines/{mid}", machine_id=mid)
    assert answer.status_code == 200
    assert "HX-Replace-Url" not in answer.headers  # the address stays /machines/<id>
    assert 'id="draft-status"' in answer.text and "Discard changes" in answer.text
    page = client.get(f"/machines/{mid}").text
    assert editor_text(page) == EDITED
    assert marker_shown(page)
    assert f'action="/machines/{mid}/discard"' in page


def test_a_page_without_a_draft_shows_no_marker(client: TestClient) -> None:
    mid = create(client)
    page = client.get(f"/machines/{mid}").text
    assert editor_text(page) == ORDER
    assert not marker_shown(page)
    assert "Discard changes" not in page


def test_typing_back_to_the_saved_text_drops_the_draft(client: TestClient) -> None:
    mid = create(client)
    type_text(client, EDITED, f"/machines/{mid}", machine_id=mid)
    answer = type_text(client, ORDER, f"/machines/{mid}", machine_id=mid)
    assert "Discard changes" not in answer.text
    page = client.get(f"/machines/{mid}").text
    assert editor_text(page) == ORDER and not marker_shown(page)


def test_invalid_text_is_kept_too(client: TestClient) -> None:
    mid = create(client)
    answer = type_text(client, INVALID, f"/machines/{mid}", machine_id=mid)
    assert 'data-valid="false"' in answer.text
    page = client.get(f"/machines/{mid}").text
    assert editor_text(page) == INVALID
    assert "NOWHERE" in page and 'data-valid="false"' in page  # its problems are listed
    assert marker_shown(page)


def test_discard_drops_the_draft(client: TestClient) -> None:
    mid = create(client)
    type_text(client, EDITED, f"/machines/{mid}", machine_id=mid)
    response = client.post(f"/machines/{mid}/discard", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/machines/{mid}"
    page = client.get(f"/machines/{mid}").text
    assert editor_text(page) == ORDER and not marker_shown(page)
    assert client.post(f"/machines/{mid}/discard", headers=HTMX).headers["HX-Redirect"]


def test_saving_a_revision_clears_the_draft(client: TestClient) -> None:
    mid = create(client)
    type_text(client, EDITED, f"/machines/{mid}", machine_id=mid)
    saved = client.post(f"/machines/{mid}/save", data={"yaml": EDITED}, headers=HTMX)
    assert "Saved revision" in saved.text
    assert re.search(r'id="draft-status"[^>]*hx-swap-oob', saved.text)
    assert "Discard changes" not in saved.text
    page = client.get(f"/machines/{mid}").text
    assert editor_text(page) == EDITED and not marker_shown(page)
    # A refused save keeps the draft.
    type_text(client, INVALID, f"/machines/{mid}", machine_id=mid)
    client.post(f"/machines/{mid}/save", data={"yaml": INVALID}, headers=HTMX)
    assert editor_text(client.get(f"/machines/{mid}").text) == INVALID


def test_oversized_text_is_refused_and_not_kept(client: TestClient) -> None:
    mid = create(client)
    huge = "a: " + "x" * (MAX_TEXT_BYTES + 10)
    answer = type_text(client, huge, f"/machines/{mid}", machine_id=mid)
    assert answer.status_code == 200
    assert "MB" in answer.text  # the existing size message, in the issue list
    assert "too large to keep" in answer.text
    assert editor_text(client.get(f"/machines/{mid}").text) == ORDER


def test_deleting_a_machine_drops_its_draft(tmp_path: Path) -> None:
    library = Library(tmp_path / "lib.sqlite3")
    machine = library.create("m", ORDER)
    library.put_draft("one", machine_draft_key(machine.id), EDITED)
    library.put_draft("two", machine_draft_key(machine.id), EDITED)
    library.delete(machine.id)
    assert library.get_draft("one", machine_draft_key(machine.id)) is None
    assert library.get_draft("two", machine_draft_key(machine.id)) is None


def test_a_machine_that_is_gone_stores_nothing(client: TestClient) -> None:
    answer = type_text(client, EDITED, "/machines/000000000000", machine_id="000000000000")
    assert answer.status_code == 200 and 'id="draft-status"' not in answer.text


# -- unsaved drafts ----------------------------------------------------------------------------


def page_draft_id(page: str) -> str:
    found = re.search(r'name="draft_id" value="([0-9a-f]{16})"', page)
    assert found, "the page carries no draft id"
    return found.group(1)


def test_an_example_draft_moves_to_a_reloadable_address(client: TestClient) -> None:
    page = client.get("/examples/traffic_light").text
    draft_id = page_draft_id(page)
    assert not marker_shown(page)
    edited = LIGHT.replace("GREEN", "AMBER")
    answer = type_text(
        client, edited, "/examples/traffic_light", draft_id=draft_id, name="my light"
    )
    assert answer.headers["HX-Replace-Url"] == f"/drafts/{draft_id}"
    reloaded = client.get(f"/drafts/{draft_id}")
    assert reloaded.status_code == 200
    assert editor_text(reloaded.text) == edited
    assert page_draft_id(reloaded.text) == draft_id
    assert 'value="my light"' in reloaded.text and marker_shown(reloaded.text)
    # Typing again on the draft's own address keeps the address.
    again = type_text(client, INVALID, f"/drafts/{draft_id}", draft_id=draft_id)
    assert "HX-Replace-Url" not in again.headers
    assert editor_text(client.get(f"/drafts/{draft_id}").text) == INVALID


def test_every_draft_page_gets_its_own_id(client: TestClient) -> None:
    first = page_draft_id(client.get("/examples/traffic_light").text)
    second = page_draft_id(client.get("/examples/traffic_light").text)
    assert first != second


def test_a_share_link_draft_keeps_the_simulator_address(client: TestClient) -> None:
    draft_id = new_draft_id()
    answer = type_text(
        client, LIGHT, "/s/1abc?imported=1&view=simulate&trace=xyz", draft_id=draft_id
    )
    assert answer.headers["HX-Replace-Url"] == f"/drafts/{draft_id}?view=simulate&trace=xyz"


def test_saving_a_draft_to_the_library_drops_it(client: TestClient) -> None:
    draft_id = page_draft_id(client.get("/examples/traffic_light").text)
    type_text(client, LIGHT, "/examples/traffic_light", draft_id=draft_id)
    saved = client.post(
        "/drafts/save",
        data={"yaml": LIGHT, "name": "kept", "draft_id": draft_id},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    gone = client.get(f"/drafts/{draft_id}")
    assert gone.status_code == 404 and "not kept for this browser" in gone.text


@pytest.mark.parametrize(
    ("draft_id", "message"),
    [
        ("nothere", "There is no draft &#39;nothere&#39;: the address is not a draft address."),
        ("0123456789abcdef", "This draft is not kept for this browser"),
        ("../machine", "There is nothing at this address."),  # the client resolves the ..
    ],
)
def test_unknown_or_malformed_draft_addresses_are_404(
    client: TestClient, draft_id: str, message: str
) -> None:
    response = client.get(f"/drafts/{draft_id}")
    assert response.status_code == 404
    assert f'<p class="error-message">{message}' in response.text


def test_a_malformed_draft_id_in_a_post_stores_nothing(client: TestClient) -> None:
    answer = type_text(client, LIGHT, "/examples/traffic_light", draft_id="machine/x")
    assert answer.status_code == 200 and "HX-Replace-Url" not in answer.headers


# -- the library's drafts table ---------------------------------------------------------------


def test_library_drafts_round_trip_and_prune(tmp_path: Path) -> None:
    path = tmp_path / "lib.sqlite3"
    library = Library(path)
    key = draft_key(new_draft_id())
    assert library.get_draft("b", key) is None
    library.put_draft("b", key, "first", "a name")
    library.put_draft("b", key, "second", "a name")
    found = library.get_draft("b", key)
    assert found is not None and found.text == "second" and found.name == "a name"
    assert library.prune_drafts() == 0
    old = (datetime.now(timezone.utc) - timedelta(days=31)).isoformat(timespec="seconds")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE drafts SET updated = ?", (old,))
    assert library.prune_drafts() == 1
    assert library.get_draft("b", key) is None
    assert library.drop_draft("b", key) is False


def test_library_refuses_what_cannot_be_a_definition(tmp_path: Path) -> None:
    library = Library(tmp_path / "lib.sqlite3")
    key = draft_key(new_draft_id())
    with pytest.raises(TextRejected):
        library.put_draft("b", key, "x" * (MAX_TEXT_BYTES + 1))
    assert library.get_draft("b", key) is None
    with pytest.raises(NotFound):
        draft_key("machine/abc")


def test_old_drafts_are_pruned_when_the_designer_starts(tmp_path: Path, examples_dir: Path) -> None:
    from ui.app import create_app

    path = tmp_path / "lib.sqlite3"
    library = Library(path)
    stale, fresh = draft_key(new_draft_id()), draft_key(new_draft_id())
    library.put_draft("b", stale, "old")
    library.put_draft("b", fresh, "new")
    old = (datetime.now(timezone.utc) - timedelta(days=45)).isoformat(timespec="seconds")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE drafts SET updated = ? WHERE key = ?", (old, stale))
    create_app(path, examples_dir=examples_dir)
    assert library.get_draft("b", stale) is None
    assert library.get_draft("b", fresh) is not None
