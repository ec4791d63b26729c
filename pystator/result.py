"""What ``process()`` returns: plain values describing one step, computed not performed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pystator.errors import FSMError
from pystator.model import ActionSpec, Transition

__all__ = [
    "GuardEvaluation",
    "ParallelStateConfig",
    "TransitionResult",
    "nested_parallel",
    "parse_regions",
]


@dataclass(frozen=True)
class GuardEvaluation:
    """One guard as it was checked: its label, the outcome and what it read.

    ``detail`` explains the outcome in the user's terms, e.g. ``"80 >= 100"`` for an
    ``expr`` guard, or the error that made an expression count as false.
    ``transition_index`` and ``source`` name the transition it guards and the state
    that transition matched from.
    """

    guard: str
    passed: bool
    detail: str = ""
    transition_index: int = -1
    source: str = ""
    decided_by: str = ""
    """Who decided the outcome: ``"expr"`` (the expression), ``"registry"`` (a bound
    guard function), or what a guard resolver said (the simulator's ``"set_guard"``,
    ``"choice"``, ``"timer"``)."""


@dataclass(frozen=True)
class TransitionResult:
    """The outcome of one event: where the machine goes and the actions to run.

    Actions are listed in the order they must run: ``on_exit_actions`` (innermost
    state first), then ``actions_to_execute`` (the transitions' own actions), then
    ``on_enter_actions`` (outermost first). Nothing here has been executed.
    ``configuration`` is the full set of active states after the step (ancestors and
    every parallel region included); ``target_state`` is its string form.
    ``transitions`` are the transitions taken, in the order of ``transitions:``, and
    ``transition_sources`` the state each one matched from (the leaf itself or the
    ancestor that declares it).
    """

    success: bool
    source_state: str
    target_state: str | None
    trigger: str
    actions_to_execute: tuple[ActionSpec, ...] = ()
    on_exit_actions: tuple[ActionSpec, ...] = ()
    on_enter_actions: tuple[ActionSpec, ...] = ()
    error: FSMError | None = None
    exited_states: tuple[str, ...] = ()
    entered_states: tuple[str, ...] = ()
    transitions: tuple[Transition, ...] = ()
    transition_sources: tuple[str, ...] = ()
    guard_evaluations: tuple[GuardEvaluation, ...] = ()
    configuration: frozenset[str] = frozenset()
    region: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def all_action_specs(self) -> tuple[ActionSpec, ...]:
        return self.on_exit_actions + self.actions_to_execute + self.on_enter_actions

    @property
    def all_actions(self) -> tuple[str, ...]:
        """Every action name in execution order: exit, transition, enter."""
        return tuple(a.name for a in self.all_action_specs)

    @property
    def state_changed(self) -> bool:
        return self.success and self.target_state != self.source_state

    @property
    def is_self_transition(self) -> bool:
        return self.success and self.target_state == self.source_state

    @property
    def ignored(self) -> bool:
        """True when a non-strict machine ignored an event it has no transition for."""
        return bool(self.metadata.get("ignored"))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (used by the REST API and the designer)."""

        def specs(items: tuple[ActionSpec, ...]) -> list[dict[str, Any]]:
            return [{"name": a.name, "params": dict(a.params)} for a in items]

        return {
            "success": self.success,
            "source_state": self.source_state,
            "target_state": self.target_state,
            "trigger": self.trigger,
            "all_actions": list(self.all_actions),
            "on_exit_actions": specs(self.on_exit_actions),
            "actions_to_execute": specs(self.actions_to_execute),
            "on_enter_actions": specs(self.on_enter_actions),
            "exited_states": list(self.exited_states),
            "entered_states": list(self.entered_states),
            "configuration": sorted(self.configuration),
            "guard_evaluations": [
                {"guard": g.guard, "passed": g.passed, "detail": g.detail}
                for g in self.guard_evaluations
            ],
            "ignored": self.ignored,
            "error": self.error.to_dict() if self.error is not None else None,
        }


@dataclass(frozen=True)
class ParallelStateConfig:
    """The active state of each region of one parallel state.

    ``to_string()`` gives ``"active:trading=scanning,risk=normal"``; that string is
    also accepted by ``StateMachine.process`` as a current state, so the leaf-string
    API and this view describe the same configurations.
    """

    parallel_state: str
    region_states: dict[str, str] = field(default_factory=dict, hash=False)

    def get_region_state(self, region_name: str) -> str | None:
        return self.region_states.get(region_name)

    def is_in_state(self, state_name: str) -> bool:
        return state_name == self.parallel_state or state_name in self.region_states.values()

    def get_all_active(self) -> list[str]:
        """The active state of every region, in region order (the parallel state itself is
        implied: see ``parallel_state``)."""
        return list(self.region_states.values())

    def with_region_state(self, region_name: str, state: str) -> ParallelStateConfig:
        return ParallelStateConfig(self.parallel_state, {**self.region_states, region_name: state})

    def to_string(self) -> str:
        known: str | None = self.__dict__.get("_text")
        if known is not None:
            return known
        inner = ",".join(f"{r}={s}" for r, s in self.region_states.items())
        return f"{self.parallel_state}:{inner}"

    @classmethod
    def frozen(cls, parallel_state: str, region_states: Mapping[str, str]) -> ParallelStateConfig:
        """A config whose regions cannot be changed in place (the engine hands out these).

        Being unchangeable, it can be shared between calls and its string form is
        worked out once; ``with_region_state`` still returns an ordinary copy.
        """
        config = cls(parallel_state, _ReadOnlyRegions(region_states))
        object.__setattr__(config, "_text", config.to_string())
        return config

    @classmethod
    def from_string(cls, text: str) -> ParallelStateConfig:
        """Parse ``to_string()`` output; ``ValueError`` on anything else.

        A region whose active state is itself a parallel state is written
        ``region=inner{r1=a,r2=b}``: its value keeps the braces (see
        ``StateMachine.configuration_of``, which reads them).
        """
        head, sep, rest = text.partition(":")
        if not sep or not head:
            raise ValueError(f"not a parallel configuration: {text!r}")
        return cls(head, parse_regions(rest, text))

    def __str__(self) -> str:
        return self.to_string()


class _ReadOnlyRegions(dict[str, str]):
    """The region mapping of an engine-made ``ParallelStateConfig``: a dict that refuses edits."""

    def _refuse(self, *_args: Any, **_kwargs: Any) -> Any:
        raise TypeError(
            "this ParallelStateConfig is shared by the engine and cannot be changed: "
            "use config.with_region_state(region, state) for a changed copy"
        )

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = __ior__ = _refuse


def parse_regions(text: str, whole: str) -> dict[str, str]:
    """``r1=a,r2=Q{x=b,y=c}`` -> ``{"r1": "a", "r2": "Q{x=b,y=c}"}`` (commas in braces kept)."""
    regions: dict[str, str] = {}
    depth = 0
    start = 0
    parts: list[str] = []
    for i, char in enumerate(text):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                raise ValueError(f"not a parallel configuration: {whole!r}")
        elif char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth != 0:
        raise ValueError(f"not a parallel configuration: {whole!r}")
    parts.append(text[start:])
    for part in filter(None, parts):
        region, eq, state = part.partition("=")
        if not eq or not region or not state:
            raise ValueError(f"not a parallel configuration: {whole!r}")
        regions[region] = state
    return regions


def nested_parallel(value: str) -> tuple[str, str] | None:
    """``"Q{x=b,y=c}"`` -> ``("Q", "x=b,y=c")``; None for a plain state name."""
    if not value.endswith("}"):
        return None
    head, brace, rest = value.partition("{")
    if not brace or not head:
        return None
    return head, rest[:-1]
