"""Any value in any place of a definition: the loader answers with a ConfigError or a machine.

Generated valid machines are damaged at one random place (a key's value replaced by a
value of another type, a key dropped, an unknown key added) and loaded as a dict and
as YAML text. Nothing but ``ConfigError`` may come out; when the fast build path
accepts the damaged dict it must build what the schema path builds; and whatever
loads, the linter, the diagram and the simulator take without raising (the designer
runs all three on every edit).

Hostile damage too: the YAML text gets tags, numbers of thousands of digits, lone
surrogates, deep brackets, alias byte bombs, out-of-range delays or ``expr: 5`` at a random
value (:func:`hostile_text`), and dicts get integers Python cannot write as text and
values nested far deeper than any machine (:func:`hostile_dict`). Several problems at once
must all be reported, each located.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pystator import StateMachine
from pystator.config import load_spec
from pystator.config.build import build_from_model, build_plain, finish
from pystator.config.schema import MachineModel
from pystator.diagram import to_mermaid
from pystator.errors import ConfigError
from pystator.lint import lint
from pystator.simulator import Simulation
from tests.engine.test_properties import machines

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["", " ", "timeout:x", "after:1s:s0", "5s", "-1ms", "s0", "par", "n >"]),
    st.lists(st.sampled_from(["s0", "", 1, None]), max_size=3),
    st.dictionaries(
        st.sampled_from(["name", "expr", "params", "x"]), st.sampled_from(["s0", 1]), max_size=2
    ),
)


PLAUSIBLE: dict[str, list[Any]] = {
    "after": [500, "5s", "1m", 0],
    "timeout": [{"seconds": 1, "destination": "s0"}, {"seconds": 0.5, "destination": "s1"}],
    "region": ["r0", "r1"],
    "guards": [["ok"], [{"expr": "n > 1"}], [{"expr": "n >"}]],
    "initial_child": ["s1", "p0_0"],
    "parent": ["s0", "par"],
    "type": ["initial", "terminal", "parallel", "error"],
    "trigger": [None, "a", "after:1s:s0"],
    "source": [["s0", "s1"], "par"],
    "on_enter": [[{"name": "x", "params": {"k": 1}}]],
    "invoke": [[{"id": "i", "src": "svc", "on_done": "a"}]],
    "event_normalizer": ["lower", "upper", "sideways"],
    "default_fallback": ["s0", "nowhere"],
    "retry_attempts": [1, 101],
}
KNOWN_KEYS = sorted(PLAUSIBLE)


def _places(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key or index path below ``node`` (containers and leaves)."""
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*path, key))
            out.extend(_places(value, (*path, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out.append((*path, index))
            out.extend(_places(value, (*path, index)))
    return out


@st.composite
def damaged(draw: st.DrawFn) -> dict[str, Any]:
    definition = copy.deepcopy(draw(machines()))
    place = draw(st.sampled_from(_places(definition)))
    holder: Any = definition
    for part in place[:-1]:
        holder = holder[part]
    how = draw(st.sampled_from(["replace", "drop", "extra", "known"]))
    if how == "replace":
        holder[place[-1]] = draw(ODD_VALUES)
    elif how == "drop":
        del holder[place[-1]]
    elif not isinstance(holder, dict):
        holder.append(draw(ODD_VALUES))
    elif how == "extra":
        holder["bogus_key"] = draw(ODD_VALUES)
    else:  # a key the schema knows somewhere, with a plausible or an odd value
        key = draw(st.sampled_from(KNOWN_KEYS))
        holder[key] = draw(st.one_of(st.sampled_from(PLAUSIBLE[key]), ODD_VALUES))
    return definition


def _load(source: Any) -> None:
    try:
        machine = StateMachine(load_spec(source))
    except ConfigError as err:
        assert err.issues and all(issue.message for issue in err.issues)
        return
    lint(machine.spec)
    assert to_mermaid(machine).startswith("stateDiagram-v2")
    simulation = Simulation(machine, {"n": 2})
    for trigger in sorted(machine.triggers)[:6]:
        simulation.send(trigger)
    if simulation.pending_timers:
        simulation.fire_next_timer()
    simulation.advance("1m")
    simulation.undo()


@settings(max_examples=400, deadline=None)
@given(damaged())
def test_a_damaged_dict_gives_a_config_error_or_a_machine(definition: dict[str, Any]) -> None:
    _load(definition)


@settings(max_examples=200, deadline=None)
@given(damaged())
def test_damaged_yaml_gives_located_config_errors(definition: dict[str, Any]) -> None:
    text = yaml.safe_dump(definition, sort_keys=False, allow_unicode=True)
    try:
        StateMachine(load_spec(text))
    except ConfigError as err:
        assert err.issues
        for issue in err.issues:
            assert issue.line is not None and issue.column is not None, issue


@settings(max_examples=300, deadline=None)
@given(damaged())
def test_the_fast_path_agrees_with_the_schema_on_damaged_input(
    definition: dict[str, Any],
) -> None:
    fast = build_plain(definition)
    if fast is None:
        return
    model = MachineModel.model_validate(definition)  # what the fast path accepts, so must this
    assert finish(fast, {}, None) == finish(build_from_model(model), {}, None)


# -- hostile damage ------------------------------------------------------------------------------

BIG_ANCHOR = 'big: &big "' + "x" * 60_000 + '"\n'
HOSTILE_SNIPPETS = [
    "!state x",
    "!!python/name:os.system x",
    "!!python/object/apply:os.system [ls]",
    "!!binary aGk=",
    "!!set {a, b}",
    "9" * 5_000,
    "-" + "7" * 400,
    "0x" + "f" * 300,
    "x\ud800y",
    "[" * 300 + "]" * 300,
    "*nowhere",
    "1.0e+31",
    ".inf",
    ".nan",
    "{expr: 5}",
    "[{expr: 5}]",
    "366d",
    "[" + ", ".join(["*big"] * 100) + "]",
]
_VALUE = re.compile(r"^(\s*(?:- )?[a-z_]+: )(.+)$", re.M)


@st.composite
def hostile_text(draw: st.DrawFn) -> str:
    """A valid machine's YAML with one to three values replaced by hostile snippets."""
    text = yaml.safe_dump(draw(machines()), sort_keys=False)
    places = list(_VALUE.finditer(text))
    chosen = draw(
        st.lists(st.sampled_from(range(len(places))), min_size=1, max_size=3, unique=True)
    )
    for index in sorted(chosen, reverse=True):
        place = places[index]
        snippet = draw(st.sampled_from(HOSTILE_SNIPPETS))
        text = text[: place.start(2)] + snippet + text[place.end(2) :]
    return BIG_ANCHOR + text if "*big" in text else text


def _deep(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": [value]}
    return value


HOSTILE_VALUES = st.one_of(
    st.sampled_from([10**5_000, -(10**4_400), 10**101]),
    st.integers(60, 600).map(_deep),
    st.none(),
)


@st.composite
def hostile_dict(draw: st.DrawFn) -> dict[str, Any]:
    """A valid machine dict with one value replaced by a hostile one."""
    definition = copy.deepcopy(draw(machines()))
    place = draw(st.sampled_from(_places(definition)))
    holder: Any = definition
    for part in place[:-1]:
        holder = holder[part]
    holder[place[-1]] = draw(HOSTILE_VALUES)
    return definition


@settings(max_examples=150, deadline=None)
@given(hostile_text())
def test_hostile_yaml_gives_located_config_errors_or_a_machine(text: str) -> None:
    try:
        machine = StateMachine(load_spec(text))
    except ConfigError as err:
        assert err.issues
        for issue in err.issues:
            assert issue.line is not None, issue  # deep brackets are refused by line only
        return
    _load(machine.spec)  # whatever loads must lint, draw and simulate


@settings(max_examples=150, deadline=None)
@given(hostile_dict())
def test_a_hostile_dict_gives_a_config_error_or_a_machine(definition: dict[str, Any]) -> None:
    _load(definition)


def test_several_hostile_values_are_all_reported() -> None:
    text = yaml.safe_dump(
        {
            "states": [{"name": "a", "type": "initial"}, {"name": "b"}],
            "transitions": [
                {"trigger": "go", "source": "a", "dest": "nowhere", "after": "TAG"},
                {"trigger": "back", "source": "b", "dest": "a", "guards": [{"expr": "EXPR"}]},
            ],
        },
        sort_keys=False,
    )
    text = text.replace("TAG", "!!python/name:os.system x").replace("expr: EXPR", "expr: 5")
    text = text.replace("name: b", "name: b\n  description: " + "1" * 500)
    with pytest.raises(ConfigError) as info:
        load_spec(text)
    found = sorted((issue.path, issue.code) for issue in info.value.issues)
    assert [path for path, _ in found] == [
        "states[1].description",
        "transitions[0].after",
        "transitions[0].dest",
        "transitions[1].guards[0].expr",
    ], found
