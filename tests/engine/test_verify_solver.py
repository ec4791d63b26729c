"""pystator.verify.solve: contexts that make guards come out as wanted.

A ``sat`` answer is checked here with the engine's own evaluator, independently of
the solver; ``unsat`` answers are checked against a brute-force search over a grid
of values that must find nothing; the generated expressions check both at once.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pystator.expressions import StateScope, compile_expression
from pystator.verify import satisfiable, solve


def holds(expr: str, context: dict[str, Any], states: frozenset[str] = frozenset()) -> bool:
    compiled = compile_expression(expr)
    scope = StateScope(context, states) if compiled.uses_state else context
    return compiled.evaluate_bool(scope)


@pytest.mark.parametrize(
    "constraints",
    [
        [("x > 3 and x < 5", True)],
        [("x > 3 and x < 4", True)],  # needs a fraction
        [("a + 2 * b > c and c > 10 and a < 0", True)],
        [("len(items) >= 3", True), ("'x' in items", True)],
        [("'x' not in items and len(items) == 2", True)],
        [("status in ['a', 'b']", True), ("status == 'a'", False)],
        [("order['qty'] * 2 >= limit", True), ("limit > 5", True)],
        [("legs[1] > legs[0]", True)],
        [("not (x >= 1) or y", False)],
        [("x == None", False), ("x != 'open'", False)],
        [("x is None", True)],
        [("fill_qty >= order_qty", False)],
        [("x - y == 3 and y > 7", True)],
        [("-x > 2", True)],
        [("x / 4 >= 2.5", True)],
        [("x % 3 == 2", True)],  # outside the solved language: sampled
        [("abs(x) > 5", True)],
        [("True", True), ("n > 1", False)],
    ],
)
def test_sat_answers_hold(constraints: list[tuple[str, bool]]) -> None:
    solution = solve(constraints)
    assert solution.status == "sat", solution.reason
    assert solution.context is not None
    for expr, want in constraints:
        assert holds(expr, solution.context) is want, (expr, solution.context)


def test_how_it_was_found_is_said() -> None:
    assert solve([("x > 3", True)]).method == "solved"
    assert solve([("x % 3 == 2", True)]).method == "sampled"
    assert solve([("x > 3", True), ("x < 2", True)]).method == "proved"


@pytest.mark.parametrize(
    "constraints",
    [
        [("x > 3 and x < 3", True)],
        [("x > 1", True), ("x > 1", False)],
        [("x > 5 and x < 3", True)],
        [("a + b > 10 and a < 3 and b < 3", True)],  # Fourier-Motzkin
        [("2 * a - b >= 1 and b - 2 * a >= 0", True)],
        [("len(items) < 0", True)],  # a length is never negative
        [("len(items) + n < 0 and n >= 0", True)],
        [("a - b > 0 and b - a > 0", True)],  # strict: 0 > 0
        [("status in ['a', 'b'] and status == 'c'", True)],
        [("x == 'open' and x == 'shut'", True)],
        [("False", True)],
        [("(x > 1 or y > 1) and x < 0 and y < 0", True)],
    ],
)
def test_unsat_is_a_proof(constraints: list[tuple[str, bool]]) -> None:
    solution = solve(constraints)
    assert solution.status == "unsat", solution
    assert solution.method == "proved" and solution.reason.startswith("no context can make")


@pytest.mark.parametrize(
    "expr",
    [
        "-(x % 4) < -2",  # a sign in front of a term that is not linear
        "x % 4 + 1 > 3",  # a sum with one side that is not linear
        "a * (b + 1) > 5 and a < 1 and b < -1",  # a product of variables
        "x / (y + 1) > 1 and x < 0 and y < -1",  # a division by a variable
    ],
)
def test_terms_that_are_not_linear_are_sampled_never_refuted(expr: str) -> None:
    solution = solve([(expr, True)])
    assert (solution.status, solution.method) == ("sat", "sampled"), solution
    assert solution.context is not None and holds(expr, solution.context)


def test_a_sum_of_plain_names_may_be_strings_so_it_is_no_proof() -> None:
    # as numbers a + b > b + a is never true; as strings ('b' + 'a' > 'a' + 'b') it is
    solution = solve([("a + b > b + a", True)])
    assert solution.status == "unknown" and "a + b > b + a" in solution.reason


def test_an_elimination_too_large_to_finish_proves_nothing() -> None:
    # every variable bounded by every other: eliminating any one multiplies the rows
    # past the solver's cap, and a search that gave up is no proof of unsat
    names = [f"x{i}" for i in range(12)]
    constraints = [(f"{a} - {b} > -1", True) for a in names for b in names if a != b]
    solution = solve(constraints)
    assert solution.status == "sat" and solution.context == dict.fromkeys(names, 0)


def test_a_division_by_zero_is_left_to_the_evaluator() -> None:
    assert solve([("x / 0 > 1", True)]).status == "unknown"


def test_outside_the_solver_is_unknown_and_says_which_part() -> None:
    solution = satisfiable("x % 2 == 1 and x % 2 == 0")
    assert solution.status == "unknown"
    assert "outside what the solver reasons about" in solution.reason
    assert "x % 2 == 1" in solution.reason and "sampled" in solution.reason
    assert satisfiable("max(a, b) > 5 and a < 3 and b < 3").status == "unknown"


def test_in_state_is_a_free_choice_or_fixed() -> None:
    free = solve([("In('busy') and n > 1", True)])
    assert free.status == "sat" and free.states == {"busy"} and free.context == {"n": 2}
    fixed = solve([("In('busy') and n > 1", True)], states=frozenset({"idle"}))
    assert fixed.status == "unsat"
    assert solve([("not In('busy')", True)], states=frozenset({"idle"})).sat


def test_a_guard_wanted_false_may_leave_a_name_out() -> None:
    # no value makes x == x false, but a missing x makes it raise, and that is false
    solution = solve([("x == x", False)])
    assert solution.sat and solution.context == {}
    both = solve([("n > 1", True), ("x == x or n < 0", False)])
    assert both.sat and both.context == {"n": 2}
    assert solve([("x == x", True), ("x == x", False)]).status == "unsat"


def test_answers_are_copies() -> None:
    first = solve([("len(items) >= 2", True)])
    assert first.context is not None
    first.context["items"].append("mine")
    again = solve([("len(items) >= 2", True)])
    assert again.context is not None and "mine" not in again.context["items"]


# --------------------------------------------------------------------------- generated

VALUES = [-3, -1, 0, 1, 2, 2.5, 3, 4, 7, 10]


def atoms() -> st.SearchStrategy[str]:
    names = st.sampled_from(["x", "y"])
    numbers = st.sampled_from([-2, 0, 1, 3, 5])
    ops = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])
    single = st.builds(lambda n, o, c: f"{n} {o} {c}", names, ops, numbers)
    linear = st.builds(lambda o, c: f"x + 2 * y {o} {c}", ops, numbers)
    both = st.builds(lambda o: f"x {o} y", ops)
    return st.one_of(single, single, linear, both)


def formulas() -> st.SearchStrategy[str]:
    return st.recursive(
        atoms(),
        lambda inner: st.one_of(
            st.builds(lambda a, b: f"({a}) and ({b})", inner, inner),
            st.builds(lambda a, b: f"({a}) or ({b})", inner, inner),
            st.builds(lambda a: f"not ({a})", inner),
        ),
        max_leaves=5,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formulas(), st.booleans())
def test_generated_guards_against_a_grid(expr: str, want: bool) -> None:
    solution = solve([(expr, want)])
    grid = [
        {"x": x, "y": y}
        for x, y in itertools.product(VALUES, repeat=2)
        if holds(expr, {"x": x, "y": y}) is want
    ]
    if solution.status == "sat":
        assert solution.context is not None
        assert holds(expr, solution.context) is want
    elif solution.status == "unsat":
        assert not grid, f"proved impossible, yet {grid[0]} makes {expr!r} {want}"
    # comparisons and linear arithmetic are the solved language: never unknown
    # when the grid has an answer
    if grid:
        assert solution.status == "sat", (expr, want, solution.reason)


def test_fixed_values_are_constants_not_choices() -> None:
    assert solve([("tries >= 3", True)], values={"tries": 1}).status == "unsat"
    assert solve([("tries >= 3", True)], values={"tries": 3}).context == {}
    mixed = solve([("tries + n > 5", True)], values={"tries": 2})
    assert mixed.sat and mixed.context is not None and set(mixed.context) == {"n"}
    assert mixed.context["n"] + 2 > 5
    nested = solve([("order['qty'] > limit", True)], values={"order": {"qty": 4}})
    assert nested.sat and nested.context is not None and nested.context["limit"] < 4
