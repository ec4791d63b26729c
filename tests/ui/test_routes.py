"""Every designer route through TestClient: full pages, htmx fragments and bad input."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from pystator.textcheck import MAX_TEXT_BYTES
from tests.ui.conftest import HTMX, INVALID, ORDER
from ui.mermaid_patch import PATCHED_NAME
from ui.share import encode_token

EXAMPLES = Path(__file__).parents[2] / "examples"


def machine_id_by_name(client: TestClient, name: str) -> str:
    page = client.get("/").text
    found = re.search(r'href="/machines/([0-9a-f]+)">' + re.escape(name) + "<", page)
    assert found, f"{name} not listed"
    return found.group(1)


def create(client: TestClient, name: str = "mine", example: str = "") -> str:
    response = client.post("/new", data={"name": name, "example": example}, follow_redirects=False)
    assert response.status_code == 303
    return str(response.headers["location"]).rsplit("/", 1)[1]


# -- every page, whole and as a fragment ---------------------------------------------------


def test_library_lists_seeded_examples(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "<h1>Machine library</h1>" in page.text
    assert ">order_lifecycle<" in page.text and ">traffic_light<" in page.text
    fragment = client.get("/", headers=HTMX)
    assert "<html" not in fragment.text and 'id="machines"' in fragment.text


def test_every_response_carries_the_csp(client: TestClient) -> None:
    for url in ["/", "/new", "/import", "/static/app.css", "/no/such/page"]:
        csp = client.get(url).headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'self'" in csp
        assert "unsafe-eval" not in csp and "'unsafe-inline'" not in csp.split("style-src")[0]


def test_pages_have_no_inline_scripts_or_remote_assets(client: TestClient) -> None:
    mid = machine_id_by_name(client, "order_lifecycle")
    for url in ["/", f"/machines/{mid}", "/import", "/new"]:
        html = client.get(url).text
        for tag in re.findall(r"<script[^>]*>", html):
            assert 'src="/static/' in tag, tag
        assert "http://" not in html.replace("http://127.0.0.1:8000", "")
        assert "https://" not in html


def test_vendored_assets_are_served(client: TestClient) -> None:
    assert client.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200
    assert client.get(f"/static/vendor/{PATCHED_NAME}").status_code == 200
    assert client.get("/static/app.js").status_code == 200


def test_machine_page_has_editor_issues_and_revisions(client: TestClient) -> None:
    mid = machine_id_by_name(client, "order_lifecycle")
    page = client.get(f"/machines/{mid}")
    assert page.status_code == 200
    assert 'value="order_lifecycle"' in page.text
    assert "exchange_ack" in page.text
    assert "✓ Valid machine" in page.text
    assert 'id="revisions"' in page.text


def test_new_blank_and_from_example(client: TestClient) -> None:
    assert "Blank machine" in client.get("/new").text
    assert 'id="new-form"' in client.get("/new", headers=HTMX).text
    blank = create(client, "blank one")
    assert 'machine_name: "new_machine"' in html.unescape(client.get(f"/machines/{blank}").text)
    from_example = create(client, "", "traffic_light")
    assert "GREEN" in client.get(f"/machines/{from_example}").text
    bad = client.post("/new", data={"example": "nope"})
    assert bad.status_code == 400 and "no example called" in bad.text


def test_htmx_create_redirects_with_header(client: TestClient) -> None:
    response = client.post("/new", data={"name": "x"}, headers=HTMX)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/machines/")


def test_open_example_is_an_unsaved_draft(client: TestClient) -> None:
    page = client.get("/examples/traffic_light")
    assert page.status_code == 200 and "not in your library" in page.text
    assert 'action="/drafts/save"' in page.text
    assert client.get("/examples/nope").status_code == 404


# -- live validation -----------------------------------------------------------------------


def test_validate_returns_located_issues_as_a_fragment(client: TestClient) -> None:
    response = client.post("/validate", data={"yaml": INVALID}, headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'data-valid="false"' in response.text
    assert "NOWHERE" in response.text
    assert 'data-line="7"' in response.text
    assert "transitions[0].dest" in response.text
    assert 'id="diagram-status"' in response.text and 'data-stale="true"' in response.text
    assert 'id="diagram"' not in response.text  # the last good diagram stays


def test_validate_yaml_syntax_error_and_empty_text(client: TestClient) -> None:
    broken = client.post("/validate", data={"yaml": "states: [\n"}, headers=HTMX)
    assert broken.status_code == 200 and "YAML" in broken.text
    empty = client.post("/validate", data={"yaml": "   "}, headers=HTMX)
    assert "empty" in empty.text


def test_validate_valid_machine(client: TestClient) -> None:
    response = client.post("/validate", data={"yaml": ORDER}, headers=HTMX)
    assert response.status_code == 200
    assert 'data-valid="true"' in response.text and 'data-stale="false"' in response.text


def _regions_attribute(page: str) -> list[dict[str, object]]:
    match = re.search(r'<pre class="mermaid"[^>]* data-regions="([^"]*)"', page)
    assert match, "the diagram carries its region names"
    return list(json.loads(html.unescape(match.group(1))))


def test_diagrams_carry_the_names_of_their_regions(client: TestClient) -> None:
    text = (EXAMPLES / "day_trading_fsm.yaml").read_text(encoding="utf-8")
    drawn = client.post("/validate", data={"yaml": text, "diagram_key": "x"}, headers=HTMX)
    regions = _regions_attribute(drawn.text)
    assert [r["name"] for r in regions] == ["trading", "risk_monitor", "data_feed"]
    assert regions[0]["states"] == ["scanning", "analyzing", "executing"]  # as written
    simulated = client.post(
        "/simulate",
        data={"yaml": text, "trace": "[]", "do": ""},
        headers={**HTMX, "HX-Current-URL": "http://t/x"},
    )
    assert [r["name"] for r in _regions_attribute(simulated.text)] == [
        "trading",
        "risk_monitor",
        "data_feed",
    ]
    flat = client.post("/validate", data={"yaml": ORDER, "diagram_key": "x"}, headers=HTMX)
    assert _regions_attribute(flat.text) == []


def test_ten_megabyte_paste_gets_a_clear_message(client: TestClient) -> None:
    huge = "a: " + "x" * 10_000_000
    response = client.post("/validate", data={"yaml": huge}, headers=HTMX)
    assert response.status_code == 200
    assert "10.0 MB" in response.text and "up to 1 MB" in response.text


def test_alias_bomb_is_an_issue_not_a_hang(client: TestClient) -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    response = client.post("/validate", data={"yaml": "\n".join(lines)}, headers=HTMX)
    assert response.status_code == 200 and 'data-valid="false"' in response.text


def test_html_in_state_names_is_escaped(client: TestClient) -> None:
    text = INVALID.replace("NOWHERE", "<script>alert(1)</script>")
    response = client.post("/validate", data={"yaml": text}, headers=HTMX)
    assert "<script>alert" not in response.text
    assert "&lt;script&gt;" in response.text


# -- saving and revisions --------------------------------------------------------------------


def test_save_creates_a_revision_and_returns_fragment(client: TestClient) -> None:
    mid = create(client)
    changed = client.get(f"/machines/{mid}").text
    assert changed
    text = ORDER.replace("exchange_ack", "ack")
    response = client.post(f"/machines/{mid}/save", data={"yaml": text}, headers=HTMX)
    assert response.status_code == 200 and "<html" not in response.text
    assert "Saved revision" in response.text and 'hx-swap-oob="true"' in response.text
    assert "#2" in response.text
    assert "trigger: ack" in client.get(f"/machines/{mid}").text


def test_save_without_htmx_redirects(client: TestClient) -> None:
    mid = create(client)
    response = client.post(f"/machines/{mid}/save", data={"yaml": ORDER}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/machines/{mid}"


def test_invalid_save_is_refused_and_keeps_text_and_revision(client: TestClient) -> None:
    mid = create(client)
    before = client.get(f"/machines/{mid}").text
    response = client.post(f"/machines/{mid}/save", data={"yaml": INVALID}, headers=HTMX)
    assert response.status_code == 200 and "Not saved" in response.text
    assert "NOWHERE" in response.text
    full = client.post(f"/machines/{mid}/save", data={"yaml": INVALID})
    assert full.status_code == 400 and "NOWHERE" in full.text and "<html" in full.text
    assert client.get(f"/machines/{mid}").text == before


def test_rename_escapes_html(client: TestClient) -> None:
    mid = create(client)
    client.post(f"/machines/{mid}/rename", data={"name": "<img src=x onerror=alert(1)>"})
    page = client.get("/").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    empty = client.post(f"/machines/{mid}/rename", data={"name": "  "})
    assert empty.status_code == 400 and "needs a name" in empty.text


def test_duplicate_and_delete_with_confirmation(client: TestClient) -> None:
    mid = create(client, "original")
    copy = client.post(f"/machines/{mid}/duplicate", follow_redirects=False)
    assert copy.status_code == 303
    assert "original (copy)" in client.get("/").text
    confirm = client.get(f"/machines/{mid}/delete")
    assert confirm.status_code == 200 and "Delete “original”?" in confirm.text
    done = client.post(f"/machines/{mid}/delete")
    assert done.status_code == 200 and "Deleted original." in done.text
    assert client.get(f"/machines/{mid}").status_code == 404


def test_revision_view_diff_and_restore(client: TestClient) -> None:
    mid = create(client, "m", "order_lifecycle")
    first = client.get(f"/machines/{mid}").text
    first_id = re.search(r'href="/m/([0-9a-f]{12})"', first)
    assert first_id
    old = first_id.group(1)
    client.post(f"/machines/{mid}/save", data={"yaml": ORDER.replace("OPEN", "WORKING")})
    view = client.get(f"/machines/{mid}/revisions/{old}")
    assert view.status_code == 200 and "revision 1" in view.text
    diff = client.get(f"/machines/{mid}/diff")
    assert diff.status_code == 200 and "+  - name: WORKING" in diff.text.replace("&#34;", '"')
    assert "<html" not in client.get(f"/machines/{mid}/diff", headers=HTMX).text
    client.post(f"/machines/{mid}/revisions/{old}/restore")
    assert "#3" in client.get(f"/machines/{mid}").text
    assert client.get(f"/machines/{mid}/revisions/ffffffffffff").status_code == 404
    assert client.get(f"/machines/{mid}/diff?old=ffffffffffff").status_code == 404


# -- import ------------------------------------------------------------------------------------


def test_import_valid_yaml(client: TestClient) -> None:
    assert 'id="import-form"' in client.get("/import", headers=HTMX).text
    response = client.post(
        "/import",
        files={"file": ("orders.yaml", ORDER.encode(), "text/yaml")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert ">orders<" in client.get("/").text


def test_import_json(client: TestClient) -> None:
    import json

    data = json.dumps(yaml.safe_load(ORDER)).encode()
    response = client.post("/import", files={"file": ("o.json", data, "application/json")})
    assert response.status_code == 200 and "exchange_ack" in response.text


def test_import_invalid_machine_opens_a_draft(client: TestClient) -> None:
    response = client.post(
        "/import",
        files={"file": ("bad.yaml", INVALID.encode(), "text/yaml")},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/s/")
    draft = client.get(response.headers["location"])
    assert "not a valid machine yet" in draft.text and "NOWHERE" in draft.text


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (b"\xff\xfe\xfa bad", "not UTF-8"),
        (b"", "empty"),
        (b"a: " + b"x" * (MAX_TEXT_BYTES + 10), "MB"),
    ],
)
def test_import_bad_files(client: TestClient, payload: bytes, message: str) -> None:
    response = client.post("/import", files={"file": ("f.yaml", payload, "text/yaml")})
    assert response.status_code == 400 and message in response.text
    assert len(client.get("/").text) > 0


# -- sharing -------------------------------------------------------------------------------------


def test_share_link_round_trip(client: TestClient) -> None:
    response = client.post("/share", data={"yaml": ORDER}, headers=HTMX)
    assert response.status_code == 200 and "<html" not in response.text
    found = re.search(r'value="http://127.0.0.1:8000(/s/[A-Za-z0-9_-]+)"', response.text)
    assert found
    page = client.get(found.group(1))
    assert page.status_code == 200 and "exchange_ack" in page.text
    assert "not in your library" in page.text


def test_share_too_long_says_save_instead(client: TestClient) -> None:
    import random

    rng = random.Random(1)
    noise = "".join(rng.choice("abcdefghij0123456789") for _ in range(30_000))
    response = client.post("/share", data={"yaml": ORDER + "# " + noise + "\n"}, headers=HTMX)
    assert response.status_code == 200 and "Save it and share" in response.text


def test_share_with_bad_trace(client: TestClient) -> None:
    response = client.post("/share", data={"yaml": ORDER, "trace": "{not json"}, headers=HTMX)
    assert "not valid JSON" in response.text


@pytest.mark.parametrize("token", ["garbage", "1@@@@", "1" + "A" * 9000, "2xyz"])
def test_malformed_share_links_give_a_page(client: TestClient, token: str) -> None:
    response = client.get(f"/s/{token}")
    assert response.status_code == 400
    assert "<html" in response.text and "Traceback" not in response.text
    assert "share link" in response.text


def test_save_draft_into_library(client: TestClient) -> None:
    response = client.post(
        "/drafts/save", data={"yaml": ORDER, "name": "from link"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert ">from link<" in client.get("/").text
    refused = client.post("/drafts/save", data={"yaml": INVALID, "name": "x"}, headers=HTMX)
    assert "Not saved" in refused.text


def test_read_only_revision_and_fork(client: TestClient) -> None:
    mid = machine_id_by_name(client, "traffic_light")
    page = client.get(f"/machines/{mid}").text
    rev = re.search(r'href="/m/([0-9a-f]{12})"', page)
    assert rev
    shared = client.get(f"/m/{rev.group(1)}")
    assert shared.status_code == 200 and "read-only" in shared.text
    assert "<textarea" not in shared.text
    fork = client.post(f"/m/{rev.group(1)}/fork", data={"name": "my light"}, follow_redirects=False)
    assert fork.status_code == 303
    assert ">my light<" in client.get("/").text
    assert client.get("/m/000000000000").status_code == 404


# -- export -------------------------------------------------------------------------------------


def test_exports(client: TestClient) -> None:
    from pystator import StateMachine

    mid = machine_id_by_name(client, "order_lifecycle")
    rev = re.search(r'href="/m/([0-9a-f]{12})"', client.get(f"/machines/{mid}").text)
    assert rev
    base = f"/m/{rev.group(1)}/export"
    page = client.get(base)
    assert page.status_code == 200 and "StateMachine.from_yaml" in page.text
    as_yaml = client.get(base + ".yaml")
    assert as_yaml.text == ORDER
    assert "attachment" in as_yaml.headers["content-disposition"]
    assert StateMachine.from_yaml(as_yaml.text).name == "order_management"
    as_json = client.get(base + ".json")
    assert StateMachine.from_json(as_json.text).name == "order_management"
    snippet = client.get(base + ".py").text
    assert "StateMachine.from_yaml('order_lifecycle.yaml')" in snippet
    compile(snippet, "snippet.py", "exec")
    assert client.get(base + ".pdf").status_code == 404


# -- errors -------------------------------------------------------------------------------------


def test_unknown_machine_is_a_friendly_404(client: TestClient) -> None:
    response = client.get("/machines/doesnotexist")
    assert response.status_code == 404
    assert "no machine with id" in response.text and "<html" in response.text
    fragment = client.get("/machines/doesnotexist/delete", headers=HTMX)
    assert fragment.status_code == 404 and "<html" not in fragment.text


def test_api_paths_get_json_errors(client: TestClient) -> None:
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404


def test_missing_form_field_is_a_422_page(client: TestClient) -> None:
    response = client.post("/import")
    assert response.status_code == 422 and "file" in response.text
    assert "Traceback" not in response.text


def test_server_error_is_a_friendly_500(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    library = client.app.state.library  # type: ignore[attr-defined]

    def broken() -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(library, "machines", broken)
    response = client.get("/")
    assert response.status_code == 500
    assert "Something went wrong" in response.text and "disk on fire" not in response.text
    assert "content-security-policy" in response.headers


def test_share_token_helper_matches_route(client: TestClient) -> None:
    token = encode_token(ORDER)
    assert "exchange_ack" in client.get(f"/s/{token}").text


def test_valid_text_gets_a_new_diagram_unless_unchanged(client: TestClient) -> None:
    response = client.post("/validate", data={"yaml": ORDER}, headers=HTMX)
    assert '<pre class="mermaid"' in response.text and "stateDiagram-v2" in response.text
    key = re.search(r'name="diagram_key" value="([0-9a-f]+)"', response.text)
    assert key
    again = client.post(
        "/validate", data={"yaml": ORDER, "diagram_key": key.group(1)}, headers=HTMX
    )
    assert '<pre class="mermaid"' not in again.text and 'data-valid="true"' in again.text


def test_lint_warnings_show_beside_a_valid_machine(client: TestClient) -> None:
    text = ORDER + "  - trigger: orphan\n    source: LOST\n    dest: OPEN\n"
    text = text.replace("  - name: FILLED\n", "  - name: LOST\n  - name: FILLED\n")
    response = client.post("/validate", data={"yaml": text}, headers=HTMX)
    assert 'data-valid="true"' in response.text
    assert 'class="issue warning"' in response.text and "LOST" in response.text


def test_mermaid_export(client: TestClient) -> None:
    mid = machine_id_by_name(client, "order_lifecycle")
    rev = re.search(r'href="/m/([0-9a-f]{12})"', client.get(f"/machines/{mid}").text)
    assert rev
    mermaid = client.get(f"/m/{rev.group(1)}/export.mmd")
    assert mermaid.status_code == 200 and mermaid.text.startswith("stateDiagram-v2")


def test_info_findings_are_counted_as_notes_not_warnings(client: TestClient) -> None:
    text = (
        "states:\n  - name: first\n  - name: second\n"
        "transitions:\n  - {trigger: go, source: first, dest: second}\n"
    )
    page = client.post("/validate", data={"yaml": text}, headers=HTMX).text
    assert "1 warning" in page and "1 note" in page and "2 warnings" not in page
