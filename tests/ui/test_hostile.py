"""Hostile requests against the designer and its REST API: each class is refused clearly.

Other sites' forms and ``fetch`` calls, foreign Host names, JSON nested 100k deep,
5,000-digit numbers, lone surrogates, alias byte bombs, chunked bodies of 200 MB, racing
saves and stale tabs. Every response in this file is checked by the ``hostile`` client's
hook: no 5xx and no traceback, whatever was sent.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from pystator.api.main import create_app as create_api_app
from tests.ui.conftest import BASE_URL, HTMX, LIGHT, ORDER, designer_client, page_token
from ui.app import create_app
from ui.share import encode_token
from ui.simulating import pack_trace

DEEP = "[" * 100_000 + "]" * 100_000
LONG = "9" * 5_000


def no_server_errors(response: httpx.Response) -> None:
    response.read()
    assert response.status_code < 500, response.text[:800]
    assert "Traceback" not in response.text


@pytest.fixture
def app(tmp_path: Path, examples_dir: Path) -> Any:
    return create_app(tmp_path / "library.sqlite3", examples_dir=examples_dir)


@pytest.fixture
def hostile(app: Any) -> Iterator[TestClient]:
    """The designer's client with its page token; every answer is checked for 5xx."""
    with designer_client(app) as client:
        client.event_hooks["response"] = [no_server_errors]
        yield client


def machine_of(client: TestClient, name: str = "order_lifecycle") -> str:
    found = re.search(
        r'href="/machines/([0-9a-f]+)">' + re.escape(name) + "<", client.get("/").text
    )
    assert found
    return found.group(1)


def refused_page(response: httpx.Response) -> str:
    assert response.status_code == 403, response.text[:500]
    assert "Refused" in response.text and "nothing was changed" in response.text
    return response.text


# -- other sites' forms ---------------------------------------------------------------------------


def unsafe_page_routes(app: Any) -> list[tuple[str, str]]:
    """Every page route that is not a read, from the app's own schema."""
    return sorted(
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if not path.startswith("/api/")
        for method in operations
        if method not in ("get", "head")
    )


def test_every_state_changing_page_route_needs_the_page_token(
    app: Any, hostile: TestClient
) -> None:
    """A form posted without the token (as another site's page would) changes nothing."""
    routes = unsafe_page_routes(app)
    assert len(routes) >= 14, routes  # new routes are covered without listing them here
    machine = machine_of(hostile)
    revision = re.search(r"/m/([0-9a-f]+)", hostile.get(f"/machines/{machine}").text)
    assert revision
    values = {"machine_id": machine, "revision_id": revision.group(1)}
    fields = {"yaml": LIGHT, "name": "planted", "machine_id": machine, "example": ""}
    before = hostile.get("/api/v1/machines").json()
    for method, path in routes:
        url = path.format(**values)
        response = hostile.request(method, url, data=fields, headers={"X-CSRF-Token": ""})
        refused_page(response)
    assert hostile.get("/api/v1/machines").json() == before
    page = hostile.get(f"/machines/{machine}").text
    assert "Discard changes" not in page  # /validate planted no draft either


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"},
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_cross_site_post_is_refused_even_with_a_valid_token(
    hostile: TestClient, headers: dict[str, str]
) -> None:
    machine = machine_of(hostile)
    text = refused_page(hostile.post(f"/machines/{machine}/delete", headers=headers))
    assert "another site" in text or "evil.example" in text or "9999" in text
    assert hostile.get(f"/machines/{machine}").status_code == 200


def test_our_own_pages_posts_pass(hostile: TestClient) -> None:
    """Our pages send ``Origin: null`` (Referrer-Policy: no-referrer) and same-origin."""
    machine = machine_of(hostile)
    for headers in [
        {"Origin": "null", "Sec-Fetch-Site": "same-origin"},
        {"Origin": BASE_URL},
        {"Sec-Fetch-Site": "none"},
    ]:
        response = hostile.post(f"/machines/{machine}/duplicate", headers=headers)
        assert response.status_code == 200, headers


def test_a_form_sent_without_javascript_carries_its_token(app: Any) -> None:
    with TestClient(app, base_url=BASE_URL) as browser:  # no token header: only the form
        machine = machine_of(browser)
        page = browser.get(f"/machines/{machine}/delete").text
        form = re.search(r'<form method="post" action="([^"]+)".*?</form>', page, re.S)
        assert form
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form.group(0))
        assert token
        deleted = browser.post(
            form.group(1), data={"csrf_token": token.group(1)}, follow_redirects=False
        )
        assert deleted.status_code == 303
        assert browser.get(f"/machines/{machine}").status_code == 404


def test_another_browsers_token_is_refused(app: Any) -> None:
    with designer_client(app) as one, designer_client(app) as two:
        machine = machine_of(one)
        token_of_two = two.headers["X-CSRF-Token"]
        assert token_of_two != one.headers["X-CSRF-Token"]
        refused_page(
            one.post(f"/machines/{machine}/delete", headers={"X-CSRF-Token": token_of_two})
        )
        forged = one.post(f"/machines/{machine}/delete", headers={"X-CSRF-Token": "0" * 64})
        refused_page(forged)


def test_a_request_without_a_browser_cookie_gets_none_and_is_refused(app: Any) -> None:
    """A cross-site form reaches us without the (SameSite=Lax) cookie: no id is handed out."""
    with TestClient(app, base_url=BASE_URL) as stranger:
        response = stranger.post("/new", data={"name": "x"}, headers={"Sec-Fetch-Site": "none"})
        refused_page(response)
        assert "set-cookie" not in response.headers
        sub = stranger.get(
            "/", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}
        )
        assert "set-cookie" not in sub.headers
        page = stranger.get("/")
        assert "pystator_browser=" in page.headers["set-cookie"]
        assert "HttpOnly" in page.headers["set-cookie"]
        assert "SameSite=Lax" in page.headers["set-cookie"]


def test_every_post_form_on_every_page_carries_the_token(hostile: TestClient) -> None:
    machine = machine_of(hostile)
    revision = re.search(r"/m/([0-9a-f]+)", hostile.get(f"/machines/{machine}").text)
    assert revision
    pages = [
        "/",
        "/new",
        "/import",
        f"/machines/{machine}",
        f"/machines/{machine}?view=simulate",
        f"/machines/{machine}/delete",
        f"/machines/{machine}/revisions/{revision.group(1)}",
        f"/m/{revision.group(1)}",
        "/examples/traffic_light?view=simulate",
    ]
    token = hostile.headers["X-CSRF-Token"]
    seen = 0
    for url in pages:
        text = hostile.get(url).text
        assert f'"X-CSRF-Token": "{token}"' in text, url  # htmx sends it as a header
        for form in re.findall(r'<form[^>]*method="post".*?</form>', text, re.S):
            assert f'name="csrf_token" value="{token}"' in form, (url, form[:200])
            seen += 1
    assert seen >= 8


def test_the_refusal_is_a_fragment_for_htmx(hostile: TestClient) -> None:
    machine = machine_of(hostile)
    response = hostile.post(
        f"/machines/{machine}/save",
        data={"yaml": ORDER},
        headers={**HTMX, "X-CSRF-Token": "", "Origin": "http://evil.example"},
    )
    assert response.status_code == 403 and "<html" not in response.text
    assert 'class="error-message"' in response.text


# -- the JSON API: same origin or a configured one, JSON only --------------------------------------


@pytest.mark.parametrize("kind", ["designer", "standalone"])
def test_json_writes_from_other_sites_are_refused(
    tmp_path: Path, examples_dir: Path, kind: str
) -> None:
    app = (
        create_app(tmp_path / "d.sqlite3", examples_dir=examples_dir)
        if kind == "designer"
        else create_api_app(tmp_path / "a.sqlite3")
    )
    with TestClient(app, base_url=BASE_URL) as api:
        api.event_hooks["response"] = [no_server_errors]
        made = api.post("/api/v1/machines", json={"name": "mine", "yaml": LIGHT})
        assert made.status_code == 201  # a program (no Origin) may write
        machine = made.json()["id"]
        for headers in [
            {"Origin": "http://evil.example"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Origin": "http://127.0.0.1:9999", "Sec-Fetch-Site": "same-site"},
        ]:
            for method, url, body in [
                ("POST", "/api/v1/machines", {"name": "x", "yaml": LIGHT}),
                ("PUT", f"/api/v1/machines/{machine}", {"yaml": ORDER}),
                ("DELETE", f"/api/v1/machines/{machine}", None),
                ("POST", "/api/v1/validate", {"yaml": LIGHT}),
            ]:
                response = api.request(method, url, json=body, headers=headers)
                assert response.status_code == 403, (method, url, headers, response.text)
                assert "refused" in response.json()["error"]["message"]
        # A form-encoded or text/plain body (what a page can send without a preflight).
        for content_type in ["text/plain", "application/x-www-form-urlencoded"]:
            response = api.post(
                "/api/v1/machines",
                content=json.dumps({"name": "x", "yaml": LIGHT}),
                headers={"content-type": content_type},
            )
            assert response.status_code == 415
            assert "application/json" in response.json()["error"]["message"]
        assert api.get(f"/api/v1/machines/{machine}").json()["yaml"] == LIGHT


def test_a_configured_origin_may_call_the_api_and_no_other(
    tmp_path: Path, examples_dir: Path
) -> None:
    trusted = "http://localhost:3000"
    app = create_app(tmp_path / "d.sqlite3", examples_dir=examples_dir, allowed_origins=[trusted])
    with TestClient(app, base_url=BASE_URL) as api:
        api.event_hooks["response"] = [no_server_errors]
        preflight = {
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        }
        ok = api.options("/api/v1/machines", headers={"Origin": trusted, **preflight})
        assert ok.headers["access-control-allow-origin"] == trusted
        other = api.options(
            "/api/v1/machines", headers={"Origin": "http://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in other.headers
        made = api.post(
            "/api/v1/machines",
            json={"name": "from the notebook", "yaml": LIGHT},
            headers={"Origin": trusted, "Sec-Fetch-Site": "same-site"},
        )
        assert made.status_code == 201
        assert made.headers["access-control-allow-origin"] == trusted
        page = api.post("/new", data={"name": "x"}, headers={"Origin": trusted})
        assert page.status_code == 403  # pages trust only their own origin
        assert (
            "access-control-allow-origin" not in api.get("/", headers={"Origin": trusted}).headers
        )


# -- foreign Host names (DNS rebinding) -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["designer", "standalone"])
def test_a_foreign_host_is_refused_before_any_route(
    tmp_path: Path, examples_dir: Path, kind: str
) -> None:
    app = (
        create_app(tmp_path / "d.sqlite3", examples_dir=examples_dir)
        if kind == "designer"
        else create_api_app(tmp_path / "a.sqlite3")
    )
    with TestClient(app, base_url="http://evil.example:8000") as rebound:
        rebound.event_hooks["response"] = [no_server_errors]
        for method, url in [
            ("GET", "/"),
            ("GET", "/api/v1/machines"),
            ("POST", "/api/v1/machines"),
            ("DELETE", "/api/v1/machines/anything"),
            ("GET", "/static/app.css"),
            ("GET", "/health"),
        ]:
            response = rebound.request(method, url)
            assert response.status_code == 400, (method, url)
            assert "does not answer to the name 'evil.example:8000'" in response.text
            assert "machines" not in response.text.split("answers")[0]
    for host in ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST"]:
        with TestClient(app, base_url=f"http://{host}") as local:
            assert local.get("/health").status_code == 200, host


def test_configured_host_names_are_answered(tmp_path: Path, examples_dir: Path) -> None:
    app = create_app(
        tmp_path / "d.sqlite3",
        examples_dir=examples_dir,
        origin="http://designer.lan:8000",
        allowed_hosts=["10.0.0.5"],
    )
    for host in ["designer.lan:8000", "10.0.0.5:8000", "127.0.0.1:8000"]:
        with TestClient(app, base_url=f"http://{host}") as client:
            assert client.get("/health").status_code == 200, host
    with TestClient(app, base_url="http://other.lan:8000") as client:
        assert client.get("/health").status_code == 400


def test_share_links_use_the_configured_origin_never_the_host_header(
    tmp_path: Path, examples_dir: Path
) -> None:
    app = create_app(
        tmp_path / "d.sqlite3", examples_dir=examples_dir, origin="http://127.0.0.1:8123"
    )
    with designer_client(app) as client:
        for host in ["localhost:9999", "127.0.0.1:8123"]:
            response = client.post("/share", data={"yaml": LIGHT}, headers={**HTMX, "Host": host})
            link = re.search(r'value="([^"]+)"', response.text)
            assert link and link.group(1).startswith("http://127.0.0.1:8123/s/1"), host


# -- JSON beyond the limits: 100k deep, 5,000 digits, lone surrogates -----------------------------


def sim_messages(text: str) -> str:
    return html.unescape(" ".join(re.findall(r'role="alert">([^<]*)<', text)))


def test_the_api_answers_hostile_json_with_a_located_422(hostile: TestClient) -> None:
    ok = {"yaml": LIGHT, "state": "RED", "event": "go"}
    cases = [
        ('{"yaml": ' + DEEP[:200_000] + "}", "levels deep", None),
        (json.dumps({**ok, "context": {"n": 1}})[:-1] + ', "x": ' + LONG + "}", "digits", None),
        (
            json.dumps({**ok, "context": {"a": {"b": "\ud800"}}}),
            "lone surrogate",
            "body.context.a.b",
        ),
        ('{"yaml": "states: [\\udc00]"}', "lone surrogate", "body.yaml"),
        (json.dumps({**ok, "context": {"n": float("inf")}}, allow_nan=True), "Infinity", None),
    ]
    for body, words, path in cases:
        for url in ["/api/v1/validate", "/api/v1/process"]:
            response = hostile.post(url, content=body, headers={"content-type": "application/json"})
            assert response.status_code == 422, (url, words, response.text[:300])
            error = response.json()["error"]
            assert words in error["message"], error
            issue = error["issues"][0]
            assert issue["line"] is not None or issue["path"] == path, issue


def test_the_simulator_answers_hostile_json_fields_with_a_message(hostile: TestClient) -> None:
    base = {"yaml": LIGHT, "trace": "[]"}
    cases = [
        ({"do": "context", "context": DEEP}, "levels deep"),
        ({"do": "context", "context": '{"n": ' + LONG + "}"}, "digits"),
        ({"do": "context", "context": '{"n": "\\ud800"}'}, "lone surrogate"),
        ({"do": "event", "event": "go", "payload": DEEP}, "levels deep"),
        ({"do": "event", "event": "go", "payload": '{"n": ' + LONG + "}"}, "digits"),
        ({"do": "show", "trace": DEEP}, "levels deep"),
        ({"do": "show", "trace": '[{"a": ' + LONG + "}]"}, "digits"),
        ({"do": "show", "trace": '[{"e": "go", "p": {"x": "\\udfff"}}]'}, "lone surrogate"),
    ]
    for fields, words in cases:
        response = hostile.post("/simulate", data={**base, **fields}, headers=HTMX)
        assert response.status_code == 200
        assert words in sim_messages(response.text), (fields.keys(), sim_messages(response.text))


@pytest.mark.parametrize("do", ["jump:" + LONG, "send:" + LONG + ":go", "advance:" + LONG + "s"])
def test_the_simulator_refuses_absurd_numbers_in_its_buttons(hostile: TestClient, do: str) -> None:
    response = hostile.post(
        "/simulate", data={"yaml": LIGHT, "trace": "[]", "do": do}, headers=HTMX
    )
    assert response.status_code in (200, 400)
    assert "digits" in response.text or "not" in sim_messages(response.text)
    big_to = {"yaml": LIGHT, "trace": "[]", "do": "advance_to", "to": LONG}
    assert hostile.post("/simulate", data=big_to, headers=HTMX).status_code in (200, 400)


def test_addresses_and_links_carrying_hostile_runs_open_with_a_note(hostile: TestClient) -> None:
    packed = pack_trace(DEEP[:20_000])
    assert packed
    page = hostile.get(f"/examples/traffic_light?view=simulate&trace={packed}")
    assert page.status_code == 200 and "could not be opened" in html.unescape(page.text)
    token = encode_token(LIGHT, [{"e": "go", "p": {"n": 10**200}}])
    shared = hostile.get(f"/s/{token}")
    assert shared.status_code == 200
    response = hostile.post("/share", data={"yaml": LIGHT, "trace": DEEP}, headers=HTMX)
    assert "levels deep" in html.unescape(response.text)


def test_hostile_machine_text_everywhere(hostile: TestClient) -> None:
    """Tags, long numbers and ``expr: 5`` in the machine: located issues, no crash."""
    texts = [
        LIGHT.replace("name: GREEN", "name: !state GREEN"),
        LIGHT.replace("name: GREEN", "name: !!python/name:os.system GREEN"),
        LIGHT.replace("    dest: GREEN", "    dest: GREEN\n    after: " + LONG),
        LIGHT + "  - trigger: x\n    source: RED\n    dest: RED\n    guards: [{expr: 5}]\n",
    ]
    for text in texts:
        checked = hostile.post("/validate", data={"yaml": text}, headers=HTMX)
        assert 'data-valid="false"' in checked.text
        assert re.search(r'data-line="\d+"', checked.text)  # located
        stepped = hostile.post("/simulate", data={"yaml": text, "trace": "[]"}, headers=HTMX)
        assert stepped.status_code == 200
        api = hostile.post("/api/v1/validate", json={"yaml": text}).json()
        assert api["valid"] is False and api["issues"][0]["line"] is not None


def test_yaml_nested_too_deep_is_refused_at_its_line_and_column(hostile: TestClient) -> None:
    """Refused before the parser (whose C code crashes near 30,000 levels), yet located."""
    text = LIGHT.replace("name: GREEN", "name: GREEN\n    description: " + "[" * 30_000)
    line = text.splitlines().index("    description: " + "[" * 30_000) + 1
    checked = hostile.post("/validate", data={"yaml": text}, headers=HTMX)
    assert f'data-line="{line}"' in checked.text and "levels deep" in checked.text
    assert 'data-column="214"' in checked.text  # 4 of indentation, then 197 brackets
    api = hostile.post("/api/v1/validate", json={"yaml": text}).json()
    assert api["valid"] is False
    assert (api["issues"][0]["line"], api["issues"][0]["column"]) == (line, 214)


def test_a_lone_surrogate_reaches_the_api_only_escaped_and_is_refused(hostile: TestClient) -> None:
    """A form cannot carry one (browsers send U+FFFD); JSON can, as an escape."""
    text = LIGHT.replace("GREEN", "GR\ud800EEN", 1)
    for url, body in [
        ("/api/v1/validate", {"yaml": text}),
        ("/api/v1/machines", {"name": "x", "yaml": text}),
        ("/api/v1/machines", {"name": "bad\udfff", "yaml": LIGHT}),
    ]:
        escaped = json.dumps(body)  # ensure_ascii: the surrogate travels as \\ud800
        response = hostile.post(url, content=escaped, headers={"content-type": "application/json"})
        assert response.status_code == 422
        assert "lone surrogate" in response.json()["error"]["message"]


# -- alias byte bombs -----------------------------------------------------------------------------


def alias_bomb() -> str:
    filler = "x" * 60_000
    refs = ", ".join(["*big"] * 300)
    return f'big: &big "{filler}"\n' + LIGHT.replace(
        "    dest: GREEN",
        f"    dest: GREEN\n    actions:\n      - name: log\n        params: {{rows: [{refs}]}}",
    )


def test_an_alias_byte_bomb_gets_a_small_answer_everywhere(hostile: TestClient) -> None:
    text = alias_bomb()
    assert len(text) < 70_000
    answers = [
        hostile.post("/validate", data={"yaml": text}, headers=HTMX),
        hostile.post(
            "/simulate", data={"yaml": text, "trace": "[]", "do": "send:-:go"}, headers=HTMX
        ),
        hostile.post("/api/v1/validate", json={"yaml": text}),
        hostile.post("/api/v1/process", json={"yaml": text, "state": "RED", "event": "go"}),
    ]
    for response in answers:
        assert len(response.content) < 200_000, (response.request.url, len(response.content))
    for response in (answers[0], answers[2], answers[3]):
        assert "expands to more than" in html.unescape(response.text)
    assert "cannot be simulated" in html.unescape(answers[1].text) or "problem" in answers[1].text


# -- bodies: chunked 200 MB, refused before it is read --------------------------------------------


def send_chunked(
    app: Any, path: str, content_type: str, total: int, head: bytes = b""
) -> tuple[int, int]:
    """Post ``head`` then ``total`` bytes in 1 MB chunks into the ASGI app; (status, bytes read)."""
    chunk = b"x" * 1_000_000
    sent = 0
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent >= total:
            return {"type": "http.disconnect"}
        body = head + chunk if sent == 0 else chunk
        sent += len(chunk)
        return {"type": "http.request", "body": body, "more_body": sent < total}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", content_type.encode()),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    return statuses[0], sent


MULTIPART_HEAD = (
    b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.yaml"\r\n\r\n'
)


@pytest.mark.parametrize(
    ("path", "content_type", "head", "status"),
    [
        ("/validate", "application/x-www-form-urlencoded", b"yaml=", 413),
        ("/import", "multipart/form-data; boundary=xyz", MULTIPART_HEAD, 413),
        ("/api/v1/validate", "application/json", b'{"yaml": "', 413),
        ("/machines/abc/save", "application/x-www-form-urlencoded", b"yaml=", 413),
        ("/machines/abc/save", "text/plain", b"", 403),  # no form, so no token: not even read
    ],
)
def test_a_chunked_200_mb_body_is_refused_early(
    app: Any, path: str, content_type: str, head: bytes, status: int
) -> None:
    answered, read = send_chunked(app, path, content_type, 200_000_000, head)
    assert answered == status
    assert read <= 33_000_000  # stopped at the 32 MB limit, not read whole


def test_a_chunked_body_within_the_limit_is_read(hostile: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"yaml=" + LIGHT.encode()
        yield b"&diagram_key="

    response = hostile.post(
        "/validate",
        content=chunks(),
        headers={**HTMX, "content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200 and 'data-valid="true"' in response.text


# -- saves: stale tabs, and each browser's drafts -------------------------------------------------


def base_of(page: str) -> str:
    found = re.search(r'id="editor-base" name="base" value="([0-9a-f]+)"', page)
    assert found, "the editor carries no base revision"
    return found.group(1)


def test_a_save_from_a_stale_tab_is_kept_and_the_tab_is_told(hostile: TestClient) -> None:
    machine = machine_of(hostile)
    opened = base_of(hostile.get(f"/machines/{machine}").text)
    first = ORDER.replace("OPEN", "WORKING")
    second = ORDER.replace("OPEN", "ACTIVE")
    saved = hostile.post(
        f"/machines/{machine}/save", data={"yaml": first, "base": opened}, headers=HTMX
    )
    assert "Saved revision #2" in saved.text
    assert base_of(saved.text) != opened  # the tab's base moves to what it saved (out of band)
    stale = hostile.post(
        f"/machines/{machine}/save", data={"yaml": second, "base": opened}, headers=HTMX
    )
    assert stale.status_code == 200
    told = html.unescape(stale.text)
    assert "Kept as revision #3, not made current" in told
    assert "saved elsewhere (revision #2)" in told
    diff = re.search(r'href="(/machines/[0-9a-f]+/diff\?old=[0-9a-f]+&new=[0-9a-f]+)"', told)
    assert diff, told
    compared = hostile.get(diff.group(1)).text
    assert "ACTIVE" in compared and "WORKING" in compared
    assert hostile.get(f"/api/v1/machines/{machine}").json()["yaml"] == first
    listed = hostile.get(f"/machines/{machine}").text
    assert listed.count('class="badge current"') == 1
    # Without JavaScript the tab gets the whole page, saying the same, as 409.
    plain = hostile.post(f"/machines/{machine}/save", data={"yaml": second + "\n", "base": opened})
    assert plain.status_code == 409 and "not made current" in plain.text


def test_the_api_says_409_for_a_stale_base(hostile: TestClient) -> None:
    made = hostile.post("/api/v1/machines", json={"name": "m", "yaml": LIGHT}).json()
    base = made["revision_id"]
    hostile.put(f"/api/v1/machines/{made['id']}", json={"yaml": ORDER, "base_revision": base})
    late = hostile.put(
        f"/api/v1/machines/{made['id']}", json={"yaml": LIGHT + "\n", "base_revision": base}
    )
    assert late.status_code == 409
    body = late.json()
    assert body["revision"]["number"] == 3 and body["current"]["number"] == 2
    assert hostile.get(f"/api/v1/machines/{made['id']}").json()["yaml"] == ORDER


def test_export_always_follows_the_current_revision(hostile: TestClient) -> None:
    machine = machine_of(hostile)
    page = hostile.get(f"/machines/{machine}").text
    assert f'href="/machines/{machine}/export"' in page
    edited = ORDER.replace("OPEN", "WORKING")
    hostile.post(f"/machines/{machine}/save", data={"yaml": edited}, headers=HTMX)
    export = hostile.get(f"/machines/{machine}/export")
    assert export.status_code == 200 and "WORKING" in export.text
    download = re.search(r'href="(/m/[0-9a-f]+/export\.yaml)"', export.text)
    assert download and hostile.get(download.group(1)).text == edited


def test_drafts_are_kept_per_browser(app: Any) -> None:
    with designer_client(app) as one, designer_client(app) as two:
        machine = machine_of(one)
        typed = ORDER.replace("OPEN", "MINE")
        one.post("/validate", data={"yaml": typed, "machine_id": machine}, headers=HTMX)
        assert "MINE" in one.get(f"/machines/{machine}").text
        assert "MINE" not in two.get(f"/machines/{machine}").text
        page = one.get("/examples/traffic_light").text
        draft_id = re.search(r'name="draft_id" value="([0-9a-f]{16})"', page)
        assert draft_id
        headers = {**HTMX, "HX-Current-URL": BASE_URL + "/examples/traffic_light"}
        one.post(
            "/validate",
            data={"yaml": LIGHT + "#\n", "draft_id": draft_id.group(1)},
            headers=headers,
        )
        assert one.get(f"/drafts/{draft_id.group(1)}").status_code == 200
        other = two.get(f"/drafts/{draft_id.group(1)}")
        assert other.status_code == 404 and "not kept for this browser" in other.text


# -- the time budget, and work that stops when its client leaves ----------------------------------


def test_a_machine_over_the_time_budget_is_too_large_to_check(
    tmp_path: Path, examples_dir: Path
) -> None:
    app = create_app(tmp_path / "d.sqlite3", examples_dir=examples_dir, check_seconds=0)
    with designer_client(app) as client:
        client.event_hooks["response"] = [no_server_errors]
        checked = client.post("/validate", data={"yaml": LIGHT}, headers=HTMX)
        assert "too large to check within 0 seconds" in checked.text
        machine = machine_of(client)
        saved = client.post(f"/machines/{machine}/save", data={"yaml": LIGHT}, headers=HTMX)
        assert "Not saved" in saved.text
        api = client.post("/api/v1/validate", json={"yaml": LIGHT}).json()
        assert api["valid"] is False and api["issues"][0]["code"] == "too-large"
        stepped = client.post(
            "/api/v1/process", json={"yaml": LIGHT, "state": "RED", "event": "go"}
        )
        assert (
            stepped.status_code == 422
            and stepped.json()["error"]["issues"][0]["code"] == "too-large"
        )


def test_a_check_stops_when_its_client_goes_away(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The editor typed again (htmx dropped the request): the check stops after its stage."""
    import time

    import pystator.config
    import ui.checking

    real_load = pystator.config.load_spec
    later_stages: list[str] = []

    def slow_load(text: str) -> Any:
        time.sleep(0.4)
        return real_load(text)

    monkeypatch.setattr(pystator.config, "load_spec", slow_load)
    monkeypatch.setattr(ui.checking, "_lint", lambda machine: later_stages.append("lint") or [])
    with designer_client(app) as client:
        token = client.headers["X-CSRF-Token"]
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    body = ("yaml=" + LIGHT.replace("\n", "%0A")).encode()
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}  # the client is gone as soon as it has sent

    async def send(message: dict[str, Any]) -> None:
        return None

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/validate",
        "raw_path": b"/validate",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"x-csrf-token", token.encode()),
            (b"cookie", cookie.encode()),
            (b"hx-request", b"true"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    assert later_stages == []
    with designer_client(app) as client:  # a client that stays gets the whole check
        client.post("/validate", data={"yaml": LIGHT}, headers=HTMX)
    assert later_stages == ["lint"]


def test_the_page_token_survives_a_restart(tmp_path: Path, examples_dir: Path) -> None:
    path = tmp_path / "d.sqlite3"
    with designer_client(create_app(path, examples_dir=examples_dir)) as before:
        token = before.headers["X-CSRF-Token"]
        cookies = dict(before.cookies)
    with TestClient(create_app(path, examples_dir=examples_dir), base_url=BASE_URL) as after:
        after.cookies.update(cookies)
        assert page_token(after) == token


# -- racing writers on a real server -------------------------------------------------------------


@pytest.fixture
def served(app: Any) -> Iterator[str]:
    import threading
    import time

    import uvicorn

    from tests.support import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the designer did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.slow
def test_twenty_concurrent_identical_puts_make_one_revision(served: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with httpx.Client(base_url=served) as api:
        machine = api.post("/api/v1/machines", json={"name": "race", "yaml": LIGHT}).json()["id"]

        def put(_: int) -> httpx.Response:
            with httpx.Client(base_url=served, timeout=30) as own:
                return own.put(f"/api/v1/machines/{machine}", json={"yaml": ORDER})

        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(put, range(20)))
        assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
        assert len({a.json()["revision"]["id"] for a in answers}) == 1
        assert len(api.get(f"/api/v1/machines/{machine}").json()["revisions"]) == 2

        def create(n: int) -> httpx.Response:
            body = {"name": f"m{n}", "yaml": ORDER}  # the same text: one stored copy
            return httpx.post(f"{served}/api/v1/machines", json=body, timeout=30)

        with ThreadPoolExecutor(20) as pool:
            made = list(pool.map(create, range(20)))
        assert [m.status_code for m in made] == [201] * 20


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "kind"),
    [("/api/v1/validate", "application/json"), ("/validate", "application/x-www-form-urlencoded")],
)
def test_a_chunked_body_over_the_wire_is_answered_413_early(
    served: str, path: str, kind: str
) -> None:
    """A client streaming 200 MB gets its 413 soon after the 32 MB limit, not at the end."""
    import select
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(served)
    chunk = b"x" * 1_000_000
    sent, answer = 0, b""
    with socket.create_connection((where.hostname, where.port), timeout=10) as conn:
        conn.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {kind}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        try:
            while sent < 200_000_000 and not answer:
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                if select.select([conn], [], [], 0)[0]:
                    answer = conn.recv(65536)
        except OSError:  # the server answered and closed the connection
            answer = answer or conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 60_000_000
