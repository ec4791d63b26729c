"""The simulator takes contexts, payloads and traces from outside: hostile ones are refused.

A value nested 100k deep, an integer of 5,000 digits, a lone surrogate or ``Infinity`` in
what a person typed (or a shared link carried) is a ``SimulationError`` that names the
problem, never ``RecursionError``, Python's bare ``ValueError`` over 4,300 digits, or a
``UnicodeEncodeError`` when the answer is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from pystator import StateMachine
from pystator.limits import MAX_INT_DIGITS
from pystator.simulator import Simulation, SimulationError

DIGITS = f"more than {MAX_INT_DIGITS} digits"
LIGHT = {
    "states": [{"name": "red", "type": "initial"}, {"name": "green"}],
    "transitions": [{"trigger": "go", "source": "red", "dest": "green"}],
}


def _deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


HOSTILE: list[tuple[Any, str]] = [
    (_deep(100_000), "levels deep"),
    (10**5_000, DIGITS),
    (-(10**4_400), DIGITS),
    (10**200, DIGITS),
    ("a\ud800b", "lone surrogate"),
    (float("inf"), "Infinity"),
]


def machine() -> StateMachine:
    return StateMachine.from_dict(LIGHT)


@pytest.mark.parametrize(
    ("value", "words"),
    HOSTILE,
    ids=["deep", "digits", "negative-digits", "200-digits", "surrogate", "inf"],
)
@pytest.mark.parametrize(
    "use",
    [
        lambda value: Simulation(machine(), {"x": value}),
        lambda value: Simulation(machine()).send("go", {"x": {"y": value}}),
        lambda value: Simulation(machine()).set_context({"x": value}),
    ],
    ids=["context", "payload", "set_context"],
)
def test_hostile_values_are_refused_by_name(
    use: Callable[[Any], object], value: Any, words: str
) -> None:
    with pytest.raises(SimulationError, match=words):
        use(value)


def _trace(item: str) -> str:
    return '{"v": 1, "context": {}, "trace": [' + item + "]}"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[" * 100_000 + "]" * 100_000, "levels deep"),
        (_trace('{"e": "go", "p": {"n": ' + "9" * 5_000 + "}}"), DIGITS),
        (_trace('{"a": ' + "9" * 5_000 + "}"), DIGITS),
        (_trace('{"e": "go", "p": {"n": "\\udfff"}}'), "lone surrogate"),
        (_trace('{"c": {"n": NaN}}'), "NaN"),
        (_trace('{"e": "go", "p": ' + '{"k": ' * 100 + "1" + "}" * 100 + "}"), "levels deep"),
    ],
    ids=["deep", "payload-digits", "advance-digits", "surrogate", "nan", "deep-payload"],
)
def test_hostile_traces_are_refused_by_name(text: str, words: str) -> None:
    with pytest.raises(SimulationError, match=words):
        Simulation.from_json(machine(), text)


def test_a_plain_trace_still_round_trips() -> None:
    sim = Simulation(machine(), {"n": 10**99})
    sim.send("go", {"note": "ok", "deep": _deep(60)})
    again = Simulation.from_json(machine(), sim.to_json())
    assert again.state == "green" and again.divergence is None
    assert json.loads(again.to_json()) == json.loads(sim.to_json())
