"""Delays written as milliseconds or as ``"500ms"``, ``"5s"``, ``"30m"``, ``"1h"``.

A delay is at most :data:`MAX_DELAY_MS` (365 days): every timer a machine arms must fit the
schedulers it runs on (a Celery countdown, a Redis score, an asyncio deadline), so a delay
beyond that is refused when the machine loads rather than failing after a state was saved.
"""

from __future__ import annotations

import re

__all__ = ["MAX_DELAY_MS", "format_duration", "parse_duration"]

MAX_DELAY_MS = 365 * 86_400_000

_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(value: object) -> int:
    """Milliseconds for a delay; ``ValueError`` explains a malformed one.

    An int (or a digit string) is milliseconds; a string may carry a unit. Negative,
    boolean and fractional-millisecond values are rejected so a typo cannot become
    a zero or a never-firing timer silently.
    """
    if isinstance(value, bool):
        raise ValueError(f"a delay must be milliseconds or a string like '5s', not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a delay cannot be negative: {_shown(value)}")
        return _bounded(value, value)
    if isinstance(value, float):
        if value < 0 or not value.is_integer():
            raise ValueError(f"a delay in milliseconds must be a whole number: {value}")
        return _bounded(int(value), value)
    if isinstance(value, str):
        match = _PATTERN.match(value) if len(value) <= 40 else None
        if match:
            number, unit = match.groups()
            ms = float(number) * _UNITS[unit or "ms"]
            if ms.is_integer():
                return _bounded(int(ms), value)
        raise ValueError(
            f"malformed delay {value!r}: use milliseconds (5000) or a number with a unit "
            "(500ms, 5s, 30m, 1h)"
        )
    raise ValueError(f"a delay must be milliseconds or a string like '5s', not {value!r}")


def _bounded(ms: int, written: object) -> int:
    if ms > MAX_DELAY_MS:
        raise ValueError(
            f"a delay is at most 365 days ({MAX_DELAY_MS:,} ms), not {_shown(written)}"
        )
    return ms


def _shown(value: object) -> str:
    text = (
        repr(value) if not isinstance(value, int) or value.bit_length() < 300 else "a huge number"
    )
    return text if len(text) <= 40 else text[:37] + "..."


def format_duration(ms: int) -> str:
    """The shortest exact spelling of a delay (``300000`` -> ``"5m"``)."""
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
