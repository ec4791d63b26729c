"""The simulator runs the child machines an ``invoke`` names, found in the library.

``src: machine:payment`` names the library's ``payment`` (as last saved) or the
example of that name; the panel shows the child's state beside the parent's, and
offers the events only the child takes.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.invoke_machines import SESSION, TICKER
from tests.ui.conftest import HTMX, designer_client
from tests.ui.test_simulate import trace_of
from ui.app import create_app

EXAMPLES = Path(__file__).parents[2] / "examples"
CHECKOUT = (EXAMPLES / "checkout.yaml").read_text(encoding="utf-8")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    examples = tmp_path / "examples"
    examples.mkdir()
    for name in ("checkout.yaml", "payment.yaml"):
        shutil.copy(EXAMPLES / name, examples / name)
    with designer_client(create_app(tmp_path / "library.sqlite3", examples_dir=examples)) as c:
        yield c


def post(client: TestClient, do: str, trace: str = "[]", text: str = CHECKOUT, **more: str) -> Any:
    data = {"yaml": text, "trace": trace, "do": do, **more}
    return client.post("/simulate", data=data, headers={**HTMX, "HX-Current-URL": "http://t/x"})


def child_state(page: str) -> str | None:
    found = re.search(r'data-child-state="payment">([^<]*)<', page)
    return html.unescape(found.group(1)) if found else None


def test_the_child_runs_and_its_events_are_offered(client: TestClient) -> None:
    start = post(client, "show")
    assert start.status_code == 200 and child_state(start.text) is None
    paying = post(client, "send:-:checkout", trace_of(start.text))
    assert child_state(paying.text) == "authorising"
    assert 'value="send:-:authorised"' in paying.text  # only the child takes it
    captured = post(client, "send:-:authorised", trace_of(paying.text))
    assert child_state(captured.text) == "capturing"
    shipped = post(client, "send:-:captured", trace_of(captured.text))
    assert child_state(shipped.text) is None
    assert 'data-state="shipped"' in shipped.text


def test_a_typed_event_for_the_child_is_sent(client: TestClient) -> None:
    paying = post(client, "send:-:checkout")
    typed = post(client, "event", trace_of(paying.text), event="declined")
    assert "is not an event of this machine" not in typed.text
    assert child_state(typed.text) == "authorising"
    assert "ask_for_another_card" in typed.text


def test_the_library_text_of_the_child_is_the_one_run(client: TestClient) -> None:
    page = client.get("/").text
    found = re.search(r'href="/machines/([^"/]+)"[^>]*>\s*payment\s*<', page)
    assert found, "the seeded library lists payment"
    machine_id = found.group(1)
    renamed = (EXAMPLES / "payment.yaml").read_text(encoding="utf-8")
    renamed = (
        renamed.replace("name: authorising", "name: checking_card")
        .replace("source: authorising", "source: checking_card")
        .replace("dest: authorising", "dest: checking_card")
    )
    saved = client.post(f"/machines/{machine_id}/save", data={"yaml": renamed})
    assert saved.status_code in (200, 303), saved.text
    paying = post(client, "send:-:checkout")
    assert child_state(paying.text) == "checking_card"


def test_an_unknown_child_is_said_not_crashed(client: TestClient) -> None:
    text = CHECKOUT.replace("machine:payment", "machine:paymnt")
    page = post(client, "show", text=text)
    assert page.status_code == 200
    problem = re.search(r'class="alert sim-problem" role="alert">([^<]*)<', page.text)
    assert problem, page.text[:2000]
    said = html.unescape(problem.group(1))
    assert "'paying' of 'checkout' invokes 'machine:paymnt'" in said
    assert "there is no machine 'paymnt'" in said
    assert said.startswith("The definition cannot be simulated: 18:23: ")  # the editor's line


def test_a_broken_child_is_named(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    examples.mkdir()
    shutil.copy(EXAMPLES / "checkout.yaml", examples / "checkout.yaml")
    (examples / "payment.yaml").write_text("states:\n  - name: a\n    type: nope\n")
    app = create_app(tmp_path / "library.sqlite3", examples_dir=examples)
    with designer_client(app) as client:
        shown = post(client, "show")
    assert shown.status_code == 200
    problem = re.search(r'class="alert sim-problem" role="alert">([^<]*)<', shown.text)
    assert problem
    assert "invokes machine 'payment', whose definition has problems" in html.unescape(
        problem.group(1)
    )


def test_a_childs_timer_is_pending_and_the_virtual_clock_fires_it(tmp_path: Path) -> None:
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "session.yaml").write_text(SESSION, encoding="utf-8")
    (examples / "ticker.yaml").write_text(TICKER, encoding="utf-8")
    with designer_client(create_app(tmp_path / "library.sqlite3", examples_dir=examples)) as c:
        active = post(c, "send:-:enter", text=SESSION)
        assert 'data-timer-state="counting"' in active.text
        assert 'id="sim-fire" disabled' not in active.text
        rung = post(c, "fire", trace_of(active.text), text=SESSION)
        assert 'data-ms="5000"' in rung.text and 'data-timer-state="ringing"' in rung.text
        fired = post(c, "fire", trace_of(rung.text), text=SESSION)
        assert 'data-state="closed"' in fired.text
        assert 'data-ms="6000"' in fired.text
        assert "No timer is pending." in fired.text
