"""The Simulate view's routes: full pages and htmx fragments, every action, every bad input.

Each request carries the machine text and the trace; the tests read what the panel
rendered (the hidden trace, the step log, messages) the way the browser receives it.
"""

from __future__ import annotations

import html
import json
import re
import time
from typing import Any

from starlette.testclient import TestClient

from tests.ui.conftest import HTMX
from ui.share import decode_token, encode_token
from ui.simulating import MAX_TRACE_CHARS, pack_trace

MACHINE = """\
meta:
  machine_name: "door"
states:
  - name: closed
    type: initial
    timeout:
      seconds: 10
      destination: alarm
  - name: open
    on_enter:
      - name: beep
        params: {times: 2}
  - name: alarm
    type: terminal
  - name: locked
transitions:
  - trigger: push
    source: closed
    dest: open
    guards: [is_unlocked]
    actions: [log_push]
  - trigger: lock
    source: closed
    dest: locked
    guards:
      - expr: "code == 1234"
  - trigger: release
    source: open
    dest: closed
  - source: open
    dest: closed
    after: 3s
"""


def post(client: TestClient, do: str = "", trace: str = "[]", **fields: str) -> Any:
    data = {"yaml": fields.pop("yaml", MACHINE), "trace": trace, "do": do, **fields}
    return client.post("/simulate", data=data, headers={**HTMX, "HX-Current-URL": "http://t/x"})


def trace_of(text: str) -> str:
    match = re.search(r'id="sim-trace" name="trace" value="([^"]*)"', text)
    assert match, "the panel carries the trace in a hidden field"
    return html.unescape(match.group(1))


def state_of(text: str) -> str:
    match = re.search(r'<section id="sim" class="sim"[^>]*data-state="([^"]*)"', text)
    assert match
    return html.unescape(match.group(1))


def messages(text: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'role="alert">([^<]*)<', text)]


def run(client: TestClient, *actions: str, **fields: str) -> str:
    trace = "[]"
    text = ""
    for do in actions:
        response = post(client, do, trace, **fields)
        assert response.status_code == 200
        text = response.text
        assert not messages(text), messages(text)
        trace = trace_of(text)
    return text


# ---- pages ----------------------------------------------------------------------------


def test_saved_machine_page_opens_the_simulator(client: TestClient) -> None:
    page = client.get("/")
    machine_id = re.search(r'href="/machines/([0-9a-f]+)"', page.text)
    assert machine_id
    response = client.get(f"/machines/{machine_id.group(1)}?view=simulate")
    assert response.status_code == 200
    assert "<html" in response.text
    assert 'id="sim-form"' in response.text
    assert 'data-tab="sim-view"' in response.text
    assert 'id="sim-view" class="view"' in response.text
    assert state_of(response.text) == "PENDING"


def test_diagram_view_is_the_default_and_the_simulator_loads_on_demand(
    client: TestClient,
) -> None:
    response = client.get("/examples/order_lifecycle")
    assert response.status_code == 200
    assert '<section id="sim" class="sim"></section>' in response.text
    assert re.search(r'id="sim-view" class="view"\s+hidden', response.text)


def test_share_link_with_trace_reopens_at_the_same_step(client: TestClient) -> None:
    text = run(client, "send:-:lock", "context", "send:-:lock", context='{"code": 1234}')
    assert state_of(text) == "locked"
    response = client.post("/share", data={"yaml": MACHINE, "trace": trace_of(text)}, headers=HTMX)
    link = re.search(r'value="(http[^"]+/s/[^"]+)"', response.text)
    assert link
    token = link.group(1).rsplit("/", 1)[1]
    assert decode_token(token).trace == json.loads(trace_of(text))
    page = client.get(f"/s/{token}")
    assert page.status_code == 200
    assert state_of(page.text) == "locked"
    assert 'data-step="3"' in page.text


def test_each_step_replaces_the_address_with_one_that_reopens_it(client: TestClient) -> None:
    response = client.post(
        "/simulate",
        data={"yaml": MACHINE, "trace": "[]", "do": "send:-:push"},
        headers={**HTMX, "HX-Current-URL": "http://127.0.0.1:8000/examples/order_lifecycle"},
    )
    address = response.headers["HX-Replace-Url"]
    assert address.startswith("/examples/order_lifecycle?view=simulate&trace=")
    token = address.split("trace=", 1)[1]
    assert json.loads(html.unescape(trace_of(response.text)))[0]["e"] == "push"
    assert pack_trace(trace_of(response.text)) == token


def test_a_damaged_trace_in_the_address_is_a_message(client: TestClient) -> None:
    response = client.get("/examples/order_lifecycle?view=simulate&trace=%21%21not-a-trace")
    assert response.status_code == 200
    assert any("could not be opened" in m for m in messages(response.text))
    assert state_of(response.text) == "PENDING"


def test_plain_form_post_without_javascript_returns_the_whole_page(client: TestClient) -> None:
    response = client.post(
        "/simulate", data={"sim_yaml": MACHINE, "trace": "[]", "do": "send:-:push"}
    )
    assert response.status_code == 200
    assert "<html" in response.text
    assert state_of(response.text) == "open"
    assert re.search(r'id="diagram-view" class="view"\s+hidden', response.text)


# ---- fragments and actions ------------------------------------------------------------


def test_fragment_shows_configuration_events_disabled_reasons_guards_and_timers(
    client: TestClient,
) -> None:
    response = post(client)
    assert response.status_code == 200
    text = response.text
    assert "<html" not in text
    assert state_of(text) == "closed"
    assert 'value="send:0:push"' in text  # the unset named guard is a choice
    assert "assumes is_unlocked" in text
    assert re.search(r'data-event="lock".*code == 1234', text, re.S)
    assert 'data-guard="is_unlocked" data-value="unset"' in text
    assert 'data-timer-state="closed"' in text
    assert "timeout:closed" in text
    assert 'data-active="closed"' in text  # the page marks it from the engine's ids


def test_send_records_exits_entries_actions_params_and_marks_the_edge(
    client: TestClient,
) -> None:
    text = run(client, "send:0:push")
    assert state_of(text) == "open"
    assert '<li class="step event current" data-step="1">' in text
    body = text.split('data-step="1"', 1)[1].split('data-step="0"', 1)[0]
    assert "exited closed" in body
    assert "entered open" in body
    assert "log_push" in body and "beep" in html.unescape(body)
    assert '{"times": 2}' in html.unescape(body)
    assert "cancelled timeout:closed" in body
    assert "armed after:3s:open" in body
    assert re.search(r'path\[data-id=&#34;edge\d+&#34;\]|path\[data-id="edge\d+"\]', text)


def test_clock_buttons_fire_timers_and_advance_to(client: TestClient) -> None:
    text = run(client, "send:0:push", "advance:500ms")
    assert 'data-ms="500"' in text
    assert state_of(text) == "open"
    text = run(client, "send:0:push", "fire")
    assert state_of(text) == "closed"
    assert 'data-ms="3000"' in text
    text = run(client, "advance:5s")
    assert state_of(text) == "closed"
    response = post(client, "advance_to", trace_of(text), to="12s")
    assert state_of(response.text) == "alarm"
    assert 'data-ms="12000"' in response.text


def test_advance_to_the_past_or_nonsense_is_a_message(client: TestClient) -> None:
    text = run(client, "advance:5s")
    for to, expected in (("1s", "before now"), ("soon", "malformed delay")):
        response = post(client, "advance_to", trace_of(text), to=to)
        assert any(expected in m for m in messages(response.text)), messages(response.text)
        assert trace_of(response.text) == trace_of(text)
        assert f'value="{to}"' in response.text


def test_fire_with_nothing_pending_says_so(client: TestClient) -> None:
    text = run(client, "context", "send:-:lock", context='{"code": 1234}')
    assert state_of(text) == "locked"
    response = post(client, "fire", trace_of(text))
    assert any("No timer is pending" in m for m in messages(response.text))


def test_guard_toggle_is_a_step_and_decides_the_event(client: TestClient) -> None:
    text = run(client, "guard:false:is_unlocked")
    assert 'data-guard="is_unlocked" data-value="false"' in text
    assert "guard is_unlocked = false" in text
    assert re.search(r'data-event="push".*is_unlocked is false', text, re.S)
    text = run(client, "guard:false:is_unlocked", "guard:true:is_unlocked")
    assert 'value="send:-:push"' in text
    assert json.loads(trace_of(text))[-1] == {"g": "is_unlocked", "v": True}


def test_context_edit_is_a_step_with_its_changes(client: TestClient) -> None:
    text = run(client, "context", context='{"code": 1234, "who": "ann"}')
    assert "code: added 1234" in text
    assert 'value="send:-:lock"' in text


def test_undo_reset_and_jump_truncate_the_trace(client: TestClient) -> None:
    text = run(client, "send:0:push", "fire", "advance:1s")
    assert len(json.loads(trace_of(text))) == 3
    undone = post(client, "undo", trace_of(text)).text
    assert len(json.loads(trace_of(undone))) == 2
    jumped = post(client, "jump:1", trace_of(text)).text
    assert len(json.loads(trace_of(jumped))) == 1
    assert state_of(jumped) == "open"
    reset = post(client, "reset", trace_of(text)).text
    assert json.loads(trace_of(reset)) == []
    nothing = post(client, "undo", "[]").text
    assert any("Nothing to undo" in m for m in messages(nothing))


def test_typed_event_and_payload_reach_the_guards(client: TestClient) -> None:
    response = post(client, "event", event="lock", payload='{"code": 1234}')
    assert state_of(response.text) == "locked"
    assert "payload <code>{&#34;code&#34;: 1234}</code>" in response.text


# ---- bad input ------------------------------------------------------------------------


def test_bad_payload_json_keeps_the_text_and_sends_nothing(client: TestClient) -> None:
    response = post(client, "send:-:lock", payload='{"code": 12')
    assert response.status_code == 200
    assert any("payload is not valid JSON" in m and "line 1" in m for m in messages(response.text))
    assert "{&#34;code&#34;: 12</textarea>" in response.text
    assert json.loads(trace_of(response.text)) == []
    response = post(client, "send:-:lock", payload="[1, 2]")
    assert any("must be a JSON object" in m for m in messages(response.text))


def test_bad_context_json_is_located_and_the_edit_is_kept(client: TestClient) -> None:
    typed = '{\n  "code": 1234,\n  "who": }'
    response = post(client, "context", context=typed)
    assert any("line 3, column 10" in m for m in messages(response.text)), messages(response.text)
    assert 'data-line="3" data-column="10"' in response.text
    assert html.escape(typed, quote=True).replace("&#x27;", "&#39;") in response.text or (
        "&#34;who&#34;: }</textarea>" in response.text
    )
    assert json.loads(trace_of(response.text)) == []


def test_unknown_event_is_a_message_naming_the_events(client: TestClient) -> None:
    for do, fields in (("send:-:nosuch", {}), ("event", {"event": "nosuch"})):
        response = post(client, do, **fields)
        assert response.status_code == 200
        found = messages(response.text)
        assert any("'nosuch' is not an event" in m and "push" in m for m in found), found
        assert json.loads(trace_of(response.text)) == []


def test_nonsense_actions_are_messages(client: TestClient) -> None:
    for do, expected in (
        ("jump:abc", "no step"),
        ("jump:99", "no step 99"),
        ("guard:maybe:is_unlocked", "true, false or unset"),
        ("guard:true:", "true, false or unset"),
        ("event", "type the name of the event"),
        ("guard:true:no_such_guard", "no transition uses a named guard"),
        ("send:x:push", "not a transition number"),
        ("send:7:push", "not a choice"),
        ("dance", "no action"),
        ("advance:forever", "malformed delay"),
    ):
        response = post(client, do)
        assert response.status_code == 200
        found = [m.lower() for m in messages(response.text)]
        assert any(expected in m for m in found), (do, found)


def test_malformed_traces_start_a_new_run_with_a_message(client: TestClient) -> None:
    for trace in ("{not json", '"a string"', "[1, 2]", '[{"e": 5}]', '[{"z": 1}]'):
        response = post(client, "", trace)
        assert response.status_code == 200
        assert any("could not be restored" in m for m in messages(response.text)), trace
        assert json.loads(trace_of(response.text)) == []
        assert state_of(response.text) == "closed"


def test_an_oversized_trace_is_refused_before_parsing(client: TestClient) -> None:
    response = post(client, "", "[" + " " * MAX_TRACE_CHARS + "]")
    assert any("too large" in m for m in messages(response.text))


def test_a_ten_thousand_step_trace_in_a_link_is_refused_quickly(client: TestClient) -> None:
    trace = [{"e": "release"}] * 10_000
    token = encode_token(MACHINE, trace)
    started = time.monotonic()
    response = client.get(f"/s/{token}")
    assert time.monotonic() - started < 5
    assert response.status_code == 200
    assert any("limited to 10000 steps" in m for m in messages(response.text))
    assert state_of(response.text) == "closed"
    started = time.monotonic()
    response = post(client, "", json.dumps(trace))
    assert time.monotonic() - started < 5
    assert any("limited to 10000 steps" in m for m in messages(response.text))


def test_long_replayable_trace_is_handled(client: TestClient) -> None:
    trace = [{"e": "push", "via": 0}, {"e": "release"}] * 2_000
    started = time.monotonic()
    response = post(client, "undo", json.dumps(trace))
    assert time.monotonic() - started < 10
    assert response.status_code == 200
    assert len(json.loads(trace_of(response.text))) == 3_999


def test_editing_the_machine_replays_and_shows_the_divergence(client: TestClient) -> None:
    text = run(client, "send:0:push", "send:-:release", "send:0:push")
    edited = MACHINE.replace("  - trigger: release\n    source: open\n    dest: closed\n", "")
    response = post(client, "", trace_of(text), yaml=edited)
    assert response.status_code == 200
    divergence = re.search(r'class="alert sim-divergence".*?</div>', response.text, re.S)
    assert divergence, "the panel says where the run no longer applies"
    assert "step 2" in divergence.group(0)
    assert "release" in divergence.group(0)
    assert state_of(response.text) == "open"
    assert trace_of(response.text) == trace_of(text)  # kept: undoing the edit brings it back
    back = post(client, "", trace_of(response.text))
    assert "sim-divergence" not in back.text
    assert state_of(back.text) == "open"
    assert 'data-step="3"' in back.text
    moved = post(client, "fire", trace_of(text), yaml=edited)
    assert len(json.loads(trace_of(moved.text))) == 2  # a new step replaces the dropped tail


def test_invalid_definition_keeps_the_trace_and_says_what_to_fix(client: TestClient) -> None:
    text = run(client, "send:0:push")
    response = post(client, "fire", trace_of(text), yaml="states: [")
    assert response.status_code == 200
    assert any("fix them to simulate" in m for m in messages(response.text))
    assert trace_of(response.text) == trace_of(text)
    response = post(client, "", trace_of(text), yaml="")
    assert any("cannot be simulated" in m for m in messages(response.text))


# ---- export ---------------------------------------------------------------------------


def test_export_trace_json_and_a_pytest_file_that_passes(client: TestClient) -> None:
    text = run(client, "send:0:push", "fire", "context", "send:-:lock", context='{"code": 1234}')
    trace = trace_of(text)
    response = client.post(
        "/simulate/export", data={"sim_yaml": MACHINE, "trace": trace, "format": "json"}
    )
    assert response.status_code == 200
    assert 'filename="door_run.json"' in response.headers["content-disposition"]
    assert json.loads(response.text)["trace"] == json.loads(trace)
    response = client.post(
        "/simulate/export", data={"sim_yaml": MACHINE, "trace": trace, "format": "py"}
    )
    assert response.status_code == 200
    assert 'filename="test_door_run.py"' in response.headers["content-disposition"]
    namespace: dict[str, Any] = {}
    exec(compile(response.text, "test_door_run.py", "exec"), namespace)
    tests = [value for name, value in namespace.items() if name.startswith("test_")]
    assert len(tests) == 1
    tests[0]()


def test_export_refuses_what_it_cannot_export(client: TestClient) -> None:
    cases = (
        ({"sim_yaml": MACHINE, "trace": "[]", "format": "exe"}, 400, "no export format"),
        ({"sim_yaml": "states: [", "trace": "[]", "format": "py"}, 400, "fix them"),
        ({"sim_yaml": MACHINE, "trace": "{bad", "format": "py"}, 409, "cannot be exported"),
        (
            {"sim_yaml": MACHINE, "trace": '[{"e": "release", "s": "nowhere"}]', "format": "json"},
            409,
            "cannot be exported",
        ),
    )
    for data, status, expected in cases:
        response = client.post("/simulate/export", data=data)
        assert response.status_code == status, (data, response.text[:300])
        assert expected in response.text
