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
        for t in (
            timer("x", 101, "e1", "A"),
            timer("y", 101, "e1", "B"),
            timer("z", 101, "e2", "A"),
            timer("w", 101, "e1", "A"),
        ):
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
    """Nobody calls fire_due: the loop fires each timer when it is due, in due order.

    The later timer is scheduled first, so the loop is asleep waiting for it when the
    earlier one arrives; it must wake for that one. Nothing is timed with a margin
    but the order: a loop that slept through to the later timer would fire both
    together, at or after the later one's due time.
    """
    fired: list[tuple[str, float]] = []
    scheduler = AsyncioScheduler()

    async def main() -> tuple[float, float]:
        done = asyncio.Event()

        async def on_fire(entity: str, event: str, timer_id: str) -> None:
            fired.append((timer_id, scheduler.clock()))
            if timer_id == "second":
                done.set()

        scheduler.on_fire = on_fire
        start = scheduler.clock()
        second, first = start + 1.0, start + 0.05
        await scheduler.schedule(timer("second", second))
        await asyncio.sleep(0)  # the loop is now asleep, waiting for "second"
        await scheduler.schedule(timer("first", first))
        await asyncio.wait_for(done.wait(), timeout=10)
        await asyncio.wait_for(scheduler.stop(), timeout=10)
        return first, second

    first_due, second_due = asyncio.run(main())
    (first, first_at), (second, second_at) = fired
    assert (first, second) == ("first", "second")
    assert first_due <= first_at < second_due, "woke for the earlier timer, never early"
    assert second_at >= second_due


def test_stop_right_after_a_firing_that_armed_a_timer_returns() -> None:
    scheduler = AsyncioScheduler()

    async def main() -> bool:
        fired = asyncio.Event()

        async def on_fire(entity: str, event: str, timer_id: str) -> None:
            if timer_id == "a":  # like an orchestrator entering a state with a timer
                await scheduler.schedule(timer("b", scheduler.clock() + 600))
                fired.set()

        scheduler.on_fire = on_fire
        await scheduler.schedule(timer("a", scheduler.clock() + 0.02))
        await asyncio.wait_for(fired.wait(), timeout=10)
        loop_task = asyncio.all_tasks() - {asyncio.current_task()}
        hung: list[bool] = []

        async def watchdog() -> None:  # a hang guard, so the failure is a failure
            await asyncio.sleep(2)
            hung.append(True)
            for task in loop_task:
                task.cancel()

        guard = asyncio.get_running_loop().create_task(watchdog())
        await scheduler.stop()
        guard.cancel()
        return not hung

    assert asyncio.run(main()), "stop() had to be rescued by the watchdog"


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
