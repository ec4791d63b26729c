"""The ``pystator`` command: validate, lint, draw, process, simulate and verify machine files.

Every command reads a YAML/JSON file, calls the engine and prints what it returns;
problems go to stderr as ``FILE:line:col: path: message`` and exit with status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pystator.config import load_spec
from pystator.errors import ConfigError, PystatorError
from pystator.machine import StateMachine

__all__ = ["main"]


def _load(path: str) -> StateMachine:
    return StateMachine.from_spec(load_spec(Path(path)))


def _validate(args: argparse.Namespace) -> int:
    machine = _load(args.file)
    print(f"{args.file}: ok ({len(machine.states)} states, {len(machine.transitions)} transitions)")
    return 0


def _lint(args: argparse.Namespace) -> int:
    from pystator.lint import lint

    findings = lint(load_spec(Path(args.file)))
    for finding in findings:
        print(f"{finding.to_issue(args.file)} [{finding.severity}: {finding.code}]")
    if not findings:
        print(f"{args.file}: no findings")
    return 1 if any(f.severity == "error" for f in findings) else 0


def _diagram(args: argparse.Namespace) -> int:
    from pystator.diagram import to_mermaid

    machine = _load(args.file)
    active = machine.configuration_of(args.active) if args.active else None
    text = to_mermaid(
        machine,
        direction=args.direction,
        active=active,
        show_actions=args.actions,
        show_guards=not args.no_guards,
    )
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _process(args: argparse.Namespace) -> int:
    machine = _load(args.file)
    try:
        context: Any = json.loads(args.context) if args.context else {}
    except json.JSONDecodeError as exc:
        print(f"--context is not valid JSON: {exc.msg} (column {exc.colno})", file=sys.stderr)
        return 2
    if not isinstance(context, dict):
        print("--context must be a JSON object", file=sys.stderr)
        return 2
    result = machine.process(args.state, args.event, context)
    print(json.dumps(result.to_dict(), indent=2, default=str))
    return 0 if result.success else 1


def _simulate(args: argparse.Namespace) -> int:
    from pystator.simulator import simulate_cli

    print(simulate_cli(_load(args.file), args.events), end="")
    return 0


def _ui(args: argparse.Namespace) -> int:
    try:
        from ui.server import main as ui_main
    except ImportError:
        print('the designer needs the ui extra: pip install "pystator[ui]"', file=sys.stderr)
        return 2
    rest = list(args.rest)
    return ui_main(rest) or 0


def _api(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        print('the REST API needs the api extra: pip install "pystator[api]"', file=sys.stderr)
        return 2
    # The API answers only to loopback names and the names listed here (DNS rebinding).
    os.environ.setdefault("PYSTATOR_ALLOWED_HOSTS", args.host)
    uvicorn.run("pystator.api.main:app", host=args.host, port=args.port)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pystator", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check a machine file; located problems on stderr")
    p.add_argument("file")
    p.set_defaults(run=_validate)

    p = sub.add_parser("lint", help="warn about what is valid but probably wrong")
    p.add_argument("file")
    p.set_defaults(run=_lint)

    p = sub.add_parser("diagram", help="print the Mermaid stateDiagram-v2 text")
    p.add_argument("file")
    p.add_argument("--active", help="highlight this state string (leaf or 'par:region=leaf,...')")
    p.add_argument("--direction", default="TB", choices=["TB", "LR", "BT", "RL"])
    p.add_argument("--actions", action="store_true", help="show transition actions on edges")
    p.add_argument("--no-guards", action="store_true", help="leave guards off the edges")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.set_defaults(run=_diagram)

    p = sub.add_parser("process", help="compute one step: STATE + EVENT -> result as JSON")
    p.add_argument("file")
    p.add_argument("state")
    p.add_argument("event")
    p.add_argument("--context", help="the context as a JSON object")
    p.set_defaults(run=_process)

    p = sub.add_parser("simulate", help="run events and timers on a virtual clock")
    p.add_argument("file")
    p.add_argument(
        "--events",
        required=True,
        help='comma-separated events; "+5s" advances the clock, e.g. "a,b,+5s,c"',
    )
    p.set_defaults(run=_simulate)

    from pystator.verify.cli import add_commands

    add_commands(sub)

    # The designer parses its own options (--host, --port, --db, --open, -h), so this
    # subcommand declares none and hands on whatever follows it.
    p = sub.add_parser("ui", help="start the designer (same as pystator-ui)", add_help=False)
    p.set_defaults(run=_ui, rest=[])

    p = sub.add_parser("api", help="serve the REST API with uvicorn")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(run=_api)

    from pystator.scxml.cli import register as register_scxml

    register_scxml(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if args.run is _ui:
        args.rest = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        code: int = args.run(args)
    except ConfigError as exc:
        for issue in exc.issues:
            print(issue, file=sys.stderr)
        return 1
    except PystatorError as exc:
        print(f"pystator: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"pystator: {exc.strerror or exc}: {exc.filename or ''}", file=sys.stderr)
        return 1
    return code
