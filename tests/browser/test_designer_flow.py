"""A new user's path through the designer in real Chromium, then every example and a set
of awkward machines rendered by the real Mermaid.

The flow: create a blank machine, type an invalid one and see the located error, jump to
it, fix it and see the diagram, save, reopen from the revision link and from an unsaved
self-contained link, import a file, export YAML/JSON/Mermaid and load the downloaded
YAML with the library. Every page goes through ``offline_page`` (no request may leave).
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import expect

from pystator import StateMachine
from ui.share import encode_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))

# The machine the user types, with one mistake: RUNNING goes to a state that does not exist.
TYPED = """\
meta:
  machine_name: "flow test"

states:
  - name: IDLE
    type: initial
  - name: RUNNING
  - name: REVIEWING
  - name: DONE
    type: terminal

transitions:
  - trigger: start
    source: IDLE
    dest: RUNNING
  - trigger: submit
    source: RUNNING
    dest: REVIEWNIG
  - trigger: approve
    source: REVIEWING
    dest: DONE
"""
TYPO_LINE = TYPED.splitlines().index("    dest: REVIEWNIG") + 1

IMPORTED = """\
meta:
  machine_name: "imported kettle"
states:
  - name: COLD
    type: initial
  - name: HEATING
  - name: BOILED
    type: terminal
transitions:
  - trigger: switch_on
    source: COLD
    dest: HEATING
  - trigger: boil
    source: HEATING
    dest: BOILED
"""


def wait_rendered(page: Any, containing: str | None = None) -> None:
    """Wait until Mermaid has finished every diagram and drawn one (showing ``containing``).

    While it lays a diagram out, Mermaid puts a provisional SVG in a temporary
    ``div#dmermaid-N`` inside the <pre> (already marked ``data-processed``); the finished SVG
    then replaces the <pre>'s content, so only a direct child SVG counts as drawn.
    """
    page.wait_for_function(
        "(needle) => !document.querySelector('pre.mermaid:not([data-processed])')"
        " && !document.querySelector('[id^=dmermaid]')"
        " && [...document.querySelectorAll('#diagram pre.mermaid > svg')]"
        ".some(svg => !needle || svg.textContent.includes(needle))",
        arg=containing,
        timeout=20_000,
    )


def cursor_line(page: Any) -> int:
    return int(
        page.evaluate(
            "() => { const t = document.getElementById('yaml');"
            " return t.value.slice(0, t.selectionStart).split('\\n').length; }"
        )
    )


def diagram_text(page: Any) -> str:
    return str(page.locator("#diagram pre.mermaid svg").text_content())


def test_a_new_user_designs_saves_shares_imports_and_exports(
    offline_page: Any, app_url: str, tmp_path: Path
) -> None:
    page = offline_page

    # Create a blank machine from the library.
    page.goto(app_url + "/")
    page.get_by_role("link", name="New machine").click()
    page.get_by_label("Name", exact=True).fill("flow test")
    page.get_by_label("Blank machine", exact=False).check()
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/machines/[0-9a-f]+$"))
    wait_rendered(page)
    assert "RUNNING" in diagram_text(page)
    machine_url = page.url

    # Type an invalid machine: the error is located (line:column) and the old diagram stays.
    editor = page.locator("#yaml")
    editor.fill(TYPED[:-1])
    editor.press("End")
    page.keyboard.type("\n")  # real key presses go through the debounced live check too
    page.locator("#check[data-valid=false]").wait_for()
    issue = page.locator("#check .issue.error", has_text="REVIEWNIG").first
    where = issue.locator(".where").inner_text()
    assert re.fullmatch(r"\d+:\d+", where), where
    assert int(where.split(":")[0]) == TYPO_LINE
    expect(page.locator("#diagram-status")).to_have_attribute("data-stale", "true")
    assert "RUNNING" in diagram_text(page)  # the last good diagram is still drawn
    # The gutter is redrawn on the next animation frame after the check lands: wait for it.
    expect(page.locator(f".gutter .mark-error:text-is('{TYPO_LINE}')")).to_have_count(1)

    # Clicking the issue moves the cursor to that line.
    editor.press("Control+Home")
    assert cursor_line(page) == 1
    issue.locator("button").click()
    assert cursor_line(page) == TYPO_LINE
    expect(editor).to_be_focused()

    # Fix it: the diagram redraws with the new states.
    editor.fill(TYPED.replace("REVIEWNIG", "REVIEWING"))
    page.locator("#check[data-valid=true]").wait_for()
    wait_rendered(page, containing="REVIEWING")
    expect(page.locator("#diagram-status")).to_have_attribute("data-stale", "false")
    fixed = editor.input_value()

    # Save: a new revision with a stable read-only link.
    page.get_by_role("button", name="Save", exact=True).click()
    status = page.locator("#save-status", has_text="Saved revision")
    status.wait_for()
    revision = re.search(r"Saved revision #\d+ \(([0-9a-f]+)\)", status.inner_text())
    assert revision
    expect(page.locator("#dirty")).to_be_hidden()
    page.goto(f"{app_url}/m/{revision.group(1)}")
    wait_rendered(page)
    assert page.locator("pre.code.readonly").inner_text().strip() == fixed.strip()
    assert "REVIEWING" in diagram_text(page)

    # An unsaved change shared as a self-contained link opens with no database row.
    page.goto(machine_url)
    wait_rendered(page)
    unsaved = fixed.replace("  - name: DONE", "  - name: ARCHIVED\n  - name: DONE")
    unsaved += "  - trigger: archive\n    source: DONE\n    dest: ARCHIVED\n"
    page.locator("#yaml").fill(unsaved)
    page.get_by_role("button", name="Share link").click()
    link = page.locator("#share-link")
    link.wait_for()
    shared_url = link.input_value()
    assert re.search(r"/s/1[A-Za-z0-9_-]+$", shared_url), shared_url
    assert shared_url.startswith(app_url)
    page.goto(shared_url)
    wait_rendered(page)
    assert page.locator("#yaml").input_value() == unsaved
    assert "ARCHIVED" in diagram_text(page)
    assert page.locator(".badge", has_text="not in your library").count() == 1

    # Import a YAML file through the file input.
    upload = tmp_path / "kettle.yaml"
    upload.write_text(IMPORTED, encoding="utf-8")
    page.goto(app_url + "/import")
    page.set_input_files("#import-file", str(upload))
    page.get_by_role("button", name="Import").click()
    page.wait_for_url(re.compile(r"/machines/[0-9a-f]+$"))
    wait_rendered(page)
    assert page.locator("#yaml").input_value() == IMPORTED
    assert page.locator("#machine-name").input_value() == "kettle"
    assert "HEATING" in diagram_text(page)

    # Export: download the YAML and load it with the library; JSON and Mermaid too.
    page.get_by_role("link", name="Export").click()
    with page.expect_download() as yaml_download:
        page.get_by_role("link", name="Download kettle.yaml").click()
    yaml_path = tmp_path / "exported.yaml"
    yaml_download.value.save_as(yaml_path)
    assert yaml_download.value.suggested_filename == "kettle.yaml"
    assert yaml_path.read_text(encoding="utf-8") == IMPORTED
    machine = StateMachine.from_yaml(yaml_path)
    assert machine.name == "imported kettle"
    assert set(machine.states) == {"COLD", "HEATING", "BOILED"}
    assert machine.process("COLD", "switch_on").target_state == "HEATING"

    with page.expect_download() as json_download:
        page.get_by_role("link", name="JSON", exact=True).click()
    json_path = tmp_path / "exported.json"
    json_download.value.save_as(json_path)
    assert json.loads(json_path.read_text(encoding="utf-8")) == yaml.safe_load(IMPORTED)
    assert set(StateMachine.from_json(json_path).states) == set(machine.states)

    with page.expect_download() as mermaid_download:
        page.get_by_role("link", name="Mermaid text").click()
    mermaid_path = tmp_path / "exported.mmd"
    mermaid_download.value.save_as(mermaid_path)
    mermaid = mermaid_path.read_text(encoding="utf-8")
    assert mermaid.startswith("stateDiagram-v2")
    assert mermaid.strip() == page.locator("#export-mermaid").inner_text().strip()
    assert page.console_errors == []


# -- every example and the awkward machines, in the designer ---------------------------------

XSS_SCRIPT = "<script>window.__pwned = 1</script>"
XSS_IMG = '<img src=x onerror="window.__pwned = 1">'


def awkward_names() -> dict[str, Any]:
    """A chain through names Mermaid treats specially, plus markup in names and text."""
    names = [
        "start", "order.open", "waiting for fill", "naïve-état ✓", "注文", "end", "state",
        "note", "class", "default", XSS_SCRIPT, XSS_IMG, "a:b;c#d{e}", "end_end", "[*]",
        "-->", "%%", "click", "style", 'say "hi"', "back\\slash", "#quot;", "&amp;", "{{x}}",
        "tab\there",
    ]  # fmt: skip
    states: list[dict[str, Any]] = [{"name": n, "description": f"{XSS_IMG} {n}"} for n in names]
    states[0]["type"] = "initial"
    states[-1]["type"] = "terminal"
    transitions: list[dict[str, Any]] = [
        {"trigger": f"go <{a}>", "source": a, "dest": b} for a, b in itertools.pairwise(names)
    ]
    transitions.append(
        {
            "trigger": "end",
            "source": "state",
            "dest": "note",
            "guards": [{"expr": 'name == "a;b" and n >= 1'}],
            "actions": [XSS_SCRIPT],
        }
    )
    meta = {"machine_name": XSS_SCRIPT, "description": XSS_IMG}
    return {"meta": meta, "states": states, "transitions": transitions}


def deep_nesting(depth: int = 6) -> dict[str, Any]:
    """``depth`` nested compound states, each with a sibling, and transitions across levels."""
    states: list[dict[str, Any]] = [{"name": "idle", "type": "initial"}]
    path: list[str] = []
    for level in range(1, depth + 1):
        name = ".".join(f"level {i}" for i in range(1, level + 1))
        parent = {"parent": path[-1]} if path else {}
        state: dict[str, Any] = {"name": name, **parent}
        if level < depth:
            state["initial_child"] = f"{name}.level {level + 1}"
        states += [state, {"name": f"{name} side", **parent}]
        path.append(name)
    states.append({"name": "done", "type": "terminal"})
    transitions = [
        {"trigger": "start", "source": "idle", "dest": path[0]},
        {"trigger": "surface", "source": path[-1], "dest": f"{path[0]} side"},
        {"trigger": "dive", "source": f"{path[0]} side", "dest": path[-1]},
        {"trigger": "end", "source": path[0], "dest": "done"},
        *({"trigger": "sideways", "source": p, "dest": f"{p} side"} for p in path[1:]),
    ]
    return {"meta": {"machine_name": "deep nesting"}, "states": states, "transitions": transitions}


def three_regions() -> dict[str, Any]:
    """A parallel state whose regions and states use awkward names."""
    desk = "trading desk"
    regions = [
        {"name": desk, "initial": "scan.ning", "states": ["scan.ning", "an alyzing", "end"]},
        {"name": "risk", "initial": "normal", "states": ["normal", "state", "critical"]},
        {"name": "data.feed", "initial": "note", "states": ["note", "connected", "注文"]},
    ]  # fmt: skip
    states = [
        {"name": "setup", "type": "initial"},
        {"name": "session live", "type": "parallel", "regions": regions},
        {"name": "halted", "type": "terminal"},
    ]
    transitions = [
        {"trigger": "go", "source": "setup", "dest": "session live"},
        {"trigger": "signal", "source": "scan.ning", "dest": "an alyzing", "region": desk},
        {"trigger": "finish", "source": "an alyzing", "dest": "end", "region": desk},
        {"trigger": "breach", "source": "normal", "dest": "state", "region": "risk"},
        {"trigger": "worse", "source": "state", "dest": "critical", "region": "risk"},
        {"trigger": "up", "source": "note", "dest": "connected", "region": "data.feed"},
        {"trigger": "lost", "source": "connected", "dest": "注文", "region": "data.feed"},
        {"trigger": "stop", "source": "critical", "dest": "halted"},
        {"trigger": "shutdown", "source": "session live", "dest": "halted"},
    ]  # fmt: skip
    return {"meta": {"machine_name": "three regions"}, "states": states, "transitions": transitions}


AWKWARD = {
    "awkward_names": awkward_names,
    "deep_nesting": deep_nesting,
    "three_regions": three_regions,
}


def assert_drawn_safely(page: Any, machine: StateMachine) -> None:
    """Mermaid drew the machine, showed every state name as text and ran nothing."""
    wait_rendered(page)
    assert page.locator("pre.mermaid:not([data-processed])").count() == 0
    assert page.locator("pre.mermaid[data-processed=error], .diagram-error").count() == 0
    assert page.locator("#diagram pre.mermaid svg").count() == 1
    assert page.locator("#diagram pre.mermaid > svg").count() == 1
    assert page.locator("[id^=dmermaid], .error-icon, .error-text").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    scripts = page.evaluate("() => [...document.scripts].map(s => s.getAttribute('src'))")
    assert all(src and src.startswith("/static/") for src in scripts), scripts
    assert page.locator("#diagram img, #diagram script").count() == 0
    drawn = " ".join(diagram_text(page).split())
    for name in machine.states:
        assert " ".join(name.split()) in drawn, f"{name!r} is not shown in the diagram"
    assert page.console_errors == []


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_renders_in_the_designer(offline_page: Any, app_url: str, path: Path) -> None:
    offline_page.goto(f"{app_url}/examples/{path.stem}")
    assert_drawn_safely(offline_page, StateMachine.from_yaml(path))


@pytest.mark.parametrize("build", AWKWARD.values(), ids=AWKWARD.keys())
def test_awkward_machines_render_as_text_and_run_nothing(
    offline_page: Any, app_url: str, build: Any
) -> None:
    text = yaml.safe_dump(build(), allow_unicode=True, sort_keys=False)
    machine = StateMachine.from_yaml(text)
    page = offline_page
    page.goto(f"{app_url}/s/{encode_token(text)}")
    assert page.locator("#check[data-valid=true]").count() == 1
    assert page.locator("#yaml").input_value() == text
    assert_drawn_safely(page, machine)
    if machine.name == XSS_SCRIPT:
        assert XSS_SCRIPT in page.title()  # shown as text in the title, never parsed


def test_typing_each_awkward_machine_redraws_live(offline_page: Any, app_url: str) -> None:
    """The live path (htmx swap + re-render) handles the same machines one after another."""
    page = offline_page
    page.goto(f"{app_url}/examples/traffic_light")
    wait_rendered(page)
    for build in AWKWARD.values():
        text = yaml.safe_dump(build(), allow_unicode=True, sort_keys=False)
        machine = StateMachine.from_yaml(text)
        page.locator("#yaml").fill(text)
        marker = next(name for name in machine.states if name not in {"start", "idle", "setup"})
        wait_rendered(page, containing=" ".join(marker.split()))
        assert_drawn_safely(page, machine)


# Counts the editor's live checks as htmx starts them (before any request leaves).
COUNT_CHECKS = """() => {
  window.checksStarted = 0;
  document.body.addEventListener('htmx:beforeRequest', event => {
    if (event.target.id === 'yaml') window.checksStarted += 1;
  });
}"""

# Types `keys` as separate input events in one turn of the page's event loop: a burst.
TYPE_BURST = """keys => {
  const ta = document.getElementById('yaml');
  ta.focus();
  ta.setSelectionRange(ta.value.length, ta.value.length);
  for (const key of keys) document.execCommand('insertText', false, key);
  return window.checksStarted;
}"""


def test_one_edit_is_checked_at_once_and_a_burst_of_keys_once_more_after_it(
    offline_page: Any, app_url: str
) -> None:
    page = offline_page
    page.goto(app_url + "/examples/traffic_light")
    wait_rendered(page)
    page.evaluate(COUNT_CHECKS)
    # A single edit after a pause starts its check before the key's handler returns:
    # no debounce wait stands between one edit and its diagram.
    assert page.evaluate(TYPE_BURST, ["\n# one edit"]) == 1
    wait_rendered(page)
    # Let the pause after that edit pass (nothing else is typed; the pause is at most
    # 150 ms, so a second is ample even on a loaded machine).
    page.wait_for_timeout(1000)
    assert page.evaluate("() => window.checksStarted") == 1
    # A burst: the first key is checked at once, the other eleven once, after the pause.
    assert page.evaluate(TYPE_BURST, list("\n# and more")) == 2
    page.wait_for_function("() => window.checksStarted === 3", timeout=5_000)
    wait_rendered(page)
    page.wait_for_timeout(1000)
    assert page.evaluate("() => window.checksStarted") == 3
