"""``meta.event_normalizer`` folds the case of triggers and events before they are matched.

``lower`` and ``upper`` must both work, whatever case the YAML and the caller use, on
both drivers, in the parallel view and in the simulator; without a normalizer the
case matters.
"""

from __future__ import annotations

import pytest

from pystator import StateMachine
from pystator.simulator import Simulation
from tests.drivers import ENGINE_DRIVERS, EngineDriver


def machine(normalizer: str | None, trigger: str = "Fill") -> StateMachine:
    meta = f"{{machine_name: m, event_normalizer: {normalizer}}}" if normalizer else "{}"
    return StateMachine.from_string(
        f"""
meta: {meta}
states:
  - {{name: open, type: initial}}
  - {{name: filled, type: terminal}}
  - name: session
    type: parallel
    regions:
      - {{name: left, initial: l0, states: [l0, l1]}}
      - {{name: right, initial: r0, states: [r0, r1]}}
transitions:
  - {{trigger: {trigger}, source: open, dest: filled}}
  - {{trigger: {trigger}, source: l0, dest: l1, region: left}}
"""
    )


@pytest.mark.parametrize("drive", ENGINE_DRIVERS)
@pytest.mark.parametrize("normalizer", ["lower", "upper"])
@pytest.mark.parametrize("written", ["fill", "FILL", "Fill"])
@pytest.mark.parametrize("sent", ["fill", "FILL", "fIlL"])
def test_any_case_matches_when_a_normalizer_is_set(
    drive: EngineDriver, normalizer: str, written: str, sent: str
) -> None:
    m = machine(normalizer, written)
    result = drive.process(m, "open", sent)
    assert result.success and result.target_state == "filled", result.error
    config, results = drive.process_parallel(m, m.enter_parallel_state("session"), sent)
    assert config.region_states == {"left": "l1", "right": "r0"}
    assert [r.success for r in results] == [True]


@pytest.mark.parametrize("drive", ENGINE_DRIVERS)
def test_without_a_normalizer_the_case_matters(drive: EngineDriver) -> None:
    m = machine(None, "fill")
    assert drive.process(m, "open", "fill").target_state == "filled"
    refused = drive.process(m, "open", "FILL")
    assert not refused.success and "FILL" in str(refused.error)


@pytest.mark.parametrize("normalizer", ["lower", "upper"])
def test_the_simulator_normalizes_too(normalizer: str) -> None:
    sim = Simulation(machine(normalizer, "fill"))
    step = sim.send("FILL")
    assert step.success and sim.state == "filled"
