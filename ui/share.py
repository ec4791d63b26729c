"""Self-contained share links: the machine (and a simulation trace) inside the URL.

A token is ``"1" + urlsafe_base64(zlib(json({"yaml": ..., "trace": ...})))`` without
padding: the leading version digit lets the format change later without breaking old
links. Opening a link needs no database row. Tokens longer than :data:`MAX_TOKEN_CHARS`
are refused when made (common proxies and browsers cut URLs around 8 KB): the person is
told to save a revision and share its ``/m/<id>`` link instead.

Decoding never trusts the token: its length is capped before anything else, the
decompressor stops at :data:`MAX_PAYLOAD_BYTES` (a small token cannot expand into a
zip bomb), and every failure is a :class:`ShareError` with a sentence to show.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from pystator.textcheck import MAX_TEXT_BYTES, TextRejected, check_text

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "MAX_TOKEN_CHARS",
    "ShareError",
    "SharedMachine",
    "TokenTooLong",
    "decode_token",
    "encode_token",
]

VERSION = "1"
MAX_TOKEN_CHARS = 8_000
MAX_PAYLOAD_BYTES = MAX_TEXT_BYTES + 1_000_000
_TOO_LONG = (
    "This machine is too large for a self-contained link ({chars:,} characters; links are "
    "limited to {limit:,}). Save it and share the link to the saved revision instead."
)


class ShareError(ValueError):
    """A share token that cannot be opened; ``str(error)`` is the sentence to show."""


class TokenTooLong(ShareError):
    """The machine does not fit in a link; the message says to save a revision instead."""


@dataclass(frozen=True)
class SharedMachine:
    """What a share link carries: the YAML text and, optionally, a simulation trace."""

    yaml: str
    trace: list[Any] | None = field(default=None, hash=False)


def encode_token(yaml_text: str, trace: list[Any] | None = None) -> str:
    """The token for a link carrying ``yaml_text`` (and ``trace``); raises TokenTooLong."""
    try:
        check_text(yaml_text)
    except TextRejected as error:
        raise ShareError(str(error)) from None
    payload: dict[str, Any] = {"yaml": yaml_text}
    if trace is not None:
        payload["trace"] = trace
    raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    packed = zlib.compress(raw, 9)
    token = VERSION + base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenTooLong(_TOO_LONG.format(chars=len(token), limit=MAX_TOKEN_CHARS))
    return token


def _inflate(packed: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(packed, MAX_PAYLOAD_BYTES)
    except zlib.error:
        raise ShareError("This share link is damaged: its data cannot be unpacked.") from None
    if inflater.unconsumed_tail:
        raise ShareError("This share link unpacks to more data than a machine may hold.")
    if not inflater.eof:
        raise ShareError("This share link is incomplete: it may have been cut off when copied.")
    return raw


def decode_token(token: str) -> SharedMachine:
    """The machine a token carries; raises ShareError with a clear message if it cannot."""
    token = token.strip()
    if not token:
        raise ShareError("This share link is empty.")
    if len(token) > MAX_TOKEN_CHARS:
        raise ShareError(
            f"This share link is too long ({len(token):,} characters; at most {MAX_TOKEN_CHARS:,})."
        )
    if token[0] != VERSION:
        raise ShareError(
            "This share link was made by a different version of pystator-ui or is not a share link."
        )
    body = token[1:]
    try:
        packed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=") != body:
            raise ValueError("not canonical base64")
    except (binascii.Error, ValueError):
        raise ShareError(
            "This share link is damaged: it contains characters a link never has. "
            "Copy the whole link again."
        ) from None
    raw = _inflate(packed)
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ShareError("This share link is damaged: its content is not readable.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("yaml"), str):
        raise ShareError("This share link does not contain a machine.")
    trace = payload.get("trace")
    if trace is not None and not isinstance(trace, list):
        raise ShareError("This share link's simulation trace is not a list of steps.")
    try:
        check_text(payload["yaml"])
    except TextRejected as error:
        raise ShareError(str(error)) from None
    return SharedMachine(payload["yaml"], trace)
