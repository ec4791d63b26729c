"""SCXML in and out: ``from_scxml`` reads a W3C SCXML document into a machine,
``to_scxml`` writes a machine as one.

``StateMachine.from_scxml(path_or_text)`` is the same reader. The supported subset,
and what each unsupported element or attribute says, is in the README's "SCXML"
section; the conformance table (W3C and SCION suites) is docs/conformance.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pystator.scxml.ecmascript import TranslationError, to_ecmascript, to_python
from pystator.scxml.reader import PS, SCXML, read_scxml
from pystator.scxml.writer import ScxmlExportError, spec_to_scxml

if TYPE_CHECKING:
    from pystator.machine import StateMachine
    from pystator.model import MachineSpec

__all__ = [
    "PS",
    "SCXML",
    "ScxmlExportError",
    "TranslationError",
    "from_scxml",
    "read_scxml",
    "spec_to_scxml",
    "to_ecmascript",
    "to_python",
    "to_scxml",
]


def from_scxml(source: str | bytes | Path, *, source_name: str | None = None) -> StateMachine:
    """A machine from SCXML: a path, or the document's text (anything starting with ``<``).

    Raises ``ConfigError`` with every problem located at its line and column.
    """
    from pystator.machine import StateMachine

    if isinstance(source, str) and not source.lstrip().startswith("<"):
        source = Path(source)
    return StateMachine(read_scxml(source, source_name=source_name))


def to_scxml(machine: StateMachine | MachineSpec) -> str:
    """The SCXML text of a machine; ``from_scxml`` reads it back to an equal machine.

    What SCXML has no word for (host actions, named guards, ``after`` and timeouts,
    state types, region names) is written in pystator's own namespace (``ps:``).
    """
    from pystator.model import MachineSpec

    spec = machine if isinstance(machine, MachineSpec) else machine.spec
    return spec_to_scxml(spec)
