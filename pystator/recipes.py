"""Helpers for building what a machine reads; optional, application-side conveniences."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["flatten_context_for_guards"]


def _nested_entries(
    mapping: Mapping[Any, Any], prefix: str, sep: str, seen: tuple[int, ...]
) -> Iterator[tuple[str, str, Any]]:
    """``(joined_name, bare_key, value)`` for every string key below ``mapping``, depth first."""
    for key, value in mapping.items():
        if not isinstance(key, str):
            continue
        yield f"{prefix}{sep}{key}", key, value
        if isinstance(value, Mapping) and id(value) not in seen:
            yield from _nested_entries(value, f"{prefix}{sep}{key}", sep, (*seen, id(value)))


def flatten_context_for_guards(
    context: Mapping[str, Any],
    overrides: Mapping[str, Any] | None = None,
    *,
    sep: str = "_",
) -> dict[str, Any]:
    """A flat namespace for ``expr`` guards, which can only read top-level names.

    The rule, in order of precedence (a higher rule wins a name clash):

    1. ``overrides``: applied last, they replace anything below.
    2. Top-level keys: kept as they are, values untouched (nested dicts stay too).
    3. Joined names: every string key inside a nested mapping, at any depth, also
       appears as its path joined with ``sep``: ``{"a": {"b": {"c": 1}}}`` gives
       ``a_b`` and ``a_b_c``.
    4. Bare names: such a nested key also appears as itself (``b``, ``c``) when exactly
       one nested place in the whole context has that key.

    A joined or bare name that two different nested places would produce is left out
    rather than picking one silently. Only mappings are descended (not lists), keys
    that are not strings are not lifted, a mapping that contains itself is not
    followed twice, and the input is never modified.

    >>> flatten_context_for_guards({"order": {"qty": 5}}, {"position_count": 3})
    {'order': {'qty': 5}, 'order_qty': 5, 'qty': 5, 'position_count': 3}
    """
    flat: dict[str, Any] = dict(context)
    joined: dict[str, list[Any]] = {}
    bare: dict[str, list[Any]] = {}
    for key, value in context.items():
        if isinstance(key, str) and isinstance(value, Mapping):
            for name, child, child_value in _nested_entries(value, key, sep, (id(value),)):
                joined.setdefault(name, []).append(child_value)
                bare.setdefault(child, []).append(child_value)
    for name, values in joined.items():
        if len(values) == 1 and name not in flat:
            flat[name] = values[0]
    for name, values in bare.items():
        if len(values) == 1 and name not in flat and name not in joined:
            flat[name] = values[0]
    if overrides:
        flat.update(overrides)
    return flat
