"""flatten_context_for_guards: the flat namespace expression guards read."""

from __future__ import annotations

from typing import Any

from pystator.expressions import compile_expression
from pystator.recipes import flatten_context_for_guards


def test_readme_example_gives_top_level_joined_bare_and_override_names() -> None:
    trading = {"positions": [1, 2, 3], "buying_power": 10000}
    flat = flatten_context_for_guards({"trading_context": trading}, {"position_count": 3})
    assert flat == {
        "trading_context": trading,
        "trading_context_positions": [1, 2, 3],
        "trading_context_buying_power": 10000,
        "positions": [1, 2, 3],
        "buying_power": 10000,
        "position_count": 3,
    }
    guard = compile_expression("position_count < 5 and buying_power >= 5000")
    assert guard.evaluate_bool(flat)


def test_deeper_levels_are_joined_along_their_path() -> None:
    flat = flatten_context_for_guards({"a": {"b": {"c": 1}}})
    assert flat["a_b"] == {"c": 1}
    assert flat["a_b_c"] == 1
    assert flat["b"] == {"c": 1} and flat["c"] == 1


def test_top_level_wins_over_lifted_names_and_overrides_win_over_everything() -> None:
    context = {"qty": 1, "order": {"qty": 5, "price": 2}, "order_price": 9}
    flat = flatten_context_for_guards(context, {"price": 7})
    assert flat["qty"] == 1  # top level beats bare child
    assert flat["order_qty"] == 5
    assert flat["order_price"] == 9  # top level beats joined name
    assert flat["price"] == 7  # override beats bare child


def test_a_bare_name_found_in_two_places_is_left_out() -> None:
    flat = flatten_context_for_guards({"buy": {"qty": 1}, "sell": {"qty": 2}})
    assert "qty" not in flat
    assert flat["buy_qty"] == 1 and flat["sell_qty"] == 2


def test_a_joined_name_two_paths_would_produce_is_left_out() -> None:
    flat = flatten_context_for_guards({"a": {"b_c": 1}, "x": {"a_b": {"c": 2}}})
    assert flat["a_b_c"] == 1  # only "a" -> "b_c" produces a_b_c; x_a_b_c is distinct
    clash = flatten_context_for_guards({"a": {"b_c": 1}, "a_b": {"c": 2}})
    assert "a_b_c" not in clash
    assert clash["a"] == {"b_c": 1} and clash["a_b"] == {"c": 2}


def test_a_bare_name_never_shadows_a_joined_name() -> None:
    flat = flatten_context_for_guards({"a": {"b_c": 1}, "b": {"c": 2}, "z": {"a_b_c": 3}})
    # "b_c" is a bare child of "a" and also the joined name of b -> c
    assert flat["b_c"] == 2


def test_custom_separator_lists_non_string_keys_and_cycles() -> None:
    cyclic: dict[str, Any] = {"name": "x"}
    cyclic["self"] = cyclic
    context: dict[Any, Any] = {"m": {1: "one", "k": [{"deep": 1}]}, 7: "seven", "c": cyclic}
    flat = flatten_context_for_guards(context, sep=".")
    assert flat["m.k"] == [{"deep": 1}]  # lists are not descended
    assert "deep" not in flat and "m.1" not in flat
    assert flat[7] == "seven"  # type: ignore[index]  # top-level keys are kept as they are
    assert flat["c.name"] == "x" and flat["c.self"] is cyclic
    assert "c.self.self" not in flat


def test_input_is_not_modified_and_overrides_may_be_none() -> None:
    nested = {"q": 1}
    context = {"n": nested}
    flat = flatten_context_for_guards(context, None)
    flat["n_q"] = 99
    assert context == {"n": {"q": 1}} and nested == {"q": 1}
    assert flatten_context_for_guards({}) == {}
