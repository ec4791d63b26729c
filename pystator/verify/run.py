"""A sequence of moves from the start, as everything a person can open or run.

Test paths and counterexamples are both ``Run``s. A run becomes a ``Simulation``
by replaying its moves through the simulator's own inputs (a context edit when the
move's context differs from the one in force, ``set_guard`` for each named guard
the move decides, then the event, the timer or the wait), so its trace JSON, its
share link and its pytest file are exactly what the designer would produce for
the same run.

The share link is ``/s/<token>`` with the designer's own token
(``ui.share.encode_token``): opening it shows the machine and the simulator at
the run's last step. Importing ``ui`` needs the ``ui`` extra (FastAPI), so
``share_path`` raises ``ImportError`` without it.

(The simulator's private ``pystator.simulator.run.Run`` is its replay machinery; a
``pystator.verify.Run`` is a value that replays *through* a ``Simulation``.)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pystator.machine import StateMachine
from pystator.simulator import Simulation, export_pytest
from pystator.step import Step
from pystator.verify.explore import Edge, Move

__all__ = ["Run", "share_path"]


@dataclass(frozen=True)
class Run:
    """Moves from the start and the steps the engine answered, one per move."""

    machine: StateMachine
    moves: tuple[Move, ...]
    steps: tuple[Step, ...]
    _simulation: list[Simulation] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def of(cls, machine: StateMachine, edges: list[Edge]) -> Run:
        return cls(machine, tuple(e.move for e in edges), tuple(e.step for e in edges))

    def __len__(self) -> int:
        """The number of moves (what "shortest" counts)."""
        return len(self.moves)

    def __bool__(self) -> bool:
        """A run with no moves (the machine at its start) is still a run."""
        return True

    @property
    def states(self) -> list[str]:
        """The state string after the start and after each move."""
        machine = self.machine
        first = machine.state_string(machine.start({}).configuration)
        return [first, *(machine.state_string(s.configuration) for s in self.steps)]

    def describe(self) -> list[str]:
        """One line per move: what was done and where the machine went."""
        lines = []
        for number, (move, step, state) in enumerate(
            zip(self.moves, self.steps, self.states[1:], strict=True), start=1
        ):
            if step.refusal is not None and step.refusal.code == "livelock":
                outcome = "refused: it never settles"
            else:
                outcome = state
            lines.append(f"{number}. {move.describe()} -> {outcome}")
        return lines

    def simulation(self) -> Simulation:
        """The run in the simulator (built once)."""
        if not self._simulation:
            self._simulation.append(_simulate(self.machine, self.moves))
        return self._simulation[0]

    def trace(self) -> list[Any]:
        """The simulator's list of inputs (what a share link carries)."""
        inputs: list[Any] = json.loads(self.simulation().to_json())["trace"]
        return inputs

    def trace_json(self, indent: int | None = 2) -> str:
        """The whole trace document ``Simulation.from_json`` opens."""
        return self.simulation().to_json(indent=indent)

    def share_path(self, yaml_text: str) -> str | None:
        """``/s/<token>`` opening the run in the designer (None: too long for a link)."""
        return share_path(yaml_text, self.trace())

    def pytest(self, yaml_text: str, file_name: str | None = None) -> str:
        """The simulator's pytest export of this run (it passes: it replays the run)."""
        return export_pytest(self.simulation(), yaml_text, file_name)


def share_path(yaml_text: str, trace: list[Any] | None) -> str | None:
    """The designer's self-contained link for ``yaml_text`` and a trace, or None when the
    machine and trace do not fit in a link (then save the machine and share its page)."""
    from ui.share import ShareError, encode_token

    try:
        return "/s/" + encode_token(yaml_text, trace)
    except ShareError:
        return None


def _simulate(machine: StateMachine, moves: tuple[Move, ...]) -> Simulation:
    sim = Simulation(machine)
    variables = {d.name for d in machine.spec.data}
    for move in moves:
        if move.kind == "wait":
            sim.advance(move.wait_ms)
            continue
        # The move's context, and the machine's own variables as the run left them
        # (they are the machine's, not the host's to reset).
        context = {k: v for k, v in sim.context.items() if k in variables}
        context.update(move.context)
        if context != sim.context:
            sim.set_context(context)
        decided = dict(move.guards)
        # Every named guard the event's candidates carry gets an outcome, so the
        # simulator never asks a person to choose: the move's, or false.
        names = [
            g.name
            for _source, t in machine.candidates(sim.configuration, move.event)
            for g in t.guards
            if g.name is not None
        ]
        fixed = sim.guard_outcomes
        for name in dict.fromkeys([*decided, *names]):
            outcome = decided.get(name, fixed.get(name, False))
            if fixed.get(name) is not outcome:
                sim.set_guard(name, outcome)
        if move.kind == "timer":
            sim.fire_next_timer()
        else:
            sim.send(move.event)
    return sim
