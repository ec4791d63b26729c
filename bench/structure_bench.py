"""Structure at hostile sizes: load, lint and diagram times, ours beside another checkout.

Run from the repository root: ``python bench/structure_bench.py``. For each workload
(1,000-, 3,000- and 10,000-level chains that start in their root, a 2,000-state parent
cycle, 35 KB and 149 KB of the densest hierarchy (one short line per level), a
600 KB wide machine) it times:

- ``load``: ``load_spec`` of the YAML text (parse, build, config checks; for the cycle,
  until the ``ConfigError`` is raised);
- ``lint``: ``lint(spec)``;
- ``diagram``: ``to_mermaid(spec)``;
- ``first event``: ``StateMachine.from_spec(spec)`` plus one ``process`` call (the
  engine, for reference; skipped for the cycle, which no machine is built from).

The same run measures the code of another git revision (``--against``, default
``main``; exported with ``git archive`` into a temporary folder) so the two columns
come from one machine at one time. Each (code, workload) pair runs in its own worker
process with a time limit (``--timeout``, default 60 s): a cell that ran out of time
reads ``> 60 s``, one that raised reads the exception's name. Each operation is
repeated (up to 3 times, while it stays under 2 s in all) and the median is shown.
It is a script, not a test: speed is never asserted by the unit tests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = ("load", "lint", "diagram", "first event")


# --------------------------------------------------------------------------- workloads
# Plain text builders (no pystator import), so every checkout measures the same input.


def chain(depth: int) -> str:
    """L0 > L1 > ... : each level enters the next; the machine starts in the root."""
    lines = ["meta: {machine_name: chain}", "states:"]
    for k in range(depth):
        parts = [f"name: L{k}", f"parent: L{k - 1}" if k else "type: initial"]
        if k < depth - 1:
            parts.append(f"initial_child: L{k + 1}")
        lines.append("  - {" + ", ".join(parts) + "}")
    lines.append("  - {name: out, type: terminal}")
    lines.append("transitions:")
    lines.append(f"  - {{trigger: leave, source: L{depth - 1}, dest: out}}")
    lines.append(f"  - {{trigger: up, source: L{depth - 1}, dest: L{depth // 2}}}")
    return "\n".join(lines) + "\n"


def statechart_chain(depth: int) -> str:
    """``chain(depth)`` plus a deep history state in every level and, from every level,
    a guarded eventless transition into the next level's history (lint's loop check
    and the checks on history states at depth)."""
    lines = chain(depth).splitlines()
    cut = lines.index("transitions:")
    history = [
        f"  - {{name: H{k}, parent: L{k}, type: history, history: deep}}"
        for k in range(1, depth - 1)
    ]
    moves = [
        f"  - {{source: L{k}, dest: H{k + 1}, always: true, guards: [{{expr: x}}]}}"
        for k in range(depth - 2)
    ]
    return "\n".join([*lines[:cut], *history, *lines[cut:], *moves]) + "\n"


def eventless_ring(size: int) -> str:
    """``idle`` plus R0 -> R1 -> ... -> R0 by guarded eventless transitions."""
    lines = ["meta: {machine_name: ring}", "states:", "  - {name: idle, type: initial}"]
    lines += [f"  - {{name: R{k}}}" for k in range(size)]
    lines += ["transitions:", "  - {trigger: go, source: idle, dest: R0}"]
    lines += [
        f"  - {{source: R{k}, dest: R{(k + 1) % size}, always: true, guards: [{{expr: spin}}]}}"
        for k in range(size)
    ]
    return "\n".join(lines) + "\n"


def cycle(size: int) -> str:
    """``start`` plus C0 -> C1 -> ... -> C<size-1> -> C0 as parents: refused at load."""
    lines = ["meta: {machine_name: cycle}", "states:", "  - {name: start, type: initial}"]
    lines += [f"  - {{name: C{k}, parent: C{(k + 1) % size}}}" for k in range(size)]
    lines += ["transitions:", "  - {trigger: go, source: start, dest: C0}"]
    return "\n".join(lines) + "\n"


def dense(target_bytes: int) -> str:
    """As many levels as fit in ``target_bytes``: one short line per level, each child
    marked ``type: initial`` (so its parent starts there without ``initial_child``)."""
    lines = ["states:", "  - {name: s0}"]
    size, k = sum(len(x) + 1 for x in lines), 0
    while size < target_bytes:
        k += 1
        lines.append(f"  - {{name: s{k}, parent: s{k - 1}, type: initial}}")
        size += len(lines[-1]) + 1
    lines += ["transitions:", f"  - {{trigger: up, source: s{k}, dest: s{k // 2}}}"]
    return "\n".join(lines) + "\n"


def wide(target_bytes: int) -> str:
    """Many compound groups of 50 states, four transitions per state, to ``target_bytes``."""
    lines = ["meta: {machine_name: wide, strict_mode: false}", "states:"]
    transitions: list[str] = []
    size, group = 0, 0
    while size < target_bytes:
        name = f"group_{group}"
        kind = ", type: initial" if group == 0 else ""
        lines.append(f"  - {{name: {name}{kind}, initial_child: {name}_s0}}")
        for s in range(50):
            state = f"{name}_s{s}"
            lines.append(f"  - {{name: {state}, parent: {name}, on_enter: [enter_{s % 7}]}}")
            for trigger, dest in (
                ("next", f"{name}_s{(s + 1) % 50}"),
                ("skip", f"{name}_s{(s + 7) % 50}"),
                ("jump", f"group_{(group + 1 + s) % (group + 1)}_s{s}"),
                ("check", f"{name}_s{(s + 3) % 50}"),
            ):
                guard = ", guards: [{expr: 'n > 1'}]" if trigger == "check" else ""
                transitions.append(
                    f"  - {{trigger: {trigger}, source: {state}, dest: {dest}{guard}}}"
                )
        size = sum(len(x) + 1 for x in lines) + sum(len(x) + 1 for x in transitions)
        group += 1
    return "\n".join([*lines, "transitions:", *transitions]) + "\n"


WORKLOADS: dict[str, tuple[Callable[[], str], str]] = {
    "chain 1,000 levels": (lambda: chain(1_000), "leave"),
    "chain 3,000 levels": (lambda: chain(3_000), "leave"),
    "chain 10,000 levels": (lambda: chain(10_000), "leave"),
    "parent cycle, 2,000 states": (lambda: cycle(2_000), ""),
    "35 KB dense hierarchy": (lambda: dense(35_000), "up"),
    "149 KB dense hierarchy": (lambda: dense(149_000), "up"),
    "600 KB machine": (lambda: wide(600_000), "next"),
    "chain 3,000 levels, history and always": (lambda: statechart_chain(3_000), "leave"),
    "eventless ring, 2,000 states": (lambda: eventless_ring(2_000), "go"),
}


# --------------------------------------------------------------------------- worker


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    samples: list[float] = []
    result: Any = None
    while len(samples) < 3 and sum(samples) < 2.0:
        started = time.perf_counter()
        result = call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, result


def _spec_by_hand(text: str) -> Any:
    """The spec as written, without the checks (for a definition the loader refuses)."""
    import yaml

    from pystator.model import MachineMeta, MachineSpec, State, Transition

    data = yaml.safe_load(text)
    states = tuple(
        State(s["name"], type=s.get("type", "stable"), parent=s.get("parent"))
        for s in data["states"]
    )
    transitions = tuple(
        Transition(t["trigger"], t["source"], t["dest"]) for t in data["transitions"]
    )
    return MachineSpec(meta=MachineMeta(), states=states, transitions=transitions)


def worker(code_root: str, workload: str) -> None:
    """Measure one workload on the code in ``code_root``; one JSON line per operation."""
    sys.path.insert(0, code_root)
    sys.setrecursionlimit(1_000)  # the interpreter's default, whatever launched us

    from pystator import StateMachine
    from pystator.config import load_spec
    from pystator.diagram import to_mermaid
    from pystator.errors import ConfigError
    from pystator.lint import lint

    build, event = WORKLOADS[workload]
    text = build()
    planned = [op for op in OPERATIONS if event or op != "first event"]
    print(json.dumps({"bytes": len(text.encode()), "ops": planned}), flush=True)

    def report(operation: str, call: Callable[[], Any]) -> Any:
        try:
            ms, result = _timed(call)
        except Exception as error:  # a crash is a result here, not a bench failure
            print(json.dumps({"op": operation, "error": type(error).__name__}), flush=True)
            return None
        print(json.dumps({"op": operation, "ms": ms}), flush=True)
        return result

    def load() -> Any:
        try:
            return load_spec(text)
        except ConfigError:
            return None

    spec = report("load", load)
    if spec is None:
        spec = _spec_by_hand(text)
    report("lint", lambda: lint(spec))
    report("diagram", lambda: to_mermaid(spec))
    if event:

        def first_event() -> Any:
            machine = StateMachine.from_spec(spec)
            return machine.process(machine.initial_state_string(), event, {"n": 2})

        report("first event", first_event)


# --------------------------------------------------------------------------- parent


def _export(revision: str, into: Path) -> Path | None:
    """``revision``'s files in ``into`` (git archive), or None when git cannot give them."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", revision, "pystator"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        print(f"cannot export {revision!r}: {archive.stderr.decode().strip()}", file=sys.stderr)
        return None
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def measure(code_root: Path, workload: str, timeout: float) -> dict[str, Any]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, __file__, "--worker", str(code_root), workload],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(code_root),
    )
    try:
        out, err = process.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        timed_out = True
    cells: dict[str, Any] = {}
    planned = list(OPERATIONS)
    for line in out.splitlines():
        entry = json.loads(line)
        if "bytes" in entry:
            cells["bytes"], planned = entry["bytes"], entry["ops"]
        else:
            cells[entry["op"]] = entry.get("ms", entry.get("error"))
    if timed_out:
        for operation in planned:
            cells.setdefault(operation, f"> {timeout:g} s")
    elif process.returncode != 0:
        last = err.strip().splitlines()[-1] if err.strip() else f"exit {process.returncode}"
        for operation in planned:
            cells.setdefault(operation, last)
    cells["wall"] = time.perf_counter() - started
    return cells


def _cell(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="main", help="git revision to compare with")
    parser.add_argument("--no-against", action="store_true", help="measure our code only")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per worker")
    parser.add_argument(
        "--only", action="append", default=[], help="workloads whose name contains this"
    )
    parser.add_argument("--worker", nargs=2, metavar=("CODE_ROOT", "WORKLOAD"))
    options = parser.parse_args()
    if options.worker:
        worker(*options.worker)
        return 0

    wanted = [w for w in WORKLOADS if not options.only or any(o in w for o in options.only)]
    with tempfile.TemporaryDirectory(prefix="structure-bench-") as tmp:
        roots: dict[str, Path] = {"ours": ROOT}
        if not options.no_against:
            exported = _export(options.against, Path(tmp))
            if exported is not None:
                roots[options.against] = exported
        results: dict[str, dict[str, dict[str, Any]]] = {}
        for workload in wanted:
            for name, root in roots.items():
                print(f"{workload}: {name} ...", file=sys.stderr, flush=True)
                results.setdefault(workload, {})[name] = measure(root, workload, options.timeout)

    names = list(roots)
    print("| workload | size | operation | " + " | ".join(f"{n} ms" for n in names) + " |")
    print("|---|---:|---|" + "---:|" * len(names))
    for workload, by_code in results.items():
        size = by_code["ours"].get("bytes")
        for operation in OPERATIONS:
            if all(operation not in cells for cells in by_code.values()):
                continue
            row = [_cell(by_code[n].get(operation)) for n in names]
            kb = f"{size / 1000:,.0f} KB" if size else ""
            print(f"| {workload} | {kb} | {operation} | " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
