"""Replaying a 1,000-step simulator trace on the day-trading machine must take < 50 ms.

Run from the repository root: ``python bench/simulator_bench.py``. It records a
random but seeded 1,000-step run (events chosen among ``enabled_events()``, clock
advances that fire timers, guard choices, context edits), serialises it, then times
``Simulation.from_json`` (a full replay through the engine) on a freshly loaded
machine ("cold": every plan and step computed anew, as after an edit in the
designer) and on an already used one ("warm"). It also times ``jump`` + ``undo``.
Uses ``examples/day_trading_fsm.yaml`` when present, else an equivalent machine.
Exit status 1 when the cold median misses the target.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pystator import StateMachine
from pystator.simulator import Simulation

TARGET_MS = 50.0
STEPS = 1_000
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "day_trading_fsm.yaml"

DAY_TRADING = """
meta:
  machine_name: day_trading
  strict_mode: false
states:
  - name: idle
    type: initial
    on_enter: [reset_session]
  - name: active
    type: parallel
    on_enter: [open_session]
    on_exit: [close_positions]
    regions:
      - name: trading
        initial: scanning
        states: [scanning, analyzing, executing, cooling_down]
      - name: risk_monitor
        initial: normal
        states: [normal, elevated, critical]
      - name: data_feed
        initial: connecting
        states: [connecting, connected, stale]
  - name: scanning
    parent: active
    on_enter: [start_scanners]
    on_exit: [stop_scanners]
  - name: analyzing
    parent: active
    on_enter: [{name: run_model, params: {model: momentum, window: 20}}]
  - name: executing
    parent: active
    on_enter: [submit_order]
    timeout: {seconds: 2, destination: scanning}
  - name: cooling_down
    parent: active
  - name: normal
    parent: active
    on_enter: [reset_risk_alerts]
  - name: elevated
    parent: active
    on_enter: [{name: alert, params: {level: warn}}]
  - name: critical
    parent: active
    on_enter: [{name: alert, params: {level: page}}]
  - name: connecting
    parent: active
    timeout: {seconds: 5, destination: stale}
  - name: connected
    parent: active
  - name: stale
    parent: active
  - name: halted
    on_enter: [flatten_all]
  - name: closed
    type: terminal
transitions:
  - {trigger: market_open, source: idle, dest: active}
  - {trigger: signal_detected, source: scanning, dest: analyzing, region: trading,
     guards: [{expr: "signal_strength >= min_strength"}]}
  - {trigger: signal_confirmed, source: analyzing, dest: executing, region: trading,
     guards: [is_risk_ok], actions: [{name: size_position, params: {risk_pct: 0.5}}]}
  - {trigger: signal_rejected, source: analyzing, dest: scanning, region: trading}
  - {trigger: order_filled, source: executing, dest: cooling_down, region: trading,
     guards: [is_full_fill]}
  - {trigger: order_filled, source: executing, dest: executing, region: trading,
     guards: [is_partial_fill], actions: [record_partial]}
  - {source: cooling_down, dest: scanning, after: 1500}
  - {trigger: risk_warning, source: normal, dest: elevated, region: risk_monitor,
     guards: [{expr: "drawdown > 0.02"}]}
  - {trigger: risk_critical, source: elevated, dest: critical, region: risk_monitor}
  - {trigger: risk_cleared, source: [elevated, critical], dest: normal, region: risk_monitor}
  - {trigger: feed_up, source: [connecting, stale], dest: connected, region: data_feed}
  - {trigger: heartbeat_missed, source: connected, dest: stale, region: data_feed}
  - {trigger: heartbeat, source: connected, dest: connected, region: data_feed,
     actions: [touch_feed]}
  - {trigger: emergency_stop, source: active, dest: halted}
  - {trigger: resume, source: halted, dest: active}
  - {trigger: market_close, source: [active, halted], dest: closed, after: "6h"}
"""


def load() -> StateMachine:
    if EXAMPLE.exists():
        return StateMachine.from_yaml(EXAMPLE)
    return StateMachine.from_string(DAY_TRADING)


def record(machine: StateMachine, steps: int, seed: int = 7) -> Simulation:
    """A seeded run of ``steps`` steps; restarts from the top when it reaches a terminal state."""
    rng = random.Random(seed)
    sim = Simulation(machine, {"signal_strength": 0.7, "min_strength": 0.5, "drawdown": 0.01})
    while len(sim.steps) < steps:
        roll = rng.random()
        if roll < 0.12 and sim.pending_timers:
            sim.advance(rng.choice(["200ms", "1s", "2s"]))
        elif roll < 0.16:
            sim.set_context({**sim.context, "drawdown": rng.choice([0.01, 0.03])})
        elif roll < 0.18:
            sim.send(rng.choice(["signal_detected", "risk_warning", "nonsense"]))
        else:
            enabled = [e for e in sim.enabled_events() if not e.timer]
            if not enabled:
                sim.reset()
                continue
            choice = rng.choice(enabled)
            sim.send(choice.event, via=choice.via)
    sim.jump(steps - 1)
    return sim


def timed(fn: object, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> int:
    machine = load()
    sim = record(machine, STEPS)
    text = sim.to_json()
    kinds = {k: sum(1 for s in sim.steps if s.kind == k) for k in ("event", "timer", "advance")}
    print(f"machine {machine.name}: {len(sim.steps)} steps {kinds}, trace {len(text)} bytes")

    def cold() -> None:
        replayed = Simulation.from_json(load(), text)
        assert replayed.divergence is None and len(replayed.steps) == STEPS

    assert Simulation.from_json(machine, text).steps == sim.steps  # exact, checked once

    def warm() -> None:
        replayed = Simulation.from_json(machine, text)
        assert replayed.divergence is None and len(replayed.steps) == STEPS

    load_ms = statistics.median(timed(load, 10))
    cold_runs = [t - load_ms for t in timed(cold, 15)]
    cold_ms, cold_best = statistics.median(cold_runs), min(cold_runs)
    warm_ms = statistics.median(timed(warm, 15))

    copies = [Simulation.from_json(machine, text) for _ in range(5)]

    def jump_and_undo() -> None:
        copy = copies.pop()
        copy.jump(STEPS // 2)
        copy.undo()

    jump_ms = statistics.median(timed(jump_and_undo, 5))
    print(
        f"replay {STEPS} steps: cold {cold_ms:.1f} ms median, {cold_best:.1f} ms best "
        f"(machine load {load_ms:.1f} ms excluded), warm {warm_ms:.1f} ms; "
        f"jump+undo {jump_ms * 1000:.0f} us; target < {TARGET_MS:.0f} ms"
    )
    return 0 if cold_ms < TARGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
