"""The names the runtime writes for others to read back: the idempotency store's key of an
event, and a scheduler's id of a timer.

Both are read by other processes (a worker restarted, another host's store) and across
versions, so their exact form is pinned here, with the escapes that keep two entities, or
two machines' timers, from sharing one name.
"""

from __future__ import annotations

import pytest

from pystator import StateMachine
from pystator.runtime import InMemoryIdempotencyStore, InMemoryStateStore, Orchestrator
from tests.drivers import ORCHESTRATOR_DRIVERS, OrchestratorDriver
from tests.runtime.test_orchestrator_failures import FakeClock

DRIVE = pytest.mark.parametrize("drive", ORCHESTRATOR_DRIVERS)

COUNTER = """
meta: {machine_name: counter}
states:
  - {name: A, type: initial}
  - {name: B}
transitions:
  - {trigger: inc, source: A, dest: B}
  - {trigger: inc, source: B, dest: A}
"""


@DRIVE
@pytest.mark.parametrize(
    ("entity", "key"),
    [("plain", "plain:e:1"), ("a:b\\c", "a\\:b\\\\c:e:1")],
    ids=["plain", "escaped"],
)
def test_an_events_dedup_key_is_its_escaped_entity_then_its_event_id(
    drive: OrchestratorDriver, entity: str, key: str
) -> None:
    seen = InMemoryIdempotencyStore()
    orch = Orchestrator(StateMachine.from_string(COUNTER), InMemoryStateStore(), idempotency=seen)
    assert not drive.process_event(orch, entity, "inc", event_id="e:1").duplicate
    assert len(seen) == 1
    outcome = seen.get(key)
    assert outcome is not None and outcome["state"] == "B"


GRANDCHILD = """
meta: {machine_name: tick}
states:
  - {name: waiting, type: initial}
  - {name: over, type: final}
transitions:
  - {trigger: ring, source: waiting, dest: over, after: 1000}
"""
MIDDLE = """
meta: {machine_name: mid}
states:
  - name: holding
    type: initial
    invoke: [{id: "c/d", src: "machine:tick"}]
"""
HOST = """
meta: {machine_name: host}
states:
  - name: running
    type: initial
    invoke: [{id: "a\\\\b", src: "machine:mid"}]
"""


def test_a_grandchilds_timer_id_names_its_invoke_path_with_slashes_escaped() -> None:
    machines = {"mid": MIDDLE, "tick": GRANDCHILD}
    host = StateMachine.from_string(HOST).bind_machines(
        {name: StateMachine.from_string(text) for name, text in machines.items()}
    )
    store = InMemoryStateStore()
    orch = Orchestrator(host, store, clock=FakeClock(1000.0))
    (timer,) = orch.create("h1").timers
    # "<entity>#<invoke id>/<invoke id>/<timer number>@<armed at, ms>"; "\" and "/" in an
    # invoke id escaped with "\"
    assert timer.timer_id == "h1#a\\\\b/c\\/d/0@1000000"
    assert (timer.entity_id, timer.event, timer.due_at) == ("h1", "ring", 1001.0)
    stored = store.load("h1")
    assert stored is not None and stored.timers == (timer,)
