"""Keeps ``bench/structure_bench.py`` from rotting: one small workload, our code only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "structure_bench.py"


@pytest.mark.slow
def test_structure_benchmark_reports_a_number_for_every_operation() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--no-against", "--only", "chain 1,000", "--only", "cycle"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split(" | ") for line in done.stdout.splitlines() if line.startswith("| ")]
    operations = ("load", "lint", "diagram", "first event")
    assert [(row[0], row[2]) for row in rows[1:]] == [
        *(("| chain 1,000 levels", op) for op in operations),
        *(("| parent cycle, 2,000 states", op) for op in operations[:3]),
    ]
    for row in rows[1:]:
        float(row[3].rstrip(" |").replace(",", ""))  # a time, not "n/a" or an error
