"""A hierarchical rebalance workflow: parent-level transitions and exit/entry through the LCA.

Run it from anywhere: ``python examples/portfolio_optimization_example.py``.
"""

from __future__ import annotations

from pathlib import Path

from pystator import StateMachine

HERE = Path(__file__).resolve().parent


def main() -> list[tuple[str, tuple[str, ...]]]:
    machine = StateMachine.from_yaml(HERE / "portfolio_optimization_fsm.yaml")
    context = {"turnover": 0.08, "max_turnover": 0.10}
    state = machine.get_initial_state().name
    trail = []
    for event in ("start", "data_ready", "data_clean", "solved", "abort"):
        result = machine.process(state, event, context)
        assert result.success, result.error
        print(f"{event:11} {state} -> {result.target_state}")
        print(f"{'':11} exit {list(result.exited_states)} enter {list(result.entered_states)}")
        print(f"{'':11} actions {list(result.all_actions)}")
        trail.append((result.target_state or state, result.all_actions))
        state = result.target_state or state
    return trail


if __name__ == "__main__":
    main()
