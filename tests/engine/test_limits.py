"""JSON from outside, within limits: every hostile shape is a located JsonInputError."""

from __future__ import annotations

import json

import pytest

from pystator.errors import PystatorError
from pystator.limits import (
    MAX_INT_DIGITS,
    MAX_JSON_DEPTH,
    JsonInputError,
    check_json_value,
    load_json,
    long_number,
)


def refused(text: str | bytes, **options: object) -> JsonInputError:
    with pytest.raises(JsonInputError) as caught:
        load_json(text, "the context", **options)  # type: ignore[arg-type]
    assert isinstance(caught.value, PystatorError) and isinstance(caught.value, ValueError)
    assert str(caught.value).startswith("the context ")
    return caught.value


def test_plain_json_loads() -> None:
    value = {"a": [1, 2.5, "x", True, None], "n": 10**MAX_INT_DIGITS - 1, "ü": "ok"}
    assert load_json(json.dumps(value)) == value


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5_000, 100_000])
def test_deep_nesting_is_refused_with_its_place(depth: int) -> None:
    error = refused("[" * depth + "]" * depth)
    assert f"more than {MAX_JSON_DEPTH} levels" in str(error)
    assert (error.line, error.column) == (1, MAX_JSON_DEPTH + 1)


def test_deep_nesting_inside_an_object_is_refused_too() -> None:
    text = '{"a": {"b": ' + '{"c": ' * 100 + "1" + "}" * 100 + "}}"
    assert "levels" in str(refused(text))


def test_the_limit_depth_itself_loads() -> None:
    assert load_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None


@pytest.mark.parametrize("digits", [MAX_INT_DIGITS + 1, 4_301, 5_000])
def test_long_integers_are_refused_with_their_place(digits: int) -> None:
    error = refused('{"qty":\n  -' + "7" * digits + "}")
    assert f"more than {MAX_INT_DIGITS} digits" in str(error)
    assert (error.line, error.column) == (2, 3)


def test_digits_inside_strings_are_text() -> None:
    assert load_json(json.dumps({"id": "9" * 5_000})) == {"id": "9" * 5_000}


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"x": -Infinity}', "[1e999]"])
def test_numbers_json_cannot_write_are_refused(text: str) -> None:
    assert "too large for JSON" in str(refused(text))


@pytest.mark.parametrize("escape", ["\\ud800", "\\udfff", "\\ud800x", "\\udc00\\ud800"])
def test_lone_surrogates_are_refused_with_their_path(escape: str) -> None:
    error = refused('{"a": [1, "' + escape + '"]}')
    assert "lone surrogate" in str(error) and error.path == "a[1]"


def test_lone_surrogates_in_keys_are_refused() -> None:
    assert "lone surrogate" in str(refused('{"\\ud83d": 1}'))


def test_a_surrogate_pair_is_a_character() -> None:
    assert load_json('"\\ud83d\\ude00"') == "\U0001f600"


def test_size_malformed_text_and_bytes() -> None:
    assert "too large" in str(refused("[" + "1," * 10 + "1]", max_chars=10))
    error = refused('{"a": 1,}')
    assert "not valid JSON" in str(error) and error.line == 1
    assert "not UTF-8" in str(refused(b'{"a": "\xff"}'))
    assert load_json(b'{"a": 1}') == {"a": 1}


def test_parsed_values_are_checked_by_the_same_rules() -> None:
    deep: list[object] = []
    for _ in range(MAX_JSON_DEPTH + 5):
        deep = [deep]
    cases = [
        (deep, "levels"),
        ({"n": 10**MAX_INT_DIGITS}, "digits"),
        ({"x": float("nan")}, "cannot hold"),
        ({"s": "\ud800"}, "lone surrogate"),
        ({"f": {1, 2}}, "plain JSON data"),
        ({1: "x"}, "key that is not text"),
    ]
    for value, words in cases:
        with pytest.raises(JsonInputError, match=words):
            check_json_value(value, "the payload")
    check_json_value({"ok": [1, -(10**MAX_INT_DIGITS - 1), 0.5, "é", None, False]})


def test_a_parsed_value_nested_far_deeper_than_python_recursion() -> None:
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(JsonInputError, match="levels"):
        check_json_value(deep)


def test_long_number_finds_digit_runs() -> None:
    assert long_number("jump:" + "1" * (MAX_INT_DIGITS + 1))
    assert not long_number("jump:" + "1" * MAX_INT_DIGITS)
