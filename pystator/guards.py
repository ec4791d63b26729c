"""Named guards: functions of one context dict that allow or block a transition.

A machine refers to guards by name (``guards: [is_full_fill]``); the application
registers the functions in a ``GuardRegistry`` and binds it with
``machine.bind_guards(registry)``. Guards may be ``async def``: ``evaluate`` refuses
them with a clear error (the synchronous ``process()`` cannot await), and
``async_evaluate`` awaits them. Inline ``expr`` guards do not live here; see
``pystator.expressions``.

A guard's own exception propagates from ``evaluate``: the machine decides how a
failing guard is reported.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from pystator._registry import CallableRegistry
from pystator.errors import GuardNotFoundError

__all__ = ["GuardFunc", "GuardRegistry"]

GuardFunc = Callable[[dict[str, Any]], Any]
"""A guard: takes the context dict, returns something truthy to allow the transition."""


class GuardRegistry(CallableRegistry):
    """Guards by name. ``register`` replaces an existing name."""

    kind = "guard"

    def list_guards(self) -> list[str]:
        """Registered guard names, sorted."""
        return self.names()

    def _lookup(self, name: str) -> Callable[..., Any]:
        func = self._items.get(name)
        if func is None:
            raise GuardNotFoundError(name)
        return func

    def evaluate(self, name: str, context: Mapping[str, Any]) -> bool:
        """Call guard ``name`` with ``context`` and return its truth value.

        Raises ``GuardNotFoundError`` for an unknown name and ``TypeError`` for an async
        guard (use ``async_evaluate`` / ``machine.async_process``).
        """
        func = self._items.get(name)
        if func is None:
            raise GuardNotFoundError(name)
        if self._async[name]:
            raise TypeError(
                f"guard {name!r} is async and cannot run in a synchronous call: "
                "use machine.async_process() (or GuardRegistry.async_evaluate)"
            )
        outcome = func(context)
        if outcome is True or outcome is False:  # the common case, without the checks below
            return outcome
        if inspect.isawaitable(outcome):
            if inspect.iscoroutine(outcome):
                outcome.close()  # never awaited: close it so Python does not warn
            raise TypeError(
                f"guard {name!r} returned an awaitable in a synchronous call: "
                "declare it 'async def' and use machine.async_process()"
            )
        return bool(outcome)

    async def async_evaluate(self, name: str, context: Mapping[str, Any]) -> bool:
        """Call guard ``name``, awaiting it when it is async; its truth value."""
        func = self._lookup(name)
        outcome = func(context)
        if inspect.isawaitable(outcome):
            outcome = await outcome
        return bool(outcome)
