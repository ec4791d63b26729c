"""Self-contained share tokens: round trip, size limits and damaged links."""

from __future__ import annotations

import base64
import zlib

import pytest

from ui.share import MAX_TOKEN_CHARS, ShareError, TokenTooLong, decode_token, encode_token


def test_round_trip_with_and_without_trace() -> None:
    text = "states:\n  - name: Ünïcode ✓\n"
    assert decode_token(encode_token(text)).yaml == text
    shared = decode_token(encode_token(text, [{"event": "go"}]))
    assert shared.trace == [{"event": "go"}]


def test_token_is_url_safe() -> None:
    token = encode_token("x: ???>>>~~~\n" * 20)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_too_long_tells_to_save_instead() -> None:
    import random

    rng = random.Random(5)
    text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(20_000))
    with pytest.raises(TokenTooLong, match="Save it"):
        encode_token(text)


def _token(raw: bytes) -> str:
    return "1" + base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "empty"),
        ("2abc", "different version"),
        ("1!!!***", "damaged"),
        ("1" + "A" * 40, "damaged"),
        (_token(b"not json"), "not readable"),
        (_token(b'{"trace": []}'), "does not contain a machine"),
        (_token(b'{"yaml": "a", "trace": 5}'), "trace"),
        ("1" + "A" * (MAX_TOKEN_CHARS + 1), "too long"),
    ],
)
def test_malformed_tokens_give_a_clear_error(token: str, message: str) -> None:
    with pytest.raises(ShareError, match=message):
        decode_token(token)


def test_truncated_token_is_reported() -> None:
    token = encode_token("states:\n" + "  - name: S\n" * 50)
    with pytest.raises(ShareError):
        decode_token(token[: len(token) // 2])


def test_zip_bomb_is_refused_without_inflating_it() -> None:
    bomb = zlib.compress(b'{"yaml": "' + b"a" * 4_000_000 + b'"}', 9)
    token = "1" + base64.urlsafe_b64encode(bomb).decode().rstrip("=")
    assert len(token) < MAX_TOKEN_CHARS
    with pytest.raises(ShareError, match="more data than a machine"):
        decode_token(token)
