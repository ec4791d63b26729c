"""What a set of selected transitions does: SCXML's microstep, computed not performed.

The functions are named as W3C SCXML 1.0 Appendix D names them, so the code can be
held against the text; where the spec decides differently it says so:

* ``transition_domain``: for a transition of the default kind, the spec's rule: the
  lowest common ancestor of the *current leaf* and the target's leaves (SCXML uses
  the transition's source). A parallel state is never such a domain; a region is,
  so a transition inside one region leaves the others alone. A default-kind
  transition whose ``dest`` is the state it matched from is targetless: it exits and
  enters nothing and only runs its actions. ``kind: external`` and ``kind:
  internal`` use SCXML's own rule from the transition's source (``find_lcca``).
* ``compute_exit_set``: everything active below the domain.
* ``compute_entry_set``: the path from the domain to each target, a compound target
  through its initial chain, a parallel one into every region, the other regions of
  any parallel state on the path, and a history target through what its parent had
  active when last left (or its default).
* ``remove_conflicting_transitions``: when two selected transitions exit a common
  state, the one from the deeper source wins, otherwise the earlier one.

A ``Transfer`` is the result for one (configuration, choice, remembered history):
the configuration after it, what is exited and entered in order, the effects with
their owners, what history it records, and the internal events it queues (raised
ones and ``done.state.*``). It depends on nothing else, so the machine caches it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass

from pystator.chart import Chart, Node, RegionNode
from pystator.model import ActionSpec
from pystator.selection import Candidate
from pystator.step import Phase, RaiseEvent, RunAction, TakenTransition

__all__ = [
    "Piece",
    "Transfer",
    "compute_entry_set",
    "compute_exit_set",
    "fallback_transfer",
    "find_lcca",
    "microstep",
    "remove_conflicting_transitions",
    "transition_domain",
]

Action = RunAction | RaiseEvent
History = Mapping[str, frozenset[str]]
_NONE: History = {}


@dataclass(frozen=True, slots=True)
class Piece:
    """One transition's own share of a microstep (the parallel view reports these)."""

    candidate: Candidate
    exited: tuple[str, ...]
    entered: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Transfer:
    """A microstep: the configuration it leads to and everything it does, in order.

    ``exit_groups`` and ``enter_groups`` pair each exited/entered state with its own
    hook effects, so a host can put each state's timer effects right after them.
    ``recorded`` is the history it stores (history state -> states), ``queued`` the
    internal events it puts on the queue, in SCXML's order.
    """

    configuration: frozenset[str]
    exited: tuple[str, ...]
    entered: tuple[str, ...]
    taken: tuple[TakenTransition, ...]
    exit_groups: tuple[tuple[str, tuple[Action, ...]], ...]
    transition_actions: tuple[Action, ...]
    enter_groups: tuple[tuple[str, tuple[Action, ...]], ...]
    pieces: tuple[Piece, ...]
    recorded: tuple[tuple[str, frozenset[str]], ...] = ()
    queued: tuple[str, ...] = ()
    done: tuple[tuple[str, ...], ...] = ()
    """The ``done.state.*`` events entering each state of ``enter_groups`` raises
    (aligned with it): a machine with a datamodel queues them as it runs each group."""

    @property
    def actions(self) -> tuple[Action, ...]:
        """Every action in execution order: exits, the transitions' own, entries."""
        out: list[Action] = []
        for _state, actions in self.exit_groups:
            out.extend(actions)
        out.extend(self.transition_actions)
        for _state, actions in self.enter_groups:
            out.extend(actions)
        return tuple(out)

    def calls(self, phase: Phase) -> tuple[ActionSpec, ...]:
        """The actions of ``phase`` a host runs (raised events are the engine's)."""
        if phase == "transition":
            groups: Iterable[tuple[Action, ...]] = (self.transition_actions,)
        else:
            groups = (g for _, g in (self.exit_groups if phase == "exit" else self.enter_groups))
        return tuple(a.action for g in groups for a in g if isinstance(a, RunAction))


def effect(spec: ActionSpec, phase: Phase, owner: str) -> Action:
    """An action spec as the effect it is: run it, or raise its event."""
    if spec.kind == "raise":
        return RaiseEvent(spec.name, phase, owner)
    return RunAction(spec, phase, owner)


def is_targetless(candidate: Candidate) -> bool:
    t = candidate.transition
    return t.kind is None and t.dest == candidate.source


def effective_targets(chart: Chart, dest: str, history: History) -> tuple[str, ...]:
    """What entering ``dest`` enters: itself, or for a history state what it restores."""
    if dest not in chart.history:
        return (dest,)
    stored = history.get(dest)
    if stored:
        return chart.in_entry_order(stored)
    default = chart.states[dest].default
    if default is not None and default in chart.states:
        return (default,)
    parent = chart.parent[dest]
    if isinstance(parent, str):
        child = chart.initial_child(parent)
        return (child,) if child is not None else (parent,)
    return ()


def find_lcca(chart: Chart, nodes: list[Node]) -> Node | None:
    """SCXML's least common compound ancestor: the nearest proper ancestor of the first
    node that is a compound state or a region (of more than one state) and contains
    all the others."""
    first = nodes[0]
    rest = nodes[1:]
    for ancestor in chart.ancestors[first]:
        if isinstance(ancestor, RegionNode):
            # A region of one state stands for that state (an SCXML <parallel>'s child):
            # it is no domain of its own, exactly as SCXML skips the <parallel>.
            compound = _sole_state(chart, ancestor) is None
        else:
            compound = not chart.states[ancestor].is_parallel
        if compound and all(chart.is_descendant(n, ancestor) for n in rest):
            return ancestor
    return None


def transition_domain(chart: Chart, candidate: Candidate, targets: tuple[str, ...]) -> Node | None:
    """The node whose descendants the transition exits and enters (None: the root)."""
    t = candidate.transition
    if t.kind is None:
        entered: set[str] = set()
        for target in targets:
            entered |= chart.completion[target]
        leaves = chart.leaves_of(chart.closure(entered))
        domain = chart.lca([candidate.leaf, *leaves])
        states = chart.states
        while domain is not None and isinstance(domain, str) and states[domain].is_parallel:
            domain = chart.parent[domain]
        return domain
    source = candidate.source
    if (
        t.kind == "internal"
        and chart.is_compound(source)
        and all(chart.is_descendant(x, source) for x in targets)
    ):
        return source
    return find_lcca(chart, [source, *targets])


def compute_exit_set(
    chart: Chart, configuration: frozenset[str], domain: Node | None
) -> frozenset[str]:
    if domain is None:
        return configuration
    return frozenset(s for s in configuration if s != domain and domain in chart.ancestor_set[s])


def compute_entry_set(chart: Chart, targets: tuple[str, ...], domain: Node | None) -> set[str]:
    ancestor_set = chart.ancestor_set
    # Only what lies below the domain is entered: a dest that is the domain itself
    # (a leaf's transition to its own ancestor) re-enters just the initial chain.
    entry: set[str] = set()
    for target in targets:
        entry.update(
            s for s in chart.completion[target] if domain is None or domain in ancestor_set[s]
        )
        for node in chart.ancestors[target]:
            if domain is not None and (node == domain or domain not in ancestor_set[node]):
                break
            if isinstance(node, str):
                entry.add(node)
    covered = {a for s in entry for a in chart.ancestors[s] if isinstance(a, RegionNode)}
    for parallel in [s for s in entry if chart.states[s].is_parallel]:
        for region in chart.region_nodes(parallel):
            if region not in covered:
                entry |= chart.completion[region]
    return entry


def remove_conflicting_transitions(
    chart: Chart, chosen: tuple[tuple[Candidate, frozenset[str], set[str]], ...]
) -> list[tuple[Candidate, frozenset[str], set[str]]]:
    """The chosen candidates that fire together, each with its exit and entry sets."""
    kept: list[tuple[Candidate, frozenset[str], set[str]]] = []
    for item in chosen:
        candidate, exits, _entries = item
        if any(candidate.transition is other[0].transition for other in kept):
            continue  # one transition selected by several leaves fires once
        preempted = False
        beaten: list[tuple[Candidate, frozenset[str], set[str]]] = []
        for other in kept:
            if exits & other[1]:
                if chart.is_descendant(candidate.source, other[0].source):
                    beaten.append(other)
                else:
                    preempted = True
                    break
        if not preempted:
            for other in beaten:
                kept.remove(other)
            kept.append(item)
    return kept


def record_history(
    chart: Chart, configuration: frozenset[str], exits: Iterable[str]
) -> tuple[tuple[str, frozenset[str]], ...]:
    """What the history states of the exited states remember (SCXML's exitStates)."""
    out: list[tuple[str, frozenset[str]]] = []
    history = chart.history
    for state in exits:
        for h in chart.kids(state):
            if not isinstance(h, str) or h not in history:
                continue
            if chart.states[h].is_deep_history:
                kept = frozenset(
                    s for s in configuration if s in chart.atomic and chart.is_descendant(s, state)
                )
            else:
                kept = frozenset(s for s in configuration if _parent_state(chart, s) == state)
            out.append((h, kept))
    return tuple(out)


def _parent_state(chart: Chart, state: str) -> str | None:
    """The state directly above ``state`` (a region member's is its parallel state)."""
    up = chart.parent[state]
    return up.parallel if isinstance(up, RegionNode) else up


def in_final_state(chart: Chart, node: Node, configuration: set[str]) -> bool:
    """SCXML's isInFinalState: a compound (or region) whose final child is active, or a
    parallel state all of whose regions are.

    A region that holds a single state (as an SCXML ``<parallel>``'s child is, once
    read) stands for that state: it is in a final state when its state is.
    """
    if isinstance(node, RegionNode):
        sole = _sole_state(chart, node)
        if sole is not None and not chart.states[sole].is_final:
            return sole in configuration and in_final_state(chart, sole, configuration)
    if isinstance(node, RegionNode) or not chart.states[node].is_parallel:
        return any(
            isinstance(k, str) and k in configuration and chart.states[k].is_final
            for k in chart.kids(node)
        )
    return all(in_final_state(chart, r, configuration) for r in chart.region_nodes(node))


def _sole_state(chart: Chart, region: RegionNode) -> str | None:
    """The one state of a region that has exactly one (None otherwise)."""
    kids = [k for k in chart.kids(region) if isinstance(k, str) and not chart.states[k].is_history]
    return kids[0] if len(kids) == 1 else None


def microstep(
    chart: Chart,
    configuration: frozenset[str],
    chosen: tuple[Candidate, ...],
    history: History = _NONE,
) -> Transfer:
    """What taking ``chosen`` from ``configuration`` does."""
    order = chart.order.__getitem__
    states = chart.states
    planned = []
    defaults: list[Action] = []
    for candidate in chosen:
        if is_targetless(candidate):
            planned.append((candidate, frozenset[str](), set[str]()))
            continue
        targets = effective_targets(chart, candidate.transition.dest, history)
        dest = candidate.transition.dest
        if dest in chart.history and not history.get(dest):
            defaults.extend(effect(a, "transition", dest) for a in states[dest].default_actions)
        domain = transition_domain(chart, candidate, targets)
        planned.append(
            (
                candidate,
                compute_exit_set(chart, configuration, domain),
                compute_entry_set(chart, targets, domain),
            )
        )
    kept = remove_conflicting_transitions(chart, tuple(planned))
    exits: set[str] = set()
    entries: set[str] = set()
    pieces: list[Piece] = []
    for candidate, exit_set, entry_set in kept:
        exits |= exit_set
        entries |= entry_set
        pieces.append(
            Piece(
                candidate,
                tuple(sorted(exit_set, key=order, reverse=True)),
                tuple(sorted(entry_set, key=order)),
            )
        )
    taken = sorted((item[0] for item in kept), key=lambda c: c.index)
    transition_actions = tuple(
        effect(a, "transition", c.taken.label) for c in taken for a in c.transition.actions
    ) + tuple(defaults)
    return _assemble(
        chart,
        configuration,
        exits,
        entries,
        tuple(c.taken for c in taken),
        transition_actions,
        tuple(pieces),
    )


def fallback_transfer(
    chart: Chart, configuration: frozenset[str], target: str, history: History = _NONE
) -> Transfer:
    """The move to ``target`` no transition makes (the runtime's fallback).

    It is entered as a transition into it would be: its ancestors, its default
    completion (for a history state, what it restores), and every region of a
    parallel ancestor. What lies beside it in another region of such an ancestor
    stays as it is; everything else active is left.
    """
    targets = effective_targets(chart, target, history)
    if not targets:  # a top-level history state with nothing to restore
        targets = (chart.initial_state,) if chart.initial_state is not None else (target,)
    path = frozenset[Node]().union(*(chart.ancestor_set[t] for t in targets))
    kept = {
        s
        for s in configuration
        if s in path or all(_beside(chart, s, t) for t in targets if t != s)
    }
    entry = compute_entry_set(chart, targets, None)
    covered = {a for s in kept for a in chart.ancestors[s] if isinstance(a, RegionNode)}
    reached = {a for t in targets for a in chart.ancestors[t] if isinstance(a, RegionNode)}
    entry = {  # a region kept as it is is not entered afresh
        s for s in entry if not any(a in covered and a not in reached for a in chart.ancestors[s])
    }
    after = entry | kept
    return _assemble(chart, configuration, configuration - after, after - configuration, (), (), ())


def _beside(chart: Chart, state: str, target: str) -> bool:
    """Whether ``state`` lies in another region than ``target`` of a parallel state."""
    meet = chart.lca([state, target])
    if meet in (None, state, target) or not isinstance(meet, str):
        return False
    return chart.states[meet].is_parallel


def _assemble(
    chart: Chart,
    configuration: frozenset[str],
    exits: Set[str],
    entries: Set[str],
    taken: tuple[TakenTransition, ...],
    transition_actions: tuple[Action, ...],
    pieces: tuple[Piece, ...],
) -> Transfer:
    """The microstep that leaves ``exits`` and enters ``entries``: hooks, raised and
    done events, history, in SCXML's order."""
    order = chart.order.__getitem__
    states = chart.states
    exited = tuple(sorted(exits, key=order, reverse=True))
    entered = tuple(sorted(entries, key=order))
    exit_groups = tuple((s, tuple(effect(a, "exit", s) for a in states[s].on_exit)) for s in exited)
    enter_groups = tuple(
        (s, tuple(effect(a, "enter", s) for a in states[s].on_enter)) for s in entered
    )
    after = set(configuration - exits)
    queued = [
        a.event
        for group in (*(g for _, g in exit_groups), transition_actions)
        for a in group
        if isinstance(a, RaiseEvent)
    ]
    done: list[tuple[str, ...]] = []
    for state, group in enter_groups:
        after.add(state)
        queued.extend(a.event for a in group if isinstance(a, RaiseEvent))
        events = _done_events(chart, state, after)
        queued.extend(events)
        done.append(tuple(events))
    return Transfer(
        configuration=frozenset(after),
        exited=exited,
        entered=entered,
        taken=taken,
        exit_groups=exit_groups,
        transition_actions=transition_actions,
        enter_groups=enter_groups,
        pieces=pieces,
        recorded=record_history(chart, configuration, exited) if chart.history else (),
        queued=tuple(queued),
        done=tuple(done),
    )


def entry_groups(
    chart: Chart, entered: tuple[str, ...]
) -> tuple[
    tuple[tuple[str, tuple[Action, ...]], ...], tuple[str, ...], tuple[tuple[str, ...], ...]
]:
    """The enter groups, queued events and each group's done events of entering
    ``entered`` from nothing (the start)."""
    states = chart.states
    groups = tuple((s, tuple(effect(a, "enter", s) for a in states[s].on_enter)) for s in entered)
    after: set[str] = set()
    queued: list[str] = []
    done: list[tuple[str, ...]] = []
    for state, group in groups:
        after.add(state)
        queued.extend(a.event for a in group if isinstance(a, RaiseEvent))
        events = _done_events(chart, state, after)
        queued.extend(events)
        done.append(tuple(events))
    return groups, tuple(queued), tuple(done)


def _done_events(chart: Chart, state: str, configuration: set[str]) -> list[str]:
    """The ``done.state.*`` events entering ``state`` raises (SCXML's enterStates)."""
    if not chart.states[state].is_final:
        return []
    parent = chart.parent[state]
    if parent is None:
        return []
    if isinstance(parent, str):
        events = [f"done.state.{parent}"]
        # SCXML: the parent's parent being a parallel state (here: the parent being a
        # region's only state), that parallel state may be done too.
        region = chart.parent[parent]
        if (
            isinstance(region, RegionNode)
            and _sole_state(chart, region) == parent
            and in_final_state(chart, region.parallel, configuration)
        ):
            events.append(f"done.state.{region.parallel}")
        return events
    parallel = parent.parallel
    if in_final_state(chart, parallel, configuration):
        return [f"done.state.{parallel}"]
    return []
