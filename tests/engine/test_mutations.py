"""Any value in any place of a definition: the loader answers with a ConfigError or a machine.

Generated valid machines are damaged at one random place (a key's value replaced by a
value of another type, a key dropped, an unknown key added) and loaded as a dict and
as YAML text. Nothing but ``ConfigError`` may come out, and when the fast build path
accepts the damaged dict it must build what the schema path builds.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pystator import StateMachine
from pystator.config import load_spec
from pystator.config.build import build_from_model, build_plain, finish
from pystator.config.schema import MachineModel
from pystator.errors import ConfigError
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
    how = draw(st.sampled_from(["replace", "drop", "extra"]))
    if how == "replace":
        holder[place[-1]] = draw(ODD_VALUES)
    elif how == "drop":
        del holder[place[-1]]
    elif isinstance(holder, dict):
        holder["bogus_key"] = draw(ODD_VALUES)
    else:
        holder.append(draw(ODD_VALUES))
    return definition


def _load(source: Any) -> None:
    try:
        StateMachine(load_spec(source))
    except ConfigError as err:
        assert err.issues and all(issue.message for issue in err.issues)


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
