"""What ``read_source`` refuses before any machine check runs, each with its code and
place: sizes, bytes that are not UTF-8 text, NUL characters, YAML it cannot read
(with the JSON reader's word on text YAML's reader refuses), an empty document."""

from __future__ import annotations

from pathlib import Path

import pytest

from pystator.config import load_spec
from pystator.config.source import read_source
from pystator.errors import ConfigError

MACHINE = "states: [{name: a}]\n"


def _refusal(source: str | bytes | Path, **options: int) -> tuple[str, str, int | None, int | None]:
    with pytest.raises(ConfigError) as caught:
        read_source(source, **options)  # type: ignore[arg-type]
    (issue,) = caught.value.issues
    return issue.code, issue.message, issue.line, issue.column


def test_a_file_over_the_cap_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(MACHINE, encoding="utf-8")
    code, message, _, _ = _refusal(path, max_bytes=5)
    assert (code, message) == (
        "too-large",
        f"the document is {len(MACHINE)} bytes; the limit is 5 bytes",
    )
    assert read_source(path).data == {"states": [{"name": "a"}]}


def test_a_missing_file_is_an_io_problem(tmp_path: Path) -> None:
    code, message, _, _ = _refusal(tmp_path / "nope.yaml")
    assert code == "io" and message.startswith(f"cannot read {tmp_path / 'nope.yaml'}:")


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (MACHINE.encode() * 10, "too-large", "the limit is 100 bytes"),
        (b"states: [\x00]", "binary", "this is a binary file"),
        (b"name: \xff\xfe", "encoding", "not UTF-8 text (byte 6)"),
    ],
    ids=["too large", "binary", "not utf-8"],
)
def test_bytes_are_refused_by_size_content_and_encoding(data: bytes, code: str, words: str) -> None:
    got_code, message, _, _ = _refusal(data, max_bytes=100)
    assert got_code == code and words in message


def test_bytes_with_a_bom_read_as_text() -> None:
    assert read_source(b"\xef\xbb\xbf" + MACHINE.encode()).data == {"states": [{"name": "a"}]}


@pytest.mark.parametrize(
    ("text", "code", "words", "place"),
    [
        ("states:\n  - {name: a\x00}", "binary", "NUL characters", (None, None)),
        ("", "empty", "the document is empty", (1, 1)),
        ("# nothing but a comment\n", "empty", "the document is empty", (1, 1)),
        ("states: [a\n", "yaml", "YAML syntax error: ", (2, 1)),
        ("states: \x07", "yaml", "cannot parse: ", (1, 1)),
    ],
    ids=["nul", "empty", "comment only", "unclosed", "control character"],
)
def test_text_yaml_cannot_read(
    text: str, code: str, words: str, place: tuple[int | None, int | None]
) -> None:
    got_code, message, line, column = _refusal(text)
    assert got_code == code and words in message, message
    assert (line, column) == place


def test_a_missing_top_level_key_points_at_the_document() -> None:
    with pytest.raises(ConfigError) as caught:
        load_spec("\n\n  meta: {machine_name: x}\n")
    (issue,) = caught.value.issues
    assert (issue.line, issue.column, issue.message) == (3, 3, "missing required key 'states'")
