"""Mutation survivors of ``pystator/config/source.py``, ``schema.py`` and ``loader.py``.

Source: every refusal names the document it came from, with its exact message, line and
column; the byte limit is "more than", for text, bytes and files; text YAML's reader refuses
but JSON reads (a DEL character) comes back with no locations, and its JSON error is located;
``read_source`` raises the issues found while reading. Loader: how a wrong value is shown
(``_describe``/``_written``, at the 60-character and 300-bit edges), the accepted keys of a
nested model, which findings the best-effort spec drops, and how over-long integers in dict
input are left out. The tests at the end pin bugs found on the way, fixed since.
"""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from pystator.config import load_spec
from pystator.config import source as source_module
from pystator.config.source import read_document, read_source
from pystator.errors import ConfigError, Issue

NAME = "m.yaml"


def refusal(source: str | bytes | Path, **options: Any) -> tuple[Issue, ...]:
    with pytest.raises(ConfigError) as caught:
        read_document(source, **options)
    return caught.value.issues


def problems(source: Any, **options: Any) -> list[Issue]:
    with pytest.raises(ConfigError) as caught:
        load_spec(source, **options)
    return list(caught.value.issues)


def schema(message: str, path: str, line: int, column: int) -> Issue:
    return Issue(message, path, line, column, "schema", source=NAME)


# ------------------------------------------------------- source: refusals, located and named


@pytest.mark.parametrize(
    ("source", "options", "message", "line", "column", "code"),
    [
        (
            b"a: 1\n",
            {"max_bytes": 4},
            "the document is 5 bytes; the limit is 4 bytes",
            None,
            None,
            "too-large",
        ),
        (b"a: \x00", {}, "this is a binary file, not YAML or JSON text", None, None, "binary"),
        (b"a: \xff", {}, "the file is not UTF-8 text (byte 3)", None, None, "encoding"),
        (
            "a: \x7f",
            {},
            "cannot parse: the document is not valid JSON: Expecting value",
            1,
            1,
            "yaml",
        ),
        (
            '{"a": 1,}\x7f',
            {},
            "cannot parse: the document is not valid JSON: "
            "Expecting property name enclosed in double quotes",
            1,
            9,
            "yaml",
        ),
        (
            "a: [",
            {},
            "YAML syntax error: did not find expected node content (while parsing a flow node)",
            2,
            1,
            "yaml",
        ),
        (
            "a: b: c",
            {},
            "YAML syntax error: mapping values are not allowed in this context",
            1,
            5,
            "yaml",
        ),
        ("a: *x", {}, "YAML syntax error: found undefined alias", 1, 4, "yaml"),
    ],
    ids=[
        "too-long",
        "binary",
        "not-utf8",
        "json-refused",
        "json-comma",
        "context",
        "problem-only",
        "alias",
    ],
)
def test_a_refusal_names_the_document_with_its_exact_message_and_place(
    source: str | bytes,
    options: dict[str, int],
    message: str,
    line: int | None,
    column: int | None,
    code: str,
) -> None:
    assert refusal(source, source_name=NAME, **options) == (
        Issue(message, "", line, column, code, source=NAME),
    )


@pytest.mark.parametrize(
    ("source", "options", "message", "line", "column", "code"),
    [
        (
            "a: " + "x" * 20,
            {"max_bytes": 20},
            "the document is 23 bytes; the limit is 20 bytes",
            None,
            None,
            "too-large",
        ),
        (
            "a: \x00",
            {},
            "the text contains NUL characters: it is not YAML or JSON",
            None,
            None,
            "binary",
        ),
        (
            "a: 1\nb: x\ud800",
            {},
            "the text contains a lone surrogate (\\ud800), which is not a character",
            2,
            5,
            "encoding",
        ),
        (
            "\nx\udfff\n\n",
            {},
            "the text contains a lone surrogate (\\udfff), which is not a character",
            2,
            2,
            "encoding",
        ),
        (
            "a: 1\nb: " + "[" * 201,
            {},
            "brackets nest more than 200 levels deep here; no machine needs that",
            2,
            None,
            "too-deep",
        ),
        (
            "a: 1\nb:\n" + " " * 1001 + "c: 1\n",
            {},
            "this line is indented more than 1000 columns deep; no machine needs that",
            3,
            1,
            "too-deep",
        ),
        (
            "# only a comment\n",
            {},
            "the document is empty: a machine needs 'states'",
            1,
            1,
            "empty",
        ),
        (
            5,
            {},
            "a machine definition is YAML or JSON text, a file path, bytes or a mapping, not int",
            None,
            None,
            "shape",
        ),
    ],
    ids=[
        "text-too-long",
        "nul",
        "surrogate",
        "surrogate-newline-first",
        "brackets",
        "indent",
        "empty",
        "not-a-source",
    ],
)
def test_text_refused_before_yaml_reads_it_names_the_document(
    source: Any,
    options: dict[str, int],
    message: str,
    line: int | None,
    column: int | None,
    code: str,
) -> None:
    assert refusal(source, source_name=NAME, **options) == (
        Issue(message, "", line, column, code, source=NAME),
    )


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("- " * 501 + "a", "this line is indented more than 1000 columns deep", 1),
        ("{a: " * 201, "brackets nest more than 200 levels deep here", 1),
        # a closed pair takes back exactly one level
        ("[" * 150 + "[]" + "[" * 51, "brackets nest more than 200 levels deep here", 1),
        # closing brackets with none open (here inside a string) do not earn deeper nesting
        (
            "a: '" + "]" * 10 + "'\nb: " + "[" * 201,
            "brackets nest more than 200 levels deep here",
            2,
        ),
        # the line counts the newlines before the place, none after it, the first one too
        ("\nb: " + "[" * 201 + "\n\nc: 1\n", "brackets nest more than 200 levels deep here", 2),
        (
            "\nb:\n" + " " * 1001 + "c: 1\n\nd: 1\n",
            "this line is indented more than 1000 columns deep",
            3,
        ),
    ],
    ids=[
        "dashes",
        "braces",
        "pair-closed",
        "closers-first",
        "brackets-newline-first",
        "indent-newline-first",
    ],
)
def test_deep_nesting_of_every_kind_is_refused_on_its_line(
    text: str, message: str, line: int
) -> None:
    (issue,) = refusal(text)
    assert (issue.message, issue.line, issue.code) == (
        f"{message}; no machine needs that",
        line,
        "too-deep",
    )


def test_nesting_and_indentation_at_their_limits_are_read() -> None:
    assert len(read_document("a: [" + "[], " * 300 + "[]]").data["a"]) == 301
    assert read_document("[" * 200 + "]" * 200).data is not None
    assert read_document("a:\n" + " " * 1000 + "b: 1\n").data == {"a": {"b": 1}}
    assert read_document("a: " + "x" * 17, max_bytes=20).data == {"a": "x" * 17}


def test_a_mapping_is_taken_as_it_is_under_the_given_name() -> None:
    document = read_document({"a": 1}, source_name=NAME)
    assert (document.data, document.locations, document.source_name, document.issues) == (
        {"a": 1},
        {},
        NAME,
        [],
    )


def test_every_key_value_and_item_is_located_and_scalars_keep_yaml_12_meanings() -> None:
    text = (
        "a:\n  b: [1, {c: x}]\n  d: yes\n"
        "t: [true, False, TRUE, no, ~, 0x1F, 1_000, 1.5, .inf, 2001-01-01, '7']\n"
    )
    document = read_document(text)
    assert document.data == {
        "a": {"b": [1, {"c": "x"}], "d": "yes"},
        "t": [True, False, True, "no", None, 31, 1000, 1.5, float("inf"), "2001-01-01", "7"],
    }
    words = "[true, True, TRUE, false, False, FALSE, yes, no, on, off, y, n]"
    assert read_document(f"w: {words}").data["w"] == [True] * 3 + [False] * 3 + [
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
    ]
    # 100 digits is a number, whatever its sign and underscores
    numbers = read_document("n: [-" + "1" * 50 + "_" + "1" * 50 + ", +" + "2" * 100 + "]")
    assert (numbers.data["n"], numbers.issues) == ([-int("1" * 100), int("2" * 100)], [])
    where = {path: (at.line, at.column) for path, at in document.locations.items()}
    assert where == {
        "": (1, 1),
        "a": (1, 1),
        "a#value": (2, 3),
        "a.b": (2, 3),
        "a.b#value": (2, 6),
        "a.b[0]": (2, 7),
        "a.b[1]": (2, 10),
        "a.b[1].c": (2, 11),
        "a.b[1].c#value": (2, 14),
        "a.d": (3, 3),
        "a.d#value": (3, 6),
        "t": (4, 1),
        "t#value": (4, 4),
        **{f"t[{i}]": (4, c) for i, c in enumerate([5, 11, 18, 24, 28, 31, 37, 44, 49, 55, 67])},
    }


def test_bytes_exactly_at_the_limit_are_read() -> None:
    assert read_document(b"a: 1\n", max_bytes=5).data == {"a": 1}


def test_a_file_over_the_limit_is_refused_under_its_path_and_one_at_it_is_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes(b"a: 1\n")
    assert refusal(path, max_bytes=4) == (
        Issue(
            "the document is 5 bytes; the limit is 4 bytes",
            "",
            None,
            None,
            "too-large",
            source=str(path),
        ),
    )
    assert read_document(path, max_bytes=5).data == {"a": 1}


def test_a_missing_file_says_why_in_words_under_its_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert refusal(path, source_name="given") == (
        Issue("cannot read given: No such file or directory", "", None, None, "io", source="given"),
    )
    assert refusal(path) == (
        Issue(
            f"cannot read {path}: No such file or directory", "", None, None, "io", source=str(path)
        ),
    )


def test_problems_that_leave_data_are_returned_each_with_its_code_and_place() -> None:
    text = "a: !state x\nb: !!binary aGk=\n<<: {c: 1}\nd: 1\nd: 2\nn: 1" + "0" * 100 + "\n"
    document = read_document(text, source_name=NAME)
    assert document.data == {"a": "x", "b": "aGk=", "d": 1, "n": "1" + "0" * 100}
    untagged = "are not supported: write the value without a tag"
    assert document.issues == [
        Issue(f"tags such as '!state' {untagged}", "a", 1, 4, "yaml-tag", source=NAME),
        Issue(f"tags such as '!!binary' {untagged}", "b", 2, 4, "yaml-tag", source=NAME),
        Issue("merge keys ('<<') are not supported", "", 3, 1, "yaml", source=NAME),
        Issue("duplicate key 'd' (first at line 4)", "d", 5, 1, "duplicate-key", source=NAME),
        Issue(
            "this number has more than 100 digits; no machine needs that",
            "n",
            6,
            4,
            "too-large",
            source=NAME,
        ),
    ]


def test_a_key_that_is_not_text_becomes_text_and_a_tagged_key_is_reported_at_its_mapping() -> None:
    document = read_document("m:\n  !x k: v\n  1: a\n  true: b\n  ~: c\n", source_name=NAME)
    assert document.data == {"m": {"k": "v", "1": "a", "True": "b", "None": "c"}}
    assert document.issues == [
        Issue(
            "tags such as '!x' are not supported: write the value without a tag",
            "m",
            2,
            3,
            "yaml-tag",
            source=NAME,
        )
    ]


def test_read_source_raises_what_reading_found_under_the_given_name() -> None:
    with pytest.raises(ConfigError) as caught:
        read_source("a: 1\na: 2\n", source_name=NAME)
    assert caught.value.issues == (
        Issue("duplicate key 'a' (first at line 1)", "a", 2, 1, "duplicate-key", source=NAME),
    )
    with pytest.raises(ConfigError) as caught:
        read_source("a: [", source_name=NAME)
    assert [issue.source for issue in caught.value.issues] == [NAME]


# ------------------------------------------------- source: counting nodes and characters


def test_the_node_limit_is_more_than_max_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source_module, "MAX_NODES", 10)
    assert read_document("[" + "0, " * 8 + "0]").data == [0] * 9  # a list and 9 items
    assert refusal("[" + "0, " * 9 + "0]", source_name=NAME) == (
        Issue(
            "the document expands to more than 10 nodes (aliases repeated too often?)",
            "",
            1,
            29,
            "too-large",
            source=NAME,
        ),
    )


def test_aliases_may_repeat_text_up_to_exactly_four_times_the_byte_limit() -> None:
    # 8 items of 49 characters, each counted with one more: 400 characters for 100 bytes.
    text = "[&a " + "x" * 49 + ", *a" * 7 + "]"
    assert read_document(text, max_bytes=100).data == ["x" * 49] * 8
    one_more = "[&a " + "x" * 50 + ", *a" * 7 + "]"  # 408 characters
    assert refusal(one_more, max_bytes=100, source_name=NAME) == (
        Issue(
            "the document expands to more than 400 characters (aliases repeated too often?)",
            "",
            1,
            2,
            "too-large",
            source=NAME,
        ),
    )


def test_a_plain_merge_marker_as_a_value_is_text_not_a_tag() -> None:
    document = read_document("a: <<\n")
    assert (document.data, document.issues) == ({"a": "<<"}, [])


# ------------------------------------------------------------- source: the JSON fallback


def test_json_that_yaml_refuses_is_read_by_json_with_no_locations() -> None:
    document = read_document('{"states": [{"name": "a\x7f"}]}', source_name="m.json")
    assert (document.data, document.locations, document.source_name, document.issues) == (
        {"states": [{"name": "a\x7f"}]},
        {},
        "m.json",
        [],
    )


def test_the_json_fallback_reads_as_much_text_as_the_byte_limit_allows() -> None:
    text = '{"meta": {"description": "\x7f' + "x" * 2_000_000 + '"}}'
    document = read_document(text, max_bytes=3_000_000)
    assert len(document.data["meta"]["description"]) == 2_000_001


# ------------------------------------------------------------------ schema: expressions


def test_a_bad_action_expression_is_quoted_in_its_schema_issue() -> None:
    text = 'states:\n  - name: a\n    on_enter: [{assign: x, expr: "1 +"}]\n'
    assert problems(text, source_name=NAME) == [
        schema("expression '1 +': invalid syntax (column 4)", "states[0].on_enter[0]", 3, 16)
    ]


def test_a_transition_trigger_problem_is_said_in_full() -> None:
    text = (
        "states: [{name: a}]\n"
        'transitions: [{source: a, dest: a}, {trigger: "after:x", source: a, dest: a}]\n'
    )
    assert problems(text, source_name=NAME) == [
        schema(
            "a transition needs a 'trigger'"
            " (only delayed transitions with 'after' may leave it out)",
            "transitions[0]",
            2,
            15,
        ),
        schema(
            "trigger names starting with 'after:' or 'timeout:' are reserved for timers",
            "transitions[1]",
            2,
            37,
        ),
    ]


# --------------------------------------------------------- loader: how a wrong value is shown


def test_a_wrong_type_names_what_was_written() -> None:
    text = "states: [{name: true}, {name: {a: 1}}, {name: null}]\ntransitions: abc\nmeta: [1]\n"
    assert problems(text, source_name=NAME) == [
        schema("expected text, got a boolean", "states[0].name", 1, 11),
        schema("expected text, got a mapping", "states[1].name", 1, 25),
        schema("expected text, got nothing", "states[2].name", 1, 41),
        schema("expected a list, got text", "transitions", 2, 1),
        schema("expected a mapping, got a list", "meta", 3, 1),
    ]


def test_a_value_of_another_python_type_is_named_by_its_type() -> None:
    (issue,) = problems({"states": [{"name": {1, 2}}]})
    assert issue.message == "expected text, got set"


TYPES = "(use one of 'initial', 'stable', 'terminal', 'error', 'parallel', 'final' or 'history')"


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("stabel", "'stabel' is not allowed here: did you mean 'stable'?"),
        ("[1]", "a list is not allowed here"),
        ("x" * 58, f"'{'x' * 58}' is not allowed here"),
        ("x" * 59, f"'{'x' * 56}...' is not allowed here"),
        (str(2**299), "a number is not allowed here"),
        (str(2**300), "a number of more than 90 digits is not allowed here"),
    ],
    ids=["short", "list", "60-chars", "61-chars", "300-bits", "301-bits"],
)
def test_a_value_not_allowed_is_shown_short(written: str, shown: str) -> None:
    text = f"states: [{{name: a, type: {written}}}]\n"
    assert problems(text, source_name=NAME) == [schema(f"{shown} {TYPES}", "states[0].type", 1, 20)]


# --------------------------------------------------------- loader: the keys a model accepts


def test_an_unknown_key_in_a_listed_model_lists_that_models_keys() -> None:
    text = (
        "states: [{name: a}]\n"
        "transitions: [{trigger: go, source: a, dest: a, guards: [{name: g, bogus: 1}]}]\n"
    )
    assert problems(text, source_name=NAME) == [
        schema(
            "unknown key 'bogus' (accepted keys: name, expr)",
            "transitions[0].guards[0].bogus",
            2,
            68,
        )
    ]


# An action under an aliased key (elif), and one and two optional lists deep (then).
NESTED = {
    "elif": (
        "states:\n- name: a\n  on_enter:\n  - if: x\n    then:\n    - {log: hi}\n"
        "    elif:\n    - {if: y, bogus: 1}\n",
        "states[0].on_enter[0].elif[0].bogus",
        (8, 15),
    ),
    "then": (
        "states:\n- name: a\n  on_enter:\n  - if: x\n    then:\n    - {log: hi, bogus: 1}\n",
        "states[0].on_enter[0].then[0].bogus",
        (6, 17),
    ),
    "then-then": (
        "states:\n- name: a\n  on_enter:\n  - if: x\n    then:\n    - if: y\n"
        "      then:\n      - {log: hi, bogus: 1}\n",
        "states[0].on_enter[0].then[0].then[0].bogus",
        (8, 19),
    ),
}


@pytest.mark.parametrize("case", sorted(NESTED))
def test_an_unknown_key_in_a_nested_action_is_still_reported_in_place(case: str) -> None:
    text, path, (line, column) = NESTED[case]
    (issue,) = problems(text, source_name=NAME)
    assert (issue.path, issue.line, issue.column, issue.code) == (path, line, column, "schema")
    assert issue.message.startswith("unknown key 'bogus'")


# ------------------------------------------------- loader: what the best-effort spec drops


def test_a_state_that_lost_a_key_does_not_echo_the_loss() -> None:
    # p lost 'description'; that it has a child but no initial_child is not reported.
    text = "states: [{name: p, description: [1]}, {name: c, parent: p}]\n"
    assert problems(text, source_name=NAME) == [
        schema("expected text, got a list", "states[0].description", 1, 20)
    ]


def test_a_state_with_a_placeholder_name_is_not_checked_further() -> None:
    text = "states: [{name: [x], parent: nope}]\n"
    assert problems(text, source_name=NAME) == [
        schema("expected text, got a list", "states[0].name", 1, 11)
    ]


def test_a_delayed_transition_from_two_sources_still_lets_the_others_be_checked() -> None:
    text = (
        "states: [{name: a}, {name: b}]\n"
        "transitions: [{after: 5, source: [a, b], dest: a},"
        " {trigger: x, source: a, dest: nowhere}]\n"
    )
    assert problems(text, source_name=NAME) == [
        schema(
            "a delayed transition without a trigger must have exactly one source state",
            "transitions[0]",
            2,
            15,
        ),
        Issue(
            "dest 'nowhere' is not a state",
            "transitions[1].dest",
            2,
            76,
            "unknown-state",
            source=NAME,
        ),
    ]


# --------------------------------------------- loader: integers too long for dict input


def test_dict_input_with_a_huge_integer_reports_each_one_over_100_digits_and_leaves_it_out() -> (
    None
):
    data = {
        "states": [
            {"name": "a", "parent": 10**5000, "metadata": {"x": 10**100, "y": 10**100 - 1}},
        ],
        "transitions": [{"trigger": "go", "source": "a", "dest": "a", "after": 1500}],
    }
    message = "this number has more than 100 digits; no machine needs that"
    assert problems(data) == [
        Issue(message, "states[0].parent", None, None, "too-large"),
        Issue(message, "states[0].metadata.x", None, None, "too-large"),
    ]


# ------------------------------------------------------- bugs found on the way (fixed)


@pytest.mark.parametrize("item", ["{}", "x"])
def test_an_unusable_transition_item_does_not_hide_the_checks_of_the_others(item: str) -> None:
    text = (
        f"states: [{{name: a}}]\ntransitions: [{item}, {{trigger: go, source: a, dest: nowhere}}]\n"
    )
    assert "dest 'nowhere' is not a state" in [issue.message for issue in problems(text)]


def test_a_state_refused_as_a_whole_is_still_a_parent() -> None:
    text = "states: [{name: p, default: x}, {name: c, parent: p}]\n"
    assert problems(text, source_name=NAME) == [
        schema(
            "'history', 'default' and 'default_actions' belong to a state of type history",
            "states[0]",
            1,
            10,
        )
    ]


@pytest.mark.parametrize("case", sorted(NESTED))
def test_an_unknown_key_in_a_nested_action_lists_the_accepted_keys(case: str) -> None:
    (issue,) = problems(NESTED[case][0], source_name=NAME)
    assert "(accepted keys: " in issue.message


def test_a_misspelt_action_key_suggests_the_key_to_write() -> None:
    (issue,) = problems("states:\n- name: a\n  on_enter:\n  - {raize: go}\n")
    assert issue.message.startswith("unknown key 'raize': did you mean 'raise'?")
    assert "'if_'" not in issue.message and ", if," in issue.message


class _Hung(Exception):
    pass


def _hung(signum: int, frame: FrameType | None) -> None:
    raise _Hung


def test_a_cyclic_dict_with_a_huge_integer_is_refused_not_hung() -> None:
    state: dict[str, Any] = {"name": "a", "parent": 10**5000}
    state["metadata"] = {"self": state}
    previous = signal.signal(signal.SIGALRM, _hung)
    signal.setitimer(signal.ITIMER_REAL, 5.0)  # a hang fails, not hangs, the suite
    try:
        issues = problems({"states": [state]})
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert [issue.path for issue in issues] == ["states[0].parent"]


def test_text_is_held_to_the_byte_limit_in_utf8_bytes() -> None:
    assert refusal("a: " + "é" * 10, max_bytes=20) == (
        Issue("the document is 23 bytes; the limit is 20 bytes", "", None, None, "too-large"),
    )
