"""Processes for the kill tests (``python -m tests.runtime.killworkers MODE ...``).

Every mode builds the same orchestrator over the store named by ``--store`` (a
URL, see ``tests.runtime.stores``), with a ``RedisScheduler`` when ``--redis`` is
given, on the ``DURABLE`` machine. Lines on stdout tell the test where a process
is (``READY``, ``SENT 3``, ``IN_ACTION p0:2:0``...), so it can SIGKILL it at the
moment that matters. Actions append their idempotency key to ``--log``: what a
line there says is that the action completed.

- ``produce``: arm ``--entities`` entities one after another (timers due in 1 s).
- ``work``: run the dispatcher and the scheduler loop until every entity that
  exists has left ``armed`` (or ``--deadline``), then print ``FIRED n``.
- ``pay``: send ``pay`` to each entity (``--charge hang`` or ``fail-first``
  decide how the action behaves).
- ``send``: send one event with ``--event-id`` at time ``--at``, print the outcome.
- ``dispatch``: run the dispatcher until no action is pending (or ``--deadline``).
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from pystator import ActionRegistry, GuardRegistry, StateMachine
from pystator.runtime import (
    IDEMPOTENCY_KEY,
    Orchestrator,
    RedisScheduler,
    RetryPolicy,
    StoreUnavailableError,
)
from tests.runtime.machines import DURABLE
from tests.runtime.stores import open_store


def say(text: str) -> None:
    print(text, flush=True)


def build(args: argparse.Namespace) -> tuple[Orchestrator, Any]:
    options: dict[str, Any] = {}
    if args.store.startswith("sqlite:///"):
        options["busy_timeout"] = args.store_timeout
    elif args.store.startswith("postgresql://"):
        options["lock_timeout"] = args.store_timeout
    store = open_store(args.store, **options)
    client = None
    scheduler = None
    if args.redis:
        import redis.asyncio

        client = redis.asyncio.Redis.from_url(
            args.redis, socket_timeout=2, socket_connect_timeout=2
        )
        scheduler = RedisScheduler(
            client, key_prefix=args.prefix, poll_interval=0.05, lease_seconds=args.lease
        )
    guards = GuardRegistry()

    async def gate(ctx: dict[str, Any]) -> bool:
        if args.gate == "hang":
            say(f"CLAIMED {ctx.get('entity_id', '?')}")
            await asyncio.Event().wait()
        if args.gate.startswith("slow:"):
            say("STALLING")
            await asyncio.sleep(float(args.gate.split(":")[1]))
        return True

    guards.register("gate", gate)
    actions = ActionRegistry()
    log = Path(args.log) if args.log else None

    def record(ctx: dict[str, Any]) -> None:
        if log is not None:
            fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{ctx[IDEMPOTENCY_KEY]}\n".encode())
            finally:
                os.close(fd)

    def charge(ctx: dict[str, Any]) -> None:
        key = ctx[IDEMPOTENCY_KEY]
        if args.charge == "hang":
            say(f"IN_ACTION {key}")
            while True:
                time.sleep(1)
        if args.charge == "fail-first" and log is not None:
            marker = log.with_name(f"tried-{key.replace(':', '_')}")
            if not marker.exists():
                marker.write_text("1")
                say(f"BACKOFF {key}")
                raise ConnectionError("payment gateway down")
        record(ctx)

    actions.register("record_expiry", record)
    actions.register("charge", charge)
    retry = RetryPolicy(max_attempts=args.attempts, base_delay=args.backoff, jitter=0.0)
    orch = Orchestrator(
        StateMachine.from_string(DURABLE),
        store,
        guards,
        actions,
        scheduler=scheduler,
        retry=retry,
        lease_seconds=args.lease,
        rearm_after=args.rearm,
        dispatch_interval=0.1,
    )
    return orch, client


async def produce(args: argparse.Namespace) -> None:
    orch, _ = build(args)
    say("READY")
    for i in range(args.entities):
        await orch.async_process_event(f"e{i}", "arm", event_id=f"arm-{i}")
        say(f"SENT {i}")
        await asyncio.sleep(args.stagger)
    say("DONE")
    await orch.stop()


async def work(args: argparse.Namespace) -> None:
    orch, client = build(args)
    await orch.start()
    say("READY")
    store = orch.state_store
    deadline = time.monotonic() + args.deadline
    while True:
        try:
            states = [await store.async_load(f"e{i}") for i in range(args.entities)]
        except StoreUnavailableError:  # the test locked the store; so do the workers see it
            await asyncio.sleep(0.05)
            continue
        if all(s is None or s.state != "armed" for s in states) and (
            not args.wait_for or sum(s is not None for s in states) >= args.wait_for
        ):
            break
        if time.monotonic() >= deadline:
            seen = {f"e{i}": s.state if s else None for i, s in enumerate(states)}
            print(f"gave up after {args.deadline}s: {seen}", file=sys.stderr, flush=True)
            await orch.stop()
            sys.exit(1)
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # a late duplicate firing would show up now
    fired = orch.scheduler.fired_count if orch.scheduler is not None else 0
    await orch.stop()
    if client is not None:
        await client.aclose()
    say(f"FIRED {fired}")


async def pay(args: argparse.Namespace) -> None:
    orch, _ = build(args)
    say("READY")
    for i in range(args.entities):
        await orch.async_process_event(f"p{i}", "pay", event_id=f"pay-{i}")
        say(f"PAID {i}")
    await orch.stop()


async def send(args: argparse.Namespace) -> None:
    orch, _ = build(args)
    await orch.async_create(args.entity)
    say("READY")
    await asyncio.sleep(max(0.0, args.at - time.time()))
    result = await orch.async_process_event(args.entity, args.event, event_id=args.event_id)
    say(
        "RESULT "
        + json.dumps(
            {
                "duplicate": result.duplicate,
                "success": result.success,
                "version": result.version,
                "state": result.state,
            }
        )
    )
    await orch.stop()


async def dispatch(args: argparse.Namespace) -> None:
    orch, _ = build(args)
    await orch.start()
    say("READY")
    deadline = time.monotonic() + args.deadline
    while orch.state_store.pending_actions():
        if time.monotonic() >= deadline:
            print("actions still pending", file=sys.stderr, flush=True)
            sys.exit(1)
        await asyncio.sleep(0.05)
    await orch.stop()
    say("DISPATCHED")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["produce", "work", "pay", "send", "dispatch"])
    parser.add_argument("--store", required=True)
    parser.add_argument("--redis", default="")
    parser.add_argument("--prefix", default="pystator:kill")
    parser.add_argument("--entities", type=int, default=5)
    parser.add_argument("--wait-for", type=int, default=0)
    parser.add_argument("--stagger", type=float, default=0.02)
    parser.add_argument("--lease", type=float, default=2.0)
    parser.add_argument("--rearm", type=float, default=1.0)
    parser.add_argument("--attempts", type=int, default=5)
    parser.add_argument("--backoff", type=float, default=0.2)
    parser.add_argument("--store-timeout", type=float, default=10.0)
    parser.add_argument("--gate", default="pass")
    parser.add_argument("--charge", default="ok")
    parser.add_argument("--log", default="")
    parser.add_argument("--entity", default="d1")
    parser.add_argument("--event", default="pay")
    parser.add_argument("--event-id", default="dup-1")
    parser.add_argument("--at", type=float, default=0.0)
    parser.add_argument("--deadline", type=float, default=60.0)
    args = parser.parse_args()
    faulthandler.dump_traceback_later(args.deadline + 15, exit=True)  # before the test kills it
    runner = {"produce": produce, "work": work, "pay": pay, "send": send, "dispatch": dispatch}[
        args.mode
    ]
    asyncio.run(_watched(runner(args), args.deadline + 10))
    sys.exit(0)


async def _watched(work: Any, after: float) -> None:
    """Run ``work``; if it is still running after ``after`` s, print every task's stack.

    faulthandler shows threads only, and a hung worker's thread sits idle in the event
    loop's select: the stack worth seeing is the awaiting task's.
    """

    def dump() -> None:
        for task in asyncio.all_tasks():
            task.print_stack(file=sys.stderr)
        sys.stderr.flush()

    handle = asyncio.get_running_loop().call_later(after, dump)
    try:
        await work
    finally:
        handle.cancel()


if __name__ == "__main__":
    main()
