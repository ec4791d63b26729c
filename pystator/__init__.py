"""pystator: configuration-driven statecharts with a pure, stateless engine.

Define a machine in YAML/JSON, load it with ``StateMachine.from_yaml``, and call
``machine.step(snapshot, event, context)`` (or the spec's ``machine.process(state,
event, context)``): it returns where the machine goes and the effects to apply, in
order, without performing anything. The runtime pieces
(``Orchestrator``, state stores, schedulers) persist state and perform actions
around that pure core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pystator.actions import ActionExecutor, ActionRegistry, ExecutionMode
from pystator.config import load_spec
from pystator.errors import (
    ConfigError,
    FSMError,
    GuardNotFoundError,
    GuardRejectedError,
    InvalidTransitionError,
    Issue,
    PystatorError,
    TerminalStateError,
    UndefinedStateError,
    UndefinedTriggerError,
)
from pystator.guards import GuardRegistry
from pystator.machine import StateMachine
from pystator.macrostep import LivelockError
from pystator.model import (
    ActionSpec,
    ErrorPolicy,
    Event,
    GuardSpec,
    InvokeSpec,
    MachineMeta,
    MachineSpec,
    Region,
    State,
    StateType,
    Timeout,
    Transition,
)
from pystator.result import GuardEvaluation, ParallelStateConfig, TransitionResult
from pystator.selection import GuardDecision
from pystator.snapshot import Snapshot, Timer
from pystator.step import (
    CancelTimer,
    MicroStep,
    RaiseEvent,
    Refusal,
    RunAction,
    ScheduleTimer,
    Step,
    TakenTransition,
)

if TYPE_CHECKING:
    from pystator.runtime.asyncio_scheduler import AsyncioScheduler
    from pystator.runtime.orchestrator import Orchestrator

__version__ = "0.1.0"

__all__ = [
    "ActionExecutor",
    "ActionRegistry",
    "ActionSpec",
    "AsyncioScheduler",
    "CancelTimer",
    "ConfigError",
    "ErrorPolicy",
    "Event",
    "ExecutionMode",
    "FSMError",
    "GuardDecision",
    "GuardEvaluation",
    "GuardNotFoundError",
    "GuardRegistry",
    "GuardRejectedError",
    "GuardSpec",
    "InvalidTransitionError",
    "InvokeSpec",
    "Issue",
    "LivelockError",
    "MachineMeta",
    "MachineSpec",
    "MicroStep",
    "Orchestrator",
    "ParallelStateConfig",
    "PystatorError",
    "RaiseEvent",
    "Refusal",
    "Region",
    "RunAction",
    "ScheduleTimer",
    "Snapshot",
    "State",
    "StateMachine",
    "StateType",
    "Step",
    "TakenTransition",
    "TerminalStateError",
    "Timeout",
    "Timer",
    "Transition",
    "TransitionResult",
    "UndefinedStateError",
    "UndefinedTriggerError",
    "load_spec",
]

_LAZY = {
    "Orchestrator": "pystator.runtime.orchestrator",
    "AsyncioScheduler": "pystator.runtime.asyncio_scheduler",
}


def __getattr__(name: str) -> Any:
    """Runtime classes load on first use, so ``import pystator`` stays light."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pystator' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
