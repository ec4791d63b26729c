"""``simulate_cli``: the text report behind ``pystator simulate FILE --events ...``."""

from __future__ import annotations

import pytest

from pystator import StateMachine
from pystator.simulator import SimulationError, simulate_cli
from pystator.simulator.cli import parse_events
from tests.engine.simulator_machines import ORDER, TIMERS, TRADING


def test_tokens_are_split_on_commas_and_blanks_dropped() -> None:
    assert parse_events(" a, +5s ,, ! ,b->C ") == ["a", "+5s", "!", "b->C"]


def test_each_step_is_printed_with_exits_entries_actions_and_timers() -> None:
    report = simulate_cli(StateMachine.from_string(ORDER), "exchange_ack, fill")
    lines = report.splitlines()
    assert lines[0] == "machine order (strict mode)"
    assert "[0] start in PENDING" in lines
    assert "    timers armed: timeout:PENDING -> TIMED_OUT at 5s" in lines
    assert "[1] 0ms event exchange_ack: PENDING -> OPEN" in lines
    assert (
        "    actions: update_order_id (transition PENDING -> OPEN); notify_ui (enter OPEN)" in lines
    )
    assert "    timers cancelled: timeout:PENDING -> TIMED_OUT at 5s" in lines
    assert any(line.startswith("[2] 0ms event fill: nothing happened: ") for line in lines)
    assert lines[-4:] == [
        "final state: OPEN",
        "configuration: OPEN",
        "clock: 0ms",
        "pending timers: none",
    ]


def test_clock_tokens_fire_timers_and_choices_pick_a_destination() -> None:
    report = simulate_cli(
        StateMachine.from_string(ORDER),
        "exchange_ack, execution_report->PARTIALLY_FILLED, ?is_partial_fill=false, "
        "execution_report, +2s",
    )
    assert "[2] 0ms event execution_report: OPEN -> PARTIALLY_FILLED" in report
    assert "[3] guard is_partial_fill = false" in report
    assert "[4] 0ms event execution_report: PARTIALLY_FILLED -> FILLED" in report
    assert "[5] clock -> 2s (0 timer(s) fired)" in report
    timers = simulate_cli(StateMachine.from_string(TIMERS), "work, +3s, !")
    assert "[2] 2s timer after:2s:busy: busy -> waiting" in timers
    assert "[4] 7s timer timeout:waiting: waiting -> expired" in timers
    assert timers.endswith(
        "final state: expired\nconfiguration: expired\nclock: 7s\npending timers: none\n"
    )


def test_the_final_configuration_lists_every_region() -> None:
    report = simulate_cli(StateMachine.from_string(TRADING), "open,signal")
    assert "final state: active:trading=analyzing,risk=normal,feed=connecting" in report
    assert "configuration: active, analyzing, normal, connecting" in report


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ("exchange_ack,!,!", r"token 2 \('!'\): no timer is pending"),
        ("+soon", "token 1.*malformed delay"),
        ("exchange_ack,execution_report", "token 2.*choose with via="),
        ("?is_full_fill=maybe", "token 1.*write a guard as"),
    ],
)
def test_a_token_that_cannot_apply_is_named_in_the_error(events: str, message: str) -> None:
    with pytest.raises(SimulationError, match=message):
        simulate_cli(StateMachine.from_string(ORDER), events)
