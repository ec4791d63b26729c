"""GuardRegistry: registering sync and async guards and evaluating them by name.

What holds for ``evaluate`` holds for ``async_evaluate`` too: those tests run on both.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest

from pystator.errors import GuardNotFoundError
from pystator.guards import GuardRegistry
from tests.drivers import GUARD_DRIVERS, GuardDriver


def is_full_fill(ctx: dict[str, Any]) -> bool:
    return bool(ctx["fill_qty"] >= ctx["order_qty"])


async def check_external(ctx: dict[str, Any]) -> bool:
    await asyncio.sleep(0)
    return bool(ctx["buying_power"] >= ctx["order_value"])


def test_register_get_has_list_unregister_clear() -> None:
    guards = GuardRegistry()
    guards.register("is_full_fill", is_full_fill)
    guards.register("check_external", check_external)
    assert guards.get("is_full_fill") is is_full_fill
    assert guards.has("is_full_fill") and "is_full_fill" in guards
    assert not guards.has("nope")
    assert guards.list_guards() == ["check_external", "is_full_fill"]
    assert list(guards) == guards.list_guards() and len(guards) == 2
    guards.unregister("is_full_fill")
    assert guards.list_guards() == ["check_external"]
    guards.clear()
    assert guards.list_guards() == [] and len(guards) == 0


@pytest.mark.parametrize("drive", GUARD_DRIVERS)
def test_registering_a_name_again_replaces_it(drive: GuardDriver) -> None:
    guards = GuardRegistry()
    guards.register("g", lambda ctx: False)
    guards.register("g", lambda ctx: True)
    assert drive.evaluate(guards, "g", {}) is True


@pytest.mark.parametrize("drive", GUARD_DRIVERS)
def test_decorator_uses_function_name_or_given_name(drive: GuardDriver) -> None:
    guards = GuardRegistry()

    @guards.decorator()
    def has_buying_power(ctx: dict[str, Any]) -> bool:
        return bool(ctx["buying_power"] >= ctx["order_value"])

    @guards.decorator("named_explicitly")
    async def other(ctx: dict[str, Any]) -> bool:
        return True

    assert guards.list_guards() == ["has_buying_power", "named_explicitly"]
    assert guards.get("has_buying_power") is has_buying_power  # decorator returns the function
    assert (
        drive.evaluate(guards, "has_buying_power", {"buying_power": 10, "order_value": 5}) is True
    )
    assert guards.is_async("named_explicitly") and not guards.is_async("has_buying_power")


def test_decorator_without_parentheses_is_a_clear_error() -> None:
    guards = GuardRegistry()
    with pytest.raises(TypeError, match=r"decorator\(\) with parentheses"):
        guards.decorator(is_full_fill)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "func", "error"),
    [("", is_full_fill, ValueError), ("  ", is_full_fill, ValueError),
     (3, is_full_fill, ValueError), ("g", "not callable", TypeError)],
)  # fmt: skip
def test_bad_registrations_are_refused(name: Any, func: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        GuardRegistry().register(name, func)


def test_unknown_names_give_clear_errors_with_hints() -> None:
    guards = GuardRegistry()
    guards.register("is_full_fill", is_full_fill)
    with pytest.raises(KeyError, match="did you mean 'is_full_fill'"):
        guards.get("is_ful_fill")
    with pytest.raises(KeyError, match="not registered"):
        guards.is_async("missing")
    with pytest.raises(KeyError, match="not registered"):
        guards.unregister("missing")
    with pytest.raises(GuardNotFoundError) as caught:
        guards.evaluate("missing", {})
    assert caught.value.guard == "missing"
    with pytest.raises(GuardNotFoundError):
        asyncio.run(guards.async_evaluate("missing", {}))


@pytest.mark.parametrize("drive", GUARD_DRIVERS)
def test_evaluate_returns_the_truth_value(drive: GuardDriver) -> None:
    guards = GuardRegistry()
    guards.register("is_full_fill", is_full_fill)
    guards.register("truthy", lambda ctx: ctx.get("items"))
    assert drive.evaluate(guards, "is_full_fill", {"fill_qty": 100, "order_qty": 100}) is True
    assert drive.evaluate(guards, "is_full_fill", {"fill_qty": 80, "order_qty": 100}) is False
    assert drive.evaluate(guards, "truthy", {"items": [1]}) is True
    assert drive.evaluate(guards, "truthy", {"items": []}) is False


@pytest.mark.parametrize("drive", GUARD_DRIVERS)
def test_a_guard_exception_propagates_from_evaluate(drive: GuardDriver) -> None:
    guards = GuardRegistry()
    guards.register("is_full_fill", is_full_fill)
    with pytest.raises(KeyError, match="fill_qty"):
        drive.evaluate(guards, "is_full_fill", {})


def test_async_guard_in_sync_evaluate_is_refused_with_advice() -> None:
    guards = GuardRegistry()
    guards.register("check_external", check_external)
    with pytest.raises(TypeError, match="async_process"):
        guards.evaluate("check_external", {"buying_power": 1, "order_value": 1})


def test_sync_callable_returning_a_coroutine_is_refused_without_leaking_it() -> None:
    guards = GuardRegistry()
    guards.register("sneaky", lambda ctx: check_external(ctx))
    assert not guards.is_async("sneaky")
    # warnings are errors: an unawaited coroutine would fail this test
    with pytest.raises(TypeError, match="returned an awaitable"):
        guards.evaluate("sneaky", {"buying_power": 1, "order_value": 1})


def test_async_evaluate_awaits_async_guards_and_calls_sync_ones() -> None:
    guards = GuardRegistry()
    guards.register("check_external", check_external)
    guards.register("is_full_fill", is_full_fill)
    guards.register("sneaky", lambda ctx: check_external(ctx))

    async def run() -> list[bool]:
        ctx = {"buying_power": 10, "order_value": 20, "fill_qty": 1, "order_qty": 1}
        return [
            await guards.async_evaluate("check_external", ctx),
            await guards.async_evaluate("is_full_fill", ctx),
            await guards.async_evaluate("sneaky", {"buying_power": 30, "order_value": 20}),
        ]

    assert asyncio.run(run()) == [False, True, True]


def test_async_detection_covers_partials_and_async_callable_objects() -> None:
    class AsyncCheck:
        async def __call__(self, ctx: dict[str, Any]) -> bool:
            return bool(ctx["ok"])

    class SyncCheck:
        def __call__(self, ctx: dict[str, Any]) -> bool:
            return bool(ctx["ok"])

    async def threshold(limit: int, ctx: dict[str, Any]) -> bool:
        return bool(ctx["value"] > limit)

    guards = GuardRegistry()
    guards.register("object", AsyncCheck())
    guards.register("sync_object", SyncCheck())
    guards.register("partial", functools.partial(threshold, 5))
    assert guards.is_async("object") and guards.is_async("partial")
    assert not guards.is_async("sync_object")
    assert guards.evaluate("sync_object", {"ok": 1}) is True
    assert asyncio.run(guards.async_evaluate("object", {"ok": 1})) is True
    assert asyncio.run(guards.async_evaluate("partial", {"value": 6})) is True
    assert "GuardRegistry" in repr(guards)
