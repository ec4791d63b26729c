"""ActionExecutor: what runs, in which order, with which params, and how failures read.

What the plan promises (order, params, failures) holds for ``execute`` and every
``async_execute_*``: those tests run on each. Overlap is shown with events the
actions wait for, never with sleeps of chosen lengths.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pystator.actions import (
    ACTION_PARAMS_KEY,
    ActionExecutor,
    ActionRegistry,
    ExecutionMode,
    ExecutionResult,
)
from pystator.errors import InvalidTransitionError
from pystator.model import ActionSpec
from pystator.result import TransitionResult
from tests.drivers import ACTION_DRIVERS, ActionDriver


def step(
    exit: tuple[str | ActionSpec, ...] = (),
    transition: tuple[str | ActionSpec, ...] = (),
    enter: tuple[str | ActionSpec, ...] = (),
) -> TransitionResult:
    def specs(items: tuple[str | ActionSpec, ...]) -> tuple[ActionSpec, ...]:
        return tuple(ActionSpec.from_config(i) for i in items)

    return TransitionResult(
        success=True,
        source_state="open",
        target_state="filled",
        trigger="fill",
        on_exit_actions=specs(exit),
        actions_to_execute=specs(transition),
        on_enter_actions=specs(enter),
    )


def recording_registry(log: list[str], *names: str) -> ActionRegistry:
    actions = ActionRegistry()
    for name in names:

        def record(ctx: dict[str, Any], name: str = name) -> str:
            log.append(name)
            return name.upper()

        actions.register(name, record)
    return actions


ORDER = step(exit=("leave_open",), transition=("update_positions", "notify"), enter=("arrive",))


MODES = {
    "execute": ExecutionMode.SEQUENTIAL,
    "async_execute": ExecutionMode.SEQUENTIAL,  # the executor's default mode
    "async_execute_sequential": ExecutionMode.SEQUENTIAL,
    "async_execute_parallel": ExecutionMode.PARALLEL,
    "async_execute_phased": ExecutionMode.PHASED,
}


@pytest.mark.parametrize("drive", ACTION_DRIVERS)
def test_execute_runs_exit_then_transition_then_enter(drive: ActionDriver) -> None:
    log: list[str] = []
    actions = recording_registry(log, "leave_open", "update_positions", "notify", "arrive")
    outcome = drive.execute(ActionExecutor(actions), ORDER, {"order_id": 7})
    assert log == ["leave_open", "update_positions", "notify", "arrive"]
    assert [r.action_name for r in outcome.results] == log
    assert [r.phase for r in outcome.results] == ["exit", "transition", "transition", "enter"]
    assert [r.result for r in outcome.results] == [name.upper() for name in log]
    assert outcome.all_succeeded and outcome.failed_actions == []
    assert outcome.succeeded_actions == log and outcome.action_count == 4
    assert outcome.mode is MODES[drive.method] and not outcome.skipped
    assert outcome.duration_ms >= 0 and all(r.duration_ms >= 0 for r in outcome.results)


@pytest.mark.parametrize("drive", ACTION_DRIVERS)
def test_each_action_gets_only_its_own_params_and_its_own_copy_of_the_context(
    drive: ActionDriver,
) -> None:
    seen: dict[str, dict[str, Any]] = {}
    actions = ActionRegistry()

    @actions.decorator()
    def send_notification(ctx: dict[str, Any]) -> None:
        seen["send_notification"] = {**ctx, ACTION_PARAMS_KEY: dict(ctx[ACTION_PARAMS_KEY])}
        ctx[ACTION_PARAMS_KEY]["channel"] = "mutated"  # must not reach the definition
        ctx["added_by_first"] = True

    @actions.decorator()
    def log_fill(ctx: dict[str, Any]) -> None:
        seen["log_fill"] = dict(ctx)

    @actions.decorator()
    def update_metrics(ctx: dict[str, Any]) -> None:
        seen["update_metrics"] = dict(ctx)

    notify = ActionSpec("send_notification", {"channel": "slack", "priority": "high"})
    metrics = ActionSpec("update_metrics", {"metric_name": "fills", "increment": 1})
    context = {"message": "filled"}
    result = step(transition=(notify, "log_fill", metrics))
    drive.execute(ActionExecutor(actions), result, context)

    assert seen["send_notification"][ACTION_PARAMS_KEY] == {"channel": "slack", "priority": "high"}
    assert seen["log_fill"][ACTION_PARAMS_KEY] == {}
    assert "added_by_first" not in seen["log_fill"]
    assert seen["update_metrics"][ACTION_PARAMS_KEY] == {"metric_name": "fills", "increment": 1}
    assert all(s["message"] == "filled" for s in seen.values())
    assert context == {"message": "filled"}  # the caller's dict is untouched
    assert notify.params == {"channel": "slack", "priority": "high"}  # so is the definition


@pytest.mark.parametrize("drive", ACTION_DRIVERS)
def test_failures_are_reported_by_name_and_do_not_stop_the_others(drive: ActionDriver) -> None:
    log: list[str] = []
    actions = recording_registry(log, "first", "last")

    @actions.decorator()
    def explode(ctx: dict[str, Any]) -> None:
        raise ValueError("broker unreachable")

    outcome = drive.execute(
        ActionExecutor(actions),
        step(exit=("first",), transition=("explode", "not_registered"), enter=("last",)),
        {},
    )
    assert log == ["first", "last"]
    assert outcome.failed_actions == ["explode", "not_registered"]
    assert outcome.succeeded_actions == ["first", "last"]
    assert not outcome.all_succeeded
    assert outcome.errors == {
        "explode": "ValueError: broker unreachable",
        "not_registered": "action 'not_registered' is not registered",
    }
    failed = outcome.results[1]
    assert isinstance(failed.exception, ValueError) and failed.phase == "transition"
    assert outcome.to_dict()["results"][1]["error"] == "ValueError: broker unreachable"


def test_a_failed_transition_runs_nothing() -> None:
    log: list[str] = []
    actions = recording_registry(log, "a")
    failed = TransitionResult(
        success=False,
        source_state="open",
        target_state=None,
        trigger="fill",
        actions_to_execute=(ActionSpec("a"),),
        error=InvalidTransitionError("no", "open", "fill"),
    )
    executor = ActionExecutor(actions)
    outcomes = [executor.execute(failed, {})]
    for mode in ExecutionMode:
        outcomes.append(asyncio.run(executor.async_execute_with_mode(failed, {}, mode=mode)))
    assert log == []
    assert all(o.skipped and o.action_count == 0 and o.mode for o in outcomes)


def test_sync_execute_runs_async_actions_when_no_loop_is_running() -> None:
    log: list[str] = []
    actions = recording_registry(log, "sync_one")

    @actions.decorator()
    async def async_one(ctx: dict[str, Any]) -> str:
        await asyncio.sleep(0)
        log.append("async_one")
        return "done"

    outcome = ActionExecutor(actions).execute(step(transition=("async_one", "sync_one")), {})
    assert log == ["async_one", "sync_one"]
    assert outcome.all_succeeded and outcome.results[0].result == "done"


def test_sync_execute_inside_a_running_loop_refuses_async_actions_before_running_any() -> None:
    log: list[str] = []
    actions = recording_registry(log, "sync_one")

    @actions.decorator()
    async def async_one(ctx: dict[str, Any]) -> None:
        log.append("async_one")

    async def main() -> None:
        ActionExecutor(actions).execute(step(transition=("sync_one", "async_one")), {})

    with pytest.raises(RuntimeError, match="async_execute"):
        asyncio.run(main())
    assert log == []


def test_sync_action_returning_a_coroutine_fails_cleanly_in_sync_execute() -> None:
    actions = ActionRegistry()

    async def work(ctx: dict[str, Any]) -> None:
        return None

    actions.register("sneaky", lambda ctx: work(ctx))
    outcome = ActionExecutor(actions).execute(step(transition=("sneaky",)), {})
    assert outcome.failed_actions == ["sneaky"]
    assert "async_execute" in outcome.errors["sneaky"]


# -- async modes ---------------------------------------------------------------------


def timeline_registry(
    events: list[tuple[str, str]], names: list[str], ends_after: dict[str, str] | None = None
) -> ActionRegistry:
    """Async actions that log their start and end, each yielding to the loop in between.

    ``ends_after[a] = b``: action ``a`` ends only after ``b`` has ended. When ``a`` starts
    first, a run that gets through shows the two overlapped (one that could not overlap
    them would wait forever: the tests guard with ``wait_for``).
    """
    ended = {name: asyncio.Event() for name in names}
    actions = ActionRegistry()
    for name in names:

        async def action(ctx: dict[str, Any], name: str = name) -> str:
            events.append(("start", name))
            await asyncio.sleep(0)
            other = (ends_after or {}).get(name)
            if other is not None:
                await ended[other].wait()
            events.append(("end", name))
            ended[name].set()
            return name

        actions.register(name, action)
    return actions


def test_sequential_mode_never_overlaps() -> None:
    events: list[tuple[str, str]] = []
    actions = timeline_registry(events, ["x", "t", "e"])
    executor = ActionExecutor(actions)
    outcome = asyncio.run(executor.async_execute_sequential(step(("x",), ("t",), ("e",)), {}))
    assert events == [("start", "x"), ("end", "x"), ("start", "t"), ("end", "t"),
                      ("start", "e"), ("end", "e")]  # fmt: skip
    assert outcome.mode is ExecutionMode.SEQUENTIAL and outcome.all_succeeded


def _rendezvous_registry() -> tuple[ActionRegistry, dict[str, asyncio.Event]]:
    """Two actions that each wait for the other to have started: they finish only together."""
    flags: dict[str, asyncio.Event] = {}
    actions = ActionRegistry()

    async def meet(ctx: dict[str, Any]) -> str:
        me: str = ctx[ACTION_PARAMS_KEY]["me"]
        other: str = ctx[ACTION_PARAMS_KEY]["other"]
        flags.setdefault(me, asyncio.Event()).set()
        await flags.setdefault(other, asyncio.Event()).wait()
        return me

    actions.register("meet", meet)
    return actions, flags


def _probe_registry() -> tuple[ActionRegistry, dict[str, bool]]:
    """Actions that report whether their partner had started by the time they yielded.

    Nothing waits, so every mode finishes; ``saw[me]`` is True exactly when the two
    actions were running at the same time.
    """
    started: set[str] = set()
    saw: dict[str, bool] = {}
    actions = ActionRegistry()

    async def probe(ctx: dict[str, Any]) -> str:
        me: str = ctx[ACTION_PARAMS_KEY]["me"]
        started.add(me)
        for _ in range(5):  # let every other ready task run its first step
            await asyncio.sleep(0)
        saw[me] = ctx[ACTION_PARAMS_KEY]["other"] in started
        return me

    actions.register("probe", probe)
    return actions, saw


PAIR = step(
    exit=(ActionSpec("probe", {"me": "a", "other": "b"}),),
    enter=(ActionSpec("probe", {"me": "b", "other": "a"}),),
)


def test_parallel_mode_really_overlaps() -> None:
    actions, _ = _rendezvous_registry()
    result = step(
        exit=(ActionSpec("meet", {"me": "a", "other": "b"}),),
        enter=(ActionSpec("meet", {"me": "b", "other": "a"}),),
    )
    executor = ActionExecutor(actions)

    async def run(mode: ExecutionMode) -> ExecutionResult:
        return await asyncio.wait_for(executor.async_execute_with_mode(result, {}, mode), 5)

    outcome = asyncio.run(run(ExecutionMode.PARALLEL))
    assert outcome.all_succeeded and [r.result for r in outcome.results] == ["a", "b"]
    # The same probe pair overlaps in parallel mode and not in sequential mode.
    probes, saw = _probe_registry()
    asyncio.run(ActionExecutor(probes).async_execute_parallel(PAIR, {}))
    assert saw == {"a": True, "b": True}
    probes, saw = _probe_registry()
    asyncio.run(ActionExecutor(probes).async_execute_sequential(PAIR, {}))
    assert saw == {"a": False, "b": True}


def test_parallel_results_keep_plan_order_whatever_finishes_first() -> None:
    events: list[tuple[str, str]] = []
    actions = timeline_registry(events, ["slow", "fast"], {"slow": "fast"})
    outcome = asyncio.run(
        asyncio.wait_for(
            ActionExecutor(actions).async_execute_parallel(step(("slow",), ("fast",)), {}), 5
        )
    )
    assert events.index(("end", "fast")) < events.index(("end", "slow"))
    assert [r.action_name for r in outcome.results] == ["slow", "fast"]
    assert outcome.mode is ExecutionMode.PARALLEL


def test_phased_mode_overlaps_within_a_phase_and_respects_phase_boundaries() -> None:
    events: list[tuple[str, str]] = []
    # x1 can end only once x2 has ended, t1 once t2 has: only overlap gets them through
    actions = timeline_registry(
        events, ["x1", "x2", "t1", "t2", "e1", "e2"], {"x1": "x2", "t1": "t2"}
    )
    rendezvous, _ = _rendezvous_registry()
    actions.register("meet", rendezvous.get("meet"))
    result = step(
        # the two "meet" actions can only finish if they run at the same time
        exit=(
            "x1",
            "x2",
            ActionSpec("meet", {"me": "a", "other": "b"}),
            ActionSpec("meet", {"me": "b", "other": "a"}),
        ),
        transition=("t1", "t2"),
        enter=("e1", "e2"),
    )
    executor = ActionExecutor(actions, default_mode=ExecutionMode.PHASED)
    outcome = asyncio.run(asyncio.wait_for(executor.async_execute(result, {}), 5))

    def when(kind: str, name: str) -> int:
        return events.index((kind, name))

    assert outcome.all_succeeded and outcome.mode is ExecutionMode.PHASED
    # within a phase actions overlap ...
    assert when("start", "x2") < when("end", "x1")
    assert when("start", "t2") < when("end", "t1")
    # ... and a phase starts only after every action of the previous one ended
    assert max(when("end", n) for n in ("x1", "x2")) < min(when("start", n) for n in ("t1", "t2"))
    assert max(when("end", n) for n in ("t1", "t2")) < min(when("start", n) for n in ("e1", "e2"))
    assert [r.phase for r in outcome.results] == ["exit"] * 4 + ["transition"] * 2 + ["enter"] * 2
    assert [r.action_name for r in outcome.results][:4] == ["x1", "x2", "meet", "meet"]


def test_phased_mode_does_not_let_phases_overlap() -> None:
    # the exit probe runs to its end before the enter probe starts
    probes, saw = _probe_registry()
    outcome = asyncio.run(ActionExecutor(probes).async_execute_phased(PAIR, {}))
    assert outcome.all_succeeded and [r.phase for r in outcome.results] == ["exit", "enter"]
    assert saw == {"a": False, "b": True}


def test_async_failures_are_reported_in_every_mode() -> None:
    for mode in ExecutionMode:
        events: list[tuple[str, str]] = []
        actions = timeline_registry(events, ["ok1", "ok2"])

        @actions.decorator("broken")
        async def broken(ctx: dict[str, Any]) -> None:
            await asyncio.sleep(0)
            raise RuntimeError("db down")

        executor = ActionExecutor(actions)
        result = step(("ok1",), ("broken", "missing"), ("ok2",))
        outcome = asyncio.run(executor.async_execute_with_mode(result, {"k": 1}, mode=mode))
        assert outcome.failed_actions == ["broken", "missing"], mode
        assert outcome.succeeded_actions == ["ok1", "ok2"], mode
        assert outcome.errors["broken"] == "RuntimeError: db down"
        assert outcome.mode is mode


def test_async_execute_uses_the_default_mode_and_modes_accept_strings() -> None:
    events: list[tuple[str, str]] = []
    actions = timeline_registry(events, ["a"])
    executor = ActionExecutor(actions, default_mode="parallel")  # type: ignore[arg-type]
    assert executor.default_mode is ExecutionMode.PARALLEL
    assert asyncio.run(executor.async_execute(step(("a",)), {})).mode is ExecutionMode.PARALLEL
    outcome = asyncio.run(executor.async_execute_with_mode(step(("a",)), {}, mode=None))
    assert outcome.mode is ExecutionMode.PARALLEL
    with pytest.raises(ValueError):
        ActionExecutor(actions, default_mode="sideways")  # type: ignore[arg-type]


def test_async_modes_call_sync_actions_too() -> None:
    log: list[str] = []
    actions = recording_registry(log, "a", "b")
    for mode in ExecutionMode:
        log.clear()
        outcome = asyncio.run(
            ActionExecutor(actions).async_execute_with_mode(step(("a",), (), ("b",)), {}, mode)
        )
        assert log == ["a", "b"] and outcome.all_succeeded


def test_action_registry_surface() -> None:
    actions = ActionRegistry()

    @actions.decorator()
    async def update_position(ctx: dict[str, Any]) -> None:
        return None

    actions.register("send", lambda ctx: None)
    assert actions.list_actions() == ["send", "update_position"]
    assert actions.is_async("update_position") and not actions.is_async("send")
    assert actions.has("send") and actions.get("send")({}) is None
    actions.unregister("send")
    assert actions.list_actions() == ["update_position"]
    actions.clear()
    assert actions.list_actions() == []
