"""pystator.scxml: what it reads, what it refuses (located), and the ECMAScript it translates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pystator import StateMachine
from pystator.cli import main
from pystator.errors import ConfigError
from pystator.scxml import from_scxml, to_ecmascript, to_python, to_scxml
from pystator.scxml.ecmascript import TranslationError

NS = 'xmlns="http://www.w3.org/2005/07/scxml" version="1.0"'


def _doc(body: str, attrs: str = "") -> str:
    return f"<scxml {NS} {attrs}>\n{body}\n</scxml>"


def _issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        from_scxml(text)
    return [str(i) for i in caught.value.issues]


def test_a_document_reads_as_a_machine_that_runs() -> None:
    machine = StateMachine.from_scxml(
        _doc(
            """
  <datamodel><data id="n" expr="0"/></datamodel>
  <state id="idle">
    <transition event="go" target="busy"><assign location="n" expr="n + 1"/></transition>
  </state>
  <state id="busy">
    <transition event="go" cond="n &lt; 2" target="idle"/>
    <transition event="go" target="done"/>
  </state>
  <final id="done"/>""",
            'name="demo"',
        )
    )
    assert machine.name == "demo"
    assert [t.kind for t in machine.transitions] == ["external"] * 3
    snapshot = machine.start().snapshot
    states = []
    for _ in range(4):
        step = machine.step(snapshot, "go")
        snapshot = step.snapshot
        states.append(machine.state_string(step.configuration))
    assert states == ["busy", "idle", "busy", "done"]
    assert dict(snapshot.data) == {"n": 2}


def test_targetless_internal_and_multi_event_transitions() -> None:
    machine = from_scxml(
        _doc(
            """
  <state id="a">
    <transition event="x"><raise event="y"/></transition>
    <transition event="p q" type="internal" target="a1"/>
    <state id="a1"/>
  </state>"""
        )
    )
    x, p, q = machine.transitions
    assert (x.dest, x.kind) == ("a", None)  # targetless: the engine takes it in place
    assert (p.trigger, q.trigger, p.kind) == ("p", "q", "internal")
    assert machine.spec.meta.event_matching == "prefix"
    assert from_scxml(to_scxml(machine)).spec == machine.spec  # one transition again


def test_unsupported_elements_and_attributes_are_located_errors() -> None:
    issues = _issues(
        _doc(
            """
  <state id="a" foo="1">
    <invoke src="x"/>
    <onentry><script>x = 1</script></onentry>
  </state>"""
        )
    )
    assert issues[0].startswith("3:3:") and "'foo' is not supported" in issues[0]
    assert issues[1].startswith("4:5:") and "<invoke> is not supported" in issues[1]
    assert issues[2].startswith("5:14:") and "<script> is not supported" in issues[2]


def test_untranslatable_ecmascript_is_a_located_error() -> None:
    (issue,) = _issues(_doc('<state id="a"><transition cond="f(x)" target="a"/></state>'))
    assert issue.startswith("2:15:") and "f(x)" in issue and "column 1" in issue


def test_machine_checks_are_reported_at_the_element() -> None:
    (issue,) = _issues(_doc('<state id="a">\n  <transition event="e" target="nowhere"/>\n</state>'))
    assert issue.startswith("3:3:") and "nowhere" in issue


def test_entities_and_doctypes_are_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE scxml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
        f"<scxml {NS}><state id='&b;'/></scxml>"
    )
    (issue,) = _issues(bomb)
    assert "DOCTYPE" in issue and issue.startswith("1:")


def test_size_cap_and_malformed_xml() -> None:
    (issue,) = _issues("<scxml " + " " * (1024 * 1024) + "/>")
    assert "larger than" in issue
    (issue,) = _issues(f"<scxml {NS}><state id='a'></scxml>")
    assert "not well-formed" in issue and issue.startswith("1:")


def test_the_root_must_be_scxml() -> None:
    (issue,) = _issues('<machine xmlns="http://www.w3.org/2005/07/scxml"/>')
    assert "not <scxml>" in issue


@pytest.mark.parametrize(
    ("js", "py"),
    [
        ("a === 1 && !b", "a == 1 and (not b)"),
        ("x || y != 'z'", "x or y != 'z'"),
        ("_event.data.x == 2", "_event['data']['x'] == 2"),
        ("In('s1')", "In('s1')"),
        ("typeof Var1 === 'undefined'", "Var1 is None"),
        ("typeof v !== 'undefined'", "v is not None"),
        ("a.length > 1.5", "len(a) > 1.5"),
        ("Math.pow(i, 3)", "i ** 3"),
        ("[1, 'two', true, null]", "[1, 'two', True, None]"),
    ],
)
def test_ecmascript_forms(js: str, py: str) -> None:
    assert to_python(js) == py
    assert to_python(to_ecmascript(py)) == py


@pytest.mark.parametrize(
    "js", ["f(x)", "{a: 1}", "x++", "a | b", "typeof x === 'number'", "new X()"]
)
def test_ecmascript_without_a_pystator_form(js: str) -> None:
    with pytest.raises(TranslationError):
        to_python(js)


def test_cli_import_and_export(tmp_path: Path) -> None:
    source = tmp_path / "m.scxml"
    source.write_text(
        _doc('<state id="a"><transition event="go" target="b"/></state><final id="b"/>'),
        encoding="utf-8",
    )
    yaml_out, scxml_out = tmp_path / "m.yaml", tmp_path / "again.scxml"
    assert main(["import-scxml", str(source), "-o", str(yaml_out)]) == 0
    machine = StateMachine.from_yaml(yaml_out)
    assert machine.spec == from_scxml(source).spec
    assert main(["export-scxml", str(yaml_out), "-o", str(scxml_out)]) == 0
    assert from_scxml(scxml_out).spec == machine.spec


def test_cli_reports_located_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "bad.scxml"
    source.write_text(_doc('<state id="a"><invoke src="x"/></state>'), encoding="utf-8")
    assert main(["import-scxml", str(source)]) == 1
    assert f"{source}:2:15:" in capsys.readouterr().err


def test_yaml_only_constructs_survive_in_the_pystator_namespace() -> None:
    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "m"},
            "states": [
                {
                    "name": "a",
                    "type": "initial",
                    "on_enter": [{"name": "ping", "params": {"k": 1}}],
                    "timeout": {"seconds": 2, "destination": "b"},
                },
                {"name": "b", "type": "terminal"},
            ],
            "transitions": [
                {
                    "trigger": "go",
                    "source": "a",
                    "dest": "b",
                    "guards": ["ready", {"expr": "n > 1"}],
                },
                {"source": "a", "dest": "b", "after": 500},
            ],
        }
    )
    text = to_scxml(machine)
    assert "ps:call" in text and "ps:guards" in text and "ps:after" in text
    again = from_scxml(text)
    assert again.spec.states == machine.spec.states
    assert again.spec.transitions == machine.spec.transitions
    assert json.loads(json.dumps(again.spec.states[0].on_enter[0].params)) == {"k": 1}
