"""A trading session with three parallel regions, using the parallel API.

Run it from anywhere: ``python examples/day_trading_example.py``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pystator import ActionRegistry, GuardRegistry, ParallelStateConfig, StateMachine
from pystator.actions import ActionExecutor, ExecutionMode

HERE = Path(__file__).resolve().parent


async def run() -> ParallelStateConfig:
    machine = StateMachine.from_yaml(HERE / "day_trading_fsm.yaml")
    guards = GuardRegistry()

    @guards.decorator()
    async def has_buying_power(ctx: dict[str, float]) -> bool:
        await asyncio.sleep(0)  # stands in for a call to the broker
        return ctx["buying_power"] >= ctx["order_value"]

    machine.bind_guards(guards)

    performed: list[str] = []
    actions = ActionRegistry()
    for name in (
        "open_session",
        "start_scanners",
        "stop_scanners",
        "reset_risk_alerts",
        "place_order",
        "record_fill",
        "alert",
    ):
        actions.register(name, lambda ctx, name=name: performed.append(name))
    executor = ActionExecutor(actions, default_mode=ExecutionMode.PHASED)

    context = {
        "position_count": 1,
        "max_positions": 5,
        "buying_power": 10_000,
        "order_value": 2_500,
    }
    config = machine.enter_parallel_state("session")
    print("entered:", config.to_string())
    for event in ("signal_detected", "risk_warning", "signal_confirmed", "order_filled"):
        config, results = await machine.async_process_parallel(config, event, context)
        for result in results:
            await executor.async_execute_phased(result, context)
            print(f"{event:17} [{result.region}] {result.source_state} -> {result.target_state}")
    print("now:", config.to_string())
    print("leaving runs:", ", ".join(machine.get_parallel_exit_actions(config)))
    return config


if __name__ == "__main__":
    asyncio.run(run())
