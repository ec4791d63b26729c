"""Drive the order machine by hand: compute with process(), then run the actions.

Run it from anywhere: ``python examples/basic_usage.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pystator import ActionRegistry, GuardRegistry, StateMachine
from pystator.actions import ActionExecutor

HERE = Path(__file__).resolve().parent


def build() -> tuple[StateMachine, ActionExecutor, list[str]]:
    machine = StateMachine.from_yaml(HERE / "order_fsm.yaml")

    guards = GuardRegistry()
    guards.register("is_full_fill", lambda ctx: ctx["fill_qty"] >= ctx["order_qty"])
    guards.register("is_partial_fill", lambda ctx: 0 < ctx["fill_qty"] < ctx["order_qty"])
    machine.bind_guards(guards)

    log: list[str] = []
    actions = ActionRegistry()
    for name in ("notify_ui", "log_audit", "update_order_id", "update_positions", "send_cancel"):
        actions.register(name, lambda ctx, name=name: log.append(name))
    return machine, ActionExecutor(actions), log


def main() -> list[tuple[str, str]]:
    machine, executor, _log = build()
    state = machine.get_initial_state().name
    history = []
    script: list[tuple[str, dict[str, Any]]] = [
        ("exchange_ack", {"order_id": "A-1"}),
        ("execution_report", {"fill_qty": 40, "order_qty": 100}),
        ("execution_report", {"fill_qty": 100, "order_qty": 100}),
    ]
    for event, context in script:
        result = machine.process(state, event, context)
        if not result.success:
            print(f"{event}: {result.error}")
            continue
        # A real application commits the new state here, then runs the actions.
        executor.execute(result, context)
        actions = ", ".join(result.all_actions)
        print(f"{state} --{event}--> {result.target_state}  actions: {actions}")
        history.append((state, result.target_state or state))
        state = result.target_state or state
    late = machine.process(state, "cancel", {"locked": False})
    print(f"cancel in {state}: {late.error}")
    return history


if __name__ == "__main__":
    main()
