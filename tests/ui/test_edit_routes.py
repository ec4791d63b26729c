"""POST /edit: the edit bar's structured edits answer with the new text or why not."""

from __future__ import annotations

import html
import re

from starlette.testclient import TestClient

from pystator.config import load_spec
from tests.ui.conftest import HTMX, ORDER


def edited_text(answer: str) -> str:
    found = re.search(r'<textarea class="edit-text"[^>]*>(.*?)</textarea>', answer, re.S)
    assert found, answer
    return html.unescape(found.group(1))


def test_the_editor_page_offers_the_edit_bar_with_the_machines_states(client: TestClient) -> None:
    page = client.get("/examples/order_lifecycle").text
    assert 'id="edit-form"' in page and 'hx-post="/edit"' in page
    assert "<option>PENDING</option>" in page and "inside OPEN" in page
    broken = client.post("/validate", data={"yaml": "states: [\n"}, headers=HTMX).text
    assert 'id="edit-bar"' not in broken  # the last good diagram's bar stays
    grown = ORDER.replace("transitions:", "  - name: PAUSED\ntransitions:")
    live = client.post("/validate", data={"yaml": grown}, headers=HTMX).text
    assert 'id="edit-bar" class="edit-bar" hx-swap-oob="true"' in live
    assert "<option>PAUSED</option>" in live


def test_add_a_state_answers_with_the_text_to_apply(client: TestClient) -> None:
    answer = client.post(
        "/edit", data={"yaml": ORDER, "op": "add_state", "name": "CANCELLED", "place": "[]"},
        headers=HTMX,
    )  # fmt: skip
    assert answer.status_code == 200 and "<html" not in answer.text
    assert "data-apply" in answer.text and "Added state CANCELLED." in answer.text
    text = edited_text(answer.text)
    assert text.startswith(ORDER.split("transitions:")[0].rstrip("\n"))
    assert "CANCELLED" in {s.name for s in load_spec(text).states}


def test_connect_rename_and_delete(client: TestClient) -> None:
    def edit(**fields: str) -> str:
        return client.post("/edit", data={"yaml": ORDER, **fields}, headers=HTMX).text

    connected = edit(op="add_transition", source="OPEN", dest="PENDING", trigger="retry")
    assert "Added transition OPEN → PENDING on retry." in connected
    assert load_spec(edited_text(connected)).transitions[-1].trigger == "retry"
    renamed = edited_text(edit(op="rename", state="OPEN", new_name="WORKING"))
    assert "OPEN" not in renamed and renamed.count("WORKING") == 3
    asked = edit(op="references", state="OPEN")
    assert "data-apply" not in asked and "Deleting <strong>OPEN</strong>" in asked
    assert "the target of exchange_ack" in asked and "the source of execution_report" in asked
    assert 'name="op" value="delete"' in asked
    deleted = edited_text(edit(op="delete", state="OPEN"))
    assert "OPEN" not in deleted


def test_a_refused_edit_says_why_and_changes_nothing(client: TestClient) -> None:
    answer = client.post(
        "/edit", data={"yaml": ORDER, "op": "add_state", "name": "OPEN"}, headers=HTMX
    ).text
    assert "data-apply" not in answer and "refused" in answer
    assert "There is already a state called &#39;OPEN&#39;." in answer
    bad_place = client.post(
        "/edit", data={"yaml": ORDER, "op": "add_state", "name": "X", "place": '{"a": 1}'},
        headers=HTMX,
    ).text  # fmt: skip
    assert "not one the edit bar offers" in bad_place
    unknown = client.post("/edit", data={"yaml": ORDER, "op": "explode"}, headers=HTMX).text
    assert "no edit called" in unknown


def test_without_javascript_the_edit_becomes_the_draft(client: TestClient) -> None:
    mid = re.search(r'href="/machines/([0-9a-f]+)">order_lifecycle<', client.get("/").text)
    assert mid
    machine_id = mid.group(1)
    response = client.post(
        "/edit",
        data={"sim_yaml": ORDER, "op": "add_state", "name": "PAUSED", "machine_id": machine_id},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == f"/machines/{machine_id}"
    page = client.get(f"/machines/{machine_id}").text
    assert "- name: PAUSED" in page and "● unsaved changes" in page
    refused = client.post("/edit", data={"sim_yaml": ORDER, "op": "rename", "state": "NOPE"})
    assert refused.status_code == 200 and "<html" in refused.text and "no state" in refused.text


def test_edits_refuse_other_sites(client: TestClient) -> None:
    answer = client.post(
        "/edit",
        data={"yaml": ORDER, "op": "add_state", "name": "X"},
        headers={**HTMX, "X-CSRF-Token": "", "Origin": "http://evil.example"},
    )
    assert answer.status_code == 403
