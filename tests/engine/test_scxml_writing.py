"""``to_scxml`` and ``to_ecmascript``: every kind of part written, read back equal; and
what has no SCXML or ECMAScript form refused, saying what and where."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pystator import StateMachine
from pystator.model import ActionSpec
from pystator.scxml import (
    ScxmlExportError,
    TranslationError,
    from_scxml,
    to_ecmascript,
    to_python,
    to_scxml,
)


@pytest.mark.parametrize(
    ("py", "js"),
    [
        ("a // b", "Math.floor(a / b)"),
        ("max(a, 1)", "Math.max(a, 1)"),
        ("min(a, b) + abs(c)", "Math.min(a, b) + Math.abs(c)"),
        ("not -a", "!(-(a))"),
        ("a ** 2 - b % 3", "(Math.pow(a, 2)) - (b % 3)"),
        ("(1, 'x', None, False)", '[1, "x", null, false]'),
        ("x['k'][0] > 1.5 or In('s')", '(x["k"][0] > 1.5) || In("s")'),
        ("len(xs) >= 2 and y is None", "(xs.length >= 2) && (y === null)"),
    ],
)
def test_each_kind_of_node_has_its_ecmascript_form(py: str, js: str) -> None:
    assert to_ecmascript(py) == js
    assert to_python(js) == to_python(to_ecmascript(to_python(js)))


@pytest.mark.parametrize(
    "py", ["b'x'", "1j", "~a", "a << b", "f(x)", "a.b(1)", "{1: 2}", "len(a, b)", "a if b else c"]
)
def test_what_has_no_ecmascript_form_is_refused(py: str) -> None:
    with pytest.raises(TranslationError, match="has no ECMAScript form"):
        to_ecmascript(py)


def _meta_machine() -> StateMachine:
    return StateMachine.from_dict(
        {
            "meta": {
                "machine_name": "m",
                "version": "2.1.0",
                "strict_mode": True,
                "event_matching": "exact",
                "event_normalizer": "lower",
                "description": "with every meta field",
            },
            "error_policy": {"default_fallback": "b", "retry_attempts": 3},
            "states": [{"name": "a"}, {"name": "b"}],
            "transitions": [{"trigger": "go", "source": "a", "dest": "b"}],
        }
    )


def test_document_level_ps_attributes_round_trip() -> None:
    machine = _meta_machine()
    text = to_scxml(machine)
    for attribute in (
        'ps:version="2.1.0"',
        'ps:strict-mode="true"',
        'ps:event-matching="exact"',
        'ps:event-normalizer="lower"',
        'ps:description="with every meta field"',
        'ps:fallback="b"',
        'ps:retry-attempts="3"',
    ):
        assert attribute in text
    again = from_scxml(text).spec
    assert again.meta == machine.spec.meta
    assert again.error_policy == machine.spec.error_policy


def test_defaults_are_not_written() -> None:
    text = to_scxml(
        StateMachine.from_dict({"meta": {"machine_name": "m"}, "states": [{"name": "a"}]})
    )
    root = text.split("\n", 2)[1]
    for attribute in ("version", "normalizer", "description", "fallback", "retry", "initial"):
        assert attribute not in root.replace('version="1.0"', "")
    assert "<datamodel" not in text and "ps:index" not in text


def test_ps_index_keeps_the_machines_order_of_transitions() -> None:
    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "m"},
            "states": [{"name": "a"}, {"name": "b"}],
            "transitions": [
                {"trigger": "x", "source": "b", "dest": "a"},
                {"trigger": "y", "source": "a", "dest": "b"},
            ],
        }
    )
    text = to_scxml(machine)
    assert 'ps:index="0"' in text and 'ps:index="1"' in text
    assert from_scxml(text).spec.transitions == machine.spec.transitions


def test_a_deep_start_is_written_as_scxml_initial() -> None:
    machine = from_scxml(
        '<scxml xmlns="http://www.w3.org/2005/07/scxml" version="1.0" initial="b1">'
        '<state id="a"/><state id="b"><state id="b0"/><state id="b1"/></state></scxml>'
    )
    start = machine.start().configuration
    assert start == frozenset({"b", "b1"})
    text = to_scxml(machine)
    assert 'initial="b1"' in text.split("\n", 2)[1]
    assert from_scxml(text).start().configuration == start


def test_every_kind_of_action_round_trips() -> None:
    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "m"},
            "data": {"n": 0, "xs": [1, 2], "m": {"expr": "len(xs) + 1"}, "none": None},
            "states": [
                {
                    "name": "a",
                    "on_enter": [
                        "host",
                        {"name": "host_with", "params": {"k": 1}},
                        {"raise": "r"},
                        {"assign": "n", "expr": "n + 1"},
                        {"log": "plain"},
                        {"log": "value", "expr": "n"},
                        {"cancel": "s1"},
                        {"cancel_expr": "'s' + '1'"},
                        {
                            "if": "n > 1",
                            "then": [{"raise": "big"}],
                            "elif": [{"if": "n > 0", "then": [{"raise": "one"}]}],
                            "else": [{"raise": "none"}],
                        },
                        {"if": "n > 5", "then": [{"raise": "huge"}]},
                        {"foreach": "xs", "item": "x", "do": [{"assign": "n", "expr": "n + x"}]},
                        {"foreach": "xs", "item": "x", "index": "i"},
                        {
                            "send": "s",
                            "target": "#_parent",
                            "type": "scxml",
                            "delay": 500,
                            "id": "s1",
                            "data": {"n": "n"},
                        },
                        {
                            "send_expr": "'e' + 'f'",
                            "target_expr": "'#_internal'",
                            "type_expr": "'scxml'",
                            "delay_expr": "'1s'",
                            "id_location": "sid",
                        },
                        {"send": "t", "internal": True, "content": "n"},
                    ],
                },
            ],
        }
    )
    text = to_scxml(machine)
    tags = "ps:call raise assign log cancel if elseif else foreach send param content"
    for tag in tags.split():
        assert f"<{tag} " in text or f"<{tag}>" in text or f"<{tag}/>" in text, tag
    again = from_scxml(text)
    assert again.spec.states == machine.spec.states
    assert again.spec.data == machine.spec.data
    started = again.start().snapshot.data
    assert started == machine.start().snapshot.data
    assert (started["n"], started["m"], started["none"]) == (4, 3, None)


def test_an_action_without_an_scxml_form_is_refused_with_its_place() -> None:
    machine = StateMachine.from_dict({"meta": {"machine_name": "m"}, "states": [{"name": "a"}]})
    (state,) = machine.spec.states
    strange = replace(state, on_exit=(ActionSpec("x", {}, "teleport"),))
    with pytest.raises(ScxmlExportError, match="state 'a' on_exit: an action of kind 'teleport'"):
        to_scxml(replace(machine.spec, states=(strange,)))
