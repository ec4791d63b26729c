"""``pystator import-scxml`` and ``pystator export-scxml``: SCXML <-> YAML files.

``import-scxml FILE.scxml -o out.yaml`` writes the machine as YAML (what
``StateMachine.from_yaml`` loads); ``export-scxml FILE.yaml -o out.scxml`` writes a
YAML (or JSON) machine as SCXML. Without ``-o`` the text goes to stdout. Problems
are reported by ``pystator``'s main as ``FILE:line:col: message``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pystator.config import dump_spec, load_spec
from pystator.errors import PystatorError
from pystator.scxml.reader import read_scxml
from pystator.scxml.writer import ScxmlExportError, spec_to_scxml

__all__ = ["register"]


def _write(text: str, output: str | None) -> None:
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def _import(args: argparse.Namespace) -> int:
    _write(dump_spec(read_scxml(Path(args.file))), args.output)
    return 0


def _export(args: argparse.Namespace) -> int:
    try:
        text = spec_to_scxml(load_spec(Path(args.file)))
    except ScxmlExportError as error:
        raise PystatorError(f"{args.file}: {error}") from None
    _write(text, args.output)
    return 0


def register(sub: Any) -> None:
    """Add the two commands to ``pystator``'s subcommand parser."""
    p = sub.add_parser("import-scxml", help="read an SCXML file, write the machine as YAML")
    p.add_argument("file")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.set_defaults(run=_import)
    p = sub.add_parser("export-scxml", help="read a machine file, write it as SCXML")
    p.add_argument("file")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.set_defaults(run=_export)
