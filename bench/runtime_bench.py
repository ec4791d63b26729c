"""Events per second through the Orchestrator (load -> decide -> commit -> act).

Run: ``python bench/runtime_bench.py [--events N]``. A script, not a test: it prints
a table. Each event is a real transition (a three-state cycle with one action),
spread over 100 entities, so every event loads, computes, commits a new version
with an audit row, and runs its action.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pystator import ActionRegistry, StateMachine
from pystator.runtime import (
    InMemoryIdempotencyStore,
    InMemoryStateStore,
    Orchestrator,
    SQLiteStateStore,
    StateStore,
)

CYCLE = """
meta: {machine_name: cycle}
states:
  - {name: A, type: initial}
  - {name: B}
  - {name: C}
transitions:
  - {trigger: inc, source: A, dest: B, actions: [count]}
  - {trigger: inc, source: B, dest: C, actions: [count]}
  - {trigger: inc, source: C, dest: A, actions: [count]}
"""

ENTITIES = 100


def orchestrator(store: StateStore, idempotent: bool = False) -> Orchestrator:
    actions = ActionRegistry()
    counter = [0]
    actions.register("count", lambda ctx: counter.__setitem__(0, counter[0] + 1))
    return Orchestrator(StateMachine.from_string(CYCLE), store, None, actions,
                        idempotency=InMemoryIdempotencyStore() if idempotent else None)


def run_sync(orch: Orchestrator, events: int) -> float:
    for i in range(ENTITIES):
        orch.create(f"e{i}")
    start = time.perf_counter()
    for n in range(events):
        orch.process_event(f"e{n % ENTITIES}", "inc", event_id=f"ev{n}")
    return events / (time.perf_counter() - start)


def run_async(orch: Orchestrator, events: int) -> float:
    async def main() -> float:
        for i in range(ENTITIES):
            await orch.async_create(f"e{i}")
        start = time.perf_counter()
        for n in range(events):
            await orch.async_process_event(f"e{n % ENTITIES}", "inc", event_id=f"ev{n}")
        return events / (time.perf_counter() - start)

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pystator-bench-"))
    cases: list[tuple[str, Callable[[], float]]] = [
        ("in-memory, sync", lambda: run_sync(orchestrator(InMemoryStateStore()), args.events)),
        ("in-memory, async", lambda: run_async(orchestrator(InMemoryStateStore()),
                                               args.events)),
        ("in-memory + idempotency, sync",
         lambda: run_sync(orchestrator(InMemoryStateStore(), True), args.events)),
        ("SQLite (WAL), sync",
         lambda: run_sync(orchestrator(SQLiteStateStore(tmp / "s.db")), args.events // 4)),
        ("SQLite (WAL), async",
         lambda: run_async(orchestrator(SQLiteStateStore(tmp / "a.db")), args.events // 4)),
    ]
    print(f"{'store / driver':34} {'events/s':>10}")
    print("-" * 45)
    for name, case in cases:
        print(f"{name:34} {case():>10,.0f}")


if __name__ == "__main__":
    main()
