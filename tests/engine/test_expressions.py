"""Inline ``expr`` guards: what compiles, what is refused at load, and how outcomes read."""

from __future__ import annotations

import ast
from typing import Any

import pytest
import simpleeval
from hypothesis import given, settings
from hypothesis import strategies as st

from pystator.expressions import (
    MAX_EXPRESSION_LENGTH,
    MAX_NESTING_DEPTH,
    MAX_SEQUENCE_LENGTH,
    CompiledExpression,
    ExpressionError,
    compile_expression,
)

README_CONTEXT = {
    "qty": 100,
    "filled": 50,
    "price": 10.5,
    "status": "active",
    "item": "b",
    "items": ["a", "b"],
    "is_cancelled": False,
    "positions": [1, 2, 3],
    "max_positions": 5,
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("qty > 0", True),
        ("filled < qty", True),
        ("price * qty < 2000", True),
        ("price * qty < 1000", False),
        ("status == 'active'", True),
        ("item in items", True),
        ("'z' not in items", True),
        ("not is_cancelled", True),
        ("len(positions) < max_positions", True),
        ("max(positions) == 3 and min(positions) == 1", True),
        ("sum(positions) == 6 and abs(-qty) == qty", True),
        ("0 < filled < qty", True),
        ("0 < qty < filled", False),
        ("qty // 3 == 33 and qty % 3 == 1 and qty / 4 == 25.0", True),
        ("qty - filled == filled", True),
        ("-filled + 100 == +50", True),
        ("positions[0] == 1 and items[-1] == 'b'", True),
        ("status in ('active', 'open')", True),
        ("status in ['closed']", False),
        ("qty in {100, 200}", True),
        ("filled ** 2 == 2500", True),
        ("is_cancelled is False and item is not None", True),
        ("is_cancelled or qty", True),
        ("True and not None", True),
    ],
)
def test_expressions_evaluate_like_python(expr: str, expected: bool) -> None:
    compiled = compile_expression(expr)
    assert compiled.evaluate_bool(README_CONTEXT) is expected
    assert compiled(README_CONTEXT) is expected
    assert compiled.evaluate(README_CONTEXT)[0] is expected


def test_mapping_subscript_reads_nested_values() -> None:
    compiled = compile_expression("order['qty'] >= 10 and order['legs'][1] == 'b'")
    assert compiled.evaluate_bool({"order": {"qty": 12, "legs": ["a", "b"]}})
    assert not compiled.evaluate_bool({"order": {"qty": 9, "legs": ["a", "b"]}})


@pytest.mark.parametrize(
    ("expr", "context", "detail"),
    [
        ("fill_qty >= order_qty", {"fill_qty": 80, "order_qty": 100}, "80 >= 100"),
        ("fill_qty >= order_qty", {"fill_qty": 100, "order_qty": 100}, "100 >= 100"),
        ("price > 0 and symbol != ''", {"price": 5, "symbol": ""}, "5 > 0 and '' != ''"),
        ("price > 0 and symbol != ''", {"price": 0, "symbol": "X"}, "0 > 0"),
        ("a > 1 or b > 1", {"a": 2, "b": 0}, "2 > 1"),
        ("a > 1 or (b > 1 and c)", {"a": 0, "b": 2, "c": 0}, "0 > 1 or (2 > 1 and 0)"),
        ("not is_cancelled", {"is_cancelled": True}, "not True"),
        ("not (a == b)", {"a": 1, "b": 1}, "not (1 == 1)"),
        ("len(positions) < max_positions", {"positions": [1, 2], "max_positions": 2}, "2 < 2"),
        ("status in ('a', 'b')", {"status": "c"}, "'c' in ('a', 'b')"),
        ("0 < x < 10", {"x": 12}, "0 < 12 < 10"),
        ("0 < x < 10", {"x": -1}, "0 < -1"),
        ("flag", {"flag": 0}, "0"),
    ],
)
def test_detail_shows_the_values_that_decided(
    expr: str, context: dict[str, Any], detail: str
) -> None:
    passed, text = compile_expression(expr).evaluate(context)
    assert text == detail
    assert passed is compile_expression(expr).evaluate_bool(context)


def test_long_values_are_shortened_in_the_detail() -> None:
    _, detail = compile_expression("x == 1").evaluate({"x": "y" * 200})
    assert detail.endswith("... == 1")
    assert len(detail) < 80


@pytest.mark.parametrize(
    ("expr", "context", "detail"),
    [
        ("fill_qty >= order_qty", {"order_qty": 100}, "name 'fill_qty' is not in the context"),
        (
            "fill_qty >= order_qty",
            {"fill_qty": "80", "order_qty": 100},
            "'>=' not supported between 'str' and 'int'",
        ),
        ("a / b > 1", {"a": 1, "b": 0}, "division by zero"),
        ("a % b > 1", {"a": 1, "b": 0}, "modulo by zero"),
        ("order['qty'] > 1", {"order": {}}, "key 'qty' is missing"),
        ("items[5] == 1", {"items": [1]}, "list index out of range"),
        ("len(n) > 1", {"n": 5}, "object of type 'int' has no len()"),
        ("a + b == 1", {"a": 1, "b": "x"}, "unsupported operand type(s) for +: 'int' and 'str'"),
        ("s * n == ''", {"s": "ab", "n": 10**9}, f"longer than {MAX_SEQUENCE_LENGTH} items"),
        ("n * s == ''", {"s": ["ab"], "n": 10**9}, f"longer than {MAX_SEQUENCE_LENGTH} items"),
        ("open == 1", {}, "name 'open' is not in the context"),
    ],
)
def test_runtime_failures_count_as_false_and_say_why(
    expr: str, context: dict[str, Any], detail: str
) -> None:
    compiled = compile_expression(expr)
    assert compiled.evaluate_bool(context) is False
    passed, text = compiled.evaluate(context)
    assert passed is False
    assert detail in text


def test_objects_that_raise_in_comparison_or_truth_count_as_false() -> None:
    class Hostile:
        def __ge__(self, other: object) -> bool:
            raise RuntimeError("boom")

        def __bool__(self) -> bool:
            raise RuntimeError("no truth")

    assert compile_expression("x >= 1").evaluate_bool({"x": Hostile()}) is False
    assert compile_expression("x").evaluate_bool({"x": Hostile()}) is False
    passed, detail = compile_expression("x >= 1").evaluate({"x": Hostile()})
    assert (passed, detail) == (False, "RuntimeError: boom")


def test_none_context_is_an_empty_context() -> None:
    assert compile_expression("a == 1").evaluate(None) == (
        False,
        "name 'a' is not in the context",
    )


def test_names_lists_context_names_in_order_without_functions() -> None:
    compiled = compile_expression("len(positions) < limit and positions[0] > limit or flag")
    assert compiled.names == ("positions", "limit", "flag")
    assert compile_expression("1 < 2").names == ()


def test_builtins_are_unreachable_and_functions_are_not_context_names() -> None:
    # The context cannot replace an allowed function, and a builtin name is just a name.
    compiled = compile_expression("len(x) == 2")
    assert compiled.evaluate_bool({"x": [1, 2], "len": lambda _: 99})
    assert compile_expression("print").evaluate({}) == (
        False,
        "name 'print' is not in the context",
    )


def test_surrounding_whitespace_is_ignored() -> None:
    compiled = compile_expression("  \n qty > 1 \n")
    assert compiled.source == "qty > 1"
    assert compiled.evaluate_bool({"qty": 2})
    assert compiled == compile_expression("qty > 1")
    assert hash(compiled) == hash(compile_expression("qty > 1"))
    assert "qty > 1" in repr(compiled)
    assert isinstance(compiled, CompiledExpression)


REJECTED = [
    # (expression, fragment of the message, expected column or None)
    ("a >", "invalid syntax", 4),
    ("a = 1", "invalid syntax", None),
    ("x.__class__", "attribute access", 1),
    ("a.b", "attribute access", 1),
    ("(1).real", "attribute access", 1),
    ("x.copy()", "method calls are not allowed", 1),
    ("__import__('os')", "'__import__' is not allowed", 1),
    ("a and __builtins__", "names may not start with '__'", 7),
    ("__class__", "names may not start with '__'", 1),
    ("open('f')", "the function 'open' is not allowed", 1),
    ("eval('1')", "the function 'eval' is not allowed", 1),
    ("getattr(a, 'b')", "the function 'getattr' is not allowed", 1),
    ("a(1)", "the function 'a' is not allowed", 1),
    ("len", "'len' is a function", 1),
    ("x == max", "'max' is a function", 6),
    ("(lambda: 1)()", "only these functions may be called", 2),
    ("lambda: 1", "lambda is not allowed", 1),
    ("[x for x in items]", "comprehensions are not allowed", 1),
    ("{x for x in items}", "comprehensions are not allowed", 1),
    ("{k: 1 for k in items}", "comprehensions are not allowed", 1),
    ("any(x for x in items)", "the function 'any' is not allowed", 1),
    ("sum(x for x in items)", "generator expressions are not allowed", 4),
    ("{'a': 1}", "dict literals are not allowed", 1),
    ("items[1:2]", "slices are not allowed", 7),
    ("a if b else c", "conditional expressions", 1),
    ("(y := 1)", "assignment (:=) is not allowed", 2),
    ("f'{a}'", "f-strings are not allowed", 1),
    ("b'x' == a", "the literal b'x' is not allowed", 1),
    ("1j == a", "the literal 1j is not allowed", 1),
    ("... == a", "the literal Ellipsis is not allowed", 1),
    ("a & b", "the operator '&' is not allowed", 1),
    ("a | b", "the operator '|' is not allowed", 1),
    ("a ^ b", "the operator '^' is not allowed", 1),
    ("a << 1000000", "the operator '<<' is not allowed", 1),
    ("a >> 1", "the operator '>>' is not allowed", 1),
    ("a @ b", "the operator '@' is not allowed", 1),
    ("~a", "bitwise '~' is not allowed", 1),
    ("max(a, key=b)", "keyword arguments are not allowed", 12),
    ("max(*a)", "star-unpacking is not allowed", 5),
    ("[*a]", "star-unpacking is not allowed", 2),
    ("await a", "await is not allowed", 1),
    ("2 ** 1000", "exponent of '**' may be at most 100", 6),
    ("9 ** 9 ** 9", "exponent of '**' must be a number literal", 6),
    ("x ** y", "exponent of '**' must be a number literal", 6),
    ("'a' * 1000000 == x", f"longer than {MAX_SEQUENCE_LENGTH}", 1),
    ("200000 * [0] == x", f"longer than {MAX_SEQUENCE_LENGTH}", 1),
    ("(0, 1) * 60000 == x", f"longer than {MAX_SEQUENCE_LENGTH}", 1),
    ("", "empty", None),
    ("   ", "empty", None),
    ("a " + "and a " * 84, f"limit is {MAX_EXPRESSION_LENGTH}", None),
    ("-" * (MAX_NESTING_DEPTH + 5) + "x", "nested too deeply", None),
    ("a\x00", "invalid", None),
]


@pytest.mark.parametrize(("expr", "fragment", "column"), REJECTED)
def test_unsafe_or_unsupported_expressions_are_refused_at_compile_time(
    expr: str, fragment: str, column: int | None
) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(expr)
    error = caught.value
    assert fragment in error.message
    if column is not None:
        assert error.column == column
        assert f"(column {column})" in str(error)
    assert isinstance(error, ValueError)


def test_nesting_limit_is_exact() -> None:
    compile_expression("-" * (MAX_NESTING_DEPTH - 1) + "x")
    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_expression("-" * MAX_NESTING_DEPTH + "x")


def test_deep_parentheses_are_refused_cleanly() -> None:
    with pytest.raises(ExpressionError):
        compile_expression("(" * 240 + "a" + ")" * 240)


def test_columns_count_characters_and_leading_whitespace() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression("  name == 'é' and x.y")
    assert caught.value.column == 19  # the "x" of x.y, counting é as one


def test_allowed_limits_at_the_edge_compile_and_evaluate() -> None:
    assert compile_expression("x ** 100 > 0").evaluate_bool({"x": 2})
    assert not compile_expression("x ** 100 > 0").evaluate_bool({"x": 0})
    assert compile_expression("x ** -2.5 > 0").evaluate_bool({"x": 4})
    assert compile_expression("'ab' * 50000 == x").evaluate_bool({"x": "ab" * 50000})
    longest = "a" * MAX_EXPRESSION_LENGTH
    assert compile_expression(longest).evaluate_bool({longest: True})
    assert compile_expression(longest).names == (longest,)


def test_non_string_expression_is_refused() -> None:
    with pytest.raises(ExpressionError, match="must be a string"):
        compile_expression(42)  # type: ignore[arg-type]


# -- the compiled path agrees with simpleeval, evaluated independently ----------------

AGREEMENT_EXPRESSIONS = [
    "a >= b",
    "a > 0 and b != ''",
    "not a or b",
    "a + b == 3",
    "a * 2 > b",
    "a / b < 1",
    "a // b == 0 and a % b == a",
    "a in b",
    "len(b) < a",
    "max(a, 1) == a",
    "abs(a) > 2 or -a < 1",
    "0 < a < b",
    "a ** 2 > 4",
]

scalars = st.one_of(
    st.integers(min_value=-5, max_value=5),
    st.text(max_size=3),
    st.booleans(),
    st.none(),
    st.lists(st.integers(min_value=-3, max_value=3), max_size=3),
)


def _simpleeval_reference(expr: str, context: dict[str, Any]) -> bool:
    evaluator = simpleeval.EvalWithCompoundTypes(
        functions={"len": len, "max": max, "min": min, "abs": abs, "sum": sum},
        names=context,
    )
    try:
        return bool(evaluator.eval("", previously_parsed=ast.parse(expr).body[0]))
    except Exception:
        return False


@settings(max_examples=300, deadline=None)
@given(
    expr=st.sampled_from(AGREEMENT_EXPRESSIONS),
    a=scalars,
    b=scalars,
    drop=st.sampled_from([(), ("a",), ("b",)]),
)
def test_compiled_path_agrees_with_simpleeval(
    expr: str, a: Any, b: Any, drop: tuple[str, ...]
) -> None:
    context = {k: v for k, v in {"a": a, "b": b}.items() if k not in drop}
    compiled = compile_expression(expr)
    expected = _simpleeval_reference(expr, context)
    assert compiled.evaluate_bool(context) is expected
    assert compiled.evaluate(context)[0] is expected


def test_details_are_right_when_explained_from_many_threads_at_once() -> None:
    from concurrent.futures import ThreadPoolExecutor

    compiled = compile_expression("fill_qty >= order_qty")

    def explain(n: int) -> tuple[bool, str]:
        return compiled.evaluate({"fill_qty": n, "order_qty": 50})

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(explain, range(100)))
    assert outcomes == [(n >= 50, f"{n} >= 50") for n in range(100)]


def test_explaining_is_reentrant() -> None:
    inner = compile_expression("a == 1")

    class Nosy:
        def __eq__(self, other: object) -> bool:
            # explaining another expression while this one is being explained
            return inner.evaluate({"a": 1}) == (True, "1 == 1")

        __hash__ = object.__hash__

        def __repr__(self) -> str:
            return "Nosy"

    outer = compile_expression("x == y and y == 2")
    assert outer.evaluate({"x": Nosy(), "y": 2}) == (True, "Nosy == 2 and 2 == 2")
