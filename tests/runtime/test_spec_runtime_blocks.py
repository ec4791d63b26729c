"""The spec's "Delayed Transitions", "Scheduler Adapters" and "Invoke" code, run as written.

Only what the snippets assume is supplied: the YAML file, the guards and actions
registries, the context, an event loop for the top-level ``await``, and the
test Redis address in place of ``localhost:6379``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

ORDER_FSM = """
meta:
  version: "1.0.0"
  machine_name: "order_management"
  strict_mode: true

states:
  - name: draft
    type: initial
  - name: waiting
  - name: retry
  - name: cancelled
    type: terminal

transitions:
  - trigger: submit
    source: draft
    dest: waiting
  - trigger: timeout
    source: waiting
    dest: retry
    after: 150         # 150 milliseconds (the spec's example waits 5000)
  - trigger: expire
    source: retry
    dest: cancelled
    after: "30m"
"""

MONITORING_FSM = """
meta:
  machine_name: "monitor"
states:
  - name: idle
    type: initial
  - name: monitoring
    on_enter: [start_metrics]
    invoke:
      - id: price_feed
        src: websocket
        on_done: feed_ended
  - name: feed_closed
    type: terminal
transitions:
  - trigger: watch
    source: idle
    dest: monitoring
  - trigger: feed_ended
    source: monitoring
    dest: feed_closed
"""


def test_delayed_transitions_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("order_fsm.yaml").write_text(ORDER_FSM)
    from pystator import ActionRegistry, GuardRegistry

    guards = GuardRegistry()
    actions = ActionRegistry()
    context: dict[str, Any] = {"order_id": "order-123"}

    async def snippet() -> Any:
        # --- the spec, verbatim -------------------------------------------------
        from pystator import AsyncioScheduler, Orchestrator, StateMachine
        from pystator.core.state_store import InMemoryStateStore

        machine = StateMachine.from_yaml("order_fsm.yaml")
        store = InMemoryStateStore()
        scheduler = AsyncioScheduler()

        orchestrator = Orchestrator(
            machine=machine,
            state_store=store,
            guards=guards,
            actions=actions,
            scheduler=scheduler,  # Enable delayed transitions
        )

        # Process events - delayed transitions are scheduled automatically
        result = await orchestrator.async_process_event("order-123", "submit", context)
        # If target state has delayed transitions, they'll be scheduled
        # When the delay expires, the event fires automatically
        # --- end of the spec ----------------------------------------------------
        assert result.success and [t.event for t in result.armed_timers] == ["timeout"]
        # Wait for the scheduler's own loop to deliver the timer (nobody calls fire_due).
        deliver, fired = scheduler.on_fire, asyncio.Event()
        assert deliver is not None

        async def on_fire(entity_id: str, event: str, timer_id: str) -> Any:
            outcome = await deliver(entity_id, event, timer_id)
            fired.set()
            return outcome

        scheduler.on_fire = on_fire
        await asyncio.wait_for(fired.wait(), timeout=10)
        # bounded: see test_stop_right_after_a_firing_that_armed_a_timer_returns
        await asyncio.wait_for(scheduler.stop(), timeout=10)
        return store.load("order-123")

    stored = asyncio.run(snippet())
    assert stored.state == "retry"
    assert [t.event for t in stored.timers] == ["expire"], "the next state's timer is armed"


@pytest.mark.slow
@pytest.mark.redis
def test_scheduler_adapters_block(redis_url: str) -> None:
    async def snippet() -> None:
        # Zero infrastructure (asyncio)
        from pystator.scheduler import AsyncioScheduler

        scheduler = AsyncioScheduler()

        # With Redis (production)
        from redis.asyncio import Redis

        from pystator.scheduler import RedisScheduler

        redis = Redis.from_url(redis_url)  # the spec: "redis://localhost:6379"
        scheduler = RedisScheduler(redis)
        await scheduler.start()  # Start polling loop

        # With Celery
        from celery import Celery

        from pystator.scheduler import CeleryScheduler

        celery_app = Celery("tasks", broker=redis_url)
        scheduler2 = CeleryScheduler(celery_app)
        scheduler2.register_task()  # Register with Celery

        assert "pystator.fire_timer" in celery_app.tasks
        await scheduler.stop()
        await redis.aclose()
        celery_app.close()

    asyncio.run(snippet())


def test_invoke_block() -> None:
    from pystator import ActionRegistry, StateMachine
    from pystator.core.state_store import InMemoryStateStore
    from pystator.orchestration.invoke import InvokeAdapter, NoOpInvokeAdapter
    from pystator.runtime import Orchestrator

    metrics: list[str] = []
    actions = ActionRegistry()
    actions.register("start_metrics", lambda ctx: metrics.append(ctx["entity_id"]))

    class WebsocketAdapter:
        """Runs each service as a task; when the feed ends it sends ``on_done``."""

        def __init__(self) -> None:
            self.orchestrator: Orchestrator | None = None
            self.tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
            self.log: list[str] = []
            self.closed = asyncio.Event()  # set by the test: the websocket closes

        async def start_services(
            self, entity_id: str, state_name: str, invoke_specs: Any, context: Any
        ) -> None:
            for spec in invoke_specs:
                self.log.append(f"start {spec.id} ({spec.src})")
                self.tasks[(entity_id, state_name)] = asyncio.create_task(
                    self.feed(entity_id, spec.on_done)
                )

        async def feed(self, entity_id: str, on_done: str) -> None:
            await self.closed.wait()
            assert self.orchestrator is not None
            await self.orchestrator.async_process_event(entity_id, on_done)

        async def stop_services(self, entity_id: str, state_name: str) -> None:
            self.log.append(f"stop {state_name}")
            self.tasks.pop((entity_id, state_name), None)

    adapter = WebsocketAdapter()
    assert isinstance(adapter, InvokeAdapter)
    assert isinstance(NoOpInvokeAdapter(), InvokeAdapter)
    store = InMemoryStateStore()
    orchestrator = Orchestrator(
        StateMachine.from_string(MONITORING_FSM), store, None, actions, invoke_adapter=adapter
    )
    adapter.orchestrator = orchestrator

    async def run() -> None:
        await orchestrator.async_process_event("feed-1", "watch")
        (feed,) = adapter.tasks.values()
        assert store.load("feed-1").state == "monitoring"  # type: ignore[union-attr]
        adapter.closed.set()
        await asyncio.wait_for(feed, timeout=10)

    asyncio.run(run())
    assert store.load("feed-1").state == "feed_closed"  # type: ignore[union-attr]
    assert adapter.log == ["start price_feed (websocket)", "stop monitoring"]
    assert metrics == ["feed-1"]

    quiet = Orchestrator(StateMachine.from_string(MONITORING_FSM), InMemoryStateStore())
    assert isinstance(quiet.invoke_adapter, NoOpInvokeAdapter)
    assert quiet.process_event("feed-2", "watch").state == "monitoring"
