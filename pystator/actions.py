"""Running the actions a ``TransitionResult`` lists, after the new state is committed.

``process()`` only *computes* which actions a step needs (exit, transition, enter, in
that order); an ``ActionExecutor`` runs them against an ``ActionRegistry`` of sync or
async callables, the "Act" in Load -> Decide -> Commit -> Act.

Every action gets its own dict: a shallow copy of the context with
``ACTION_PARAMS_KEY`` (``"_action_params"``) set to a copy of *its* params, so
parameters never leak from one action to the next and an action that adds keys does
not change what the others see (mutating shared nested objects still does: the copy is
shallow).

Failures are reported, not raised: an action that raises, or a name nobody registered,
becomes a failed ``ActionResult`` and the remaining actions still run, in every mode,
so the ``ExecutionResult`` always tells the whole story of the step (the state is
already committed by then; stopping half way would only hide what else went wrong).
A failed ``TransitionResult`` runs nothing.

Modes (``ExecutionMode``):

- ``SEQUENTIAL``: one after another in exit -> transition -> enter order.
- ``PARALLEL``: every action at once (``asyncio.gather``).
- ``PHASED``: the exit actions at once, then the transition actions at once, then the
  enter actions at once; a phase starts only when the previous one has finished.

Sync actions are called inline on the event loop thread, so only async actions overlap.
Results are always listed in plan order (exit, transition, enter), whatever order the
actions finished in.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pystator._registry import CallableRegistry
from pystator.model import ActionSpec
from pystator.result import TransitionResult

__all__ = [
    "ACTION_PARAMS_KEY",
    "ActionExecutor",
    "ActionFunc",
    "ActionRegistry",
    "ActionResult",
    "ExecutionMode",
    "ExecutionResult",
    "Phase",
]

ACTION_PARAMS_KEY = "_action_params"
"""The context key under which an action finds its own ``params`` from the definition."""

ActionFunc = Callable[[dict[str, Any]], Any]
"""An action: takes its context dict; may be ``async def``."""

Phase = Literal["exit", "transition", "enter"]


class ActionRegistry(CallableRegistry):
    """Actions by name. ``register`` replaces an existing name."""

    kind = "action"

    def list_actions(self) -> list[str]:
        """Registered action names, sorted."""
        return self.names()


class ExecutionMode(str, enum.Enum):
    """How an ``ActionExecutor`` schedules a step's actions."""

    SEQUENTIAL = "sequential"
    PARALLEL = "parallel"
    PHASED = "phased"


@dataclass(frozen=True)
class ActionResult:
    """One action as it ran: its outcome, return value or error, and how long it took."""

    action_name: str
    success: bool
    phase: Phase
    result: Any = None
    error: str | None = None
    exception: BaseException | None = field(default=None, compare=False, repr=False)
    duration_ms: float = 0.0
    params: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action_name": self.action_name,
            "phase": self.phase,
            "success": self.success,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "params": dict(self.params),
        }


@dataclass(frozen=True)
class ExecutionResult:
    """Every action of one step, in plan order, and whether they all succeeded.

    ``skipped`` is True when nothing ran because the transition itself failed.
    """

    results: list[ActionResult] = field(default_factory=list)
    duration_ms: float = 0.0
    mode: ExecutionMode = ExecutionMode.SEQUENTIAL
    skipped: bool = False

    @property
    def all_succeeded(self) -> bool:
        return all(r.success for r in self.results)

    @property
    def failed_actions(self) -> list[str]:
        return [r.action_name for r in self.results if not r.success]

    @property
    def succeeded_actions(self) -> list[str]:
        return [r.action_name for r in self.results if r.success]

    @property
    def action_count(self) -> int:
        return len(self.results)

    @property
    def errors(self) -> dict[str, str]:
        """Failed action name -> error message (the first failure of a name wins)."""
        found: dict[str, str] = {}
        for r in self.results:
            if not r.success and r.error is not None:
                found.setdefault(r.action_name, r.error)
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "skipped": self.skipped,
            "all_succeeded": self.all_succeeded,
            "duration_ms": self.duration_ms,
            "results": [r.to_dict() for r in self.results],
        }


@dataclass(frozen=True)
class _Planned:
    spec: ActionSpec
    phase: Phase


def _plan(result: TransitionResult) -> list[list[_Planned]]:
    """The step's actions grouped by phase, in execution order."""
    phases: list[tuple[Phase, Sequence[ActionSpec]]] = [
        ("exit", result.on_exit_actions),
        ("transition", result.actions_to_execute),
        ("enter", result.on_enter_actions),
    ]
    return [[_Planned(spec, phase) for spec in specs] for phase, specs in phases]


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def _outcome(
    planned: _Planned, start: float, *, value: Any = None, error: Exception | None = None
) -> ActionResult:
    return ActionResult(
        planned.spec.name,
        error is None,
        planned.phase,
        result=value,
        error=None if error is None else _describe(error),
        exception=error,
        duration_ms=_elapsed_ms(start),
        params=planned.spec.params,
    )


def _loop_is_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class ActionExecutor:
    """Runs a step's actions from an ``ActionRegistry``; see the module docstring."""

    def __init__(
        self,
        registry: ActionRegistry,
        default_mode: ExecutionMode = ExecutionMode.SEQUENTIAL,
    ) -> None:
        self.registry = registry
        self.default_mode = ExecutionMode(default_mode)

    # -- one action

    def _action_context(
        self, context: Mapping[str, Any] | None, spec: ActionSpec
    ) -> dict[str, Any]:
        own = dict(context) if context is not None else {}
        own[ACTION_PARAMS_KEY] = dict(spec.params)
        return own

    def _missing(self, planned: _Planned) -> ActionResult:
        return ActionResult(
            planned.spec.name,
            False,
            planned.phase,
            error=self.registry.unknown_message(planned.spec.name),
            params=planned.spec.params,
        )

    def _run_sync(self, planned: _Planned, context: Mapping[str, Any] | None) -> ActionResult:
        spec = planned.spec
        if not self.registry.has(spec.name):
            return self._missing(planned)
        func = self.registry.get(spec.name)
        start = time.perf_counter()
        try:
            value = func(self._action_context(context, spec))
            if inspect.isawaitable(value):
                if inspect.iscoroutine(value):
                    value.close()
                raise TypeError(
                    "returned an awaitable in a synchronous execute(): "
                    "declare it 'async def' or use async_execute_*"
                )
        except Exception as error:
            return _outcome(planned, start, error=error)
        return _outcome(planned, start, value=value)

    async def _run_async(
        self, planned: _Planned, context: Mapping[str, Any] | None
    ) -> ActionResult:
        spec = planned.spec
        if not self.registry.has(spec.name):
            return self._missing(planned)
        func = self.registry.get(spec.name)
        start = time.perf_counter()
        try:
            value = func(self._action_context(context, spec))
            if inspect.isawaitable(value):
                value = await value
        except Exception as error:
            return _outcome(planned, start, error=error)
        return _outcome(planned, start, value=value)

    # -- sync

    def execute(
        self, result: TransitionResult, context: Mapping[str, Any] | None = None
    ) -> ExecutionResult:
        """Run every action in order (sequential), synchronously.

        Async actions are run with ``asyncio.run`` when no event loop is running in this
        thread; inside a running loop that is impossible, so a ``RuntimeError`` is
        raised before any action runs: use ``await executor.async_execute(...)``.
        """
        if not result.success:
            return ExecutionResult(mode=ExecutionMode.SEQUENTIAL, skipped=True)
        plan = [p for phase in _plan(result) for p in phase]
        needs_loop = [
            p.spec.name
            for p in plan
            if self.registry.has(p.spec.name) and self.registry.is_async(p.spec.name)
        ]
        if needs_loop:
            if _loop_is_running():
                raise RuntimeError(
                    f"async action(s) {', '.join(map(repr, needs_loop))} cannot run from "
                    "execute() inside a running event loop: use await "
                    "executor.async_execute(...) (or async_execute_sequential/parallel/phased)"
                )
            return asyncio.run(self.async_execute_sequential(result, context))
        start = time.perf_counter()
        results = [self._run_sync(p, context) for p in plan]
        return ExecutionResult(results, _elapsed_ms(start), ExecutionMode.SEQUENTIAL)

    # -- async

    async def async_execute(
        self, result: TransitionResult, context: Mapping[str, Any] | None = None
    ) -> ExecutionResult:
        """Run the actions in the executor's ``default_mode``."""
        return await self.async_execute_with_mode(result, context, mode=self.default_mode)

    async def async_execute_with_mode(
        self,
        result: TransitionResult,
        context: Mapping[str, Any] | None = None,
        mode: ExecutionMode | None = None,
    ) -> ExecutionResult:
        """Run the actions in ``mode`` (the default mode when ``None``)."""
        chosen = self.default_mode if mode is None else ExecutionMode(mode)
        runners: dict[ExecutionMode, Callable[..., Awaitable[ExecutionResult]]] = {
            ExecutionMode.SEQUENTIAL: self.async_execute_sequential,
            ExecutionMode.PARALLEL: self.async_execute_parallel,
            ExecutionMode.PHASED: self.async_execute_phased,
        }
        return await runners[chosen](result, context)

    async def async_execute_sequential(
        self, result: TransitionResult, context: Mapping[str, Any] | None = None
    ) -> ExecutionResult:
        """One after another, exit -> transition -> enter; a failure does not stop the rest."""
        if not result.success:
            return ExecutionResult(mode=ExecutionMode.SEQUENTIAL, skipped=True)
        start = time.perf_counter()
        results = [await self._run_async(p, context) for phase in _plan(result) for p in phase]
        return ExecutionResult(results, _elapsed_ms(start), ExecutionMode.SEQUENTIAL)

    async def async_execute_parallel(
        self, result: TransitionResult, context: Mapping[str, Any] | None = None
    ) -> ExecutionResult:
        """Every action at once; results in plan order."""
        if not result.success:
            return ExecutionResult(mode=ExecutionMode.PARALLEL, skipped=True)
        start = time.perf_counter()
        plan = [p for phase in _plan(result) for p in phase]
        results = await asyncio.gather(*(self._run_async(p, context) for p in plan))
        return ExecutionResult(list(results), _elapsed_ms(start), ExecutionMode.PARALLEL)

    async def async_execute_phased(
        self, result: TransitionResult, context: Mapping[str, Any] | None = None
    ) -> ExecutionResult:
        """Exit actions at once, then transition actions at once, then enter actions at once."""
        if not result.success:
            return ExecutionResult(mode=ExecutionMode.PHASED, skipped=True)
        start = time.perf_counter()
        results: list[ActionResult] = []
        for phase in _plan(result):
            if phase:
                results += await asyncio.gather(*(self._run_async(p, context) for p in phase))
        return ExecutionResult(results, _elapsed_ms(start), ExecutionMode.PHASED)
