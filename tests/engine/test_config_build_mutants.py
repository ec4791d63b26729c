"""Mutation survivors of ``pystator/config/build.py``: what the two build paths produce.

The fast path (plain dicts) must refuse exactly what the schema refuses and coerce what
it coerces: an empty or non-list ``states``, a non-list ``transitions``, an action dict
with an unknown key or non-mapping ``params``, triggers spelled like timers' (also when
both reserved prefixes occur), a number written for ``initial_child``, ``region`` or
``description`` (the schema reads it as text). It takes every plain key, ``description``
included, and shares one ``ActionSpec``/``GuardSpec`` per name within a load, also for
items that carry every plain key. Only a transition written with several sources keeps
``source_order``. The model path keeps ``raise`` actions, an invocation's
``autoforward``, an eventless transition's ``always`` trigger, and ``data`` values and
expressions; ``finish`` keeps the source name and locates an implied region state where
its region names it as ``initial``.
"""

from __future__ import annotations

from typing import Any

import pytest

from pystator.config import load_spec
from pystator.errors import ConfigError, Issue
from pystator.model import ActionSpec, Data, Location

TWO_STATES: list[dict[str, Any]] = [{"name": "a", "type": "initial"}, {"name": "b"}]


def problems(source: Any) -> list[Issue]:
    with pytest.raises(ConfigError) as caught:
        load_spec(source)
    return list(caught.value.issues)


def schema_issue(message: str, path: str) -> Issue:
    return Issue(message, path, None, None, "schema")


# ------------------------------------------------- the fast path refuses what the schema does


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"states": [], "transitions": []},
            schema_issue("a machine needs at least one state", "states"),
        ),
        ({"states": 5}, schema_issue("expected a list, got a number", "states")),
        (
            {"states": TWO_STATES, "transitions": 5},
            schema_issue("expected a list, got a number", "transitions"),
        ),
    ],
    ids=["no-states", "states-a-number", "transitions-a-number"],
)
def test_top_level_lists_of_the_wrong_shape_get_the_schemas_verdict(
    document: dict[str, Any], expected: Issue
) -> None:
    assert problems(document) == [expected]


def test_an_action_with_an_unknown_key_is_refused_at_that_key() -> None:
    states = [{"name": "a", "type": "initial", "on_enter": [{"name": "x", "bogus": 1}]}]
    [found] = problems({"states": states})
    assert (found.path, found.code) == ("states[0].on_enter[0].bogus", "schema")
    assert found.message.startswith("unknown key 'bogus' (accepted keys: ")


def test_action_params_that_are_not_a_mapping_are_refused() -> None:
    states = [{"name": "a", "type": "initial", "on_enter": [{"name": "x", "params": 5}]}]
    assert problems({"states": states}) == [
        schema_issue("expected a mapping, got a number", "states[0].on_enter[0].params")
    ]


def test_reserved_triggers_are_refused_when_both_prefixes_occur() -> None:
    transitions = [
        {"trigger": "after:x", "source": "a", "dest": "b"},
        {"trigger": "timeout:y", "source": "a", "dest": "b"},
    ]
    reserved = "trigger names starting with 'after:' or 'timeout:' are reserved for timers"
    assert problems({"states": TWO_STATES, "transitions": transitions}) == [
        schema_issue(reserved, "transitions[0]"),
        schema_issue(reserved, "transitions[1]"),
    ]


# --------------------------------------------- the fast path coerces and reads what it should


def test_a_number_for_initial_child_is_read_as_text() -> None:
    states = [{"name": "a", "type": "initial"}, {"name": "c", "initial_child": 5}]
    spec = load_spec({"states": [*states, {"name": "5", "parent": "c"}]})
    assert spec.states[1].initial_child == "5"


def test_a_number_for_a_transitions_region_is_read_as_text() -> None:
    states = [
        {"name": "a", "type": "initial"},
        {"name": "p", "type": "parallel", "regions": [{"name": "5", "initial": "x"}]},
    ]
    transitions = [{"trigger": "hop", "source": "x", "dest": "x", "region": 5}]
    spec = load_spec({"states": states, "transitions": transitions})
    assert spec.transitions[0].region == "5"


def test_a_number_for_a_transitions_description_is_read_as_text() -> None:
    transitions = [{"trigger": "go", "source": "a", "dest": "b", "description": 5}]
    spec = load_spec({"states": TWO_STATES, "transitions": transitions})
    assert spec.transitions[0].description == "5"


def test_a_plain_transitions_description_is_kept() -> None:
    transitions = [{"trigger": "go", "source": "a", "dest": "b", "description": "leave"}]
    spec = load_spec({"states": TWO_STATES, "transitions": transitions})
    assert spec.transitions[0].description == "leave"


def test_only_a_transition_written_with_several_sources_keeps_their_order() -> None:
    transitions = [
        {"trigger": "go", "source": ["b", "a"], "dest": "b"},
        {"trigger": "stay", "source": "a", "dest": "a"},
    ]
    spec = load_spec({"states": TWO_STATES, "transitions": transitions})
    assert [t.source_order for t in spec.transitions] == [("b", "a"), ()]


def test_one_spec_per_action_and_guard_name_also_for_items_with_every_plain_key() -> None:
    # Identity shows the fast path built them: the model path makes one spec per use,
    # so an item it sent to the schema (or the whole document) would break the sharing.
    spec = load_spec(
        {
            "meta": {"machine_name": "shared"},
            "error_policy": {},
            "states": [
                {"name": "a", "type": "initial", "on_enter": "log"},
                {"name": "top", "initial_child": "p"},
                {
                    "name": "p",
                    "type": "stable",
                    "parent": "top",
                    "initial_child": "c",
                    "description": "",
                    "on_enter": "log",
                    "on_exit": "log",
                },
                {"name": "c", "parent": "p", "on_enter": {"name": "tick"}},
            ],
            "transitions": [
                {"trigger": "go", "source": "a", "dest": "p", "guards": "ok", "actions": "log"},
                {
                    "trigger": "back",
                    "source": "p",
                    "dest": "a",
                    "region": None,
                    "after": None,
                    "guards": "ok",
                    "actions": "log",
                    "description": "",
                },
            ],
        }
    )
    a, _top, p, _c = spec.states
    go, back = spec.transitions
    log = a.on_enter[0]
    assert p.on_enter[0] is log and p.on_exit[0] is log
    assert go.actions[0] is log and back.actions[0] is log
    assert back.guards[0] is go.guards[0]


# ------------------------------------------------------------------------- the model path


MODEL_PATH = """\
data:
  count: {expr: "1 + 1"}
  label: hello
  settings: {depth: 2}
states:
  - name: a
    type: initial
    on_enter: {raise: ping}
    invoke: [{id: job, src: worker, autoforward: true}]
  - {name: b, timeout: {seconds: 1, destination: a}}
transitions:
  - {source: a, dest: b, always: true}
  - {trigger: go, source: [b], dest: a, metadata: {k: 1}}
"""


def test_the_model_path_keeps_raise_autoforward_always_and_data() -> None:
    spec = load_spec(MODEL_PATH)
    a = spec.states[0]
    assert a.on_enter == (ActionSpec("ping", {}, "raise"),)
    assert a.invoke[0].autoforward is True
    assert spec.transitions[0].trigger == "always"
    assert spec.data == (
        Data("count", expr="1 + 1"),
        Data("label", "hello"),
        Data("settings", {"depth": 2}),
    )


def test_the_model_path_keeps_no_source_order_for_one_source() -> None:
    assert [t.source_order for t in load_spec(MODEL_PATH).transitions] == [(), ()]


# ------------------------------------------------------------------------------ finish


def test_the_source_name_is_kept() -> None:
    spec = load_spec({"states": TWO_STATES}, source_name="machine.yaml")
    assert spec.source_name == "machine.yaml"


def test_a_region_state_named_only_as_initial_is_located_there() -> None:
    text = """\
states:
  - {name: a, type: initial}
  - name: p
    type: parallel
    regions:
      - {name: left, initial: x}
"""
    spec = load_spec(text)
    assert [s.name for s in spec.states] == ["a", "p", "x"]
    where = spec.locations["states[1].regions[0].initial"]
    assert spec.locations["states[2]"] == where == Location(6, 22)


def test_a_region_state_no_entry_declares_is_implied_once() -> None:
    text = """\
states:
  - {name: a, type: initial}
  - name: p
    type: parallel
    regions:
      - {name: left, initial: x}
      - {name: right, initial: y, states: [y, x]}
"""
    assert problems(text) == [
        Issue(
            "state 'x' is already in region 'left' of 'p'",
            "states[1].regions[1].states[1]",
            7,
            47,
            "region-overlap",
        )
    ]


def test_a_delayed_transition_from_several_sources_may_keep_a_timer_spelled_trigger() -> None:
    # Allowed by the schema's rule (it has 'after'); built on the fast path, so the
    # action spec is shared.
    transitions = [
        {"trigger": "after:custom", "source": ["a", "b"], "dest": "b", "after": "1s"},
        {"trigger": "go", "source": "a", "dest": "b", "actions": "log"},
        {"trigger": "back", "source": "b", "dest": "a", "actions": "log"},
    ]
    spec = load_spec({"states": TWO_STATES, "transitions": transitions})
    timer, go, back = spec.transitions
    assert (timer.trigger, timer.after) == ("after:custom", 1000)
    assert go.actions[0] is back.actions[0]
