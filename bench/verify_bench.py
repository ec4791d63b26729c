"""Model checking and test generation must take < 1 s per machine with a bound of 20 steps.

Run from the repository root: ``python bench/verify_bench.py`` (``--quick`` for one
repeat, ``--json FILE`` to keep the figures). For every machine in ``examples/``
and for a generated 200-state machine (seeded: compound states, a parallel state,
history, ``expr`` and named guards, ``after`` timers and a timeout), it times
``pystator.verify.check`` and ``pystator.verify.paths`` with ``max_steps=20`` and
prints the configurations explored, whether the bound cut the exploration, and the
median time. Each repeat starts cold: a freshly loaded machine and the solver's
cache emptied, as after an edit in the designer. Exit status 1 when a median
misses the target.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pystator import StateMachine  # noqa: E402
from pystator.verify import check, paths  # noqa: E402
from pystator.verify import solver as _solver  # noqa: E402

TARGET_S = 1.0
BOUND = 20


def generated(states: int = 200, seed: int = 20) -> str:
    """A seeded machine of ``states`` states, as YAML text."""
    rng = random.Random(seed)
    groups = 12
    per_group = (states - groups - 9) // groups  # leaves; spares fill up to ``states``
    lines = ["meta: {machine_name: generated_200}", "states:", "  - {name: start, type: initial}"]
    leaves: list[str] = []
    for g in range(groups):
        kids = [f"g{g}_s{i}" for i in range(per_group)]
        lines.append(f"  - {{name: g{g}, initial_child: {kids[0]}}}")
        lines += [f"  - {{name: {k}, parent: g{g}}}" for k in kids]
        leaves += kids
    lines.append("  - {name: g0_back, parent: g0, type: history}")
    lines.append(
        "  - name: monitor\n    type: parallel\n    regions:\n"
        "      - {name: link, initial: up, states: [up, down]}\n"
        "      - {name: load, initial: low, states: [low, high]}"
    )
    lines.append("  - {name: done, type: terminal}")
    lines.append("  - {name: failed, type: terminal}")
    named = sum(1 for line in lines if line.startswith("  - ")) + 4  # + the region states
    while named < states:
        lines.append(f"  - {{name: spare{named}, parent: g{groups - 1}}}")
        leaves.append(f"spare{named}")
        named += 1
    guards = [
        None,
        None,
        "n > 3",
        "n <= 3",
        "m in ['a', 'b']",
        "n + k > 10 and k < 4",
        "len(items) >= 2",
        "approved",
    ]
    triggers = [f"e{i}" for i in range(16)]
    lines.append("transitions:")
    lines.append("  - {trigger: begin, source: start, dest: g0}")
    for g in range(groups):
        lines.append(f"  - {{trigger: next_group, source: g{g}, dest: g{(g + 1) % groups}}}")
    for leaf in leaves:
        for _ in range(2):
            dest = rng.choice(leaves)
            guard = rng.choice(guards)
            trigger = rng.choice(triggers)
            extra = ""
            if guard == "approved":
                extra = ", guards: [approved]"
            elif guard is not None:
                extra = f', guards: [{{expr: "{guard}"}}]'
            lines.append(f"  - {{trigger: {trigger}, source: {leaf}, dest: {dest}{extra}}}")
    lines += [
        "  - {trigger: pause, source: g0, dest: monitor}",
        "  - {trigger: resume, source: monitor, dest: g0_back}",
        "  - {trigger: drop, source: up, dest: down}",
        '  - {trigger: spike, source: low, dest: high, guards: [{expr: "n > 3"}]}',
        "  - {trigger: settle, source: high, dest: low, after: 2s}",
        "  - {trigger: reconnect, source: down, dest: up, after: 5s}",
        "  - {trigger: finish, source: g3, dest: done}",
        "  - {trigger: crash, source: g5, dest: failed, after: 30s}",
    ]
    return "\n".join(lines) + "\n"


def machines() -> list[tuple[str, Callable[[], StateMachine]]]:
    out: list[tuple[str, Callable[[], StateMachine]]] = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        out.append((path.name, lambda text=text: StateMachine.from_yaml(text)))  # type: ignore[misc]
    text = generated()
    out.append(("generated 200 states", lambda: StateMachine.from_yaml(text)))
    return out


def timed(
    make: Callable[[], StateMachine], run: Callable[[StateMachine], Any], repeat: int
) -> tuple[float, float, Any]:
    """Median wall-clock and CPU seconds of ``run`` on a fresh machine, and its result."""
    wall, cpu = [], []
    result = None
    for _ in range(repeat):
        machine = make()
        _solver._solve_cached.cache_clear()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = run(machine)
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return statistics.median(wall), statistics.median(cpu), result


def _ms(cpu: float, wall: float) -> str:
    return f"{cpu * 1000:>6.0f}ms ({wall * 1000:>5.0f}ms)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat per measurement")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else 5
    rows: list[dict[str, Any]] = []
    print(
        f"bound {BOUND} steps; target < {TARGET_S:.0f} s each, judged on CPU time (the "
        f"machine may be shared; wall clock in brackets); median of {repeat}"
    )
    print(
        f"{'machine':<32} {'states':>6} {'explored':>8} {'cut':>4} "
        f"{'check':>17} {'paths':>17}  coverage"
    )
    for name, make in machines():
        check_wall, check_s, report = timed(make, lambda m: check(m, max_steps=BOUND), repeat)
        paths_wall, paths_s, found = timed(make, lambda m: paths(m, max_steps=BOUND), repeat)
        assert report.exploration is not None
        explored = len(report.exploration.nodes)
        figures = found.figures()["transitions"]
        row = {
            "machine": name,
            "states": len(make().states),
            "explored": explored,
            "complete": report.complete,
            "violations": len(report.violations),
            "check_cpu_s": check_s,
            "check_wall_s": check_wall,
            "paths_cpu_s": paths_s,
            "paths_wall_s": paths_wall,
            "covered": figures["covered"],
            "transitions": figures["total"],
        }
        rows.append(row)
        cut = "yes" if not report.complete else "no"
        print(
            f"{name:<32} {row['states']:>6} {explored:>8} {cut:>4} "
            f"{_ms(check_s, check_wall)} {_ms(paths_s, paths_wall)}  "
            f"{figures['covered']}/{figures['total']} transitions"
        )
    slow = [r["machine"] for r in rows if max(r["check_cpu_s"], r["paths_cpu_s"]) >= TARGET_S]
    print("all within target" if not slow else f"over target: {', '.join(slow)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"bound": BOUND, "rows": rows}, indent=2) + "\n")
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
