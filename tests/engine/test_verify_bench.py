"""Keeps ``bench/verify_bench.py`` from rotting: it runs and reports every machine.

Speed is the benchmark's business, not a test's: the exit status (target met or not)
is not asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pystator import StateMachine

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "bench" / "verify_bench.py"


@pytest.mark.slow
def test_the_benchmark_reports_every_machine(tmp_path: Path) -> None:
    out = tmp_path / "verify.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode in (0, 1), done.stderr
    report = json.loads(out.read_text())
    names = [row["machine"] for row in report["rows"]]
    examples = sorted(p.name for p in (REPO_ROOT / "examples").glob("*.yaml"))
    assert names == [*examples, "generated 200 states"]
    generated = report["rows"][-1]
    assert generated["states"] == 200 and generated["explored"] > 200
    assert report["bound"] == 20
    assert all(row["covered"] > 0 for row in report["rows"])


def test_the_generated_machine_is_what_the_benchmark_says() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from verify_bench import generated
    finally:
        sys.path.remove(str(SCRIPT.parent))
    machine = StateMachine.from_yaml(generated())
    assert len(machine.states) == 200
    assert machine.parallel_states and machine.named_guards == {"approved"}
    assert any(t.is_delayed for t in machine.all_transitions)
