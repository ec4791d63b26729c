"""Keeps ``bench/engine_bench.py`` from rotting: runs our side of it on tiny sizes.

Only our engine is measured (no virtual environment is created, nothing is installed);
the point is that every scenario still builds, runs and reports a number, not the speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "bench" / "engine_bench.py"
SCENARIOS = (
    "flat",
    "guard_callable",
    "guard_expr",
    "hierarchy",
    "parallel",
    "big_events",
    "big_build",
    "big_yaml",
    "entity_bytes",
)


@pytest.mark.slow
def test_benchmark_runs_every_scenario_on_our_engine(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--quick",
            "--engines",
            "ours",
            "--repeats",
            "1",
            "--states",
            "20",
            "--transitions",
            "40",
            "--entities",
            "200",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    ours = report["engines"]["ours"]
    assert ours["available"], ours.get("reason")
    assert Path(ours["module_file"]).resolve().is_relative_to(REPO_ROOT), ours["module_file"]
    for scenario in SCENARIOS:
        cell = ours["results"][scenario]
        assert "value" in cell, f"{scenario}: {cell}\n{done.stdout}"
        assert cell["value"] > 0, f"{scenario}: {cell}"
    table = done.stdout
    assert "| scenario | ours | 0.0.1 | transitions |" in table
    assert "20-state / 40-transition machine (events/s)" in table
