"""History and internal events survive a restart: the engine snapshot lives in the store.

A process leaves a compound state with a history child, then stops; a new process on
the same SQLite file resumes through the history state and lands where the first left.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def _checkout(ran: list[str]) -> tuple[StateMachine, ActionRegistry]:
    checkout = StateMachine.from_yaml(EXAMPLES / "checkout.yaml")
    checkout.bind_machines({"payment": StateMachine.from_yaml(EXAMPLES / "payment.yaml")})
    registry = ActionRegistry()
    for name in (
        "show_payment_form",
        "hide_payment_form",
        "ship",
        "authorise_card",
        "ask_for_another_card",
        "capture_funds",
        "send_receipt",
    ):
        registry.register(name, lambda ctx, name=name: ran.append(name))
    return checkout, registry


def test_a_child_machine_survives_a_restart(tmp_path: Path) -> None:
    """The payment child's configuration is in the stored snapshot; a new process
    forwards the next event to it and its end ships the order."""
    db = tmp_path / "state.db"
    first_ran: list[str] = []
    machine, registry = _checkout(first_ran)
    first = Orchestrator(machine, SQLiteStateStore(db), actions=registry, mark_delay=0.0)
    for event in ("checkout", "authorised"):
        first.process_event("o-1", event)
    first.flush()
    assert first_ran == ["show_payment_form", "authorise_card", "capture_funds"]
    first.state_store.close()

    ran: list[str] = []
    machine, registry = _checkout(ran)
    second = Orchestrator(machine, SQLiteStateStore(db), actions=registry, mark_delay=0.0)
    stored = second.get_state("o-1")
    assert stored is not None and stored.snapshot is not None
    assert stored.snapshot["children"]["payment"]["configuration"] == ["capturing"]
    outcome = second.process_event("o-1", "captured")
    assert outcome.state == "shipped"
    assert ran == ["send_receipt", "hide_payment_form", "ship"]


class _Adapter:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def start_services(
        self, entity_id: str, state_name: str, invoke_specs: Any, context: Any
    ) -> None:
        self.calls.append(("start", state_name, *(s.src for s in invoke_specs)))

    def stop_services(self, entity_id: str, state_name: str) -> None:
        self.calls.append(("stop", state_name))


def test_the_adapter_gets_services_and_never_a_child_machine(tmp_path: Path) -> None:
    machine = StateMachine.from_yaml(EXAMPLES / "checkout.yaml")
    machine.bind_machines({"payment": StateMachine.from_yaml(EXAMPLES / "payment.yaml")})
    adapter = _Adapter()
    orchestrator = Orchestrator(
        machine, SQLiteStateStore(tmp_path / "s.db"), invoke_adapter=adapter, mark_delay=0.0
    )
    orchestrator.process_event("o-1", "checkout")
    orchestrator.flush()
    stored = orchestrator.get_state("o-1")
    assert stored is not None and stored.snapshot is not None
    assert stored.snapshot["children"]["payment"]["configuration"] == ["authorising"]
    assert adapter.calls == []
