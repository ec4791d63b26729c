"""Simulate a machine by hand: a trace of inputs replayed through the engine.

``Simulation`` is the entry point; ``export_trace_json`` and ``export_pytest`` turn a
run into a saved scenario or a regression test; ``simulate_cli`` is the text face
behind ``pystator simulate``.
"""

from __future__ import annotations

from pystator.simulator.cli import simulate_cli
from pystator.simulator.export import export_pytest, export_trace_json
from pystator.simulator.simulation import MAX_STEPS, Simulation
from pystator.simulator.values import (
    ContextChange,
    Divergence,
    EnabledEvent,
    ExecutedAction,
    GuardCheck,
    SimulationError,
    Step,
    Timer,
)

__all__ = [
    "MAX_STEPS",
    "ContextChange",
    "Divergence",
    "EnabledEvent",
    "ExecutedAction",
    "GuardCheck",
    "Simulation",
    "SimulationError",
    "Step",
    "Timer",
    "export_pytest",
    "export_trace_json",
    "simulate_cli",
]
