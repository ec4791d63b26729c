"""What the designer accepts as machine text, and the messages it gives when it does not.

Every way text enters the app (the editor, an upload, a share link, a fork) passes through
here, so a 10 MB paste or a binary file gets the same clear sentence everywhere instead of
reaching the YAML parser.
"""

from __future__ import annotations

__all__ = [
    "MAX_NAME_CHARS",
    "MAX_NESTING",
    "MAX_TEXT_BYTES",
    "TextRejected",
    "check_text",
    "clean_name",
    "decode_file",
]

MAX_TEXT_BYTES = 1_000_000
MAX_NAME_CHARS = 120
# PyYAML's C parser crashes the whole process (SIGSEGV) on about 30 000 nested "[" or "- ",
# and its Python constructor overflows the stack near 1 000 levels. No machine nests
# anywhere near this deep, so deeper text is refused before it reaches the parser.
MAX_NESTING = 200


class TextRejected(ValueError):
    """The text cannot be a machine definition; ``str(error)`` is the sentence to show.

    ``line`` and ``column`` (1-based) point at the offending place when there is one, so the
    editor can jump there like it does for any other problem.
    """

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


def _size_message(size: int) -> str:
    return (
        f"This text is {size / 1_000_000:.1f} MB; the designer accepts machine definitions "
        f"up to {MAX_TEXT_BYTES // 1_000_000} MB. Split the machine or load it with the "
        "library directly."
    )


def check_text(text: str) -> str:
    """Return ``text`` unchanged if it can be a machine definition, else raise TextRejected."""
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_TEXT_BYTES:
        raise TextRejected(_size_message(size))
    if "\x00" in text:
        raise TextRejected(
            "The text contains NUL characters: it looks like a binary file, not YAML."
        )
    too_deep = _first_too_deep(text)
    if too_deep is not None:
        line, column = too_deep
        raise TextRejected(
            f"Line {line} nests more than {MAX_NESTING} levels deep; no machine needs that, "
            "and the YAML parser cannot handle it safely.",
            line,
            column,
        )
    return text


def _first_too_deep(text: str) -> tuple[int, int] | None:
    """The (1-based) line and column where the YAML nesting first passes MAX_NESTING.

    Counts an upper bound: flow brackets across the text plus, per line, the indentation and
    the leading "- " / "? " markers. Brackets inside quoted strings count too, which only
    overestimates.
    """
    brackets = 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip(" ")
        block = len(line) - len(stripped)
        while stripped[:2] in {"- ", "? "}:
            block += 2
            stripped = stripped[2:].lstrip(" ")
        if block + brackets > MAX_NESTING:
            return number, block + 1
        for column, char in enumerate(line, start=1):
            if char in "[{":
                brackets += 1
                if block + brackets > MAX_NESTING:
                    return number, column
            elif char in "]}" and brackets:
                brackets -= 1
    return None


def decode_file(data: bytes, filename: str = "") -> str:
    """Decode an uploaded file to text, refusing oversized, binary and non-UTF-8 files."""
    label = f"{filename!r}" if filename else "The file"
    if len(data) > MAX_TEXT_BYTES:
        raise TextRejected(f"{label}: " + _size_message(len(data)))
    if not data.strip():
        raise TextRejected(f"{label} is empty.")
    if b"\x00" in data:
        raise TextRejected(f"{label} is a binary file; import a YAML or JSON text file.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TextRejected(
            f"{label} is not UTF-8 text (byte {error.start} cannot be decoded); "
            "import a YAML or JSON text file."
        ) from None
    return check_text(text)


def clean_name(name: str) -> str:
    """A machine name with whitespace collapsed and control characters dropped."""
    printable = "".join(ch if ch.isprintable() else " " for ch in name)
    collapsed = " ".join(printable.split())
    if not collapsed:
        raise TextRejected("A machine needs a name.")
    if len(collapsed) > MAX_NAME_CHARS:
        raise TextRejected(f"Names are at most {MAX_NAME_CHARS} characters.")
    return collapsed
