"""The parallel view's helpers agree with what a full step through the engine does.

The steps are taken on both drivers (``process``/``process_parallel`` and their
``async_`` twins): the helpers must agree with either.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pystator import StateMachine, UndefinedStateError
from tests.drivers import ENGINE_DRIVERS, EngineDriver

TRADING = Path(__file__).parents[2] / "examples" / "day_trading_fsm.yaml"


@pytest.fixture
def machine() -> StateMachine:
    return StateMachine.from_yaml(TRADING)


@pytest.mark.parametrize("drive", ENGINE_DRIVERS)
def test_enter_actions_match_entering_the_session(
    machine: StateMachine, drive: EngineDriver
) -> None:
    entered = drive.process(machine, "pre_market", "market_open")
    expected = tuple(a.name for a in entered.on_enter_actions)
    assert expected == ("open_session", "start_scanners", "reset_risk_alerts")
    assert machine.get_parallel_enter_actions("session") == expected


@pytest.mark.parametrize("drive", ENGINE_DRIVERS)
def test_exit_helpers_match_leaving_the_session(machine: StateMachine, drive: EngineDriver) -> None:
    config = machine.enter_parallel_state("session")
    config, (signal,) = drive.process_parallel(machine, config, "signal_detected")
    assert signal.success and signal.region == "trading"
    left = drive.process(machine, config.to_string(), "market_close")
    assert machine.exit_parallel_state(config) == list(left.exited_states)
    assert machine.get_parallel_exit_actions(config) == tuple(a.name for a in left.on_exit_actions)
    assert machine.exit_parallel_state(config)[-1] == "session"


def test_enter_actions_of_an_unknown_state_raise(machine: StateMachine) -> None:
    with pytest.raises(UndefinedStateError):
        machine.get_parallel_enter_actions("sesion")
