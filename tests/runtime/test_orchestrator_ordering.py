"""Load -> decide -> commit -> act: every action of a step sees the committed state.

On both drivers (``process_event`` and ``async_process_event``) and on both real
stores. With SQLite the actions read through a second store opened on the same
file, so what they see is what another process would see: the commit is done, not
merely written into a transaction still open.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pystator import ActionRegistry, StateMachine
from pystator.runtime import InMemoryStateStore, Orchestrator, SQLiteStateStore, StateStore
from tests.drivers import ORCHESTRATOR_DRIVERS, OrchestratorDriver

pytestmark = pytest.mark.parametrize("drive", ORCHESTRATOR_DRIVERS)

STEPS = """
meta: {machine_name: steps}
states:
  - {name: draft, type: initial, on_exit: [leave_draft]}
  - {name: review, initial_child: queued, on_enter: [enter_review]}
  - {name: queued, parent: review, on_enter: [enter_queued]}
  - {name: done, type: terminal}
transitions:
  - {trigger: submit, source: draft, dest: review, actions: [record_submit]}
  - {trigger: approve, source: queued, dest: done, actions: [record_approve]}
"""

ACTIONS = ("leave_draft", "record_submit", "enter_review", "enter_queued", "record_approve")

Stores = Callable[[Path], tuple[StateStore, StateStore]]


def memory(_: Path) -> tuple[StateStore, StateStore]:
    store = InMemoryStateStore()
    return store, store


def sqlite(tmp_path: Path) -> tuple[StateStore, StateStore]:
    """The orchestrator's store, and another connection to the same file for the actions."""
    path = tmp_path / "state.db"
    return SQLiteStateStore(path), SQLiteStateStore(path)


def observing_actions(
    reader: StateStore, seen: list[tuple[str, str, int, int]], *, asynchronous: bool
) -> ActionRegistry:
    """Each action records the stored state, version and audit length it can read."""
    actions = ActionRegistry()
    for name in ACTIONS:
        if asynchronous:

            async def look(ctx: dict[str, Any], name: str = name) -> None:
                stored = await reader.async_load(ctx["entity_id"])
                trail = await reader.async_audit_trail(ctx["entity_id"])
                assert stored is not None
                seen.append((name, stored.state, stored.version, len(trail)))

        else:

            def look(ctx: dict[str, Any], name: str = name) -> None:
                stored = reader.load(ctx["entity_id"])
                assert stored is not None
                seen.append(
                    (name, stored.state, stored.version, len(reader.audit_trail(ctx["entity_id"])))
                )

        actions.register(name, look)
    return actions


@pytest.mark.parametrize("stores", [memory, sqlite], ids=["memory", "sqlite"])
def test_every_action_runs_after_its_step_is_committed(
    drive: OrchestratorDriver, stores: Stores, tmp_path: Path
) -> None:
    store, reader = stores(tmp_path)
    seen: list[tuple[str, str, int, int]] = []
    actions = observing_actions(reader, seen, asynchronous=drive.is_async)
    orch = Orchestrator(StateMachine.from_string(STEPS), store, None, actions)
    submitted = drive.process_event(orch, "d1", "submit")
    assert (submitted.state, submitted.version) == ("queued", 2)
    assert submitted.execution is not None and submitted.execution.all_succeeded
    assert seen == [
        ("leave_draft", "queued", 2, 2),
        ("record_submit", "queued", 2, 2),
        ("enter_review", "queued", 2, 2),
        ("enter_queued", "queued", 2, 2),
    ]
    seen.clear()
    drive.process_event(orch, "d1", "approve")
    assert seen == [("record_approve", "done", 3, 3)]


def test_a_refused_event_runs_no_action_and_commits_nothing(drive: OrchestratorDriver) -> None:
    store = InMemoryStateStore()
    seen: list[tuple[str, str, int, int]] = []
    orch = Orchestrator(
        StateMachine.from_string(STEPS),
        store,
        None,
        observing_actions(store, seen, asynchronous=drive.is_async),
    )
    refused = drive.process_event(orch, "d1", "approve")
    assert not refused.success and seen == []
    stored = drive.get_state(orch, "d1")
    assert stored is not None and (stored.state, stored.version) == ("draft", 1)
