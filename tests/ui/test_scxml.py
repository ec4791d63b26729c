"""SCXML through the designer: Import reads a document into YAML, Export writes one."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from pystator import StateMachine
from tests.ui.conftest import ORDER

DOCUMENT = """\
<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" initial="idle" name="door">
  <state id="idle">
    <transition event="open" target="opened"/>
  </state>
  <state id="opened">
    <transition event="close" target="idle"/>
  </state>
</scxml>
"""

BROKEN = """\
<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" initial="idle">
  <state id="idle">
    <invoke type="http" src="x"/>
  </state>
</scxml>
"""

NO_ECMASCRIPT = """\
meta:
  machine_name: "sums"
data: {xs: [1, 2], total: 0}
states:
  - name: A
    type: initial
  - name: B
    on_enter:
      - {assign: total, expr: "sum(xs)"}
transitions:
  - trigger: go
    source: A
    dest: B
"""


def _import(client: TestClient, name: str, text: str) -> object:
    return client.post(
        "/import",
        files={"file": (name, text.encode(), "application/scxml+xml")},
        follow_redirects=False,
    )


def test_an_scxml_file_imports_as_yaml(client: TestClient) -> None:
    response = _import(client, "door.scxml", DOCUMENT)
    assert response.status_code == 303  # type: ignore[attr-defined]
    page = client.get(response.headers["location"])  # type: ignore[attr-defined]
    text = re.search(r'<textarea id="yaml"[^>]*>(.*?)</textarea>', page.text, re.S)
    assert text and "name: opened" in text.group(1) and "<scxml" not in text.group(1)
    machine = StateMachine.from_yaml(text.group(1).replace("&#34;", '"').replace("&#39;", "'"))
    assert machine.process("idle", "open").target_state == "opened"
    assert ">door<" in client.get("/").text


def test_a_refused_scxml_file_lists_its_problems_at_their_lines(client: TestClient) -> None:
    response = _import(client, "bad.scxml", BROKEN)
    assert response.status_code == 400  # type: ignore[attr-defined]
    body = response.text  # type: ignore[attr-defined]
    assert "not an SCXML document the designer can read" in body
    assert '<span class="where">3:' in body and "invoke" in body


def test_export_offers_scxml_that_reads_back(client: TestClient) -> None:
    mid = re.search(r'href="/machines/([0-9a-f]+)">order_lifecycle<', client.get("/").text)
    assert mid
    rev = re.search(r'href="/m/([0-9a-f]{12})"', client.get(f"/machines/{mid.group(1)}").text)
    assert rev
    page = client.get(f"/m/{rev.group(1)}/export")
    assert f'href="/m/{rev.group(1)}/export.scxml"' in page.text
    scxml = client.get(f"/m/{rev.group(1)}/export.scxml")
    assert (
        scxml.status_code == 200
        and 'filename="order_lifecycle.scxml"' in scxml.headers["content-disposition"]
    )
    back = StateMachine.from_scxml(scxml.text)
    assert back.process("PENDING", "exchange_ack").target_state == "OPEN"
    assert StateMachine.from_yaml(ORDER).name == back.name


def test_export_says_why_a_machine_has_no_scxml(client: TestClient) -> None:
    created = client.post("/import", files={"file": ("sums.yaml", NO_ECMASCRIPT.encode())},
                          follow_redirects=False)  # fmt: skip
    page = client.get(created.headers["location"])
    rev = re.search(r'href="/m/([0-9a-f]{12})"', page.text)
    assert rev
    export = client.get(f"/m/{rev.group(1)}/export")
    assert "This machine cannot be written as SCXML" in export.text
    assert "sum(xs)" in export.text.replace("&#39;", "'")
    assert f'href="/m/{rev.group(1)}/export.scxml"' not in export.text
    refused = client.get(f"/m/{rev.group(1)}/export.scxml")
    assert refused.status_code == 409 and "cannot be written as SCXML" in refused.text
