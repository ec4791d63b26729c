"""The record of every guard a step checks, field by field (mutation run of ``selection.py``).

A step's ``guards`` are what the designer's guard panel, the simulator's trace
and the verifier show: each record names the guard, its outcome, what it read,
the transition (index) and the state it matched from, and who decided it (the
expression, the registry, or a guard resolver). Mutants that blanked or renamed
one of those fields survived the first run; these tests read every field, with
and without ``explain``, with a resolver answering a plain bool, a truthy value
or a ``GuardDecision``, on both drivers where an async twin exists.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pystator import Event, GuardRegistry, StateMachine
from pystator.result import GuardEvaluation
from pystator.selection import GuardDecision, guard_context

MACHINE = """
meta: {machine_name: checked}
states:
  - {name: shop, type: initial, initial_child: open}
  - {name: open, parent: shop}
  - {name: filled, parent: shop}
  - {name: held, parent: shop}
transitions:
  - {trigger: tick, source: filled, dest: held}
  - {trigger: fill, source: shop, dest: filled, guards: [{expr: "qty > 1"}, in_stock]}
  - {trigger: fill, source: open, dest: held, guards: [{expr: "qty > 5"}]}
"""

FILL_SHOP = 1  # the index of the guarded transition from the parent
FILL_OPEN = 2


def machine(in_stock: Any = True) -> StateMachine:
    registry = GuardRegistry()
    registry.register("in_stock", lambda ctx: in_stock)
    return StateMachine.from_string(MACHINE).bind_guards(registry)


def step(m: StateMachine, context: dict[str, Any], **options: Any) -> Any:
    return m.step(m.snapshot_of("open"), "fill", context, **options)


def test_failing_guards_are_recorded_with_their_transition_and_source() -> None:
    result = step(machine(in_stock=False), {"qty": 3})
    assert result.refusal is not None
    assert result.guards == (
        GuardEvaluation("qty > 5", False, "3 > 5", FILL_OPEN, "open", "expr"),
        GuardEvaluation("qty > 1", True, "", FILL_SHOP, "shop", "expr"),
        GuardEvaluation("in_stock", False, "", FILL_SHOP, "shop", "registry"),
    )


def test_explain_records_what_passing_expressions_read() -> None:
    result = step(machine(), {"qty": 3}, explain=True)
    assert result.snapshot.configuration >= {"shop", "filled"}
    assert result.guards == (
        GuardEvaluation("qty > 5", False, "3 > 5", FILL_OPEN, "open", "expr"),
        GuardEvaluation("qty > 1", True, "3 > 1", FILL_SHOP, "shop", "expr"),
        GuardEvaluation("in_stock", True, "", FILL_SHOP, "shop", "registry"),
    )


def test_a_resolvers_plain_answer_is_recorded_as_the_resolvers() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def resolve(_transition: Any, guard: Any, ctx: Any) -> Any:
        seen.append((guard.label, dict(ctx)))
        if guard.label == "in_stock":
            return 1  # truthy: recorded as True
        return None if guard.label == "qty > 1" else 0  # None: evaluate as usual

    result = step(machine(in_stock=False), {"qty": 3}, guard_resolver=resolve)
    assert [label for label, _ in seen] == ["qty > 5", "qty > 1", "in_stock"]
    assert all(ctx == {"qty": 3} for _, ctx in seen)
    assert result.snapshot.configuration >= {"filled"}
    assert result.guards == (
        # an expression decided by a resolver still shows what it read
        GuardEvaluation("qty > 5", False, "3 > 5", FILL_OPEN, "open", "resolver"),
        GuardEvaluation("qty > 1", True, "", FILL_SHOP, "shop", "expr"),
        GuardEvaluation("in_stock", True, "", FILL_SHOP, "shop", "resolver"),
    )


def test_a_guard_decision_keeps_its_own_detail_and_author() -> None:
    def resolve(_transition: Any, guard: Any, _ctx: Any) -> GuardDecision:
        if guard.label == "qty > 5":
            return GuardDecision(True, "choice", "picked by hand")
        return GuardDecision(False, "set_guard")

    result = step(machine(), {"qty": 7}, guard_resolver=resolve)
    assert result.guards == (
        GuardEvaluation("qty > 5", True, "picked by hand", FILL_OPEN, "open", "choice"),
    )
    result = step(machine(), {"qty": 0}, guard_resolver=lambda t, g, c: GuardDecision(False, "x"))
    assert result.guards[:2] == (
        # no detail given: an expression's own reading fills it in
        GuardEvaluation("qty > 5", False, "0 > 5", FILL_OPEN, "open", "x"),
        GuardEvaluation("qty > 1", False, "0 > 1", FILL_SHOP, "shop", "x"),
    )


def test_an_event_payload_is_what_a_resolver_and_the_record_read() -> None:
    m = machine()
    context: dict[str, Any] = {}

    def resolve(_transition: Any, guard: Any, ctx: Any) -> bool:
        context.update(ctx)
        return False

    result = m.step(
        m.snapshot_of("open"), Event("fill", {"qty": 9}), {"qty": 1}, guard_resolver=resolve
    )
    assert context == {"qty": 9}
    assert result.guards[0] == GuardEvaluation(
        "qty > 5", False, "9 > 5", FILL_OPEN, "open", "resolver"
    )


def test_guard_context_puts_the_payload_over_the_context() -> None:
    assert guard_context({"a": 1, "b": 2}, {"b": 3}) == {"a": 1, "b": 3}
    assert guard_context(None, {"b": 3}) == {"b": 3}
    context = {"a": 1}
    assert guard_context(context, {}) is context
    assert guard_context(context, None) is context
    assert guard_context(None, None) == {}


def test_an_async_guard_on_the_sync_path_is_a_type_error_naming_it() -> None:
    made: list[Any] = []

    async def later(_ctx: Any) -> bool:
        return True

    def in_stock(ctx: Any) -> Any:
        made.append(later(ctx))
        return made[-1]

    m = machine(in_stock=None)
    m.guard_registry.register("in_stock", in_stock)
    with pytest.raises(TypeError, match=r"^guard 'in_stock' is async: use async_process\(\)$"):
        step(m, {"qty": 3})
    (coroutine,) = made
    assert coroutine.cr_frame is None  # closed, never left un-awaited
    assert asyncio.run(m.async_step(m.snapshot_of("open"), "fill", {"qty": 3})).refusal is None


def test_a_rejection_before_the_chosen_transition_stays_in_the_record() -> None:
    result = step(machine(), {"qty": 3})
    assert result.snapshot.configuration >= {"filled"}
    assert result.guards == (
        GuardEvaluation("qty > 5", False, "3 > 5", FILL_OPEN, "open", "expr"),
        GuardEvaluation("qty > 1", True, "", FILL_SHOP, "shop", "expr"),
        GuardEvaluation("in_stock", True, "", FILL_SHOP, "shop", "registry"),
    )


def test_explain_records_the_reading_when_the_first_candidate_passes() -> None:
    quiet = step(machine(), {"qty": 7})
    explained = step(machine(), {"qty": 7}, explain=True)
    assert quiet.snapshot.configuration >= {"held"}
    assert quiet.guards == (GuardEvaluation("qty > 5", True, "", FILL_OPEN, "open", "expr"),)
    assert explained.guards == (
        GuardEvaluation("qty > 5", True, "7 > 5", FILL_OPEN, "open", "expr"),
    )


def test_an_awaitable_without_close_is_refused_on_the_sync_path_too() -> None:
    class Later:
        """Awaitable, but not a coroutine: there is nothing to close."""

        def __await__(self) -> Any:
            yield
            return True

    m = machine(in_stock=None)
    m.guard_registry.register("in_stock", lambda _ctx: Later())
    with pytest.raises(TypeError, match="'in_stock' is async"):
        step(m, {"qty": 3})


# --- what ``select`` decides (phase 2: the body of ``select`` and ``Plan``) -------------

STEPPERS = ["sync", "async"]


def step_on(path: str, m: StateMachine, context: dict[str, Any], **options: Any) -> Any:
    """``step`` or ``async_step`` from ``open`` on ``fill``: one test, both drivers."""
    if path == "sync":
        return step(m, context, **options)
    return asyncio.run(m.async_step(m.snapshot_of("open"), "fill", context, **options))


def refuse_all(_transition: Any, _guard: Any, _ctx: Any) -> bool:
    return False


@pytest.mark.parametrize("path", STEPPERS)
@pytest.mark.parametrize(
    ("options", "detail"),
    [({}, "0 > 5"), ({"explain": True}, "0 > 5"), ({"guard_resolver": refuse_all}, "0 > 5")],
    ids=["evaluated", "explained", "resolved"],
)
def test_a_rejection_is_refused_as_guard_false_whoever_decided_it(
    path: str, options: dict[str, Any], detail: str
) -> None:
    """Every guard false: the refusal says the guards refused (not "no transition")."""
    result = step_on(path, machine(), {"qty": 0}, **options)
    assert result.refusal is not None
    assert result.refusal.code == "guard-false"
    assert f"qty > 5 is false ({detail})" in result.refusal.message
    assert result.snapshot.configuration >= {"open"}


@pytest.mark.parametrize("path", STEPPERS)
def test_a_resolver_is_handed_the_transition_its_guard_belongs_to(path: str) -> None:
    m = machine()
    seen: list[Any] = []

    def resolve(transition: Any, guard: Any, _ctx: Any) -> None:
        seen.append((transition, guard.label))

    step_on(path, m, {"qty": 3}, guard_resolver=resolve)
    transitions = m.all_transitions
    assert seen == [
        (transitions[FILL_OPEN], "qty > 5"),
        (transitions[FILL_SHOP], "qty > 1"),
        (transitions[FILL_SHOP], "in_stock"),
    ]
    assert seen[0][0] is transitions[FILL_OPEN]


@pytest.mark.parametrize("path", STEPPERS)
def test_a_named_guard_is_handed_the_callers_context_itself(path: str) -> None:
    """No guard calls ``In()``: the context is passed as given, not wrapped."""
    seen: list[Any] = []
    m = machine()
    m.guard_registry.register("in_stock", lambda ctx: seen.append(ctx) or True)
    context = {"qty": 3}
    result = step_on(path, m, context)
    assert result.snapshot.configuration >= {"filled"}
    assert len(seen) == 1 and seen[0] is context


@pytest.mark.parametrize("path", STEPPERS)
def test_a_missing_guard_is_refused_with_the_guards_checked_before_it(path: str) -> None:
    m = StateMachine.from_string(MACHINE)  # no registry: in_stock is missing
    result = step_on(path, m, {"qty": 3})
    assert result.refusal is not None
    assert result.refusal.code == "missing-guard"
    assert "in_stock" in result.refusal.message
    assert result.guards == (
        GuardEvaluation("qty > 5", False, "3 > 5", FILL_OPEN, "open", "expr"),
        GuardEvaluation("qty > 1", True, "", FILL_SHOP, "shop", "expr"),
    )


@pytest.mark.parametrize("path", STEPPERS)
@pytest.mark.parametrize(("answer", "passes"), [(1, True), ("yes", True), (0, False), ([], False)])
def test_a_named_guards_answer_counts_by_its_truth(path: str, answer: Any, passes: bool) -> None:
    result = step_on(path, machine(in_stock=answer), {"qty": 3})
    assert (result.refusal is None) is passes
    assert result.guards[-1] == GuardEvaluation(
        "in_stock", passes, "", FILL_SHOP, "shop", "registry"
    )
