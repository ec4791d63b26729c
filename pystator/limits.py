"""Limits on JSON that comes from outside: size, nesting depth, integer digits, clean text.

Contexts, payloads, simulation traces and REST API bodies arrive as JSON typed by people or
sent by programs. Python's own parser accepts things the rest of pystator cannot carry: it
recurses until ``RecursionError`` on very deep nesting, refuses integers over 4,300 digits
with a bare ``ValueError``, returns ``Infinity``/``NaN`` that no JSON output may hold, and
keeps lone surrogates (``"\\ud800"``) that no UTF-8 answer can encode. :func:`load_json`
reads such text once, within :data:`MAX_JSON_DEPTH` and :data:`MAX_INT_DIGITS`, and raises
:class:`JsonInputError` saying what is wrong and where (line and column in the text, or the
path of the value). :func:`check_json_value` applies the same rules to a value that is
already parsed.

The designer, the REST API and the simulator's trace decoder all call this module, so the
same input gets the same answer everywhere.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from pystator.errors import PystatorError

__all__ = [
    "MAX_INT_DIGITS",
    "MAX_JSON_CHARS",
    "MAX_JSON_DEPTH",
    "JsonInputError",
    "check_json_value",
    "load_json",
    "long_number",
]

MAX_JSON_DEPTH = 64
"""Objects and lists open at once. Real contexts and traces nest a handful of levels."""

MAX_INT_DIGITS = 100
"""Digits in one integer (far beyond any count, id or timestamp; far below Python's 4,300)."""

MAX_JSON_CHARS = 2_000_000
"""The default size limit of one JSON text, in characters."""

_INT_BOUND = 10**MAX_INT_DIGITS
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|NaN|-?Infinity')
_LONG_DIGITS = re.compile(rf"\d{{{MAX_INT_DIGITS + 1},}}")


class JsonInputError(PystatorError, ValueError):
    """JSON that is malformed or beyond a limit; ``str(error)`` is the sentence to show.

    ``line`` and ``column`` (1-based) point into the text when the place is known; ``path``
    names the value (``context.order.items[3]``) when the problem is in a parsed value.
    """

    def __init__(
        self, message: str, line: int | None = None, column: int | None = None, path: str = ""
    ) -> None:
        where = f" (line {line}, column {column})" if line is not None else ""
        shown = path if len(path) <= 80 else path[:77] + "..."
        at = f" at {shown}" if path else ""
        super().__init__(f"{message}{at}{where}")
        self.message = message
        self.line = line
        self.column = column
        self.path = path


class _TooManyDigits(Exception):
    pass


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _TooManyDigits
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite
    return value


class _NotFinite(Exception):
    pass


def _constant(name: str) -> Any:
    raise _NotFinite


def _line_column(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _where_too_deep(text: str) -> tuple[int, int] | tuple[None, None]:
    depth = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return _line_column(text, match.start())
        elif token in "]}":
            depth -= 1
    return None, None


def _where_number(text: str, bad: Callable[[str], bool]) -> tuple[int, int] | tuple[None, None]:
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token[0] not in '"[]{}' and bad(token):
            return _line_column(text, match.start())
    return None, None


def _too_long(token: str) -> bool:
    return token.lstrip("-").isdigit() and len(token.lstrip("-")) > MAX_INT_DIGITS


def _not_finite(token: str) -> bool:
    return token in ("NaN", "Infinity", "-Infinity") or not math.isfinite(float(token))


def long_number(text: str) -> bool:
    """True when ``text`` holds a run of more than :data:`MAX_INT_DIGITS` digits."""
    return _LONG_DIGITS.search(text) is not None


def load_json(text: str | bytes, what: str = "the JSON", max_chars: int = MAX_JSON_CHARS) -> Any:
    """Parse ``text`` within the limits; :class:`JsonInputError` says what and where.

    ``what`` names the text in messages ("the context", "the request body").
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise JsonInputError(f"{what} is not UTF-8 text (byte {error.start})") from None
    if len(text) > max_chars:
        raise JsonInputError(
            f"{what} is too large ({len(text):,} characters; at most {max_chars:,})"
        )
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as error:
        message = f"{what} is not valid JSON: {error.msg}"
        raise JsonInputError(message, error.lineno, error.colno) from None
    except RecursionError:
        line, column = _where_too_deep(text)
        raise JsonInputError(
            f"{what} nests more than {MAX_JSON_DEPTH} levels deep", line, column
        ) from None
    except _TooManyDigits:
        line, column = _where_number(text, _too_long)
        raise JsonInputError(
            f"{what} has a number with more than {MAX_INT_DIGITS} digits", line, column
        ) from None
    except _NotFinite:
        line, column = _where_number(text, _not_finite)
        message = f"{what} has a number too large for JSON (or NaN/Infinity)"
        raise JsonInputError(message, line, column) from None
    try:
        check_json_value(value, what)
    except JsonInputError as error:
        if error.message.startswith(f"{what} nests"):
            line, column = _where_too_deep(text)
            path = error.path if line is None else ""
            raise JsonInputError(error.message, line, column, path) from None
        raise
    return value


def check_json_value(value: Any, what: str = "the value") -> None:
    """Refuse a parsed value that nests too deep, has an over-long integer, a number JSON
    cannot write, a lone surrogate in its text, or anything that is not JSON data.

    Walks the value with an explicit stack, so no nesting can overflow Python's.
    """
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, what, path)
        elif item is None or item is True or item is False:
            continue
        elif isinstance(item, (dict, list, tuple)):
            if depth >= MAX_JSON_DEPTH:
                raise JsonInputError(
                    f"{what} nests more than {MAX_JSON_DEPTH} levels deep", path=path
                )
            _push_children(stack, item, what, path, depth + 1)
        else:
            _check_number(item, what, path)


def _push_children(
    stack: list[tuple[Any, str, int]],
    item: dict[Any, Any] | list[Any] | tuple[Any, ...],
    what: str,
    path: str,
    depth: int,
) -> None:
    """Put a container's children on the walk's stack with their paths; a mapping's keys
    are checked as they are reached."""
    if isinstance(item, dict):
        for key, child in item.items():
            if not isinstance(key, str):
                raise JsonInputError(f"{what} has a key that is not text", path=path)
            _check_text(key, what, path)
            stack.append((child, f"{path}.{key}" if path else key, depth))
    else:
        for index, child in enumerate(item):
            stack.append((child, f"{path}[{index}]", depth))


def _check_number(item: Any, what: str, path: str) -> None:
    """An integer JSON can write in full, a finite float; anything else is not JSON data."""
    if isinstance(item, int):
        if not -_INT_BOUND < item < _INT_BOUND:
            raise JsonInputError(
                f"{what} has a number with more than {MAX_INT_DIGITS} digits", path=path
            )
    elif isinstance(item, float):
        if not math.isfinite(item):
            shown = "NaN" if math.isnan(item) else ("-" if item < 0 else "") + "Infinity"
            raise JsonInputError(f"{what} has {shown}, which JSON cannot hold", path=path)
    else:
        raise JsonInputError(
            f"{what} must be plain JSON data (dict, list, str, number, bool, null), "
            f"not {type(item).__name__}",
            path=path,
        )


def _check_text(text: str, what: str, path: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise JsonInputError(
            f"{what} has text with a lone surrogate (\\u{ord(text[error.start]):04x}), "
            "which is not a character",
            path=path,
        ) from None
