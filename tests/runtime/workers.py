"""Worker processes for the runtime tests (run as ``python -m tests.runtime.workers``).

``schedule``: arm timers for entities through RedisScheduler, print READY, wait
to be killed. ``work``: run the Redis polling loop until every entity has expired
(or a deadline). ``hammer``: send events for shared entities to a SQLite store.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import sys
import time

import redis.asyncio

from pystator import StateMachine
from pystator.core.state_store import SQLiteStateStore
from pystator.runtime import Orchestrator, RedisScheduler
from tests.runtime.machines import CYCLE, EXPIRING


async def schedule(args: argparse.Namespace) -> None:
    client = redis.asyncio.Redis.from_url(args.redis)
    scheduler = RedisScheduler(client, key_prefix=args.prefix, poll_interval=args.poll)
    orch = Orchestrator(
        StateMachine.from_string(EXPIRING), SQLiteStateStore(args.db), scheduler=scheduler
    )
    for i in range(args.entities):
        await orch.async_process_event(f"e{i}", "arm")
        await asyncio.sleep(args.stagger)
    print("READY", flush=True)
    await asyncio.sleep(3600)


async def work(args: argparse.Namespace) -> None:
    client = redis.asyncio.Redis.from_url(args.redis)
    scheduler = RedisScheduler(client, key_prefix=args.prefix, poll_interval=args.poll)
    store = SQLiteStateStore(args.db)
    orch = Orchestrator(StateMachine.from_string(EXPIRING), store, scheduler=scheduler)
    await orch.start()
    print("READY", flush=True)
    deadline = time.monotonic() + args.deadline
    while True:
        states = [store.load(f"e{i}") for i in range(args.entities)]
        if all(s is not None and s.state == "expired" for s in states):
            break
        if time.monotonic() >= deadline:
            # Say what was seen, so a failure here explains itself.
            due = await client.zcard(f"{args.prefix}:due")
            inflight = await client.zcard(f"{args.prefix}:inflight")
            seen = {f"e{i}": s.state if s else None for i, s in enumerate(states)}
            print(
                f"gave up after {args.deadline}s: states {seen}, fired here "
                f"{scheduler.fired_count}, redis due={due} inflight={inflight}",
                file=sys.stderr,
                flush=True,
            )
            await orch.stop()
            await client.aclose()
            sys.exit(1)
        await asyncio.sleep(0.05)
    await asyncio.sleep(args.poll * 3)  # a late duplicate firing would show up now
    await orch.stop()
    await client.aclose()
    print(f"FIRED {scheduler.fired_count}", flush=True)


def hammer(args: argparse.Namespace) -> None:
    orch = Orchestrator(
        StateMachine.from_string(CYCLE), SQLiteStateStore(args.db), max_conflict_retries=1000
    )
    for n in range(args.events):
        for i in range(args.entities):
            orch.process_event(f"c{i}", "inc", event_id=f"{args.name}-{i}-{n}")
    print("DONE", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["schedule", "work", "hammer"])
    parser.add_argument("--redis", default="")
    parser.add_argument("--prefix", default="pystator:test")
    parser.add_argument("--db", required=True)
    parser.add_argument("--entities", type=int, default=5)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--stagger", type=float, default=0.05)
    parser.add_argument("--poll", type=float, default=0.1)
    parser.add_argument("--deadline", type=float, default=20.0)
    parser.add_argument("--name", default="w")
    args = parser.parse_args()
    # Never outlive the test: a worker stuck past its deadline prints every thread's
    # stack to stderr (which the test shows) and exits.
    faulthandler.dump_traceback_later(args.deadline + 15, exit=True)
    if args.mode == "hammer":
        hammer(args)
    else:
        asyncio.run(schedule(args) if args.mode == "schedule" else work(args))
    sys.exit(0)


if __name__ == "__main__":
    main()
