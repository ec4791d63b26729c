"""The fast build path and the schema path agree on every input the fast path accepts."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from pystator.config.build import build_from_model, build_plain, finish
from pystator.config.schema import MachineModel
from pystator.config.source import read_source
from tests.engine.test_properties import machines

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))


def both(data: dict[str, Any]) -> tuple[Any, Any]:
    fast = build_plain(data)
    slow = build_from_model(MachineModel.model_validate(data))
    return (finish(fast, {}, None) if fast is not None else None), finish(slow, {}, None)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_build_the_same_either_way(path: Path) -> None:
    fast, slow = both(read_source(path).data)
    assert fast is not None and fast == slow


@settings(max_examples=100, deadline=None)
@given(machines())
def test_generated_machines_build_the_same_either_way(definition: dict[str, Any]) -> None:
    fast, slow = both(definition)
    assert fast is not None and fast == slow


@pytest.mark.parametrize(
    "definition",
    [
        {"states": [{"name": 7, "type": "initial"}]},  # the schema turns numbers into names
        {
            "states": [
                {"name": "a", "type": "initial", "timeout": {"seconds": 1, "destination": "a"}}
            ]
        },
        {
            "states": [{"name": "a"}],
            "transitions": [
                {
                    "trigger": "t",
                    "source": "a",
                    "dest": "a",
                    "actions": [{"name": "x", "params": {"k": 1}}],
                    "after": "5s",
                    "metadata": {"note": 1},
                }
            ],
        },
    ],
)
def test_unusual_items_defer_to_the_schema(definition: dict[str, Any]) -> None:
    fast, slow = both(definition)
    assert fast is None or fast == slow


@pytest.mark.parametrize(
    "definition",
    [
        {"states": [{"name": "", "type": "initial"}]},
        {"states": [{"name": "a", "type": "finished"}]},
        {"states": [{"name": "a"}], "transitions": [{"source": "a", "dest": "a"}]},
        {"states": [{"name": "a"}], "transitions": [{"trigger": "t", "source": [], "dest": "a"}]},
        {
            "states": [{"name": "a"}],
            "transitions": [{"trigger": "t", "source": "a", "dest": "a", "after": "soon"}],
        },
        {
            "states": [{"name": "a"}],
            "transitions": [{"trigger": "timeout:a", "source": "a", "dest": "a"}],
        },
        {"states": [{"name": "a", "bogus": 1}]},
    ],
)
def test_the_fast_path_never_accepts_what_the_schema_rejects(definition: dict[str, Any]) -> None:
    assert build_plain(definition) is None
    with pytest.raises(ValueError):
        MachineModel.model_validate(definition)


def _own_fields(value: Any) -> set[str]:
    return set(vars(value))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_fast_built_values_hold_every_field_themselves(path: Path) -> None:
    """A field missing from a value's own dict would still read as the class default
    and compare equal, so the equality tests above could not see it."""
    draft = build_plain(read_source(path).data)
    assert draft is not None
    for value in [*draft.states, *draft.transitions]:
        assert _own_fields(value) == {f.name for f in fields(value)}, value
