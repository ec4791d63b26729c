"""Loading: every problem located (path, line, column), all at once, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pystator import ConfigError, StateMachine
from pystator.config import dump_spec, load_spec, machine_json_schema
from pystator.config.schema import MachineModel

GOOD = """\
meta:
  machine_name: demo
states:
  - name: idle
    type: initial
  - name: done
    type: terminal
transitions:
  - trigger: finish
    source: idle
    dest: done
"""


def issues_of(text: str) -> list[tuple[str, int | None, int | None, str]]:
    with pytest.raises(ConfigError) as info:
        load_spec(text)
    return [(i.path, i.line, i.column, i.message) for i in info.value.issues]


def test_valid_text_loads() -> None:
    spec = load_spec(GOOD)
    assert [s.name for s in spec.states] == ["idle", "done"]
    assert spec.location("transitions[0].dest") is not None


def test_unknown_dest_is_located_with_a_suggestion() -> None:
    [(path, line, column, message)] = issues_of(GOOD.replace("dest: done", "dest: DONE"))
    assert path == "transitions[0].dest"
    assert (line, column) == (11, 5)
    assert "'DONE' is not a state" in message and "did you mean 'done'" in message


def test_all_problems_are_reported_at_once() -> None:
    text = GOOD.replace("dest: done", "dest: nowhere").replace("source: idle", "source: nothing")
    paths = [p for p, *_ in issues_of(text)]
    assert paths == ["transitions[0].source", "transitions[0].dest"]


def test_unknown_key_lists_accepted_keys() -> None:
    [(path, line, _, message)] = issues_of(GOOD.replace("    type: terminal", "    kind: terminal"))
    assert path == "states[1].kind" and line == 7
    assert "unknown key 'kind'" in message and "accepted keys: name, type, parent" in message


def test_bad_type_value_names_the_choices() -> None:
    [(path, _, _, message)] = issues_of(GOOD.replace("type: terminal", "type: finished"))
    assert path == "states[1].type"
    assert "'finished'" in message and "terminal" in message


def test_missing_required_key() -> None:
    [(path, _, _, message)] = issues_of(GOOD.replace("    dest: done\n", ""))
    assert path == "transitions[0].dest" and "missing required key 'dest'" in message


def test_yaml_syntax_error_has_line_and_column() -> None:
    [(_, line, column, message)] = issues_of("states:\n  - name: [a\n")
    assert line == 3 and column is not None and "YAML syntax error" in message


def test_spec_quick_start_trap_names_timed_out() -> None:
    text = """\
meta: {version: "1.0.0", machine_name: order_management, strict_mode: true}
states:
  - name: PENDING
    type: initial
    timeout:
      seconds: 5.0
      destination: TIMED_OUT
  - name: OPEN
  - name: FILLED
    type: terminal
transitions:
  - {trigger: exchange_ack, source: PENDING, dest: OPEN}
"""
    [(path, line, column, message)] = issues_of(text)
    assert path == "states[0].timeout.destination" and (line, column) == (7, 7)
    assert "'TIMED_OUT' is not a state" in message


@pytest.mark.parametrize(
    ("definition", "expected"),
    [
        (
            {"states": [{"name": "a", "type": "initial"}, {"name": "b", "type": "initial"}]},
            "more than one top-level initial state",
        ),
        ({"states": [{"name": "a", "type": "initial"}, {"name": "a"}]}, "duplicate state name"),
        (
            {
                "states": [
                    {"name": "a", "type": "initial", "parent": "b"},
                    {"name": "b", "parent": "a"},
                ]
            },
            "parent cycle",
        ),
        (
            {
                "states": [
                    {"name": "p", "type": "initial"},
                    {"name": "c", "parent": "p"},
                    {"name": "d", "parent": "p"},
                ]
            },
            "needs 'initial_child'",
        ),
        (
            {
                "states": [
                    {"name": "p", "type": "initial", "initial_child": "x"},
                    {"name": "c", "parent": "p"},
                    {"name": "x"},
                ]
            },
            "is not a child of 'p'",
        ),
        (  # no state has children: the flat machine's shortcut must still see initial_child
            {"states": [{"name": "a", "type": "initial", "initial_child": "b"}, {"name": "b"}]},
            "is not a child of 'a'",
        ),
        (
            {
                "states": [
                    {"name": "a", "type": "initial", "initial_child": "h"},
                    {"name": "h", "type": "history"},
                ]
            },
            "is a history state, which is never active",
        ),
        (
            {
                "states": [
                    {
                        "name": "p",
                        "type": "parallel",
                        "regions": [{"name": "r", "initial": "z", "states": ["a", "b"]}],
                    }
                ]
            },
            "not among its states",
        ),
        (  # a parallel state without regions: no state is in a region, the rule still runs
            {"states": [{"name": "p", "type": "parallel"}, {"name": "c", "parent": "p"}]},
            "listed in none of its regions (none)",
        ),
        (
            {
                "states": [{"name": "a", "type": "initial"}],
                "transitions": [{"trigger": "t", "source": "a", "dest": "a", "after": "5 parsecs"}],
            },
            "malformed delay",
        ),
        (
            {
                "states": [{"name": "a", "type": "initial"}, {"name": "b"}],
                "transitions": [{"source": ["a", "b"], "dest": "a", "after": 100}],
            },
            "exactly one source",
        ),
        (
            {
                "states": [{"name": "a", "type": "initial"}],
                "transitions": [{"source": "a", "dest": "a"}],
            },
            "needs a 'trigger'",
        ),
        (
            {
                "states": [{"name": "a", "type": "initial"}],
                "transitions": [{"trigger": "t", "source": "a", "dest": "a", "region": "r"}],
            },
            "region 'r' does not exist",
        ),
        (
            {
                "states": [{"name": "a", "type": "initial"}],
                "transitions": [
                    {
                        "trigger": "t",
                        "source": "a",
                        "dest": "a",
                        "guards": [{"expr": "x.__class__"}],
                    }
                ],
            },
            "guard expression",
        ),
    ],
)
def test_semantic_checks(definition: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(definition)
    assert any(expected in issue.message for issue in info.value.issues), info.value.issues


def test_on_off_yes_no_stay_names() -> None:
    spec = load_spec(
        "states:\n  - {name: on, type: initial}\n  - {name: off}\n"
        "transitions:\n  - {trigger: yes, source: on, dest: off}\n"
    )
    assert [s.name for s in spec.states] == ["on", "off"]
    assert spec.transitions[0].trigger == "yes"


def test_true_false_are_still_booleans() -> None:
    spec = load_spec("meta: {strict_mode: false}\nstates:\n  - {name: a, type: initial}\n")
    assert spec.meta.strict_mode is False


def test_billion_laughs_is_an_error_not_a_hang() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    with pytest.raises(ConfigError, match="expands to more than"):
        load_spec("\n".join(lines))


def test_size_cap() -> None:
    with pytest.raises(ConfigError, match="the limit is"):
        load_spec("states: []\n" + "#" * (1024 * 1024 + 10))


def test_binary_is_rejected_clearly(tmp_path: Path) -> None:
    path = tmp_path / "machine.yaml"
    path.write_bytes(b"\x89PNG\x00\x01")
    with pytest.raises(ConfigError, match="binary"):
        load_spec(path)


def test_file_issues_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(GOOD.replace("dest: done", "dest: gone"))
    with pytest.raises(ConfigError) as info:
        StateMachine.from_yaml(path)
    assert str(info.value.issues[0]).startswith(f"{path}:11:5:")


def test_json_loads_with_locations() -> None:
    data = {
        "states": [{"name": "a", "type": "initial"}],
        "transitions": [{"trigger": "t", "source": "a", "dest": "zz"}],
    }
    text = json.dumps(data, indent=2)
    with pytest.raises(ConfigError) as info:
        StateMachine.from_json(text)
    assert info.value.issues[0].line is not None


def test_region_states_need_not_be_declared() -> None:
    spec = load_spec(
        {
            "states": [
                {
                    "name": "p",
                    "type": "parallel",
                    "regions": [{"name": "r", "initial": "x", "states": ["x", "y"]}],
                }
            ]
        }
    )
    assert {s.name: s.parent for s in spec.states} == {"p": None, "x": "p", "y": "p"}


def test_dump_round_trips_to_an_equal_spec() -> None:
    for path in sorted(Path(__file__).parents[2].joinpath("examples").glob("*.yaml")):
        spec = load_spec(path)
        assert load_spec(dump_spec(spec)) == spec, path.name


def test_schema_vocabulary_is_published() -> None:
    schema = machine_json_schema()
    assert set(schema["properties"]) == set(MachineModel.model_fields)
    state = schema["$defs"]["StateModel"]["properties"]
    assert {
        "name",
        "type",
        "parent",
        "initial_child",
        "regions",
        "on_enter",
        "on_exit",
        "timeout",
        "invoke",
    } <= set(state)


def test_without_an_initial_state_the_first_top_level_state_starts() -> None:
    machine = StateMachine.from_dict({"states": [{"name": "a"}, {"name": "b"}]})
    assert machine.get_initial_state().name == "a"


def test_absurd_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(ConfigError, match="nest more than"):
        load_spec("states: " + "[" * 30_000)
    with pytest.raises(ConfigError, match="indented more than"):
        load_spec("states:\n" + "".join("  " * i + "- a:\n" for i in range(800)))


def test_typos_get_a_suggestion() -> None:
    [(path, _, _, message)] = issues_of(GOOD.replace("type: initial", "type: initail"))
    assert path == "states[0].type" and "did you mean 'initial'" in message
    [(path, _, _, message)] = issues_of(GOOD.replace("- trigger: finish", "- triger: finish"))
    assert path == "transitions[0].triger" and "did you mean 'trigger'" in message


def test_an_unknown_error_fallback_is_reported_where_it_is_written() -> None:
    text = """\
states:
  - {name: idle, type: initial}
  - {name: ERROR_STATE}
error_policy:
  default_fallback: ERORR_STATE
"""
    with pytest.raises(ConfigError) as info:
        load_spec(text)
    [issue] = info.value.issues
    assert (issue.path, issue.line, issue.code) == (
        "error_policy.default_fallback",
        5,
        "unknown-state",
    )
    assert "did you mean 'ERROR_STATE'?" in issue.message


HISTORY_MISTAKES = """\
meta: {machine_name: player}
states:
  - {name: off, type: initial}
  - {name: on, initial_child: last}
  - {name: radio, parent: on}
  - {name: last, parent: on, type: history, default: elsewhere}
  - {name: deep, parent: on, type: history, history: deep, default: last}
  - {name: loose, type: history}
  - {name: bz, parent: on, type: history, on_enter: [b], timeout: {seconds: 1, destination: radio}}
  - {name: inner, parent: bz}
  - {name: typo, parent: on, type: history, default: radoi}
  - {name: elsewhere}
  - {name: done, type: final}
  - {name: after, parent: done}
transitions:
  - {trigger: power, source: off, dest: last}
  - {trigger: tune, source: [radio, last], dest: radio}
"""


def test_history_and_final_states_are_checked_where_written() -> None:
    with pytest.raises(ConfigError) as info:
        load_spec(HISTORY_MISTAKES)
    found = [(i.path, i.line, i.code) for i in info.value.issues]
    assert found == [
        ("states[1].initial_child", 4, "initial-child-history"),
        ("states[3].default", 6, "history-default"),
        ("states[4].default", 7, "history-default"),
        ("states[5].type", 8, "history-top-level"),
        ("states[6].on_enter", 9, "history-never-active"),
        ("states[6].timeout", 9, "history-outgoing"),
        ("states[7].parent", 10, "history-children"),
        ("states[8].default", 11, "unknown-state"),
        ("states[10]", 13, "no-initial-child"),
        ("states[10].type", 13, "final-children"),
        ("transitions[1].source[1]", 17, "history-outgoing"),
    ]
    messages = {i.path: i.message for i in info.value.issues}
    assert "'last' is a history state" in messages["states[1].initial_child"]
    assert "'elsewhere', is not inside 'on'" in messages["states[3].default"]
    assert "'last', is another history state" in messages["states[4].default"]
    assert "did you mean 'radio'?" in messages["states[8].default"]
    assert messages["states[10].type"] == "final state 'done' cannot have children"


def test_a_history_state_belongs_to_a_parallel_state_not_to_a_region() -> None:
    text = """\
states:
  - {name: off, type: initial}
  - name: both
    type: parallel
    regions:
      - {name: left, initial: l1, states: [l1, l2]}
      - {name: right, initial: r1, states: [r1, stray]}
  - {name: memory, parent: both, type: history, history: deep, default: l2}
  - {name: stray, parent: both, type: history}
transitions:
  - {trigger: back, source: off, dest: memory}
  - {trigger: next, source: l1, dest: l2}
  - {trigger: stop, source: both, dest: off}
"""
    [(path, line, _column, message)] = issues_of(text)
    assert (path, line) == ("states[1].regions[1].states[1]", 7)
    assert "history state 'stray' is listed in region 'right' of 'both'" in message
    fixed = text.replace("[r1, stray]", "[r1]")
    machine = StateMachine.from_yaml(fixed)  # outside the regions it is the parallel state's
    step = machine.step(machine.start().snapshot, "back")
    assert {"both", "l2", "r1"} <= step.snapshot.configuration


# -- every problem at once: schema, references and expressions together ------------------------

TANGLED = """\
states:
  - name: idle
    type: initial
    on_entr: log
  - name: done
    type: terminal
transitions:
  - trigger: finish
    source: idle
    dest: DONE
    guards:
      - expr: "qty >"
"""


def test_a_mistyped_key_does_not_hide_a_wrong_dest_or_a_bad_guard() -> None:
    found = issues_of(TANGLED)
    assert [(path, line) for path, line, _, _ in found] == [
        ("states[0].on_entr", 4),
        ("transitions[0].dest", 10),
        ("transitions[0].guards[0].expr", 12),
    ]
    assert "did you mean 'on_enter'" in found[0][3]
    assert "did you mean 'done'" in found[1][3]


def test_a_state_with_a_bad_name_still_lets_the_others_be_checked() -> None:
    text = GOOD.replace("  - name: done", "  - name: [done]\n  - name: other\n    parent: nowhere")
    found = {path: message for path, _, _, message in issues_of(text)}
    assert set(found) == {"states[1].name", "states[2].parent", "transitions[0].dest"}
    assert "expected text" in found["states[1].name"]
    assert "'nowhere'" in found["states[2].parent"]


def test_a_state_whose_place_is_unknown_causes_no_guessed_errors() -> None:
    """With ``parent`` unreadable, 'C is not a child of P' would be a guess: it is skipped."""
    text = """\
states:
  - name: P
    type: initial
    initial_child: C
  - name: C
    parent: [P]
transitions:
  - trigger: go
    source: C
    dest: Z
"""
    assert [path for path, *_ in issues_of(text)] == ["states[1].parent", "transitions[0].dest"]


def test_broken_items_and_sections_are_reported_beside_the_rest() -> None:
    text = "meta: 3\nextra: 1\nstates:\n  - 5\n  - {name: a, type: initial}\ntransitions:\n"
    text += "  - {source: a, dest: b}\n  - {trigger: t, source: a, dest: gone}\n"
    paths = [path for path, *_ in issues_of(text)]
    assert paths == ["meta", "extra", "states[0]", "transitions[0]", "transitions[1].dest"]


def test_reading_problems_are_reported_with_the_rest() -> None:
    text = GOOD.replace("    type: terminal", "    type: terminal\n    type: stable")
    text = text.replace("dest: done", "dest: nowhere")
    paths = [path for path, *_ in issues_of(text)]
    assert paths == ["states[1].type", "transitions[0].dest"]


# -- what the text may not carry -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("!state busy", "!state"),
        ("!!python/name:os.system x", "!!python/name:os.system"),
        ("!!python/object/apply:os.system [ls]", "!!python/object/apply:os.system"),
        ("!!binary aGk=", "!!binary"),
        ("!!set {a, b}", "!!set"),
    ],
)
def test_tags_are_refused_where_they_are_written(written: str, shown: str) -> None:
    found = issues_of(GOOD.replace("    type: terminal", f"    description: {written}"))
    assert [(path, line, column) for path, line, column, _ in found] == [
        ("states[1].description", 7, 18)
    ]
    assert f"'{shown}' are not supported" in found[0][3]


def test_an_expression_must_be_written_as_text() -> None:
    text = GOOD.replace("    dest: done", "    dest: done\n    guards: [{expr: 5}]")
    [(path, line, _, message)] = issues_of(text)
    assert path == "transitions[0].guards[0].expr" and line == 12
    assert message == "expected text, got a number"


@pytest.mark.parametrize(
    ("after", "words"),
    [
        ("366d", "at most 365 days"),
        ("1.0e+31", "at most 365 days"),
        (str(365 * 86_400_000 + 1), "at most 365 days"),
        ("9" * 5_000, "more than 100 digits"),
        ("1" * 101 + "s", "malformed delay"),
        (".inf", "whole number"),
    ],
)
def test_delays_are_bounded_when_the_machine_loads(after: str, words: str) -> None:
    text = GOOD.replace("    dest: done", f"    dest: done\n    after: {after}")
    [(path, line, _, message)] = issues_of(text)
    assert path == "transitions[0].after" and line == 12
    assert words in message


def test_the_longest_delay_loads() -> None:
    spec = load_spec(GOOD.replace("    dest: done", "    dest: done\n    after: 365d"))
    assert spec.transitions[0].after == 365 * 86_400_000


@pytest.mark.parametrize("seconds", [".inf", ".nan", "1e12", "31536001"])
def test_timeouts_are_bounded_when_the_machine_loads(seconds: str) -> None:
    text = GOOD.replace(
        "    type: initial",
        f"    type: initial\n    timeout: {{seconds: {seconds}, destination: done}}",
    )
    [(path, *_)] = issues_of(text)
    assert path == "states[0].timeout.seconds"


def test_long_integers_anywhere_are_located() -> None:
    text = GOOD + "error_policy:\n  retry_attempts: " + "7" * 5_000 + "\n"
    [(path, line, column, message)] = issues_of(text)
    assert (path, line, column) == ("error_policy.retry_attempts", 13, 19)
    assert "more than 100 digits" in message


def test_a_lone_surrogate_is_located() -> None:
    [(_, line, column, message)] = issues_of(GOOD.replace("done\n", "do\ud800ne\n", 1))
    assert (line, column) == (6, 13)
    assert "lone surrogate" in message


def test_aliases_repeating_long_text_are_an_error_not_an_answer_of_megabytes() -> None:
    long_text = "x" * 60_000
    text = f'big: &big "{long_text}"\n' + GOOD.replace(
        "    dest: done",
        "    dest: done\n    actions:\n      - name: log\n        params: {rows: ["
        + ", ".join(["*big"] * 100)
        + "]}",
    )
    assert len(text) < 70_000
    with pytest.raises(ConfigError, match="expands to more than 4,194,304 characters") as info:
        load_spec(text)
    assert (info.value.issues[0].line, info.value.issues[0].column) == (1, 6)  # the anchor


def test_json_text_within_limits() -> None:
    deep = '{"states": ' + "[" * 100_000 + "]" * 100_000 + "}"
    for text, words in [
        (deep, "nest more than"),
        ('{"states": [{"name": "a", "n": ' + "1" * 5_000 + "}]}", "more than 100 digits"),
    ]:
        with pytest.raises(ConfigError, match=words):
            load_spec(text)


@pytest.mark.parametrize("source", [None, 5, ["states"], object()])
def test_something_that_is_not_a_definition_is_a_config_error(source: object) -> None:
    with pytest.raises(ConfigError, match="a machine definition is YAML or JSON text"):
        StateMachine.from_dict(source)  # type: ignore[arg-type]


def test_a_dict_with_a_number_python_cannot_write_is_a_config_error() -> None:
    definition = {"states": [{"name": 10**5_000}, {"name": "b", "description": -(10**9_000)}]}
    with pytest.raises(ConfigError) as info:
        StateMachine.from_dict(definition)
    paths = sorted(issue.path for issue in info.value.issues)
    assert paths == ["states[0].name", "states[1].description"]
    assert all("more than 100 digits" in issue.message for issue in info.value.issues)


def test_a_history_default_must_lie_strictly_inside_its_parent() -> None:
    """The parent itself, or a state beside it, is not what its history stands for;
    a grandchild is (a deep history's default may sit at any depth)."""
    text = """\
states:
  - {name: off, type: initial}
  - {name: on, initial_child: mid}
  - {name: mid, parent: on, initial_child: leaf}
  - {name: leaf, parent: mid}
  - {name: other}
  - {name: memory, parent: on, type: history, history: deep, default: DEFAULT}
transitions:
  - {trigger: back, source: off, dest: memory}
  - {trigger: stop, source: [on, other], dest: off}
"""
    for outside in ("on", "other"):
        [(path, line, _column, message)] = issues_of(text.replace("DEFAULT", outside))
        assert (path, line) == ("states[5].default", 7)
        assert f"{outside!r}, is not inside 'on'" in message
    machine = StateMachine.from_yaml(text.replace("DEFAULT", "leaf"))
    step = machine.step(machine.start().snapshot, "back")
    assert step.snapshot.configuration == frozenset({"on", "mid", "leaf"})
