"""Delays: a bare number is milliseconds, a unit scales it, anything odd is a clear error.

``pystator.durations`` is small and stable, so it is tested directly; the same rules
are then checked where users meet them: ``after:`` in a definition (both build paths:
a dict and YAML text) and the simulator's clock.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pystator import ConfigError, StateMachine
from pystator.durations import MAX_DELAY_MS, format_duration, parse_duration
from pystator.simulator import Simulation, SimulationError


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        (500, 500),
        (0, 0),
        (5000.0, 5000),
        (0.0, 0),  # a float zero is a delay of zero, as the int 0 is
        (1.0, 1),
        ("500", 500),
        ("  500  ", 500),
        ("0", 0),
        ("500ms", 500),
        ("5 ms", 5),
        ("5s", 5000),
        ("1.5s", 1500),
        ("0.25s", 250),
        ("30m", 1_800_000),
        ("1h", 3_600_000),
        ("2d", 172_800_000),
        ("365d", MAX_DELAY_MS),  # the longest delay is allowed, one more is not
        (MAX_DELAY_MS, MAX_DELAY_MS),
        (float(MAX_DELAY_MS), MAX_DELAY_MS),
        (" 7s ", 7000),
        ("500s".rjust(40), 500_000),  # 40 characters is the longest text read
    ],
)
def test_a_delay_is_read_as_milliseconds(text: Any, ms: int) -> None:
    assert parse_duration(text) == ms
    assert type(parse_duration(text)) is int


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "cannot be negative: -1"),
        (True, "not True"),
        (False, "not False"),
        (1.5, "whole number: 1.5"),
        (-2.0, "whole number: -2.0"),
        ("1.5ms", "malformed delay '1.5ms'"),
        ("0.0001s", "malformed delay '0.0001s'"),
        ("-5", "malformed delay '-5'"),
        ("5x", "malformed delay '5x'"),
        ("", "malformed delay ''"),
        ("s", "malformed delay 's'"),
        ("5s5", "malformed delay '5s5'"),
        ("x5s", "malformed delay 'x5s'"),
        ("5sec", "malformed delay '5sec'"),
        (None, "not None"),
        ([5], r"not \[5\]"),
        (MAX_DELAY_MS + 1, "at most 365 days \\(31,536,000,000 ms\\), not 31536000001$"),
        (float(MAX_DELAY_MS + 1000), "at most 365 days .*, not 31536001000.0$"),
        ("366d", "at most 365 days .*, not '366d'$"),
        (10**400, "not a huge number$"),
        # a number is shown in at most 40 characters, and not at all from 300 bits on
        (10**39, "not 1" + "0" * 39 + "$"),
        (10**40, "not 1" + "0" * 36 + r"\.\.\.$"),
        (2**298, "not " + str(2**298)[:37] + r"\.\.\.$"),
        (2**299, "not a huge number$"),
        ("9" * 41, "malformed delay"),
    ],
)
def test_a_malformed_delay_is_refused_with_what_was_wrong(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(value)


def test_the_malformed_message_shows_the_accepted_forms() -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration("soon")
    assert str(caught.value) == (
        "malformed delay 'soon': use milliseconds (5000) or a number with a unit "
        "(500ms, 5s, 30m, 1h)"
    )
    with pytest.raises(ValueError) as wrong_type:
        parse_duration(None)
    assert str(wrong_type.value) == ("a delay must be milliseconds or a string like '5s', not None")


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0ms"),
        (1, "1ms"),
        (999, "999ms"),
        (1000, "1s"),
        (1500, "1500ms"),
        (90_000, "90s"),
        (60_000, "1m"),
        (300_000, "5m"),
        (3_600_000, "1h"),
        (7_200_000, "2h"),
        (86_400_000, "1d"),
        (90_000_000, "25h"),
    ],
)
def test_a_delay_is_spelled_in_its_largest_exact_unit(ms: int, text: str) -> None:
    assert format_duration(ms) == text


@given(st.integers(min_value=0, max_value=MAX_DELAY_MS))
def test_spelling_and_reading_round_trip(ms: int) -> None:
    assert parse_duration(format_duration(ms)) == ms


# -- where users meet it -------------------------------------------------------------------


def definition(after: Any) -> dict[str, Any]:
    return {
        "meta": {"machine_name": "delays"},
        "states": [{"name": "waiting", "type": "initial"}, {"name": "gone"}],
        "transitions": [{"trigger": "expire", "source": "waiting", "dest": "gone", "after": after}],
    }


def yaml_text(after: str) -> str:
    return f"""
meta: {{machine_name: delays}}
states:
  - {{name: waiting, type: initial}}
  - {{name: gone}}
transitions:
  - {{trigger: expire, source: waiting, dest: gone, after: {after}}}
"""


@pytest.mark.parametrize(
    ("written", "ms"), [('"500"', 500), ("500", 500), ('"500ms"', 500), ('"2s"', 2000)]
)
def test_after_in_yaml_is_milliseconds_unless_a_unit_says_otherwise(written: str, ms: int) -> None:
    machine = StateMachine.from_string(yaml_text(written))
    (delayed,) = machine.delayed_transitions("waiting")
    assert delayed.after == ms


@pytest.mark.parametrize(("after", "ms"), [("500", 500), (500, 500), ("1m", 60_000)])
def test_after_in_a_dict_is_milliseconds_unless_a_unit_says_otherwise(after: Any, ms: int) -> None:
    (delayed,) = StateMachine.from_dict(definition(after)).delayed_transitions("waiting")
    assert delayed.after == ms


def test_a_bare_number_string_fires_after_that_many_milliseconds() -> None:
    sim = Simulation(StateMachine.from_string(yaml_text('"500"')))
    assert [t.due_ms for t in sim.pending_timers] == [500]
    sim.advance(499)
    assert sim.state == "waiting"
    fired = sim.advance("1ms")
    assert sim.state == "gone" and fired[0].clock_ms == 500


def test_a_malformed_after_is_a_located_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        StateMachine.from_string(yaml_text('"5 minutes"'))
    (issue,) = caught.value.issues
    assert issue.path == "transitions[0].after" and issue.line == 7
    assert "malformed delay '5 minutes'" in issue.message


def test_the_simulator_clock_reads_delays_the_same_way() -> None:
    sim = Simulation(StateMachine.from_string(yaml_text("60000")))
    sim.advance("500")
    assert sim.clock_ms == 500
    sim.advance("1.5s")
    assert sim.clock_ms == 2000
    with pytest.raises(SimulationError, match="malformed delay 'later'"):
        sim.advance("later")
