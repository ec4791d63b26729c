"""Small text helpers shared by error messages (did-you-mean hints)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean"]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A ``": did you mean 'X'?"`` suffix, or ``""`` when nothing is close."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in candidates}
        if word.lower() in lowered:
            matches = [lowered[word.lower()]]
    return f": did you mean {matches[0]!r}?" if matches else ""
