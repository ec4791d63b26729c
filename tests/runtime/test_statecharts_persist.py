"""History and internal events survive a restart: the engine snapshot lives in the store.

A process leaves a compound state with a history child, then stops; a new process on
the same SQLite file resumes through the history state and lands where the first left.
"""

from __future__ import annotations

from pathlib import Path

from pystator import ActionRegistry, StateMachine
from pystator.runtime.orchestrator import Orchestrator
from pystator.runtime.sqlite_store import SQLiteStateStore

EXAMPLES = Path(__file__).parents[2] / "examples"

RELAY = """
states:
  - {name: A, type: initial}
  - {name: B, on_enter: [{raise: ping}]}
  - {name: C, on_enter: [arrived]}
transitions:
  - {trigger: go, source: A, dest: B}
  - {trigger: ping, source: B, dest: C}
"""


def _orchestrator(machine: StateMachine, path: Path, ran: list[str]) -> Orchestrator:
    registry = ActionRegistry()
    for name in (
        "open_editor",
        "close_editor",
        "assign_reviewer",
        "fast_track",
        "publish",
        "arrived",
    ):
        registry.register(name, lambda ctx, name=name: ran.append(name))
    return Orchestrator(machine, SQLiteStateStore(path), actions=registry, mark_delay=0.0)


def test_history_survives_a_restart(tmp_path: Path) -> None:
    machine = StateMachine.from_yaml(EXAMPLES / "document_review.yaml")
    db = tmp_path / "state.db"
    first = _orchestrator(machine, db, [])
    for event in ("format", "pause"):
        first.process_event("doc-1", event)
    first.flush()
    first.state_store.close()

    ran: list[str] = []
    second = _orchestrator(StateMachine.from_yaml(EXAMPLES / "document_review.yaml"), db, ran)
    outcome = second.process_event("doc-1", "resume")
    assert outcome.state == "formatting"
    assert ran == ["open_editor"]


def test_raised_events_run_within_the_step_and_the_result_is_stored(tmp_path: Path) -> None:
    ran: list[str] = []
    orchestrator = _orchestrator(StateMachine.from_yaml(RELAY), tmp_path / "s.db", ran)
    outcome = orchestrator.process_event("r-1", "go")
    assert outcome.state == "C" and ran == ["arrived"]
    stored = orchestrator.get_state("r-1")
    assert stored is not None and stored.snapshot is not None
    assert stored.snapshot["configuration"] == ["C"]
