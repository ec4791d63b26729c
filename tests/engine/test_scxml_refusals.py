"""Every refusal of the SCXML reader, at its element; and what the ``ps:`` attributes carry back.

One row per rule: a document, then the place (line:column) and the words of the one
problem it must report. The round trips check that the document-level and per-part
``ps:`` attributes the writer emits are read back into an equal machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pystator.errors import ConfigError
from pystator.scxml import from_scxml, to_scxml
from pystator.scxml.xmltree import MAX_DEPTH, MAX_ELEMENTS, XmlError, parse_xml

SCXML_NS = 'xmlns="http://www.w3.org/2005/07/scxml"'
PS_NS = 'xmlns:ps="urn:pystator:scxml"'


def _doc(body: str, attrs: str = 'version="1.0"') -> str:
    return f"<scxml {SCXML_NS} {PS_NS} {attrs}>\n{body}\n</scxml>"


def _in_a(xml: str) -> str:
    """A document whose first state ``a`` holds ``xml``."""
    return _doc(f'<state id="a">{xml}</state>')


def _entry(xml: str) -> str:
    """A document whose first state ``a`` runs ``xml`` on entry."""
    return _in_a(f"<onentry>{xml}</onentry>")


def _issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        from_scxml(text)
    return [str(i) for i in caught.value.issues]


REFUSALS = [
    # the document
    (
        "version",
        _doc('<state id="a"/>', 'version="2.0"'),
        "1:1:",
        "SCXML version '2.0' is not supported (1.0 is)",
    ),
    (
        "datamodel",
        _doc('<state id="a"/>', 'datamodel="xpath"'),
        "1:1:",
        "the datamodel 'xpath' is not supported (use ecmascript)",
    ),
    (
        "late binding",
        _doc('<state id="a"/>', 'binding="late"'),
        "1:1:",
        "late binding is not supported",
    ),
    ("no state", _doc(""), "1:1:", "an SCXML document needs at least one state"),
    (
        "root attribute",
        _doc('<state id="a"/>', 'version="1.0" initialstate="a"'),
        "1:1:",
        "<scxml>: the attribute 'initialstate' is not supported",
    ),
    # states
    (
        "foreign attribute",
        _doc('<state id="a" ps:colour="red" xml:lang="en"/>'),
        "2:1:",
        "<state>: the attribute {urn:pystator:scxml}colour is not supported",
    ),
    (
        "history type",
        _in_a('<history id="h" type="wide"/><state id="a1"/>'),
        "2:15:",
        "<history type='wide'>: use shallow or deep",
    ),
    (
        "checks at the state",
        _doc('<state id="a"/>\n<state id="b" ps:timeout="1" ps:timeout-dest="nowhere"/>'),
        "3:1:",
        "nowhere",
    ),
    (
        "ps:timeout not a number",
        _doc('<state id="a" ps:timeout="soon" ps:timeout-dest="a"/>'),
        "2:1:",
        "ps:timeout='soon' is not a number",
    ),
    (
        "ps:timeout not finite",
        _doc('<state id="a" ps:timeout="nan" ps:timeout-dest="a"/>'),
        "2:1:",
        "ps:timeout='nan' is not a finite number",
    ),
    (
        "ps:after not a whole number",
        _in_a('<transition event="go" target="a" ps:after="1.5"/>'),
        "2:15:",
        "ps:after='1.5' is not a whole number",
    ),
    (
        "ps:retry-attempts not a whole number",
        _doc('<state id="a"/>', 'version="1.0" ps:retry-attempts="many"'),
        "1:1:",
        "ps:retry-attempts='many' is not a whole number",
    ),
    (
        "onentry attribute",
        _in_a('<onentry when="now"/>'),
        "2:15:",
        "<onentry>: the attribute 'when' is not supported",
    ),
    (
        "onexit attribute",
        _in_a('<onexit when="now"/>'),
        "2:15:",
        "<onexit>: the attribute 'when' is not supported",
    ),
    (
        "state in final",
        _doc('<state id="a"/><final id="f"><state id="x"/></final>'),
        "2:30:",
        "<state> is not supported in <final>",
    ),
    (
        "foreign child",
        _in_a('<x:thing xmlns:x="urn:other"/>'),
        "2:15:",
        "<thing> (namespace urn:other) is not supported in <state>",
    ),
    (
        "initial in parallel",
        _doc(
            '<parallel id="p"><initial><transition target="a"/></initial><state id="a"/></parallel>'
        ),
        "2:18:",
        "<initial> is not supported in <parallel>",
    ),
    (
        "initial without children",
        _doc('<state id="a" initial="b"/>'),
        "2:1:",
        "<state id='a'> has an initial but no child states",
    ),
    (
        "stray child of final",
        _doc('<state id="a"/><final id="f"><transition target="a"/></final>'),
        "2:30:",
        "<transition> is not supported in <final>",
    ),
    # transitions
    (
        "transition attribute",
        _in_a('<transition event="e" target="a" weight="2"/>'),
        "2:15:",
        "<transition>: the attribute 'weight' is not supported",
    ),
    (
        "transition type",
        _in_a('<transition event="e" target="a" type="sideways"/>'),
        "2:15:",
        "<transition type='sideways'>: use internal",
    ),
    (
        "targetless type",
        _in_a('<transition event="e" type="sideways"/>'),
        "2:15:",
        "<transition type='sideways'>: use internal",
    ),
    (
        "several targets",
        _doc('<state id="a"><transition event="e" target="a b"/></state><state id="b"/>'),
        "2:15:",
        "a transition to several states is not supported",
    ),
    (
        "ps:index",
        _in_a('<transition event="e" target="a" ps:index="x"/>'),
        "2:15:",
        "ps:index='x' is not a number",
    ),
    (
        "ps:metadata json",
        _in_a('<transition event="e" target="a" ps:metadata="{"/>'),
        "2:15:",
        "ps:metadata is not valid JSON",
    ),
    # executable content
    ("call without name", _entry("<ps:call/>"), "2:24:", "<ps:call> needs a name"),
    (
        "call attribute",
        _entry('<ps:call name="go" speed="2"/>'),
        "2:24:",
        "<ps:call>: the attribute 'speed' is not supported",
    ),
    (
        "call params",
        _entry('<ps:call name="go" params="[1"/>'),
        "2:24:",
        "<ps:call params>: not valid JSON",
    ),
    (
        "raise content",
        _entry('<raise event="e"><log/></raise>'),
        "2:41:",
        "<log> is not supported in <raise>",
    ),
    ("raise without event", _entry("<raise/>"), "2:24:", "<raise> needs an event"),
    ("cancel without id", _entry("<cancel/>"), "2:24:", "<cancel> needs a sendid or sendidexpr"),
    (
        "misplaced content",
        _entry("<else/>"),
        "2:24:",
        "<else> is not supported in executable content",
    ),
    ("log expression", _entry('<log expr="f(x)"/>'), "2:24:", "<log expr='f(x)'>"),
    ("assign location", _entry('<assign expr="1"/>'), "2:24:", "<assign> needs a location"),
    ("foreach", _entry('<foreach array="xs"/>'), "2:24:", "<foreach> needs an array and an item"),
    ("if without cond", _entry("<if/>"), "2:24:", "<if> needs a cond"),
    (
        "elseif after else",
        _entry('<if cond="true"><else/><elseif cond="true"/></if>'),
        "2:47:",
        "<elseif> after <else>",
    ),
    (
        "action attribute",
        _entry('<raise event="e" loud="yes"/>'),
        "2:24:",
        "<raise>: the attribute 'loud' is not supported",
    ),
    # <send>
    ("send event", _entry("<send/>"), "2:24:", "<send> needs an event or eventexpr"),
    ("send delay", _entry('<send event="e" delay="soon"/>'), "2:24:", "<send delay>:"),
    (
        "param name",
        _entry('<send event="e"><param expr="1"/></send>'),
        "2:40:",
        "<param> needs a name and an expr or location",
    ),
    (
        "param expression",
        _entry('<send event="e"><param name="p" expr="f(x)"/></send>'),
        "2:40:",
        "<param expr='f(x)'>",
    ),
    (
        "param attribute",
        _entry('<send event="e"><param name="p" expr="1" type="x"/></send>'),
        "2:40:",
        "<param>: the attribute 'type' is not supported",
    ),
    (
        "content attribute",
        _entry('<send event="e"><content expr="1" type="x"/></send>'),
        "2:40:",
        "<content>: the attribute 'type' is not supported",
    ),
    (
        "send child",
        _entry('<send event="e"><log/></send>'),
        "2:40:",
        "<log> is not supported in <send>",
    ),
    (
        "content xml",
        _entry('<send event="e"><content><b/></content></send>'),
        "2:49:",
        "<b> is not supported in <content> (inline XML)",
    ),
    (
        "content mapping",
        _entry('<send event="e"><content>{"a": 1}</content></send>'),
        "2:40:",
        "<content>: this value has no pystator expression",
    ),
]


@pytest.mark.parametrize(
    ("document", "place", "words"),
    [row[1:] for row in REFUSALS],
    ids=[row[0] for row in REFUSALS],
)
def test_each_refusal_is_one_located_issue(document: str, place: str, words: str) -> None:
    (issue,) = _issues(document)
    assert issue.startswith(place), issue
    assert words in issue, issue


def test_send_reads_every_attribute_and_child() -> None:
    machine = from_scxml(
        _doc(
            """<datamodel><data id="v" expr="1"/></datamodel>
<state id="a"><onentry>
  <send eventexpr="'e' + 'f'" targetexpr="'#_internal'" type="http://www.w3.org/TR/scxml/#SCXMLEventProcessor"
        typeexpr="'x'" delay=".5s" idlocation=" sid " namelist="v">
    <param name="p" expr="v + 1"/><param name="q" location="v"/>
  </send>
  <send event="g" target="#_internal" id="s1" delayexpr="'1s'"><content>[1, 2]</content></send>
  <send event="h"><content expr="v"/></send>
</onentry></state>"""
        )
    )
    first, second, third = (a.to_config() for a in machine.spec.states[0].on_enter)
    assert first == {
        "send_expr": "'e' + 'f'",
        "target_expr": "'#_internal'",
        "type": "http://www.w3.org/TR/scxml/#SCXMLEventProcessor",
        "type_expr": "'x'",
        "delay": 500,
        "id_location": "sid",
        "data": {"v": "v", "p": "v + 1", "q": "v"},
    }
    assert second == {
        "send": "g",
        "delay_expr": "'1s'",
        "id": "s1",
        "internal": True,
        "content": "[1, 2]",
    }
    assert third == {"send": "h", "content": "v"}


def test_a_timer_without_an_event_and_ps_parts_of_states_and_transitions() -> None:
    machine = from_scxml(
        _doc(
            """<state id="a" ps:metadata='{"k": 1}' ps:invoke='[{"id": "i", "src": "svc"}]'>
  <transition ps:after="250" target="b" ps:metadata='{"m": 2}' ps:description="late"/>
  <ps:region/>
</state>
<state id="b"/>"""
        )
    )
    a = machine.spec.states[0]
    assert dict(a.metadata) == {"k": 1}
    assert [i.src for i in a.invoke] == ["svc"]
    (timer,) = machine.transitions
    assert (timer.after, timer.trigger, dict(timer.metadata), timer.description) == (
        250,
        "after:250ms:a",
        {"m": 2},
        "late",
    )
    assert from_scxml(to_scxml(machine)).spec == machine.spec


def test_history_reads_its_default_and_nothing_else() -> None:
    machine = from_scxml(
        _doc(
            """<state id="a" ps:description="outer">
  <history id="h" type="deep" ps:description="memory">
    <transition target="a2"><raise event="back"/></transition>
  </history>
  <state id="a1"><transition event="e" target="a2"/></state>
  <state id="a2"/>
</state>"""
        )
    )
    a, h = machine.spec.states[:2]
    assert (a.description, h.description, h.history, h.default) == ("outer", "memory", "deep", "a2")
    assert [x.to_config() for x in h.default_actions] == [{"raise": "back"}]
    assert [(t.source, t.dest) for t in machine.transitions] == [(frozenset({"a1"}), "a2")]
    assert [s.name for s in machine.spec.states] == ["a", "h", "a1", "a2"]


def test_a_datamodel_inside_a_state_is_the_machines_data() -> None:
    machine = from_scxml(
        _doc('<state id="a"><datamodel><data id="x" expr="1"/></datamodel><state id="a1"/></state>')
    )
    assert machine.start().snapshot.data == {"x": 1}


def test_an_initial_element_names_the_first_child() -> None:
    machine = from_scxml(
        _in_a('<initial><transition target="a2"/></initial><state id="a1"/><state id="a2"/>')
    )
    assert machine.start().configuration == frozenset({"a", "a2"})


def test_generated_names_avoid_the_documents_own_ids() -> None:
    machine = from_scxml(_doc('<state id="state_1"/><state/><final/>'))
    assert [s.name for s in machine.spec.states] == ["state_1", "state_2", "final_3"]


def test_ps_index_restores_the_machines_order_of_transitions() -> None:
    machine = from_scxml(
        _doc(
            """<state id="a">
  <transition event="x" target="b" ps:index="1"/>
  <transition event="y" target="b" ps:index="0"/>
</state>
<state id="b"/>"""
        )
    )
    assert [t.trigger for t in machine.transitions] == ["y", "x"]
    assert [machine.spec.locations[f"transitions[{i}]"].line for i in (0, 1)] == [4, 3]


def test_scxml_initial_moves_the_named_state_first() -> None:
    machine = from_scxml(
        _doc(
            '<state id="a"/><state id="b"><transition event="e" target="a"/></state>',
            'version="1.0" initial="b"',
        )
    )
    assert [s.name for s in machine.spec.states] == ["b", "a"]
    assert machine.start().configuration == frozenset({"b"})


# ---------------------------------------------------------------------- the XML reader's caps


def test_a_file_over_the_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.scxml"
    path.write_text(_doc('<state id="a"/>'), encoding="utf-8")
    with pytest.raises(XmlError, match="the file is larger than 10 bytes"):
        parse_xml(path, max_bytes=10)
    assert parse_xml(path).tag == "scxml"


@pytest.mark.parametrize(
    ("text", "words", "where"),
    [
        (
            "<a>" + "<b/>" * MAX_ELEMENTS + "</a>",
            f"more than {MAX_ELEMENTS} elements",
            (1, 4 + 4 * (MAX_ELEMENTS - 1)),
        ),
        (
            "<a>" * (MAX_DEPTH + 1) + "</a>" * (MAX_DEPTH + 1),
            f"nested more than {MAX_DEPTH} deep",
            (1, 1 + 3 * MAX_DEPTH),
        ),
        ('<?xml version="1.0"?>\n<a/><!-- after -->', None, None),
        ("<!-- only a comment -->", "not well-formed XML", (1, 24)),
    ],
    ids=["elements", "depth", "prolog", "no root"],
)
def test_element_and_depth_caps(
    text: str, words: str | None, where: tuple[int, int] | None
) -> None:
    if words is None:
        assert parse_xml(text).tag == "a"
        return
    with pytest.raises(XmlError) as caught:
        parse_xml(text)
    assert words in caught.value.message
    assert (caught.value.line, caught.value.column) == where


def test_an_empty_document_has_no_root_element() -> None:
    with pytest.raises(XmlError) as caught:
        parse_xml(b"")
    assert caught.value.message.startswith("not well-formed XML")


def test_elements_keep_their_own_text_and_namespaced_attributes() -> None:
    root = parse_xml('<a xmlns:p="urn:p" p:k="1" k="2">one<b>two</b>three</a>')
    assert (root.text, root.children[0].text) == ("onethree", "two")
    assert root.attrs == {"{urn:p}k": "1", "k": "2"}
