"""``pystator paths FILE`` and ``pystator check FILE``: the verification faces of the CLI.

``paths`` prints the generated runs and the coverage, and with ``-o DIR`` writes one
pytest file and one simulator trace per run. ``check`` prints each violation as
``FILE:line:col: message [code]`` with its shortest counterexample and the designer
link that opens it, writes the failing pytest files with ``-o DIR``, and exits with
status 1 when anything is violated. ``--json`` prints what the library returns.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pystator.config import load_spec
from pystator.machine import StateMachine
from pystator.verify.checker import check
from pystator.verify.coverage import paths
from pystator.verify.explore import DEFAULT_MAX_STATES, DEFAULT_MAX_STEPS

__all__ = ["DESIGNER", "add_commands"]

DESIGNER = "http://127.0.0.1:8000"
"""pystator-ui's default address (``ui.app.DEFAULT_ORIGIN``), where links are printed."""


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``paths`` and ``check`` on the ``pystator`` parser."""
    p = sub.add_parser("paths", help="generate the shortest runs that cover every transition")
    _common(p)
    p.add_argument("-o", "--output", help="write a pytest file and a trace per run to this folder")
    p.set_defaults(run=_paths)

    p = sub.add_parser("check", help="model-check: deadlocks, livelocks, the verify: properties")
    _common(p)
    p.add_argument("-o", "--output", help="write a failing pytest file per violation here")
    p.set_defaults(run=_check)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("file")
    p.add_argument(
        "--max-steps",
        type=_positive,
        default=DEFAULT_MAX_STEPS,
        help=f"explore runs of at most this many moves (default {DEFAULT_MAX_STEPS})",
    )
    p.add_argument(
        "--max-states",
        type=_positive,
        default=DEFAULT_MAX_STATES,
        help=f"explore at most this many configurations (default {DEFAULT_MAX_STATES})",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, got {value}")
    return value


def _load(path: str) -> tuple[StateMachine, str]:
    file = Path(path)
    text = file.read_text(encoding="utf-8")
    return StateMachine.from_spec(load_spec(file)), text


def _paths(args: argparse.Namespace) -> int:
    machine, text = _load(args.file)
    found = paths(machine, max_steps=args.max_steps, max_states=args.max_states)
    if args.json:
        print(json.dumps(found.to_dict(), indent=2))
        return 0
    print(f"{args.file}: {found.summary()}")
    for n, run in enumerate(found.runs, start=1):
        covers = ", ".join(i.describe(machine) for i in found.covers(n - 1))
        moves = f"{len(run)} move" + ("" if len(run) == 1 else "s")
        print(f"\nrun {n} ({moves}; first to cover {covers}):")
        for line in run.describe():
            print(f"  {line}")
    if found.uncovered:
        print("\nnot covered:")
        for u in found.uncovered:
            print(f"  {u.item.describe(machine)}: {u.reason} [{u.code}]")
    if args.output:
        folder = Path(args.output)
        folder.mkdir(parents=True, exist_ok=True)
        stem = Path(args.file).stem
        for (name, body), run in zip(
            found.pytest_files(text, stem).items(), found.runs, strict=True
        ):
            (folder / name).write_text(body, encoding="utf-8")
            (folder / name.replace("test_", "", 1).replace(".py", ".json")).write_text(
                run.trace_json() + "\n", encoding="utf-8"
            )
        print(f"\nwrote {len(found.runs)} pytest files and traces to {folder}")
    return 0


def _check(args: argparse.Namespace) -> int:
    machine, text = _load(args.file)
    report = check(machine, max_steps=args.max_steps, max_states=args.max_states)
    if args.json:
        print(json.dumps(report.to_dict(text), indent=2))
        return 0 if report.ok else 1
    for v in report.violations:
        where = ":".join(str(x) for x in (args.file, v.line, v.column) if x is not None)
        print(f"{where}: {v.message} [{v.code}]")
        if v.run is None:
            continue
        print("  counterexample:" if len(v.run) else "  counterexample: at the start")
        for line in v.run.describe():
            print(f"    {line}")
        try:
            link = v.share_path(text)
        except ImportError:
            print('  (a designer link needs the ui extra: pip install "pystator[ui]")')
            continue
        if link is not None:
            print(f"  open it in the designer: {DESIGNER}{link}")
        else:
            print("  (too long for a designer link: save the machine and replay the trace)")
    print(f"{args.file}: {report.summary()}")
    if args.output and report.violations:
        folder = Path(args.output)
        folder.mkdir(parents=True, exist_ok=True)
        stem = Path(args.file).stem
        written = 0
        for n, v in enumerate(report.violations, start=1):
            body = v.pytest(text, Path(args.file).name)
            if body is None:
                continue
            name = f"test_{stem}_{v.code.replace('-', '_')}_{n:02d}.py"
            (folder / name).write_text(body, encoding="utf-8")
            written += 1
        print(f"wrote {written} failing pytest files to {folder}")
    return 0 if report.ok else 1
