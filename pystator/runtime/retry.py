"""Retrying what failed after a commit: exponential backoff, jitter, a cap, a fallback.

The state is already committed when actions run, so a failed action is not undone;
it is tried again, ``max_attempts`` times in all, waiting
``min(max_delay, base_delay * 2**(n-1))`` before try ``n + 1`` (scaled by up to
``±jitter``, so many workers retrying together spread out). Timer firings that
fail follow the same policy in the schedulers. What still fails after the last
attempt becomes a dead letter in the state store, and when ``fallback`` names a
state (the machine's ``error_policy.default_fallback``) the entity is moved there.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pystator.model import ErrorPolicy

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a failed action.

    ``max_attempts`` counts every try including the first (1 = never retry).
    ``jitter`` is a fraction in ``[0, 1]``; ``rng`` and the sleeps are injectable so
    tests can check the schedule without waiting for it. ``fallback`` is the state
    an entity is moved to when one of its actions or timer firings is dead-lettered
    (``None``: it stays where it is).
    """

    max_attempts: int = 1
    base_delay: float = 0.1
    max_delay: float = 10.0
    jitter: float = 0.1
    fallback: str | None = None
    rng: Callable[[], float] = field(default=random.random, compare=False, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    async_sleep: Callable[[float], Awaitable[None]] = field(
        default=asyncio.sleep, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("retry delays cannot be negative")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter is a fraction between 0 and 1, got {self.jitter}")

    @classmethod
    def from_error_policy(cls, policy: ErrorPolicy, **options: Any) -> RetryPolicy:
        """``retry_attempts`` retries on top of the first try; ``default_fallback`` as fallback."""
        options.setdefault("fallback", policy.default_fallback)
        return cls(max_attempts=max(0, policy.retry_attempts) + 1, **options)

    @property
    def retries(self) -> int:
        return self.max_attempts - 1

    def delay_for(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        if attempt < 1:
            raise ValueError("attempts are numbered from 1")
        raw = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        spread = raw * self.jitter * (2 * self.rng() - 1)
        return max(0.0, min(self.max_delay, raw + spread))
