"""Each kind of trace entry, read from a trace's JSON form: what it becomes, and each
malformed field named with its entry's place."""

from __future__ import annotations

import pytest

from pystator.simulator import SimulationError
from pystator.simulator.trace import Input, decode

TRACE = '{"trace": [%s]}'


def test_each_kind_of_entry_reads_as_its_input() -> None:
    entries = (
        '{"e": "go", "p": {"n": 1}, "via": 2, "s": "B"}, {"e": "go"}, {"f": 1, "s": "C"},'
        ' {"a": 500}, {"g": "ready", "v": false}, {"g": "ready", "v": null}, {"c": {"k": 1}}'
    )
    assert decode(TRACE % entries, 100).inputs == [
        Input("event", event="go", payload={"n": 1}, via=2, expect="B"),
        Input("event", event="go"),
        Input("fire", expect="C"),
        Input("advance", to_ms=500),
        Input("guard", guard="ready", outcome=False),
        Input("guard", guard="ready", outcome=None),
        Input("context", context={"k": 1}),
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("3", "trace entry 1: expected an object, got int"),
        ("{}", 'trace entry 1: expected exactly one of "e", "f", "a", "g", "c"'),
        ('{"f": 1, "s": 7}', 'trace entry 1: "s" must be a state string'),
        ('{"e": ""}', "trace entry 1: the event must be a non-empty string"),
        ('{"e": "go", "p": [1]}', 'trace entry 1: "p" (payload) must be an object'),
        ('{"e": "go", "via": "2"}', 'trace entry 1: "via" must be a transition index'),
        ('{"e": "go", "via": true}', 'trace entry 1: "via" must be a transition index'),
        ('{"a": 1.5}', 'trace entry 1: "a" must be a clock time in milliseconds'),
        ('{"a": false}', 'trace entry 1: "a" must be a clock time in milliseconds'),
        ('{"g": 1}', 'trace entry 1: "g" must be a guard name and "v" true, false or null'),
        ('{"g": "ok", "v": 1}', 'trace entry 1: "g" must be a guard name'),
        ('{"c": []}', 'trace entry 1: "c" (context) must be an object'),
    ],
)
def test_each_malformed_field_is_named(entry: str, message: str) -> None:
    with pytest.raises(SimulationError) as caught:
        decode(TRACE % ('{"f": 1}, ' + entry), 100)
    assert str(caught.value).startswith(message), str(caught.value)
