"""A time budget for checking one request's machine, and stopping when its client leaves.

Checking a machine runs in stages (read the text, validate, compile, lint, draw). A
:class:`Budget` is asked between stages whether to go on: it says no once its seconds are
spent, or once :func:`run_in_budget` has seen the client disconnect (an editor that typed
again cancels its previous live check, so the server stops the superseded work instead of
finishing it for nobody). The stage that stopped raises :class:`OverBudget`, which the faces
answer with "too large to check" (or nothing, when nobody is listening).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

__all__ = ["CHECK_SECONDS", "Budget", "OverBudget", "run_in_budget"]

CHECK_SECONDS = 5.0
"""How long one request may spend checking a machine before it is called too large."""

_T = TypeVar("_T")


class OverBudget(Exception):
    """Work stopped: its time was spent (``reason="time"``) or its client left (``"gone"``)."""

    def __init__(self, reason: Literal["time", "gone"], seconds: float) -> None:
        self.reason = reason
        self.seconds = seconds
        super().__init__(
            f"this machine is too large to check within {seconds:g} seconds"
            if reason == "time"
            else "the client went away"
        )


class Budget:
    """``seconds`` of work for one request, cancelled early when its client goes."""

    def __init__(self, seconds: float = CHECK_SECONDS) -> None:
        self.seconds = seconds
        self._deadline = time.monotonic() + seconds
        self._gone = threading.Event()

    def cancel(self) -> None:
        """The client went away: the next :meth:`check` stops the work."""
        self._gone.set()

    @property
    def cancelled(self) -> bool:
        return self._gone.is_set()

    def check(self) -> None:
        """Raise :class:`OverBudget` if the work should stop now."""
        if self._gone.is_set():
            raise OverBudget("gone", self.seconds)
        if time.monotonic() > self._deadline:
            raise OverBudget("time", self.seconds)


async def run_in_budget(
    request: Request, budget: Budget, work: Callable[..., _T], *args: Any, poll: float = 0.05
) -> _T:
    """``work(*args)`` in a worker thread; ``budget`` is cancelled if the client disconnects.

    The request body must have been read already (only a disconnect is left to receive).
    """
    task = asyncio.ensure_future(run_in_threadpool(work, *args))
    while True:
        done, _ = await asyncio.wait({task}, timeout=poll)
        if done:
            return task.result()
        if not budget.cancelled and await request.is_disconnected():
            budget.cancel()
