"""Several processes send events for the same entities into one SQLite file at once.

The audit trail must show every event applied exactly once, in an unbroken chain:
each transition starts where the previous one ended, versions have no gap and no
repeat.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pystator.core.state_store import SQLiteStateStore
from pystator.runtime import CREATE_TRIGGER

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_processes_racing_on_shared_entities_lose_and_double_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "state.db")
    SQLiteStateStore(db).close()  # create the schema once, before the race
    processes, entities, events = 4, 3, 25
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.runtime.workers",
                "hammer",
                "--db",
                db,
                "--entities",
                str(entities),
                "--events",
                str(events),
                "--name",
                f"p{p}",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in range(processes)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and "DONE" in out, err

    store = SQLiteStateStore(db)
    cycle = {"A": "B", "B": "C", "C": "A"}
    for i in range(entities):
        trail = store.audit_trail(f"c{i}")
        total = processes * events
        assert [r.version for r in trail] == list(range(1, total + 2))
        assert trail[0].trigger == CREATE_TRIGGER
        for before, after in itertools.pairwise(trail):
            assert after.from_state == before.to_state
            assert after.to_state == cycle[after.from_state]
        ids = [r.event_id for r in trail[1:]]
        expected = {f"p{p}-{i}-{n}" for p in range(processes) for n in range(events)}
        assert len(ids) == len(set(ids)) and set(ids) == expected
        writers = {str(e).split("-")[0] for e in ids[: total // 2]}
        assert len(writers) > 1, "the processes did interleave"
    store.close()
