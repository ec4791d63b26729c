"""Mutation survivors of ``pystator/config/loader.py`` and ``checks.py`` (the whole modules).

Loader: a document that is not a mapping is refused in one located ``shape`` issue after
what reading found; the byte limit and the source name reach the reader and the spec; the
schema's messages for each kind of error, word for word (no states, an empty text, a
non-mapping ``metadata``, an unknown key in ``meta`` listing ``meta``'s keys, pydantic's own
message with its first letter lowered); where an issue with no location of its own is placed
(the nearest written parent, by the last ``.`` or ``[``); issues on one line sorted by column;
a bad guard expression after a guard with no expression; which findings the best-effort spec
keeps (an item that lost one key still has its other keys checked) and drops (a compound
state listing a placeholder child); dict input whose huge integers sit next to a value met
twice (shared, or a cycle back to the top), and the caller's dict left as it was. Checks: one
definition per rule, each finding compared whole (path, line, column, code, message), the
order of the region findings, and the did-you-mean budget (a name met again reuses its hint;
a budget of exactly one comparison per state still gives one). Three tests pin bugs found on
the way, fixed since (L5, L6 and L7 in the triage).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from pystator.config import checks, load_spec
from pystator.errors import ConfigError, Issue

NAME = "m.yaml"
HUGE = 10**5000  # more digits than pydantic can write in an error


def problems(source: Any, **options: Any) -> list[Issue]:
    with pytest.raises(ConfigError) as caught:
        load_spec(source, **options)
    return list(caught.value.issues)


def text_problems(text: str) -> list[Issue]:
    return problems(text, source_name=NAME)


def located(message: str, path: str, line: int, column: int, code: str = "schema") -> Issue:
    return Issue(message, path, line, column, code, source=NAME)


def unlocated(message: str, path: str, code: str) -> Issue:
    return Issue(message, path, None, None, code, source=None)


# ------------------------------------------------------------------ load_spec: shape, options

SHAPE = "a machine definition is a mapping with 'meta', 'states' and 'transitions'"


def test_a_document_that_is_not_a_mapping_is_refused_after_what_reading_found() -> None:
    assert text_problems("- {a: 1, a: 2}\n") == [
        located("duplicate key 'a' (first at line 1)", "[0].a", 1, 10, "duplicate-key"),
        located(SHAPE, "", 1, 1, "shape"),
    ]


def test_the_byte_limit_reaches_the_reader() -> None:
    assert problems("states:\n  - name: a\n", source_name=NAME, max_bytes=5) == [
        Issue(
            "the document is 20 bytes; the limit is 5 bytes",
            "",
            None,
            None,
            "too-large",
            source=NAME,
        )
    ]


def test_the_spec_keeps_the_source_name() -> None:
    assert load_spec("states:\n  - name: a\n", source_name=NAME).source_name == NAME


# ------------------------------------------------------------------ schema messages


def test_a_machine_with_no_states_says_so() -> None:
    assert text_problems("states: []\n") == [
        located("a machine needs at least one state", "states", 1, 1)
    ]


def test_a_transition_with_no_source_gets_pydantics_message_not_the_states_one() -> None:
    issues = text_problems(
        "states:\n  - name: a\ntransitions:\n  - trigger: go\n    source: []\n    dest: a\n"
    )
    assert issues == [
        located(
            "list should have at least 1 item after validation, not 0",
            "transitions[0].source",
            5,
            5,
        )
    ]


def test_an_empty_text_must_not_be_empty() -> None:
    assert text_problems("states:\n  - name: ''\n") == [
        located("must not be empty", "states[0].name", 2, 5)
    ]


def test_metadata_that_is_not_a_mapping_names_what_was_written() -> None:
    assert text_problems("states:\n  - name: a\n    metadata: 3\n") == [
        located("expected a mapping, got a number", "states[0].metadata", 3, 5)
    ]


def test_an_unknown_key_in_meta_lists_metas_keys() -> None:
    keys = "version, machine_name, strict_mode, event_normalizer, event_matching, description"
    assert text_problems("meta:\n  nme: x\nstates:\n  - name: a\n") == [
        located(f"unknown key 'nme' (accepted keys: {keys})", "meta.nme", 2, 3)
    ]


def test_other_schema_errors_keep_pydantics_message_with_a_small_first_letter() -> None:
    assert text_problems("meta:\n  strict_mode: maybe\nstates:\n  - name: a\n") == [
        located(
            "input should be a valid boolean, unable to interpret input",
            "meta.strict_mode",
            2,
            3,
        )
    ]


def test_a_state_list_that_is_not_a_list_is_refused_in_place() -> None:
    assert text_problems("states: 3\n") == [
        located("expected a list, got a number", "states", 1, 1)
    ]


# ------------------------------------------------------------------ where an issue is placed


def test_a_missing_key_is_placed_at_its_item() -> None:
    issues = text_problems("states:\n  - name: a\n  - parent: a\n    description: x\n")
    assert issues == [located("missing required key 'name'", "states[1].name", 3, 5)]


def test_a_missing_key_two_levels_down_is_placed_at_its_nearest_parent() -> None:
    text = (
        "states:\n  - name: p\n    type: parallel\n    regions:\n"
        "      - name: r\n        initial: a\n        states: [a]\n"
        "      - states: [b]\n  - name: a\n    parent: p\n  - name: b\n    parent: p\n"
    )
    assert text_problems(text) == [
        located("missing required key 'name'", "states[0].regions[1].name", 8, 9),
        located("missing required key 'initial'", "states[0].regions[1].initial", 8, 9),
    ]


def test_a_missing_top_level_key_is_placed_at_the_document_not_at_a_similar_key() -> None:
    assert text_problems("meta:\n  version: '1'\nstate: []\n") == [
        located("missing required key 'states'", "states", 1, 1),
        located(
            "unknown key 'state': did you mean 'states'? (accepted keys: meta, data, states,"
            " transitions, error_policy, verify)",
            "state",
            3,
            1,
        ),
    ]


def test_a_key_in_an_action_written_without_a_list_is_placed_at_the_action_list() -> None:
    issues = text_problems(
        "states:\n  - name: a\n    description: x\n    on_enter:\n      log: x\n      zz: 1\n"
    )
    assert [(i.path, i.line, i.column) for i in issues] == [("states[0].on_enter[0].zz", 4, 5)]


def test_an_unknown_key_ending_in_a_bracket_is_placed_at_the_key() -> None:
    issues = text_problems("states:\n  - name: a\nzz]: 1\n")
    assert [(i.path, i.line, i.column) for i in issues] == [("zz]", 3, 1)]


def test_issues_on_one_line_are_in_column_order() -> None:
    issues = text_problems("states: [{name: a, parent: zz, type: bad}]\n")
    assert [(i.code, i.column) for i in issues] == [("unknown-state", 20), ("schema", 32)]


# ------------------------------------------------------------------ guard expressions


def test_a_bad_guard_expression_after_a_named_guard_is_reported() -> None:
    text = (
        "states:\n  - name: a\ntransitions:\n  - trigger: go\n    source: a\n    dest: a\n"
        "    guards:\n      - name: ok\n      - expr: '1 +'\n"
    )
    assert text_problems(text) == [
        located(
            "guard expression: invalid syntax (column 4)",
            "transitions[0].guards[1].expr",
            9,
            9,
            "bad-expression",
        )
    ]


# ------------------------------------------------------------------ the best-effort spec


def test_a_state_that_lost_one_key_still_has_its_other_keys_checked() -> None:
    issues = text_problems("states:\n  - name: a\n    description: [1]\n    parent: zz\n")
    assert [(i.path, i.code) for i in issues] == [
        ("states[0].description", "schema"),
        ("states[0].parent", "unknown-state"),
    ]


def test_a_transition_that_lost_one_key_still_has_its_other_keys_checked() -> None:
    text = (
        "states:\n  - name: a\ntransitions:\n"
        "  - trigger: go\n    source: a\n    dest: zz\n    kind: sideways\n"
    )
    assert [(i.path, i.code) for i in text_problems(text)] == [
        ("transitions[0].dest", "unknown-state"),
        ("transitions[0].kind", "schema"),
    ]


def test_a_section_that_lost_one_key_still_has_its_other_keys_checked() -> None:
    text = "error_policy:\n  zz: 1\n  default_fallback: nowhere\nstates:\n  - name: a\n"
    assert text_problems(text) == [
        located(
            "unknown key 'zz' (accepted keys: default_fallback, retry_attempts)",
            "error_policy.zz",
            2,
            3,
        ),
        located(
            "default_fallback 'nowhere' is not a state",
            "error_policy.default_fallback",
            3,
            3,
            "unknown-state",
        ),
    ]


def test_a_compound_state_listing_a_placeholder_child_is_not_reported() -> None:
    text = "states:\n  - name: p\n  - parent: p\n  - name: c\n    parent: p\n"
    assert text_problems(text) == [located("missing required key 'name'", "states[1].name", 3, 5)]


def test_a_list_of_states_that_is_a_number_is_not_salvaged() -> None:
    assert problems({"states": 3}) == [
        unlocated("expected a list, got a number", "states", "schema")
    ]


# ------------------------------------------------------------------ dict input, huge integers

TOO_LARGE = "this number has more than 100 digits; no machine needs that"


def test_a_huge_integer_does_not_hide_the_other_problems() -> None:
    data = {
        "states": [{"name": "a", "parent": HUGE}],
        "transitions": [{"trigger": "go", "source": ["a"], "dest": "nowhere"}],
    }
    assert problems(data) == [
        unlocated(TOO_LARGE, "states[0].parent", "too-large"),
        unlocated("dest 'nowhere' is not a state", "transitions[0].dest", "unknown-state"),
    ]


def test_a_value_met_twice_is_kept_in_both_places_and_the_rest_of_its_holder_walked() -> None:
    shared = {"team": "x"}
    data = {
        "states": [
            {"name": "a", "metadata": shared, "parent": HUGE},
            {"name": "b", "metadata": shared},
        ],
    }
    assert problems(data) == [unlocated(TOO_LARGE, "states[0].parent", "too-large")]


def test_a_cycle_back_to_the_top_reports_each_huge_integer_once() -> None:
    # bug L7 (fixed): the top level was registered under the id of a copy, so a cycle back
    # to the caller's dict walked it again and reported `meta` twice
    data: dict[str, Any] = {"states": [{"name": "a", "parent": HUGE}], "meta": HUGE}
    data["states"][0]["metadata"] = {"back": data}
    assert problems(data) == [
        unlocated(TOO_LARGE, "meta", "too-large"),
        unlocated(TOO_LARGE, "states[0].parent", "too-large"),
    ]


def test_the_callers_dict_is_never_written_into() -> None:
    # the loader reads the caller's dict itself (no copy) and copies only what it changes
    data: dict[str, Any] = {
        "states": [{"name": "a", "parent": HUGE}, {"name": "b"}],
        "transitions": [{"trigger": "go", "source": "a", "dest": "b"}],
        "meta": HUGE,
    }
    states = data["states"]
    states[1]["metadata"] = {"back": data}
    problems(data)
    assert list(data) == ["states", "transitions", "meta"] and data["meta"] is HUGE
    assert data["states"] is states and states[0] == {"name": "a", "parent": HUGE}
    assert states[1] == {"name": "b", "metadata": {"back": data}}
    assert data["transitions"] == [{"trigger": "go", "source": "a", "dest": "b"}]


def test_a_hint_never_offers_a_placeholder_name() -> None:
    text = (
        "states:\n  - name: a\n  - parent: a\n  - name: c\n    parent: a\n"
        "transitions:\n  - trigger: go\n    source: c\n    dest: '1'\n"
    )
    assert text_problems(text)[-1].message == "dest '1' is not a state"


# ------------------------------------------------------------------ checks: each rule's finding

# Each definition breaks one rule (or a few, to pin their order and their words); the whole
# finding is compared: path, line, column, code, message.
CHECK_CASES = {
    "regions_not_parallel": (
        (
            "states:\n"
            "  - name: p\n"
            "    initial_child: a\n"
            "    regions:\n"
            "      - {name: r, initial: a, states: [a]}\n"
            "  - name: a\n"
            "    parent: p\n"
        ),
        [
            (
                "states[0].regions",
                4,
                5,
                "regions-not-parallel",
                "'p' has regions but its type is 'stable'; use 'type: parallel'",
            ),
        ],
    ),
    "initial_history_default": (
        (
            "states:\n"
            "  - name: p\n"
            "    initial_child: h\n"
            "  - name: h\n"
            "    type: history\n"
            "    parent: p\n"
            "    default: a\n"
            "  - name: a\n"
            "    parent: p\n"
        ),
        [
            (
                "states[0].initial_child",
                3,
                5,
                "initial-child-history",
                "initial_child 'h' is a history state, which is never active; "
                "'p' must start in one of its states (its default is 'a')",
            ),
        ],
    ),
    "initial_history_plain": (
        (
            "states:\n"
            "  - name: p\n"
            "    initial_child: h\n"
            "  - name: h\n"
            "    type: history\n"
            "    parent: p\n"
            "  - name: a\n"
            "    parent: p\n"
        ),
        [
            (
                "states[0].initial_child",
                3,
                5,
                "initial-child-history",
                "initial_child 'h' is a history state, which is never active; "
                "'p' must start in one of its states",
            ),
        ],
    ),
    "initial_not_child": (
        ("states:\n  - name: p\n    initial_child: b\n  - name: a\n    parent: p\n  - name: b\n"),
        [
            (
                "states[0].initial_child",
                3,
                5,
                "initial-child-not-child",
                "initial_child 'b' is not a child of 'p'",
            ),
        ],
    ),
    "initial_unknown": (
        ("states:\n  - name: p\n    initial_child: zz\n  - name: a\n    parent: p\n"),
        [
            ("states[0].initial_child", 3, 5, "unknown-state", "initial_child 'zz' is not a state"),
        ],
    ),
    "needs_initial": (
        ("states:\n  - name: p\n  - name: a\n    parent: p\n  - name: b\n    parent: p\n"),
        [
            (
                "states[0]",
                2,
                5,
                "no-initial-child",
                "compound state 'p' needs 'initial_child' (one of a, b)",
            ),
        ],
    ),
    "only_history": (
        ("states:\n  - name: p\n  - name: h\n    type: history\n    parent: p\n"),
        [
            (
                "states[0]",
                2,
                5,
                "no-initial-child",
                "compound state 'p' holds only history states; give it a state to start in",
            ),
        ],
    ),
    "parallel_bad": (
        (
            "states:\n"
            "  - name: q\n"
            "    type: parallel\n"
            "  - name: p\n"
            "    type: parallel\n"
            "    initial_child: a\n"
            "    regions:\n"
            "      - {name: r, initial: c, states: [a, b]}\n"
            "  - name: a\n"
            "    parent: p\n"
            "  - name: b\n"
            "    parent: p\n"
            "  - name: c\n"
        ),
        [
            ("states[0].type", 3, 5, "no-regions", "parallel state 'q' has no regions"),
            (
                "states[1].initial_child",
                6,
                5,
                "parallel-initial-child",
                "parallel state 'p' enters all its regions; it cannot have an initial_child",
            ),
            (
                "states[1].regions[0].initial",
                8,
                19,
                "region-initial",
                "region 'r' starts in 'c', which is not among its states (a, b)",
            ),
        ],
    ),
    "default_unknown": (
        (
            "states:\n"
            "  - name: p\n"
            "    initial_child: a\n"
            "  - name: h\n"
            "    type: history\n"
            "    parent: p\n"
            "    default: zz\n"
            "  - name: a\n"
            "    parent: p\n"
        ),
        [
            ("states[1].default", 7, 5, "unknown-state", "default 'zz' is not a state"),
        ],
    ),
    "timeout_unknown": (
        ("states:\n  - name: a\n    timeout: {seconds: 1, destination: zz}\n"),
        [
            (
                "states[0].timeout.destination",
                3,
                27,
                "unknown-state",
                "timeout destination 'zz' is not a state",
            ),
        ],
    ),
    "two_sources": (
        (
            "states:\n"
            "  - name: a\n"
            "transitions:\n"
            "  - trigger: go\n"
            "    source: [a, zz]\n"
            "    dest: a\n"
            "  - trigger: go2\n"
            "    source: [yy]\n"
            "    dest: a\n"
        ),
        [
            ("transitions[0].source[1]", 5, 17, "unknown-state", "source 'zz' is not a state"),
            ("transitions[1].source", 8, 5, "unknown-state", "source 'yy' is not a state"),
        ],
    ),
    "duplicates": (
        ("states:\n  - name: a\n  - name: a\n"),
        [
            (
                "states[1].name",
                3,
                5,
                "duplicate-state",
                "duplicate state name 'a' (first declared as states[0])",
            ),
        ],
    ),
    "regions_dup_overlap": (
        (
            "states:\n"
            "  - name: p\n"
            "    type: parallel\n"
            "    regions:\n"
            "      - {name: r, initial: a, states: [a]}\n"
            "      - {name: r, initial: b, states: [b, a]}\n"
            "      - {name: s, initial: a, states: [a]}\n"
            "  - name: a\n"
            "    parent: p\n"
            "  - name: b\n"
            "    parent: p\n"
        ),
        [
            (
                "states[0].regions[1].name",
                6,
                10,
                "duplicate-region",
                "duplicate region name 'r' in 'p'",
            ),
            (
                "states[0].regions[1].states[1]",
                6,
                43,
                "region-overlap",
                "state 'a' is already in region 'r' of 'p'",
            ),
            (
                "states[0].regions[2].states[0]",
                7,
                40,
                "region-overlap",
                "state 'a' is already in region 'r' of 'p'",
            ),
        ],
    ),
    "history_children": (
        (
            "states:\n"
            "  - name: p\n"
            "    initial_child: a\n"
            "  - name: a\n"
            "    parent: p\n"
            "  - name: h\n"
            "    type: history\n"
            "    parent: p\n"
            "    initial_child: a\n"
            "  - name: g\n"
            "    type: history\n"
            "    parent: p\n"
            "    regions:\n"
            "      - {name: r, initial: a, states: [a]}\n"
        ),
        [
            (
                "states[2].initial_child",
                9,
                5,
                "history-children",
                "history state 'h' has no states of its own, so it takes no initial_child",
            ),
            (
                "states[3].regions",
                13,
                5,
                "history-children",
                "history state 'g' has no states of its own, so it takes no regions",
            ),
        ],
    ),
    "many_initial": (
        (
            "states:\n"
            "  - name: a\n"
            "    type: initial\n"
            "  - name: b\n"
            "  - name: c\n"
            "    type: initial\n"
            "  - name: d\n"
            "    type: initial\n"
        ),
        [
            (
                "states[2].type",
                6,
                5,
                "many-initial",
                "more than one top-level initial state: 'c' and 'a'",
            ),
            (
                "states[3].type",
                8,
                5,
                "many-initial",
                "more than one top-level initial state: 'd' and 'a'",
            ),
        ],
    ),
    "parallel_parents": (
        (
            "states:\n"
            "  - name: p\n"
            "    type: parallel\n"
            "    regions:\n"
            "      - {name: r, initial: a, states: [a]}\n"
            "      - {name: s, initial: b, states: [b]}\n"
            "  - name: a\n"
            "    parent: p\n"
            "  - name: b\n"
            "  - name: c\n"
            "    parent: p\n"
        ),
        [
            (
                "states[3].parent",
                11,
                5,
                "not-in-region",
                "'c' is a child of parallel state 'p' but is listed in none of its regions (r, s)",
            ),
        ],
    ),
    "region_of_no_parallel": (
        (
            "states:\n"
            "  - name: p\n"
            "    regions:\n"
            "      - {name: r, initial: a, states: [a]}\n"
            "  - name: a\n"
            "    parent: q\n"
            "  - name: q\n"
            "    initial_child: a\n"
        ),
        [
            (
                "states[0].regions",
                3,
                5,
                "regions-not-parallel",
                "'p' has regions but its type is 'stable'; use 'type: parallel'",
            ),
        ],
    ),
    "regions_region": (
        (
            "states:\n"
            "  - name: p\n"
            "    type: parallel\n"
            "    regions:\n"
            "      - {name: r, initial: a, states: [a]}\n"
            "      - {name: s, initial: b, states: [b]}\n"
            "  - name: a\n"
            "    parent: p\n"
            "  - name: b\n"
            "    parent: p\n"
            "transitions:\n"
            "  - trigger: go\n"
            "    source: a\n"
            "    dest: b\n"
            "    region: t\n"
            "  - trigger: go2\n"
            "    source: [zz, a]\n"
            "    dest: b\n"
            "    region: s\n"
        ),
        [
            ("transitions[0].region", 15, 5, "unknown-region", "region 't' does not exist"),
            ("transitions[1].source[0]", 17, 14, "unknown-state", "source 'zz' is not a state"),
            (
                "transitions[1].region",
                19,
                5,
                "source-outside-region",
                "source 'a' is not inside region 's'",
            ),
        ],
    ),
    "lone_parallel": (
        ("states:\n  - name: q\n    type: parallel\n"),
        [
            ("states[0].type", 3, 5, "no-regions", "parallel state 'q' has no regions"),
        ],
    ),
    "lone_regions": (
        ("states:\n  - name: p\n    regions:\n      - {name: r, initial: p, states: [p]}\n"),
        [
            ("states[0].parent", 2, 5, "parent-cycle", "parent cycle: p -> p"),
            (
                "states[0].regions",
                3,
                5,
                "regions-not-parallel",
                "'p' has regions but its type is 'stable'; use 'type: parallel'",
            ),
        ],
    ),
    "lone_self_initial": (
        ("states:\n  - name: p\n    initial_child: p\n"),
        [
            (
                "states[0].initial_child",
                3,
                5,
                "initial-child-not-child",
                "initial_child 'p' is not a child of 'p'",
            ),
        ],
    ),
    "region_parent": (
        (
            "states:\n"
            "  - name: p\n"
            "    type: parallel\n"
            "    regions:\n"
            "      - {name: r, initial: a, states: [a]}\n"
            "      - {name: s, initial: b, states: [b]}\n"
            "  - name: a\n"
            "    parent: p\n"
            "  - name: b\n"
            "    parent: a\n"
        ),
        [
            (
                "states[2].parent",
                10,
                5,
                "region-parent",
                "'b' is in a region of 'p', so its parent must be 'p'",
            ),
        ],
    ),
    "xxxx_parallel": (
        (
            "states:\n"
            "  - name: XXXX\n"
            "    type: parallel\n"
            "    regions:\n"
            "      - {name: r, initial: a, states: [a]}\n"
            "  - name: a\n"
            "    parent: XXXX\n"
            "  - name: c\n"
            "    initial_child: zz\n"
        ),
        [
            ("states[2].initial_child", 9, 5, "unknown-state", "initial_child 'zz' is not a state"),
        ],
    ),
    "region_hint": (
        (
            "states:\n"
            "  - name: p\n"
            "    type: parallel\n"
            "    regions:\n"
            "      - {name: left, initial: a, states: [a]}\n"
            "  - name: a\n"
            "    parent: p\n"
            "transitions:\n"
            "  - trigger: go\n"
            "    source: a\n"
            "    dest: a\n"
            "    region: lef\n"
        ),
        [
            (
                "transitions[0].region",
                12,
                5,
                "unknown-region",
                "region 'lef' does not exist: did you mean 'left'?",
            ),
        ],
    ),
    "dup_region_first": (
        (
            "states:\n"
            "  - name: p\n"
            "    type: parallel\n"
            "    regions:\n"
            "      - {name: r, initial: a, states: [a]}\n"
            "      - {name: r, initial: a, states: [a, b]}\n"
            "  - name: a\n"
            "    parent: p\n"
            "  - name: b\n"
            "    parent: p\n"
        ),
        [
            (
                "states[0].regions[1].name",
                6,
                10,
                "duplicate-region",
                "duplicate region name 'r' in 'p'",
            ),
            (
                "states[0].regions[1].states[0]",
                6,
                40,
                "region-overlap",
                "state 'a' is already in region 'r' of 'p'",
            ),
        ],
    ),
}


@pytest.mark.parametrize(("text", "expected"), CHECK_CASES.values(), ids=CHECK_CASES.keys())
def test_each_rule_reports_its_finding_in_full(
    text: str, expected: list[tuple[str, int, int, str, str]]
) -> None:
    assert text_problems(text) == [
        located(message, path, line, column, code) for path, line, column, code, message in expected
    ]


def test_a_machine_of_one_initial_state_and_a_nested_one_is_valid() -> None:
    text = (
        "states:\n  - name: a\n    type: initial\n  - name: b\n    initial_child: c\n"
        "  - name: c\n    type: initial\n    parent: b\n"
    )
    assert [s.name for s in load_spec(text).states] == ["a", "b", "c"]


# ------------------------------------------------------------------ checks: the hint budget

HINTED = "dest 'aa' is not a state: did you mean 'a'?"


def hinted_dests(monkeypatch: pytest.MonkeyPatch, budget: int, dests: list[str]) -> list[str]:
    monkeypatch.setattr(checks, "HINT_COMPARISONS", budget)
    transitions = "".join(
        f"  - {{trigger: t{j}, source: a, dest: {d}}}\n" for j, d in enumerate(dests)
    )
    text = "states:\n  - name: a\n  - name: b\ntransitions:\n" + transitions
    return [issue.message for issue in text_problems(text)]


def test_a_name_met_again_reuses_its_hint_without_spending_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert hinted_dests(monkeypatch, 4, ["aa", "aa", "aa"]) == [HINTED] * 3


def test_a_budget_of_exactly_one_comparison_per_state_still_gives_one_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert hinted_dests(monkeypatch, 2, ["aa", "ab"]) == [HINTED, "dest 'ab' is not a state"]


def test_a_repeated_region_name_comes_before_its_members_listed_elsewhere() -> None:
    # dict input has no locations, so the findings keep the rule's order
    regions = [
        {"name": "r", "initial": "a", "states": ["a"]},
        {"name": "r", "initial": "a", "states": ["a", "b"]},
    ]
    data = {
        "states": [
            {"name": "p", "type": "parallel", "regions": regions},
            {"name": "a", "parent": "p"},
            {"name": "b", "parent": "p"},
        ]
    }
    assert [(i.path, i.code) for i in problems(data)] == [
        ("states[0].regions[1].name", "duplicate-region"),
        ("states[0].regions[1].states[0]", "region-overlap"),
    ]


def test_any_mapping_is_read_like_the_dict_it_holds() -> None:
    # a read-only mapping (or any Mapping that is no dict) is read through a dict of it
    data: dict[str, Any] = {
        "meta": {"machine_name": "m"},
        "states": [{"name": "a", "type": "initial"}, {"name": "b"}],
        "transitions": [{"trigger": "go", "source": "a", "dest": "b"}],
    }
    assert load_spec(MappingProxyType(data)) == load_spec(data)
    assert problems(MappingProxyType({"states": [{"name": "a"}], "meta": HUGE})) == problems(
        {"states": [{"name": "a"}], "meta": HUGE}
    )
