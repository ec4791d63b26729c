"""What "Export" hands out for a saved revision: file names, JSON and the loading snippet.

The YAML download is the stored text byte for byte (what ``StateMachine.from_yaml``
loads); the other formats are derived from it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

__all__ = ["file_stem", "python_snippet", "scxml_export", "yaml_to_json"]


def file_stem(name: str) -> str:
    """A file name stem from a machine name: letters, digits, ``_`` and ``-`` only."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")
    return stem[:60] or "machine"


def yaml_to_json(text: str) -> str:
    """The same definition as JSON (for ``StateMachine.from_json``).

    Only call this on text the engine has accepted: the engine's loader has already
    refused alias bombs and oversized input, so expanding the data here is bounded.
    """
    data = yaml.safe_load(text)
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def python_snippet(filename: str) -> str:
    """A few lines that load the exported file with the library and look at it."""
    return (
        "from pystator import StateMachine\n"
        "\n"
        f"machine = StateMachine.from_yaml({filename!r})\n"
        "state = machine.get_initial_state().name\n"
        "for transition in machine.get_available_transitions(state):\n"
        "    print(state, '--', transition.trigger, '->', transition.dest)\n"
    )


def scxml_export(machine: Any) -> tuple[str | None, str | None]:
    """The machine as SCXML, or ``None`` and the sentence saying what SCXML cannot carry.

    ``ScxmlExportError`` names the state or transition at fault; the page shows it as is.
    """
    from pystator.scxml import ScxmlExportError, to_scxml

    try:
        return to_scxml(machine), None
    except ScxmlExportError as error:
        detail = str(error).rstrip(".")
        return None, f"This machine cannot be written as SCXML: {detail}."
