"""What one microstep does, read through ``step`` (mutation run of ``microstep.py``).

``microstep`` works out what a set of chosen transitions exits, enters and runs;
the statechart cases check where a machine ends up. These pin the rest of what a
step reports: each raised event's phase and owner (a host shows them), a history
state entered for the first time with no default, and the other details the first
mutation run of the module found unchecked.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pystator import StateMachine
from pystator.step import RaiseEvent, RunAction

PATHS = ["sync", "async"]


def step(path: str, m: StateMachine, state: str, event: str, **options: Any) -> Any:
    """``step`` or ``async_step`` from the state string ``state``: both drivers."""
    snapshot = m.snapshot_of(state)
    if path == "sync":
        return m.step(snapshot, event, **options)
    return asyncio.run(m.async_step(snapshot, event, **options))


RELAY = """
meta: {machine_name: relay}
states:
  - {name: A, type: initial, on_exit: [{raise: left_a}, log_a]}
  - {name: B, on_enter: [{raise: ping}, log_b]}
transitions:
  - {trigger: go, source: A, dest: B, actions: [{raise: moved}, log_go]}
"""


@pytest.mark.parametrize("path", PATHS)
def test_a_raised_event_is_reported_with_the_phase_and_owner_it_came_from(path: str) -> None:
    m = StateMachine.from_string(RELAY)
    result = step(path, m, "A", "go")
    effects = [
        (e.event, e.phase, e.owner) if isinstance(e, RaiseEvent) else (e.name, e.phase, e.owner)
        for e in result.effects
        if isinstance(e, RaiseEvent | RunAction)
    ]
    assert effects == [
        ("left_a", "exit", "A"),
        ("log_a", "exit", "A"),
        ("moved", "transition", result.transitions[0].label),
        ("log_go", "transition", result.transitions[0].label),
        ("ping", "enter", "B"),
        ("log_b", "enter", "B"),
    ]
    assert result.transitions[0].label == "A -> B"


HISTORY = """
meta: {machine_name: player}
states:
  - {name: off, type: initial}
  - {name: on, initial_child: play}
  - {name: play, parent: on}
  - {name: pause, parent: on}
  - {name: last, parent: on, type: history}
transitions:
  - {trigger: power, source: off, dest: last}
  - {trigger: hold, source: play, dest: pause}
  - {trigger: stop, source: on, dest: off}
"""


@pytest.mark.parametrize("path", PATHS)
def test_a_history_with_nothing_remembered_and_no_default_enters_the_initial_child(
    path: str,
) -> None:
    m = StateMachine.from_string(HISTORY)
    first = step(path, m, "off", "power")
    assert first.entered == ("on", "play")
    assert first.snapshot.configuration == {"on", "play"}


NESTED_KINDS = """
meta: {machine_name: kinds}
states:
  - {name: top, type: initial, initial_child: a, on_enter: [enter_top], on_exit: [exit_top]}
  - {name: a, parent: top}
  - {name: b, parent: top}
  - {name: group, parent: top, initial_child: one, on_enter: [enter_group], on_exit: [exit_group]}
  - {name: one, parent: group}
  - {name: two, parent: group}
  - name: P
    type: parallel
    regions:
      - {name: r1, initial: x1, states: [x1, x2]}
      - {name: r2, initial: y1, states: [y1]}
transitions:
  - {trigger: hop, source: a, dest: b, kind: external}
  - {trigger: climb, source: one, dest: b, kind: external}
  - {trigger: dive, source: b, dest: two, kind: external}
  - {trigger: swap, source: x1, dest: x2, kind: external}
"""


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("start", "event", "exited", "entered"),
    [
        ("a", "hop", ("a",), ("b",)),  # the parent is the domain: it stays
        ("one", "climb", ("one", "group"), ("b",)),  # the domain holds the target too
        ("b", "dive", ("b",), ("group", "two")),  # the domain holds the source too
        ("P:r1=x1,r2=y1", "swap", ("x1",), ("x2",)),  # a region of two states is a domain
    ],
    ids=["siblings", "out-of-a-child", "into-a-child", "in-a-region"],
)
def test_an_external_transition_exits_and_enters_below_the_least_common_compound_ancestor(
    path: str, start: str, event: str, exited: tuple[str, ...], entered: tuple[str, ...]
) -> None:
    m = StateMachine.from_string(NESTED_KINDS)
    result = step(path, m, start, event)
    assert result.refusal is None
    assert (result.exited, result.entered) == (exited, entered)


DEEP_IN_A_REGION = """
meta: {machine_name: deep_in_a_region}
states:
  - name: both
    type: parallel
    regions:
      - {name: left, initial: player, states: [player, idle]}
      - {name: right, initial: x1, states: [x1, x2]}
  - {name: player, initial_child: fm}
  - {name: fm, parent: player}
  - {name: am, parent: player}
  - {name: exact, parent: player, type: history, history: deep}
transitions:
  - {trigger: band, source: fm, dest: am}
  - {trigger: pause, source: player, dest: idle, region: left}
  - {trigger: resume, source: idle, dest: exact, region: left}
  - {trigger: flip, source: x1, dest: x2, region: right}
"""

SHALLOW_OF_A_PARALLEL = """
meta: {machine_name: shallow_of_a_parallel}
states:
  - name: both
    type: parallel
    regions:
      - {name: left, initial: l1, states: [l1, l2]}
      - {name: right, initial: r1, states: [r1, r2]}
  - {name: back, parent: both, type: history, history: shallow}
  - {name: away}
transitions:
  - {trigger: go, source: l1, dest: l2, region: left}
  - {trigger: go, source: r1, dest: r2, region: right}
  - {trigger: leave, source: both, dest: away}
  - {trigger: return, source: away, dest: back}
"""


@pytest.mark.parametrize("path", PATHS)
def test_a_deep_history_remembers_only_what_was_active_below_its_parent(path: str) -> None:
    m = StateMachine.from_string(DEEP_IN_A_REGION)
    paused = step(path, m, "both:left=am,right=x1", "pause")
    # The other region's x1 was active too, but is not below `player`.
    assert dict(paused.snapshot.history) == {"exact": frozenset({"am"})}
    flipped = m.step(paused.snapshot, "flip")
    resumed = m.step(flipped.snapshot, "resume")
    assert m.state_string(resumed.configuration) == "both:left=am,right=x2"
    assert resumed.entered == ("player", "am") and resumed.exited == ("idle",)


@pytest.mark.parametrize("path", PATHS)
def test_a_parallel_states_shallow_history_remembers_each_regions_state(path: str) -> None:
    m = StateMachine.from_string(SHALLOW_OF_A_PARALLEL)
    left = step(path, m, "both:left=l2,right=r2", "leave")
    assert dict(left.snapshot.history) == {"back": frozenset({"l2", "r2"})}
    returned = m.step(left.snapshot, "return")
    assert m.state_string(returned.configuration) == "both:left=l2,right=r2"
    assert returned.entered == ("both", "l2", "r2")


# --- the whole-module run (2026-12-04) -----------------------------------------------

DONE_AT_START = """
meta: {machine_name: done at start}
states:
  - name: p
    type: parallel
    on_enter: [hello]
    regions:
      - {name: one, initial: a, states: [a]}
      - {name: two, initial: b, states: [b]}
  - {name: a, type: final}
  - {name: b, type: final}
  - {name: after}
transitions:
  - {trigger: done.state.p, source: p, dest: after}
"""


def test_the_start_runs_entry_actions_in_the_enter_phase_and_raises_done_events() -> None:
    """Every region starts in a final state, so entering them at the start raises
    ``done.state.p``, which the same start step takes."""
    started = StateMachine.from_yaml(DONE_AT_START).start()
    assert [(a.name, a.phase, a.owner) for a in started.actions] == [("hello", "enter", "p")]
    assert [m.event for m in started.microsteps] == [None, "done.state.p"]
    assert started.configuration == frozenset({"after"})


def test_a_transition_to_its_own_ancestor_enters_nothing_above_it() -> None:
    """``parsing -> working`` (default kind): ``working`` is the domain; only its
    initial chain is entered again, ``outer`` above it stays."""
    m = StateMachine.from_yaml(
        """
        meta: {machine_name: nested}
        states:
          - {name: outer, type: initial, initial_child: working, on_enter: [enter_outer]}
          - {name: working, parent: outer, initial_child: fetching, on_enter: [enter_working]}
          - {name: fetching, parent: working, on_enter: [enter_fetching]}
          - {name: parsing, parent: working}
        transitions:
          - {trigger: got, source: fetching, dest: parsing}
          - {trigger: again, source: parsing, dest: working}
        """
    )
    again = m.step(m.step(m.start().snapshot, "got").snapshot, "again")
    assert (again.exited, again.entered) == (("parsing",), ("fetching",))
    assert [a.name for a in again.actions] == ["enter_fetching"]


NESTED_PARALLEL = """
meta: {machine_name: nested parallel}
states:
  - {name: outer, type: initial, initial_child: p, on_enter: [enter_outer], on_exit: [leave_outer]}
  - name: p
    type: parallel
    parent: outer
    on_enter: [enter_p]
    regions:
      - {name: one, initial: a, states: [a, b]}
      - {name: two, initial: c, states: [c, d]}
  - {name: working, initial_child: w1}
  - {name: w1, parent: working}
  - {name: elsewhere}
transitions:
  - {trigger: across, source: a, dest: d}
  - {trigger: work, source: outer, dest: working}
  - {trigger: out, source: working, dest: elsewhere, kind: internal}
"""


def test_a_transition_between_regions_has_the_parallel_states_parent_as_domain() -> None:
    m = StateMachine.from_yaml(NESTED_PARALLEL)
    across = m.step(m.start().snapshot, "across")
    assert (across.exited, across.entered) == (("c", "a", "p"), ("p", "a", "d"))
    assert [a.name for a in across.actions] == ["enter_p"]


def test_an_internal_transition_to_outside_its_source_leaves_the_source() -> None:
    m = StateMachine.from_yaml(NESTED_PARALLEL)
    working = m.step(m.start().snapshot, "work").snapshot
    out = m.step(working, "out")
    assert (out.exited, out.entered) == (("w1", "working"), ("elsewhere",))
    assert out.configuration == frozenset({"elsewhere"})


HISTORY_AND_REGIONS = """
meta: {machine_name: history and regions}
states:
  - {name: idle, type: initial}
  - {name: service, initial_child: checking, on_enter: [enter_service], on_exit: [leave_service]}
  - {name: checking, parent: service}
  - {name: fixing, parent: service}
  - {name: back, parent: service, type: history, default: fixing, default_actions: [resume]}
  - {name: bare, parent: service, type: history}
  - name: p
    type: parallel
    regions:
      - {name: one, initial: a, states: [a]}
      - {name: two, initial: c, states: [c]}
      - {name: three, initial: x, states: [x, y]}
transitions:
  - {trigger: enter, source: idle, dest: back}
  - {trigger: again, source: fixing, dest: bare, kind: external}
  - {trigger: pause, source: service, dest: idle}
  - {trigger: split, source: idle, dest: p}
  - {trigger: e, source: p, dest: p, actions: [ping]}
  - {trigger: e, source: x, dest: y}
"""


@pytest.fixture(scope="module")
def history_and_regions() -> StateMachine:
    return StateMachine.from_yaml(HISTORY_AND_REGIONS)


def test_a_history_defaults_actions_run_only_when_nothing_is_recorded(
    history_and_regions: StateMachine,
) -> None:
    m = history_and_regions
    first = m.step(m.start().snapshot, "enter")
    assert first.entered == ("service", "fixing")
    assert [(a.name, a.phase, a.owner) for a in first.actions] == [
        ("resume", "transition", "back"),
        ("enter_service", "enter", "service"),
    ]
    recorded = m.step(m.step(first.snapshot, "pause").snapshot, "enter")
    assert recorded.entered == ("service", "fixing")
    assert [a.name for a in recorded.actions] == ["enter_service"]


def test_a_history_without_default_or_record_enters_its_parents_initial_child(
    history_and_regions: StateMachine,
) -> None:
    """``fixing -> bare`` (external): the target is ``checking``, inside ``service``, so
    ``service`` itself is neither left nor entered."""
    m = history_and_regions
    fixing = m.step(m.start().snapshot, "enter").snapshot
    again = m.step(fixing, "again")
    assert (again.exited, again.entered) == (("fixing",), ("checking",))
    assert again.actions == ()


def test_a_targetless_transition_two_regions_select_fires_once_beside_a_third_regions(
    history_and_regions: StateMachine,
) -> None:
    """``p``'s targetless ``e`` is selected from ``a`` and from ``c``; it fires once, and
    ``x -> y`` in the third region fires too."""
    m = history_and_regions
    split = m.step(m.step(m.start().snapshot, "split").snapshot, "e")
    assert [t.label for t in split.transitions] == ["p -> p", "x -> y"]
    assert [a.name for a in split.actions] == ["ping"]
    assert split.configuration == frozenset({"p", "a", "c", "y"})


def test_process_parallel_reports_each_regions_exits_inner_first_and_entries_outer_first() -> None:
    m = StateMachine.from_yaml(
        """
        meta: {machine_name: regions in order}
        states:
          - {name: idle, type: initial}
          - name: p
            type: parallel
            regions:
              - {name: one, initial: zone, states: [zone, free]}
              - {name: two, initial: c, states: [c]}
          - {name: zone, initial_child: alpha, on_exit: [leave_zone], on_enter: [enter_zone]}
          - {name: alpha, parent: zone, on_exit: [leave_alpha], on_enter: [enter_alpha]}
          - {name: free, on_enter: [enter_free]}
          - {name: c}
        transitions:
          - {trigger: out, source: alpha, dest: free}
          - {trigger: back, source: free, dest: zone}
        """
    )
    config, (out,) = m.process_parallel(m.enter_parallel_state("p"), "out")
    assert (out.source_state, out.target_state) == ("alpha", "free")
    assert [a.name for a in out.on_exit_actions] == ["leave_alpha", "leave_zone"]
    _, (back,) = m.process_parallel(config, "back")
    assert (back.source_state, back.target_state) == ("free", "alpha")
    assert [a.name for a in back.on_enter_actions] == ["enter_zone", "enter_alpha"]


def test_a_deep_history_restoring_two_regions_takes_the_whole_parallel_state_as_domain() -> None:
    """From ``n1``, ``deep`` restores ``m2`` and ``n2``: both regions change, so the
    transition's domain is ``q``'s parent, not the region ``n1`` is in."""
    m = StateMachine.from_yaml(
        """
        meta: {machine_name: deep}
        states:
          - {name: idle, type: initial}
          - {name: service, initial_child: q}
          - name: q
            type: parallel
            parent: service
            regions:
              - {name: r1, initial: m1, states: [m1, m2]}
              - {name: r2, initial: n1, states: [n1, n2]}
          - {name: m1}
          - {name: m2}
          - {name: n1}
          - {name: n2}
          - {name: deep, parent: service, type: history, history: deep}
        transitions:
          - {trigger: go, source: idle, dest: service}
          - {trigger: mm, source: m1, dest: m2}
          - {trigger: nn, source: n1, dest: n2}
          - {trigger: pause, source: service, dest: idle}
          - {trigger: restore, source: n1, dest: deep}
        """
    )
    snapshot = m.step(m.start().snapshot, "go").snapshot
    for event in ("mm", "nn", "pause", "go"):
        snapshot = m.step(snapshot, event).snapshot
    assert snapshot.configuration == frozenset({"service", "q", "m1", "n1"})
    restored = m.step(snapshot, "restore")
    assert (restored.exited, restored.entered) == (("n1", "m1", "q"), ("q", "m2", "n2"))
