"""What lint's verify checks (unsatisfiable guards, deadlocks) add to each keystroke.

Run from the repository root: ``python bench/lint_bench.py`` (about 20 s).

The designer validates the editor's text on every pause in typing
(``ui.checking.check``: load, compile, lint, draw). For each machine this prints the
median time of that whole call and of ``lint`` alone, in three cases:

- ``cold``: a fresh process's first look (the guard solver's cache and lint's memory
  emptied before each run);
- ``edit``: a keystroke that changes the machine (one more state each time), so lint's
  memory misses and the checks run again, with the solver's cache warm as it is while
  someone types;
- ``same``: a keystroke that changes no behaviour (a comment), answered from memory.

Machines: the day-trading example, the 30-state machine of ``bench/ui_bench.py``, its
200-state one, a 3,000-level chain whose leaf waits on a guard (too large to search:
lint says so) and the same chain with eventless moves into history at every level.
Target: ``edit`` adds under 15 ms to the check for the day-trading and 30-state machines.
Exit status 1 when it does not.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import yaml  # noqa: E402
from ui_bench import machine_30, machine_200  # noqa: E402

from pystator.config import load_spec  # noqa: E402
from pystator.lint import CHECKS, lint  # noqa: E402
from pystator.verify import findings, solver  # noqa: E402
from ui.checking import check  # noqa: E402

TARGET_MS = 15.0
RUNS = 9


def chain(depth: int, history: bool) -> str:
    lines = ["states:", "  - {name: L0, type: initial, initial_child: L1}"]
    for k in range(1, depth):
        child = f", initial_child: L{k + 1}" if k < depth - 1 else ""
        lines.append(f"  - {{name: L{k}, parent: L{k - 1}{child}}}")
        if history and k < depth - 1:
            lines.append(f"  - {{name: H{k}, parent: L{k}, type: history, history: deep}}")
    lines += ["  - {name: out, type: terminal}", "transitions:"]
    lines.append(
        f'  - {{trigger: leave, source: L{depth - 1}, dest: out, guards: [{{expr: "x > 1"}}]}}'
    )
    if history:
        for k in range(depth - 2):
            lines.append(
                f'  - {{source: L{k}, dest: H{k + 1}, always: true, guards: [{{expr: "x"}}]}}'
            )
    return "\n".join(lines) + "\n"


def forget() -> None:
    solver._solve_cached.cache_clear()
    findings._memory.clear()


def median_ms(action: Callable[[int], object], before: Callable[[], None] | None) -> float:
    times = []
    for n in range(RUNS):
        if before is not None:
            before()
        start = time.perf_counter()
        action(n)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def edited(text: str, n: int) -> str:
    """The text with one more state (a new machine for lint's memory)."""
    data = yaml.safe_load(text)
    data["states"].append({"name": f"extra_{n}"})
    return yaml.safe_dump(data, sort_keys=False)


def without_verify_checks(action: Callable[[], object]) -> float:
    """``action``'s median time with lint's verify checks taken out (the baseline)."""
    import pystator.lint as lint_module

    kept = lint_module.CHECKS
    lint_module.CHECKS = tuple(
        c for c in kept if c not in (findings.check_deadlocks, findings.check_unsatisfiable_guards)
    )
    try:
        return median_ms(lambda _n: action(), None)
    finally:
        lint_module.CHECKS = kept


def main() -> int:
    assert findings.check_deadlocks in CHECKS
    machines = {
        "day-trading": (ROOT / "examples" / "day_trading_fsm.yaml").read_text(),
        "30 states": machine_30(),
        "200 states": machine_200(),
        "3,000-level chain": chain(3000, history=False),
        "3,000 levels + history": chain(3000, history=True),
    }
    print(f"{'machine':24s} {'case':6s} {'check ms':>9s} {'lint ms':>8s}  notes")
    failed = False
    for name, text in machines.items():
        spec = load_spec(text)
        base = without_verify_checks(lambda text=text: check(text))
        print(f"{name:24s} {'none':6s} {base:9.1f} {'':>8s}  without the verify checks")
        edits = [edited(text, n) for n in range(RUNS)]
        cases = {
            "cold": (lambda _n, text=text: check(text), forget),
            "edit": (lambda n, edits=edits: check(edits[n]), None),
            "same": (lambda n, text=text: check(f"# note {n}\n" + text), None),
        }
        check(text)  # warm the solver for "edit" and the memory for "same"
        # lint alone on already-loaded specs: new machines for "edit", the same for the rest
        fresh = [load_spec(edited(text, 100 + n)) for n in range(RUNS)]
        for case, (action, before) in cases.items():
            total = median_ms(action, before)
            if case == "edit":
                alone = median_ms(lambda n, fresh=fresh: lint(fresh[n]), None)
            else:
                alone = median_ms(lambda _n, spec=spec: lint(spec), before)
            notes = ""
            if case == "edit" and name in ("day-trading", "30 states"):
                verdict = "PASS" if total - base < TARGET_MS else "FAIL"
                failed |= verdict == "FAIL"
                notes = f"adds {total - base:.1f} ms (target < {TARGET_MS:g}): {verdict}"
            print(f"{name:24s} {case:6s} {total:9.1f} {alone:8.1f}  {notes}")
        found = [f.code for f in lint(spec) if f.code.startswith("deadlock")]
        print(f"{'':24s} findings: {', '.join(found) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
