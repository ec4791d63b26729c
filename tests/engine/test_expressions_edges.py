"""Expression guards at their edges: the nesting limit per kind of node, exact messages,
``In()`` outside a machine, and the explanation's cut-offs.

Each test here kills mutants that survived ``scripts/mutation pystator/expressions.py``
(see docs/testing.md); they go through the public API of ``pystator.expressions``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import simpleeval

from pystator.expressions import (
    MAX_NESTING_DEPTH,
    MAX_SEQUENCE_LENGTH,
    CompiledExpression,
    ExpressionError,
    StateScope,
    bounded_multiply,
    compile_expression,
)

# Expressions nested exactly ``depth`` deep through one kind of node (the root is depth 1).
NESTED = {
    "list": lambda k: "[" * k + "1" + "]" * k,
    "boolean operation": lambda k: "a or (" * k + "a" + ")" * k,
    "comparison, right": lambda k: "a < (" * k + "a" + ")" * k,
    "comparison, left": lambda k: "(" * k + "a" + " < a)" * k,
    "subscript value": lambda k: "a" + "[0]" * k,
    "subscript index": lambda k: "a[" * k + "0" + "]" * k,
    "arithmetic, left": lambda k: "a" + " + a" * k,
    "arithmetic, right": lambda k: "a + (" * k + "a" + ")" * k,
    "call": lambda k: "abs(" * k + "1" + ")" * k,
}


@pytest.mark.parametrize("kind", NESTED)
def test_the_nesting_limit_counts_every_kind_of_node(kind: str) -> None:
    # k nested nodes put the innermost operand at depth k + 1
    compile_expression(NESTED[kind](MAX_NESTING_DEPTH - 1))
    with pytest.raises(ExpressionError, match=f"nested too deeply \\(limit {MAX_NESTING_DEPTH}\\)"):
        compile_expression(NESTED[kind](MAX_NESTING_DEPTH))


def test_the_too_deep_error_points_at_the_first_node_past_the_limit() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("[" * MAX_NESTING_DEPTH + "1" + "]" * MAX_NESTING_DEPTH)
    assert caught.value.column == MAX_NESTING_DEPTH + 1


@pytest.mark.parametrize(
    ("expr", "message", "column"),
    [
        ("open(1)", "the function 'open' is not allowed; allowed: abs, len, max, min, sum, In", 1),
        (
            "a.b(1)",
            "method calls are not allowed; allowed functions: abs, len, max, min, sum, In",
            1,
        ),
        ("abs(x=1)", "keyword arguments are not allowed", 7),
        ("2 ** n", "the exponent of '**' must be a number literal", 6),
        ("~a", "bitwise '~' is not allowed", 1),
        ("In('a', 'b')", "In() takes one state name, e.g. In('busy')", 1),
        ("In()", "In() takes one state name, e.g. In('busy')", 1),
        ("In(s='a')", "In() takes one state name, e.g. In('busy')", 1),
    ],
)
def test_refusals_say_exactly_what_is_allowed(expr: str, message: str, column: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(expr)
    assert caught.value.message == message
    assert caught.value.expression == expr
    assert caught.value.column == column


def test_an_error_without_a_place_or_text_is_just_its_message() -> None:
    error = ExpressionError("too long")
    assert str(error) == "too long" and error.column is None and error.expression == ""
    assert str(ExpressionError("bad", 3)) == "bad (column 3)"
    with pytest.raises(ExpressionError) as caught:
        compile_expression(42)  # type: ignore[arg-type]
    assert str(caught.value) == "an expression must be a string, not int"


@pytest.mark.parametrize(
    ("expr", "column"),
    [
        ("(a +\n b.c)", 2),  # a later line counts from its own start, no shift
        ("  (a +\n b.c)", 2),  # leading blanks shift the first line only
        ("(a +\n é + b.c)", 6),  # characters, not bytes, of the line the node is on
        ("  b.c", 3),
    ],
)
def test_columns_on_later_lines_are_of_that_line(expr: str, column: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(expr)
    assert caught.value.column == column


@pytest.mark.parametrize(
    ("expr", "refused"),
    [
        ("'ab' * -60000 == ''", False),  # a negative count builds nothing
        ("'ab' * +60000 == ''", True),
        ("'ab' * +30000 == ''", False),
        ("x * 200000 > 0", False),  # x is not a literal: decided when it runs
    ],
)
def test_literal_repetition_is_bounded_by_its_signed_count(expr: str, refused: bool) -> None:
    if refused:
        with pytest.raises(ExpressionError, match="longer than"):
            compile_expression(expr)
    else:
        compile_expression(expr)


def test_repetition_at_run_time_is_bounded_by_the_length_it_would_build() -> None:
    count = MAX_SEQUENCE_LENGTH // 2 + 1
    too_long = f"longer than {MAX_SEQUENCE_LENGTH} items"
    with pytest.raises(simpleeval.IterableTooLong, match=too_long):
        bounded_multiply(count, "ab")
    assert bounded_multiply(count - 1, "ab") == "ab" * (count - 1)


def test_uses_state_is_set_only_by_a_call_of_in() -> None:
    assert compile_expression("a > 1").uses_state is False
    assert compile_expression("In('busy') or a > 1").uses_state is True
    tree = ast.parse("a > 1", mode="eval").body
    assert CompiledExpression("a > 1", tree, ("a",)).uses_state is False


def test_a_state_scope_reads_the_context_and_knows_the_active_states() -> None:
    scope = StateScope({"qty": 2, "px": 1}, frozenset({"busy"}))
    assert scope["qty"] == 2 and list(scope) == ["qty", "px"] and len(scope) == 2
    expression = compile_expression("In('busy') and qty > 1")
    assert expression.evaluate_bool(scope) is True
    assert expression.evaluate(scope) == (True, "True and 2 > 1")
    assert compile_expression("In('idle')").evaluate(scope) == (False, "False")


def test_in_without_active_states_is_false_and_says_why() -> None:
    expression = compile_expression("In('busy')")
    assert expression.evaluate({}) == (
        False,
        "In() needs the active states: this context has none",
    )
    with pytest.raises(LookupError, match=r"^In\(\) needs the active states"):
        expression.value({})


def test_a_not_that_fails_stops_an_and_in_the_explanation() -> None:
    assert compile_expression("not a and b > 1").evaluate({"a": True, "b": 2}) == (
        False,
        "not True",
    )


@pytest.mark.parametrize(
    ("length", "shown"), [(58, "'" + "a" * 58 + "'"), (59, "'" + "a" * 56 + "...")]
)
def test_a_value_is_shown_in_at_most_60_characters(length: int, shown: str) -> None:
    passed, detail = compile_expression("s == 'x'").evaluate({"s": "a" * length})
    assert not passed and detail == f"{shown} == 'x'"


class _BareKeyError(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise KeyError

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_a_key_error_without_a_key_is_still_explained() -> None:
    assert compile_expression("d['k'] == 1").evaluate({"d": _BareKeyError()}) == (
        False,
        "key None is missing",
    )


def test_explanations_call_the_allowed_functions() -> None:
    assert compile_expression("abs(x) > 1").evaluate({"x": -3}) == (True, "3 > 1")


def test_expressions_compare_by_text_and_never_equal_other_things() -> None:
    first = compile_expression("x > 1")
    assert first == compile_expression(" x > 1 ") and first != "x > 1"
    assert len({hash(compile_expression(f"x > {i}")) for i in range(10)}) == 10


def test_a_negative_exponent_is_bounded_by_its_magnitude() -> None:
    assert compile_expression("x ** -60 > 0").evaluate_bool({"x": 2}) is True
    with pytest.raises(ExpressionError, match="at most 100"):
        compile_expression("x ** -101 > 0")
