"""The machine's small public questions, answered exactly (mutation run of ``machine.py``).

``explain_guard``, ``expression`` and ``get_available_triggers`` had no test of
the engine layer; a mutant of any of them survived. These pin what each answers:
the record of one guard (outcome, what it read, who decided), an async guard
refused without leaving an un-awaited coroutine behind, guards found in a
registry that only has ``has``/``get``, and triggers listed once each, by priority.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from pystator import GuardRegistry, StateMachine
from pystator.result import GuardEvaluation

MACHINE = """
meta: {machine_name: explained}
states:
  - {name: open, type: initial}
  - {name: filled}
  - {name: held}
transitions:
  - {trigger: fill, source: open, dest: filled, guards: [in_stock, {expr: "qty > 1"}]}
  - {trigger: hold, source: open, dest: held}
  - {trigger: fill, source: open, dest: held}
  - {trigger: cancel, source: open, dest: held}
  - {trigger: reopen, source: held, dest: open}
"""


def machine() -> StateMachine:
    return StateMachine.from_string(MACHINE)


class HasGet:
    """A registry without ``find``: the machine asks ``has`` and then ``get``."""

    def __init__(self, guards: Mapping[str, Callable[..., Any]]) -> None:
        self.guards = dict(guards)
        self.asked: list[str] = []

    def has(self, name: str) -> bool:
        self.asked.append(name)
        return name in self.guards

    def get(self, name: str) -> Callable[..., Any]:
        return self.guards[name]


def named_guard(m: StateMachine) -> Any:
    return m.transitions[0].guards[0]


def expr_guard(m: StateMachine) -> Any:
    return m.transitions[0].guards[1]


def test_an_expression_guard_is_explained_with_what_it_read() -> None:
    m = machine()
    assert m.explain_guard(expr_guard(m), {"qty": 3}) == GuardEvaluation(
        "qty > 1", True, "3 > 1", decided_by="expr"
    )
    assert m.explain_guard(expr_guard(m), {"qty": 0}) == GuardEvaluation(
        "qty > 1", False, "0 > 1", decided_by="expr"
    )


def test_an_unregistered_named_guard_fails_and_says_so() -> None:
    m = machine()
    assert m.explain_guard(named_guard(m), {"qty": 3}) == GuardEvaluation(
        "in_stock", False, "not registered"
    )


def test_a_registered_guard_is_called_with_a_plain_copy_of_the_context() -> None:
    seen: list[Any] = []

    def in_stock(ctx: Any) -> int:
        seen.append(ctx)
        ctx["touched"] = True  # a guard that writes must not change the caller's context
        return ctx["qty"]  # truthy, not True: the record says True

    registry = GuardRegistry()
    registry.register("in_stock", in_stock)
    m = machine().bind_guards(registry)
    context = {"qty": 2}
    assert m.explain_guard(named_guard(m), context) == GuardEvaluation(
        "in_stock", True, "", decided_by="registry"
    )
    assert context == {"qty": 2}
    assert seen == [{"qty": 2, "touched": True}] and type(seen[0]) is dict
    assert m.explain_guard(named_guard(m), {"qty": 0}).passed is False


def test_an_async_guard_is_refused_and_its_coroutine_closed() -> None:
    pending: list[Any] = []

    async def answer() -> bool:
        return True

    def in_stock(_ctx: Any) -> Any:
        pending.append(answer())
        return pending[-1]

    m = machine().bind_guards(HasGet({"in_stock": in_stock}))
    assert m.explain_guard(named_guard(m), {}) == GuardEvaluation(
        "in_stock", False, "async guard: use async_process"
    )
    (coroutine,) = pending
    assert coroutine.cr_frame is None  # closed: no "never awaited" warning later
    with pytest.raises(RuntimeError, match="cannot reuse"):
        asyncio.run(coroutine)


def test_a_registry_with_only_has_and_get_supplies_guards() -> None:
    registry = HasGet({"in_stock": lambda ctx: ctx["qty"] > 5})
    m = machine().bind_guards(registry)
    assert m.explain_guard(named_guard(m), {"qty": 9}).passed is True
    assert registry.asked == ["in_stock"]
    assert m.process("open", "fill", {"qty": 9}).target_state == "filled"
    assert m.process("open", "fill", {"qty": 1}).target_state == "held"
    missing = machine().bind_guards(HasGet({}))
    assert missing.explain_guard(named_guard(missing), {}).detail == "not registered"


def test_expression_compiles_once_and_evaluates() -> None:
    m = machine()
    compiled = m.expression("qty * 2 > 5")
    assert compiled.evaluate({"qty": 3}) == (True, "6 > 5")
    assert m.expression("qty * 2 > 5") is compiled


def test_available_triggers_are_listed_once_each_in_priority_order() -> None:
    m = machine()
    assert m.get_available_triggers("open") == ["fill", "hold", "cancel"]
    assert m.get_available_triggers("held") == ["reopen"]
    assert m.get_available_triggers("filled") == []


def test_an_awaitable_without_close_is_refused_too() -> None:
    class Later:
        """Awaitable, but not a coroutine: it has nothing to close."""

        def __await__(self) -> Any:
            yield
            return True

    m = machine().bind_guards(HasGet({"in_stock": lambda _ctx: Later()}))
    assert m.explain_guard(named_guard(m), {}).detail == "async guard: use async_process"
