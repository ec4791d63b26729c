"""The Tests tab: POST /verify (generate tests, check) and POST /verify/export, by what they
render; every bad input is a sentence, never a 500."""

from __future__ import annotations

import ast
import json
import re
from html import unescape
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from pystator import StateMachine
from pystator.verify import check, paths
from tests.engine.test_verify_check import MUTUAL_EXCLUSION
from tests.ui.conftest import HTMX, INVALID, LIGHT

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

AIRLOCK = MUTUAL_EXCLUSION  # two doors that must never be open together

GUARDED = """\
meta: {machine_name: review}
states:
  - {name: draft, type: initial}
  - {name: review}
  - {name: done, type: terminal}
transitions:
  - {trigger: submit, source: draft, dest: review}
  - {trigger: approve, source: review, dest: done, guards: [{expr: "amount > 100"}]}
  - {trigger: never, source: review, dest: done, guards: [{expr: "amount > 5 and amount < 2"}]}
  - {trigger: back, source: review, dest: draft}
"""


def post(client: TestClient, text: str, **fields: str) -> str:
    response = client.post("/verify", data={"yaml": text, **fields}, headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text  # the panel, not the page
    return response.text


def attr(html: str, name: str) -> str:
    found = re.search(rf'{name}="([^"]*)"', html)
    assert found, name
    return unescape(found.group(1))


def test_generate_tests_shows_the_figures_the_engine_computes(client: TestClient) -> None:
    html = post(client, GUARDED, do="paths")
    found = paths(StateMachine.from_yaml(GUARDED))
    figures = found.figures()
    t = figures["transitions"]
    assert f"<dt>Transitions</dt><dd><strong>{t['covered']}</strong>/{t['total']}" in html
    s = figures["states"]
    assert f"<dt>States</dt><dd><strong>{s['covered']}</strong>/{s['total']}" in html
    assert html.count('class="verify-run"') == len(found.runs)
    for run in found.runs:
        for line in run.describe():
            assert line in unescape(html)
    # the uncovered transition with the engine's reason
    (missing,) = found.uncovered
    assert "unsatisfiable" in html and missing.reason in unescape(html)
    assert found.summary() in unescape(html)


def test_the_diagram_marks_covered_and_uncovered_edges_by_the_engines_edges(
    client: TestClient,
) -> None:
    html = post(client, GUARDED, do="paths")
    marks = json.loads(attr(html, "data-coverage"))
    assert sorted(m["covered"] for m in marks.values()) == [False, True, True, True]
    (uncovered,) = [m for m in marks.values() if not m["covered"]]
    assert "Not covered (unsatisfiable)" in uncovered["tip"]
    assert "taken by a path" in html and "not taken by any path" in html  # the legend


def test_each_path_opens_in_the_simulator_at_its_end(client: TestClient) -> None:
    html = post(client, LIGHT, do="paths")
    links = re.findall(r'class="button verify-open" href="(/s/[^"]+)"', html)
    found = paths(StateMachine.from_yaml(LIGHT))
    assert links == [run.share_path(LIGHT) for run in found.runs]
    page = client.get(links[0])
    assert page.status_code == 200
    last = found.runs[0].states[-1]
    assert f'data-state="{last}"' in page.text  # the simulator, replayed to the path's end


def test_a_path_downloads_as_a_pytest_file_that_replays_it(client: TestClient) -> None:
    response = client.post(
        "/verify/export", data={"yaml": LIGHT, "do": "paths", "index": "0"}, headers=HTMX
    )
    assert response.status_code == 200
    assert 'filename="test_traffic_light_path_01.py"' in response.headers["content-disposition"]
    found = paths(StateMachine.from_yaml(LIGHT))
    assert response.text == found.runs[0].pytest(LIGHT, "traffic_light.yaml")
    ast.parse(response.text)


def test_check_lists_each_violation_with_its_counterexample(client: TestClient) -> None:
    html = post(client, AIRLOCK, do="check")
    (violation,) = check(StateMachine.from_yaml(AIRLOCK)).violations
    assert 'data-code="never"' in html
    assert violation.message in unescape(html)
    assert violation.run is not None
    for line in violation.run.describe():
        assert line in unescape(html)
    assert 'data-line="19"' in html  # the property's line, a jump into the editor
    link = re.search(r'class="button verify-open" href="(/s/[^"]+)"', html)
    assert link and link.group(1) == violation.share_path(AIRLOCK)
    page = client.get(link.group(1)).text
    assert 'data-state="cycling:inner=inner_open,outer=outer_open"' in page


def test_a_violation_downloads_as_a_failing_pytest_file(client: TestClient) -> None:
    response = client.post(
        "/verify/export", data={"yaml": AIRLOCK, "do": "check", "index": "0"}, headers=HTMX
    )
    assert response.status_code == 200
    assert 'filename="test_airlock_never_01.py"' in response.headers["content-disposition"]
    (violation,) = check(StateMachine.from_yaml(AIRLOCK)).violations
    assert response.text == violation.pytest(AIRLOCK, "airlock.yaml")


def test_the_tab_reopened_runs_what_the_panel_last_showed(client: TestClient) -> None:
    """The tab posts the panel's form without a button: its ``mode`` decides."""
    assert 'data-mode="check"' in post(client, AIRLOCK, mode="check")
    assert 'data-mode="paths"' in post(client, AIRLOCK, mode="paths")
    assert 'data-mode="paths"' in post(client, AIRLOCK, do="paths", mode="check")


def test_a_sound_machine_checks_ok(client: TestClient) -> None:
    text = (EXAMPLES / "traffic_light.yaml").read_text()
    html = post(client, text, do="check")
    assert "No violations" in html and "verify-violation" not in html


def test_an_invalid_machine_is_a_sentence_with_its_problems(client: TestClient) -> None:
    html = post(client, INVALID, do="paths")
    assert "The machine has 1 problem" in html and "fix them first" in html
    assert "NOWHERE" in html and 'data-line="7"' in html
    assert "verify-run" not in html


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"max_steps": "10000"}, "Max moves must be from 1 to 100 (got 10,000)"),
        ({"max_steps": "0"}, "Max moves must be from 1 to 100 (got 0)"),
        ({"max_states": "9" * 5000}, "Max configurations must be a whole number"),
        ({"max_states": "lots"}, "Max configurations must be a whole number from 1 to 100,000"),
        ({"max_steps": "-3"}, "Max moves must be a whole number"),
    ],
)
def test_a_bad_bound_is_a_sentence(client: TestClient, fields: dict[str, str], says: str) -> None:
    html = post(client, LIGHT, do="paths", **fields)
    assert says in unescape(html) and "verify-run" not in html


def test_a_verify_section_naming_unknown_states_is_located(client: TestClient) -> None:
    text = AIRLOCK.replace("never: [inner_open, outer_open]", "never: [inner_open, outer_opne]")
    html = post(client, text, do="check")
    assert "names states this machine does not have" in html
    assert "outer_opne" in html and "outer_open" in html  # did you mean
    assert 'data-line="19" data-column="23"' in html


def test_the_bound_that_cut_the_exploration_is_said(client: TestClient) -> None:
    chain = "\n".join(f"  - {{trigger: next, source: s{i}, dest: s{i + 1}}}" for i in range(5))
    states = "\n".join(f"  - {{name: s{i}}}" for i in range(1, 6))
    text = f"states:\n  - {{name: s0, type: initial}}\n{states}\ntransitions:\n{chain}\n"
    html = unescape(post(client, text, do="paths", max_steps="3"))
    assert "The exploration stopped at its bound (3 moves)" in html
    assert "give it more moves or configurations" in html


def test_export_refuses_what_it_cannot_give(client: TestClient) -> None:
    def export(**fields: str) -> int:
        data = {"yaml": LIGHT, "do": "paths", "index": "0", **fields}
        return client.post("/verify/export", data=data).status_code

    assert export(do="nothing") == 400
    assert export(index="99") == 409
    assert export(index="x") == 409
    assert export(yaml=INVALID) == 400
    assert export(max_steps="100000") == 400
    assert export(do="check", yaml=(EXAMPLES / "traffic_light.yaml").read_text()) == 409


def test_the_tab_opens_from_the_address_and_without_javascript(client: TestClient) -> None:
    page = client.get("/?view=tests")
    assert page.status_code == 200
    machines = re.findall(r'href="(/machines/[^"/]+)"', page.text)
    assert machines, "the library lists its machines"
    tests = client.get(machines[0] + "?view=tests")
    assert tests.status_code == 200
    assert 'id="verify-view" class="view">' in tests.text  # shown, not hidden
    assert 'id="diagram-view" class="view" hidden' in tests.text
    assert 'class="verify-run"' in tests.text
    # a form sent without JavaScript gets the whole page, on the Tests tab
    plain = client.post("/verify", data={"sim_yaml": AIRLOCK, "do": "check"})
    assert plain.status_code == 200 and "<html" in plain.text
    assert 'data-code="never"' in plain.text


def test_live_validation_lists_unsatisfiable_guards_and_deadlocks_at_their_line(
    client: TestClient,
) -> None:
    stuck = GUARDED.replace("  - {trigger: back, source: review, dest: draft}\n", "").replace(
        'guards: [{expr: "amount > 100"}]', 'guards: [{expr: "amount > 100 and amount < 7"}]'
    )
    response = client.post("/validate", data={"yaml": stuck}, headers=HTMX)
    page = unescape(response.text)
    assert response.status_code == 200 and 'data-valid="true"' in response.text
    assert "guard 'amount > 5 and amount < 2' (on 'never' to 'done') can never be true" in page
    assert 'data-line="9"' in response.text  # the guard's line
    assert "deadlock: in 'review' nothing can happen" in page
    assert 'data-line="4"' in response.text  # the state's line


COUNTERS = """\
data: {a: 0, b: 0, c: 0}
states:
  - {name: counting, type: initial}
transitions:
  - {trigger: a, source: counting, dest: counting, actions: [{assign: a, expr: "a + 1"}]}
  - {trigger: b, source: counting, dest: counting, actions: [{assign: b, expr: "b + 1"}]}
  - {trigger: c, source: counting, dest: counting, actions: [{assign: c, expr: "c + 1"}]}
"""


def test_the_time_bound_keeps_the_tab_responsive_and_is_said(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three counters have ever more configurations: the search ends at its time bound
    (shortened here) and the panel says that is why it stopped."""
    import ui.verifying

    monkeypatch.setattr(ui.verifying, "VERIFY_SECONDS", 0.3)
    html = unescape(post(client, COUNTERS, do="check", max_steps="100", max_states="100000"))
    assert "The exploration stopped at its time (0.3 s)" in html
    assert "'pystator check' has no time bound" in html
    html = unescape(post(client, COUNTERS, do="paths", max_steps="100", max_states="100000"))
    assert "stopped at its time (0.3 s)" in html
