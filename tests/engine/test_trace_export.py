"""Trace export: a run as a JSON scenario, and as a pytest file that replays it."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pystator import GuardRegistry, StateMachine
from pystator.simulator import (
    Simulation,
    SimulationError,
    export_pytest,
    export_trace_json,
)
from tests.engine.simulator_machines import HIERARCHY, ORDER, RACE, TIMERS, TRADING

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def order_run() -> Simulation:
    sim = Simulation(StateMachine.from_string(ORDER), {"order_qty": 100})
    sim.send("exchange_ack")
    sim.send("fill", {"fill_qty": 80})  # refused by its expr guard
    sim.set_context({"order_qty": 50})
    sim.send("execution_report", via=2)  # the person's choice
    sim.send("nonsense")  # unknown trigger: refused, state kept
    sim.send("fill", {"fill_qty": 50})
    return sim


def timers_run() -> Simulation:
    sim = Simulation(StateMachine.from_string(TIMERS))
    sim.send("work")
    sim.advance("3s")  # the after-timer fires: back to waiting, timeout re-armed
    sim.send("poke")
    sim.advance("10s")  # the timeout fires
    sim.send("again")
    sim.fire_next_timer()
    return sim


def trading_run() -> Simulation:
    sim = Simulation(StateMachine.from_string(TRADING))
    for event in ("open", "signal", "confirm", "warn", "up", "tick"):
        sim.send(event)
    sim.advance("2s")  # executing times out back to scanning
    sim.send("stop")
    sim.send("resume")
    return sim


def hierarchy_run() -> Simulation:
    sim = Simulation(StateMachine.from_string(HIERARCHY))
    for event in ("go", "got", "cancel", "go", "got", "finish", "go"):
        sim.send(event)
    return sim


def race_run() -> Simulation:
    sim = Simulation(StateMachine.from_string(RACE))
    sim.advance("1s")
    sim.send("a_reset")
    sim.advance("5s")
    return sim


RUNS = {
    "order": (order_run, ORDER),
    "timers": (timers_run, TIMERS),
    "trading": (trading_run, TRADING),
    "hierarchy": (hierarchy_run, HIERARCHY),
    "race": (race_run, RACE),
}


def random_run(machine: StateMachine, steps: int = 60, seed: int = 3) -> Simulation:
    """A seeded walk over whatever is enabled, with clock advances, as a person might click."""
    rng = random.Random(seed)
    sim = Simulation(machine)
    while len(sim.steps) < steps:
        enabled = sim.enabled_events()
        if rng.random() < 0.2 and sim.pending_timers:
            sim.advance(rng.choice(["500ms", "5s", "1m"]))
        elif enabled:
            choice = rng.choice(enabled)
            sim.send(choice.event, via=choice.via)
        else:
            break
    return sim


def run_exported(code: str) -> None:
    """Run the exported module's test function in this process (the fast check)."""
    namespace: dict[str, Any] = {"__name__": "exported"}
    exec(compile(code, "exported_test.py", "exec"), namespace)
    tests = [v for k, v in namespace.items() if k.startswith("test_") and callable(v)]
    assert len(tests) == 1
    tests[0]()


# --------------------------------------------------------------------------- JSON
def test_exported_json_reads_back_into_the_same_run() -> None:
    sim = order_run()
    text = export_trace_json(sim)
    assert text.endswith("\n") and '\n  "trace": [' in text
    again = Simulation.from_json(sim.machine, text)
    assert again.divergence is None and again.steps == sim.steps


# --------------------------------------------------------------------------- pytest
@pytest.mark.parametrize("name", sorted(RUNS))
def test_exported_pytest_replays_green(name: str) -> None:
    make, yaml = RUNS[name]
    code = export_pytest(make(), yaml, machine_file_name=f"{name}.yaml")
    assert "StateMachine.from_yaml(MACHINE_YAML)" in code
    assert f"on {name}.yaml" in code
    run_exported(code)


def test_exported_pytest_checks_every_step() -> None:
    code = export_pytest(order_run(), ORDER)
    broken = code.replace("dest: PARTIALLY_FILLED", "dest: OPEN", 1)
    assert broken != code
    with pytest.raises(AssertionError, match="expected 'PARTIALLY_FILLED', got 'OPEN'"):
        run_exported(broken)


def test_exported_pytest_hands_out_recorded_named_guard_outcomes() -> None:
    machine = StateMachine.from_string(ORDER)
    registry = GuardRegistry()
    registry.register("is_full_fill", lambda ctx: ctx.get("qty") == 10)
    registry.register("is_partial_fill", lambda ctx: ctx.get("qty") != 10)
    machine.bind_guards(registry)
    sim = Simulation(machine)
    sim.send("exchange_ack")
    sim.send("execution_report", {"qty": 4})
    sim.send("execution_report", {"qty": 10})
    code = export_pytest(sim, ORDER)
    assert "['is_full_fill', False], ['is_partial_fill', True]" in code
    run_exported(code)


def test_export_reads_the_yaml_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "timers.yaml"
    path.write_text(TIMERS, encoding="utf-8")
    code = export_pytest(timers_run(), path)
    assert "on timers.yaml" in code
    run_exported(code)


def test_export_refuses_yaml_the_run_does_not_replay_on(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="does not replay on this YAML"):
        export_pytest(order_run(), ORDER.replace("dest: PARTIALLY_FILLED", "dest: OPEN"))
    with pytest.raises(SimulationError, match="cannot read the machine file"):
        export_pytest(order_run(), tmp_path / "missing.yaml")
    with pytest.raises(SimulationError, match="does not load"):
        export_pytest(order_run(), "states: []\ntransitions: []\n")


def test_awkward_yaml_text_is_embedded_exactly() -> None:
    yaml = ORDER.replace("machine_name: order", 'machine_name: "o\\"rder \\\\ \\u00e9"') + "# '''\n"
    sim = Simulation(StateMachine.from_string(yaml))
    sim.send("exchange_ack")
    run_exported(export_pytest(sim, yaml))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_exported_pytest_of_a_random_run_on_each_example_replays(path: Path) -> None:
    machine = StateMachine.from_yaml(path)
    run_exported(export_pytest(random_run(machine), path))


@pytest.mark.slow
def test_exported_pytest_files_pass_under_pytest_in_a_subprocess(tmp_path: Path) -> None:
    files = {name: export_pytest(make(), yaml) for name, (make, yaml) in RUNS.items()}
    for path in EXAMPLES:
        files[path.stem] = export_pytest(random_run(StateMachine.from_yaml(path)), path)
    for name, code in files.items():
        (tmp_path / f"test_replay_{name}.py").write_text(code, encoding="utf-8")
    broken = files["order"].replace("dest: PARTIALLY_FILLED", "dest: OPEN", 1)
    (tmp_path / "test_replay_broken.py").write_text(broken, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", "."],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    summary = done.stdout.strip().splitlines()[-1]
    assert f"1 failed, {len(files)} passed" in summary, done.stdout + done.stderr
    assert "test_replay_broken.py" in done.stdout


GATED_START = """
meta: {machine_name: gate}
states:
  - {name: A, type: initial}
  - {name: B}
  - {name: C}
transitions:
  - {source: A, dest: B, always: true, guards: [ready]}
  - {trigger: on, source: [A, B], dest: C}
"""


@pytest.mark.parametrize("ready", [True, False])
def test_exported_pytest_replays_a_start_that_asks_a_named_guard(ready: bool) -> None:
    """An eventless move at the start asks its guard: the run records it, the test replays it."""
    machine = StateMachine.from_yaml(GATED_START)
    guards = GuardRegistry()
    guards.register("ready", lambda ctx: ready)
    machine.bind_guards(guards)
    sim = Simulation(machine)
    assert sim.steps[0].state == ("B" if ready else "A")
    assert [(c.guard, c.passed) for c in sim.steps[0].guards] == [("ready", ready)]
    sim.send("on")
    run_exported(export_pytest(sim, GATED_START))
