"""The starting points offered by "New" and "Open example": the blank machine and examples/.

Examples are read from the ``examples/*.yaml`` files (package data in a wheel) each time
they are listed, so a new example needs no code change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ui.paths import EXAMPLES_DIR

__all__ = ["BLANK_MACHINE", "Example", "find_example", "list_examples"]

BLANK_MACHINE = """\
meta:
  version: "1.0.0"
  machine_name: "new_machine"

states:
  - name: IDLE
    type: initial
  - name: RUNNING
    type: stable
  - name: DONE
    type: terminal

transitions:
  - trigger: start
    source: IDLE
    dest: RUNNING
  - trigger: finish
    source: RUNNING
    dest: DONE
"""


@dataclass(frozen=True)
class Example:
    """One example file: ``slug`` is its file stem, ``title`` a readable form of it."""

    slug: str
    title: str
    path: Path

    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")


def list_examples(directory: Path = EXAMPLES_DIR) -> list[Example]:
    if not directory.is_dir():
        return []
    return [
        Example(path.stem, path.stem.replace("_", " ").replace("-", " ").capitalize(), path)
        for path in sorted(directory.glob("*.yaml"))
    ]


def find_example(slug: str, directory: Path = EXAMPLES_DIR) -> Example | None:
    return next((e for e in list_examples(directory) if e.slug == slug), None)
