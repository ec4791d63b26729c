"""The name -> callable table that guard and action registries share.

Guards and actions are both "a callable taking one context dict, sync or async,
looked up by the name a machine definition uses". Keeping that in one place means
both registries check names, detect coroutines and report unknown names the same way.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from pystator._text import did_you_mean

__all__ = ["CallableRegistry", "is_async_callable"]

F = TypeVar("F", bound=Callable[..., Any])


def is_async_callable(func: Callable[..., Any]) -> bool:
    """True for ``async def`` functions, partials of them and objects with ``async __call__``."""
    while isinstance(func, functools.partial):
        func = func.func
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(func, "__call__", None)  # noqa: B004 - we want the bound __call__ itself
    return call is not None and inspect.iscoroutinefunction(call)


class CallableRegistry:
    """Named callables, each taking one context dict. ``kind`` names them in messages."""

    kind = "callable"

    def __init__(self) -> None:
        self._items: dict[str, Callable[..., Any]] = {}
        self._async: dict[str, bool] = {}

    def register(self, name: str, func: Callable[..., Any]) -> None:
        """Register ``func`` under ``name``; registering a name again replaces it."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if not callable(func):
            raise TypeError(f"{self.kind} {name!r} must be callable, got {type(func).__name__}")
        self._items[name] = func
        self._async[name] = is_async_callable(func)

    def decorator(self, name: str | None = None) -> Callable[[F], F]:
        """``@registry.decorator()`` registers under the function's name, or under ``name``."""
        if callable(name):
            raise TypeError(f"use @registry.decorator() with parentheses to register a {self.kind}")

        def register(func: F) -> F:
            self.register(name if name is not None else func.__name__, func)
            return func

        return register

    def get(self, name: str) -> Callable[..., Any]:
        """The callable registered as ``name``; ``KeyError`` with a hint when unknown."""
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(self.unknown_message(name)) from None

    def has(self, name: str) -> bool:
        return name in self._items

    def find(self, name: str) -> Callable[..., Any] | None:
        """The callable registered as ``name``, or None (the engine's per-event lookup)."""
        return self._items.get(name)

    def is_async(self, name: str) -> bool:
        """Whether ``name`` must be awaited; ``KeyError`` when unknown."""
        if name not in self._async:
            raise KeyError(self.unknown_message(name))
        return self._async[name]

    def unregister(self, name: str) -> None:
        """Remove ``name``; ``KeyError`` when it was not registered."""
        if name not in self._items:
            raise KeyError(self.unknown_message(name))
        del self._items[name]
        del self._async[name]

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._items)

    def clear(self) -> None:
        self._items.clear()
        self._async.clear()

    def unknown_message(self, name: str) -> str:
        return f"{self.kind} {name!r} is not registered{did_you_mean(name, self._items)}"

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.names()!r})"
