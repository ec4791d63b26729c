"""AsyncioScheduler on its own: order, cancellation, injected clock, real sleeping."""

from __future__ import annotations

import asyncio

from pystator.runtime import AsyncioScheduler, ScheduledTimer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def timer(timer_id: str, due: float, entity: str = "e1", state: str = "S") -> ScheduledTimer:
    return ScheduledTimer(timer_id, entity, state, f"ev_{timer_id}", due)


def test_due_timers_fire_in_time_then_arming_order() -> None:
    clock = FakeClock()
    scheduler = AsyncioScheduler(clock=clock)
    fired: list[tuple[str, str, str]] = []

    async def on_fire(entity: str, event: str, timer_id: str) -> None:
        fired.append((entity, event, timer_id))

    scheduler.on_fire = on_fire

    async def main() -> None:
        await scheduler.schedule(timer("late", 105.0))
        await scheduler.schedule(timer("b", 102.0))
        await scheduler.schedule(timer("a", 102.0))
        await scheduler.schedule(timer("early", 101.0))
        clock.now = 102.0
        assert await scheduler.fire_due() == 3
        assert [f[2] for f in fired] == ["early", "b", "a"]
        assert [t.timer_id for t in scheduler.pending] == ["late"]
        await scheduler.stop()

    asyncio.run(main())


def test_cancelled_timers_never_fire() -> None:
    clock = FakeClock()
    scheduler = AsyncioScheduler(clock=clock)
    fired: list[str] = []

    async def on_fire(entity: str, event: str, timer_id: str) -> None:
        fired.append(timer_id)

    scheduler.on_fire = on_fire

    async def main() -> None:
        for t in (timer("x", 101, "e1", "A"), timer("y", 101, "e1", "B"),
                  timer("z", 101, "e2", "A"), timer("w", 101, "e1", "A")):
            await scheduler.schedule(t)
        await scheduler.cancel("x")
        await scheduler.cancel_entity("e1", state="B")
        await scheduler.cancel_entity("e2")
        clock.now = 200
        await scheduler.fire_due()
        await scheduler.stop()

    asyncio.run(main())
    assert fired == ["w"]


def test_the_sleeper_fires_on_the_wall_clock_and_wakes_for_earlier_timers() -> None:
    fired_at: list[float] = []
    scheduler = AsyncioScheduler()

    async def main() -> None:
        done = asyncio.Event()

        async def on_fire(entity: str, event: str, timer_id: str) -> None:
            fired_at.append(scheduler.clock())
            if timer_id == "second":
                done.set()

        scheduler.on_fire = on_fire
        start = scheduler.clock()
        await scheduler.schedule(timer("second", start + 0.15))
        await scheduler.schedule(timer("first", start + 0.05))
        await asyncio.wait_for(done.wait(), timeout=5)
        await scheduler.stop()
        first, second = (t - start for t in fired_at)
        assert 0.05 <= first < 0.15
        assert 0.15 <= second < 0.3

    asyncio.run(main())


def test_a_failing_handler_does_not_stop_later_timers() -> None:
    clock = FakeClock()
    scheduler = AsyncioScheduler(clock=clock)
    fired: list[str] = []

    async def on_fire(entity: str, event: str, timer_id: str) -> None:
        fired.append(timer_id)
        if timer_id == "a":
            raise RuntimeError("boom")

    scheduler.on_fire = on_fire

    async def main() -> None:
        await scheduler.schedule(timer("a", 101))
        await scheduler.schedule(timer("b", 102))
        clock.now = 103
        await scheduler.fire_due()
        await scheduler.stop()

    asyncio.run(main())
    assert fired == ["a", "b"]
