"""Mutation survivors of ``pystator/config/dump.py``: the exact YAML text a machine dumps to
(key order as written, non-ASCII kept, long text wrapped at 100 columns), the top-level
parts written only when they differ from the default, and when a transition writes its
trigger and its sources; each dump loads back to an equal spec."""

from __future__ import annotations

from typing import Any

import pytest

from pystator import ConfigError
from pystator.config import dump_spec, load_spec, spec_to_dict

# ------------------------------------------------------------------ the whole text

DESCRIPTION = (
    "Brews café au lait: the grinder runs first, then the boiler heats, and the steam wand"
    " froths the milk until it is done."
)

COFFEE: dict[str, Any] = {
    "meta": {
        "machine_name": "coffee",
        "event_normalizer": "lower",
        "event_matching": "prefix",
        "description": DESCRIPTION,
    },
    "data": {"cups": 0, "limit": {"expr": "2 + 1"}},
    "states": [
        {"name": "idle", "type": "initial"},
        {"name": "grinding"},
        {"name": "brewing"},
        {"name": "broken", "type": "terminal"},
    ],
    "transitions": [
        {
            "trigger": "start",
            "source": ["idle", "brewing"],  # not sorted: written back in this order
            "dest": "grinding",
            "description": "grind the beans",
            "metadata": {"owner": "barista"},
        },
        {"source": "grinding", "dest": "brewing", "after": 1500},
    ],
    "error_policy": {"default_fallback": "broken", "retry_attempts": 2},
}

# The description's first line ends at column 101: the first space past column 100, where
# a width of 100 breaks (80 breaks earlier, 101 later). Split here only for the line length.
WRAPPED_DESCRIPTION = (
    "  description: 'Brews café au lait: the grinder runs first, then the boiler heats, and the"
    " steam wand\n"
    "    froths the milk until it is done.'\n"
)

COFFEE_YAML = (
    """\
meta:
  version: 1.0.0
  machine_name: coffee
  strict_mode: true
  event_normalizer: lower
  event_matching: prefix
"""
    + WRAPPED_DESCRIPTION
    + """\
data:
  cups: 0
  limit:
    expr: 2 + 1
states:
- name: idle
  type: initial
- name: grinding
- name: brewing
- name: broken
  type: terminal
transitions:
- trigger: start
  source:
  - idle
  - brewing
  dest: grinding
  description: grind the beans
  metadata:
    owner: barista
- source: grinding
  dest: brewing
  after: 1500
error_policy:
  default_fallback: broken
  retry_attempts: 2
"""
)


def test_a_machine_dumps_to_exactly_this_yaml_and_loads_back_equal() -> None:
    spec = load_spec(COFFEE)
    assert dump_spec(spec) == COFFEE_YAML
    assert load_spec(COFFEE_YAML) == spec
    assert load_spec(COFFEE_YAML).meta.description == DESCRIPTION


# ------------------------------------------------------------------ defaults left out

PLAIN: dict[str, Any] = {
    "meta": {"machine_name": "m"},
    "states": [{"name": "A", "type": "initial"}, {"name": "B"}],
    "transitions": [{"trigger": "go", "source": "A", "dest": "B"}],
}


def test_a_plain_machine_writes_only_the_meta_states_and_transitions() -> None:
    assert spec_to_dict(load_spec(PLAIN)) == {
        "meta": {"version": "1.0.0", "machine_name": "m", "strict_mode": True},
        "states": [{"name": "A", "type": "initial"}, {"name": "B"}],
        "transitions": [{"trigger": "go", "source": "A", "dest": "B"}],
    }


@pytest.mark.parametrize(
    ("policy", "written"),
    [
        ({"default_fallback": "B"}, {"default_fallback": "B", "retry_attempts": 0}),
        ({"retry_attempts": 3}, {"retry_attempts": 3}),
        (
            {"default_fallback": "B", "retry_attempts": 3},
            {"default_fallback": "B", "retry_attempts": 3},
        ),
    ],
)
def test_the_error_policy_is_written_when_it_says_anything(
    policy: dict[str, Any], written: dict[str, Any]
) -> None:
    spec = load_spec({**PLAIN, "error_policy": policy})
    assert spec_to_dict(spec)["error_policy"] == written
    assert load_spec(dump_spec(spec)) == spec


# ------------------------------------------------------------------ triggers and sources

TIMED: dict[str, Any] = {
    "meta": {"machine_name": "timed"},
    "states": [{"name": "A", "type": "initial"}, {"name": "B"}, {"name": "C"}],
    "transitions": [
        {"trigger": "go", "source": "A", "dest": "B"},
        {"source": "A", "dest": "C", "after": 1000},
        {"trigger": "late", "source": "B", "dest": "A", "after": 2000},
        # Spelled like the implicit trigger of its first source, but with two sources it
        # cannot be left out (a delayed transition without a trigger has one source).
        {"trigger": "after:1s:B", "source": ["B", "C"], "dest": "A", "after": 1000},
    ],
}


def test_a_delayed_transition_leaves_out_only_its_own_implicit_trigger() -> None:
    spec = load_spec(TIMED)
    assert spec_to_dict(spec)["transitions"] == [
        {"trigger": "go", "source": "A", "dest": "B"},
        {"source": "A", "dest": "C", "after": 1000},
        {"trigger": "late", "source": "B", "dest": "A", "after": 2000},
        {"trigger": "after:1s:B", "source": ["B", "C"], "dest": "A", "after": 1000},
    ]
    assert load_spec(dump_spec(spec)) == spec


# ------------------------------------ a user's metadata key named `sources` (a bug, fixed)


def test_a_transitions_own_metadata_named_sources_does_not_change_its_source() -> None:
    spec = load_spec(
        {**PLAIN, "transitions": [{**PLAIN["transitions"][0], "metadata": {"sources": ["B"]}}]}
    )
    assert spec_to_dict(spec)["transitions"] == [
        {"trigger": "go", "source": "A", "dest": "B", "metadata": {"sources": ["B"]}}
    ]
    assert load_spec(dump_spec(spec)) == spec


UNKNOWN_SOURCE = """\
meta: {machine_name: m}
states:
  - {name: A, type: initial}
  - {name: B}
transitions:
  - {trigger: go, source: nope, dest: B, metadata: {sources: [A]}}
"""


def test_a_transitions_own_metadata_named_sources_does_not_hide_an_unknown_source() -> None:
    with pytest.raises(ConfigError) as caught:
        load_spec(UNKNOWN_SOURCE)
    assert str(caught.value) == (
        "invalid state machine (1 problem):\n"
        "  6:19: transitions[0].source: source 'nope' is not a state"
    )


def test_a_multi_source_transition_keeps_the_users_sources_key_beside_its_order() -> None:
    spec = load_spec(
        {
            **PLAIN,
            "transitions": [
                {"trigger": "go", "source": ["B", "A"], "dest": "B", "metadata": {"sources": 1}}
            ],
        }
    )
    (t,) = spec.transitions
    assert (t.sources_in_order, dict(t.metadata)) == (("B", "A"), {"sources": 1})
    assert spec_to_dict(spec)["transitions"] == [
        {"trigger": "go", "source": ["B", "A"], "dest": "B", "metadata": {"sources": 1}}
    ]
