"""The durable runtime's throughput, measured against the path it replaced. One run.

Run: ``python bench/runtime_bench.py [--events N] [--processes 4]``. A script, not a
test: it prints a table. Rows:

- **SQLite, before (idempotency store)**: the runtime as it was before the
  durable one (taken from git: the commit before ``pystator/runtime/outbox.py``
  appeared), with a ``SQLiteIdempotencyStore`` in the same file, as the issue
  measured it: ``--processes`` processes racing on 100 entities of a three-state
  cycle, each event a real transition with one action and an event id.
- **SQLite, durable**: the same load through today's runtime: dedup record,
  audit row and outbox row in the step's one transaction, the action run with
  its idempotency key and marked done.
- **PostgreSQL, durable**: the same, ``--processes`` processes against a
  throwaway local cluster (``fsync=off``: this measures the runtime, not the disk).
- **Redis timers, one worker**: timers already due in Redis, fired by one
  ``RedisScheduler`` worker through the orchestrator (each firing a committed
  transition in SQLite / PostgreSQL), timers per second.

Every process waits for a common start time, so interpreter start-up is not
counted; a row's figure is all events divided by the time until the last process
finished.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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

TIMED = """
meta: {machine_name: timed}
states:
  - {name: idle, type: initial}
  - {name: armed}
  - {name: expired, type: terminal}
transitions:
  - {trigger: arm, source: idle, dest: armed}
  - {trigger: expire, source: armed, dest: expired, after: 1000}
"""

ENTITIES = 100


# ---------------------------------------------------------------------- worker side
def worker(args: argparse.Namespace) -> None:
    """One racing process: ``--events`` events over the shared entities."""
    from pystator import ActionRegistry, StateMachine

    actions = ActionRegistry()
    actions.register("count", lambda ctx: None)
    if args.flavour == "before":
        from pystator.runtime import Orchestrator, SQLiteIdempotencyStore, SQLiteStateStore

        store: Any = SQLiteStateStore(args.store)
        orch = Orchestrator(
            StateMachine.from_string(CYCLE),
            store,
            None,
            actions,
            idempotency=SQLiteIdempotencyStore(args.store),
            max_conflict_retries=10_000,
        )
    else:
        from pystator.runtime import Orchestrator
        from tests.runtime.stores import open_store

        store = open_store(args.store)
        orch = Orchestrator(
            StateMachine.from_string(CYCLE), store, None, actions, max_conflict_retries=10_000
        )
    time.sleep(max(0.0, args.at - time.time()))
    start = time.time()
    for n in range(args.events):
        orch.process_event(
            f"e{(n * 7 + args.index * 13) % ENTITIES}", "inc", event_id=f"w{args.index}-{n}"
        )
    print(json.dumps({"start": start, "end": time.time(), "events": args.events}), flush=True)


# ---------------------------------------------------------------------- bench side
def baseline_tree(tmp: Path) -> Path | None:
    """The runtime before the durable one, exported from git into ``tmp``."""
    try:
        added = subprocess.run(
            ["git", "log", "--diff-filter=A", "--format=%H", "--", "pystator/runtime/outbox.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        if not added:
            return None
        target = tmp / "before"
        target.mkdir()
        archive = subprocess.run(
            ["git", "archive", f"{added[-1]}^", "pystator"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        return target
    except (OSError, subprocess.CalledProcessError):
        return None


def race(flavour: str, store: str, processes: int, events: int, pythonpath: Path) -> float:
    """Events per second with ``processes`` racing processes."""
    env = {**os.environ, "PYTHONPATH": f"{pythonpath}{os.pathsep}{ROOT}"}
    at = time.time() + 3.0 + 0.3 * processes
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                "--flavour",
                flavour,
                "--store",
                store,
                "--events",
                str(events),
                "--index",
                str(i),
                "--at",
                str(at),
            ],
            cwd=pythonpath,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        if proc.returncode != 0:
            raise RuntimeError(f"{flavour} worker failed:\n{err}")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    start = min(r["start"] for r in reports)
    end = max(r["end"] for r in reports)
    return sum(r["events"] for r in reports) / (end - start)


def prepare_sqlite(path: Path, before: Path | None) -> None:
    """Create the schema (and the entities) once, before the race."""
    code = (
        "from pystator import StateMachine\n"
        "from pystator.runtime import Orchestrator, SQLiteStateStore\n"
        "import sys\n"
        "store = SQLiteStateStore(sys.argv[1])\n"
        "orch = Orchestrator(StateMachine.from_string(sys.argv[2]), store)\n"
        f"for i in range({ENTITIES}): orch.create(f'e{{i}}')\n"
    )
    if before is not None:
        code += (
            "from pystator.runtime import SQLiteIdempotencyStore\n"
            "SQLiteIdempotencyStore(sys.argv[1])\n"
        )
    subprocess.run(
        [sys.executable, "-c", code, str(path), CYCLE],
        check=True,
        cwd=before or ROOT,
        env={**os.environ, "PYTHONPATH": str(before or ROOT)},
    )


def prepare_store(url: str) -> None:
    from pystator import StateMachine
    from pystator.runtime import Orchestrator
    from tests.runtime.stores import close_store, open_store

    store = open_store(url)
    orch = Orchestrator(StateMachine.from_string(CYCLE), store)
    for i in range(ENTITIES):
        orch.create(f"e{i}")
    close_store(store)


def timers_per_second(store_url: str, redis_url: str, timers: int) -> float:
    """Timers already due, fired by one RedisScheduler worker through the orchestrator."""
    import redis.asyncio

    from pystator import StateMachine
    from pystator.runtime import (
        AuditEntry,
        Orchestrator,
        RedisScheduler,
        ScheduledTimer,
        StepCommit,
    )
    from tests.runtime.stores import close_store, open_store

    store = open_store(store_url)
    now = time.time()
    commits = []
    for i in range(timers):
        timer = ScheduledTimer(f"t{i}", f"x{i}", "armed", "expire", now)
        commits.append(
            StepCommit(
                f"x{i}", 0, "armed", AuditEntry("", "armed", "arm"), (timer,), arm_after=3600.0
            )
        )
    for chunk in range(0, timers, 500):
        store.commit_many(commits[chunk : chunk + 500])

    async def run() -> float:
        client = redis.asyncio.Redis.from_url(redis_url)
        prefix = f"bench:{time.time()}"
        scheduler = RedisScheduler(
            client, key_prefix=prefix, poll_interval=0.01, batch_size=500, concurrency=64
        )
        async with client.pipeline(transaction=False) as pipe:
            for c in commits:
                t = c.timers[0]
                pipe.hset(f"{prefix}:timers", t.timer_id, json.dumps(t.to_dict()))
                pipe.zadd(f"{prefix}:due", {t.timer_id: t.due_at})
            await pipe.execute()
        orch = Orchestrator(
            StateMachine.from_string(TIMED), store, scheduler=scheduler, rearm_after=3600.0
        )
        start = time.perf_counter()
        await scheduler.start()
        while scheduler.fired_count < timers:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - start
        await orch.stop()
        await client.aclose()
        return timers / elapsed

    rate = asyncio.run(run())
    fired = sum(
        1
        for i in range(0, timers, max(1, timers // 50))
        if (s := store.load(f"x{i}")) is not None and s.state == "expired"
    )
    close_store(store)
    if fired != len(range(0, timers, max(1, timers // 50))):
        raise RuntimeError("some timers did not commit their transition")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3000, help="events per process")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--timers", type=int, default=5000)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--flavour", default="durable", help=argparse.SUPPRESS)
    parser.add_argument("--store", default="", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    import signal

    from tests.runtime.pg_cluster import start_cluster

    # A terminated bench still stops its PostgreSQL cluster and Redis (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    tmp = Path(tempfile.mkdtemp(prefix="pystator-bench-"))
    rows: list[tuple[str, str]] = []
    n, p = args.events, args.processes
    before = baseline_tree(tmp)
    if before is None:
        rows.append(("SQLite, before (idempotency store)", "n/a (needs git history)"))
    else:
        db = tmp / "before.db"
        prepare_sqlite(db, before)
        rate = race("before", str(db), p, n, before)
        rows.append((f"SQLite, before (idempotency store), {p} processes", f"{rate:,.0f}"))
    db = tmp / "durable.db"
    prepare_store(f"sqlite:///{db}")
    durable = race("durable", f"sqlite:///{db}", p, n, ROOT)
    rows.append((f"SQLite, durable, {p} processes", f"{durable:,.0f}"))
    cluster = start_cluster()
    redis_proc, redis_url = start_redis(tmp)
    try:
        prepare_store(cluster.url)
        rate = race("durable", cluster.url, p, n, ROOT)
        rows.append((f"PostgreSQL, durable, {p} processes", f"{rate:,.0f}"))
        for name, url in (
            ("SQLite", f"sqlite:///{tmp / 'timers.db'}"),
            ("PostgreSQL", cluster.url),
        ):
            rate = timers_per_second(url, redis_url, args.timers)
            rows.append((f"Redis timers fired, one worker ({name} state)", f"{rate:,.0f}"))
    finally:
        redis_proc.kill()
        redis_proc.wait()
        cluster.remove()
    print(f"{'runtime path':58} {'per second':>14}")
    print("-" * 73)
    for name, value in rows:
        print(f"{name:58} {value:>14}")


def start_redis(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0"


if __name__ == "__main__":
    main()
