"""What a set of selected transitions does: SCXML's microstep, computed not performed.

The functions are named as W3C SCXML 1.0 Appendix D names them, so the code can be
held against the text; where the spec decides differently it says so:

* ``transition_domain``: the spec's rule, the lowest common ancestor of the *current
  leaf* and the target's leaves (SCXML uses the transition's source). A parallel
  state is never a domain; a region is, so a transition inside one region leaves the
  others alone. A transition whose ``dest`` is the state it matched from is
  targetless: it exits and enters nothing and only runs its actions.
* ``compute_exit_set``: everything active below the domain.
* ``compute_entry_set``: the path from the domain to the target, a compound target
  through its initial chain, a parallel one into every region, and the other regions
  of any parallel state on the path.
* ``remove_conflicting_transitions``: when two selected transitions exit a common
  state, the one from the deeper source wins, otherwise the earlier one.

A ``Transfer`` is the result for one (configuration, choice): the configuration
after it, what is exited and entered in order, and the actions with their owners.
It depends on nothing else, so the machine caches it per plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from pystator.chart import Chart, Node
from pystator.selection import Candidate
from pystator.step import RunAction, TakenTransition

__all__ = [
    "Piece",
    "Transfer",
    "compute_entry_set",
    "compute_exit_set",
    "microstep",
    "remove_conflicting_transitions",
    "transition_domain",
]


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
    hook actions, so a host can put each state's timer effects right after them.
    """

    configuration: frozenset[str]
    exited: tuple[str, ...]
    entered: tuple[str, ...]
    taken: tuple[TakenTransition, ...]
    exit_groups: tuple[tuple[str, tuple[RunAction, ...]], ...]
    transition_actions: tuple[RunAction, ...]
    enter_groups: tuple[tuple[str, tuple[RunAction, ...]], ...]
    pieces: tuple[Piece, ...]

    @property
    def actions(self) -> tuple[RunAction, ...]:
        """Every action in execution order: exits, the transitions' own, entries."""
        out: list[RunAction] = []
        for _state, actions in self.exit_groups:
            out.extend(actions)
        out.extend(self.transition_actions)
        for _state, actions in self.enter_groups:
            out.extend(actions)
        return tuple(out)


def is_targetless(candidate: Candidate) -> bool:
    return candidate.transition.dest == candidate.source


def transition_domain(chart: Chart, candidate: Candidate) -> Node | None:
    """The node whose descendants the transition exits and enters (None: the root)."""
    dest = candidate.transition.dest
    targets = chart.leaves_of(chart.closure(chart.completion[dest]))
    domain = chart.lca([candidate.leaf, *targets])
    states = chart.states
    while domain is not None and isinstance(domain, str) and states[domain].is_parallel:
        domain = chart.parent[domain]
    return domain


def compute_exit_set(
    chart: Chart, candidate: Candidate, configuration: frozenset[str]
) -> frozenset[str]:
    if is_targetless(candidate):
        return frozenset()
    domain = transition_domain(chart, candidate)
    if domain is None:
        return configuration
    return frozenset(s for s in configuration if s != domain and domain in chart.ancestor_set[s])


def compute_entry_set(chart: Chart, candidate: Candidate) -> set[str]:
    if is_targetless(candidate):
        return set()
    dest = candidate.transition.dest
    domain = transition_domain(chart, candidate)
    ancestor_set = chart.ancestor_set
    # Only what lies below the domain is entered: a dest that is the domain itself
    # (a leaf's transition to its own ancestor) re-enters just the initial chain.
    entry: set[str] = {
        s for s in chart.completion[dest] if domain is None or domain in ancestor_set[s]
    }
    for node in chart.ancestors[dest]:
        if domain is not None and (node == domain or domain not in ancestor_set[node]):
            break
        if isinstance(node, str):
            entry.add(node)
            if chart.states[node].is_parallel:
                for region in chart.region_nodes(node):
                    if not any(region in ancestor_set[s] for s in entry):
                        entry |= chart.completion[region]
    return entry


def remove_conflicting_transitions(
    chart: Chart, chosen: tuple[Candidate, ...], configuration: frozenset[str]
) -> list[tuple[Candidate, frozenset[str]]]:
    """The chosen candidates that fire together, each with its exit set."""
    kept: list[tuple[Candidate, frozenset[str]]] = []
    for candidate in chosen:
        if any(candidate.transition is other.transition for other, _ in kept):
            continue  # one transition selected by several leaves fires once
        exits = compute_exit_set(chart, candidate, configuration)
        preempted = False
        beaten: list[tuple[Candidate, frozenset[str]]] = []
        for entry in kept:
            if exits & entry[1]:
                if chart.is_descendant(candidate.source, entry[0].source):
                    beaten.append(entry)
                else:
                    preempted = True
                    break
        if not preempted:
            for entry in beaten:
                kept.remove(entry)
            kept.append((candidate, exits))
    return kept


def microstep(
    chart: Chart, configuration: frozenset[str], chosen: tuple[Candidate, ...]
) -> Transfer:
    """What taking ``chosen`` from ``configuration`` does."""
    order = chart.order.__getitem__
    states = chart.states
    exits: set[str] = set()
    entries: set[str] = set()
    pieces: list[Piece] = []
    kept = remove_conflicting_transitions(chart, chosen, configuration)
    for candidate, exit_set in kept:
        entry_set = compute_entry_set(chart, candidate)
        exits |= exit_set
        entries |= entry_set
        pieces.append(
            Piece(
                candidate,
                tuple(sorted(exit_set, key=order, reverse=True)),
                tuple(sorted(entry_set, key=order)),
            )
        )
    exited = tuple(sorted(exits, key=order, reverse=True))
    entered = tuple(sorted(entries, key=order))
    taken = sorted((c for c, _ in kept), key=lambda c: c.index)
    transition_actions = tuple(
        RunAction(a, "transition", c.taken.label) for c in taken for a in c.transition.actions
    )
    return Transfer(
        configuration=frozenset((configuration - exits) | entries),
        exited=exited,
        entered=entered,
        taken=tuple(c.taken for c in taken),
        exit_groups=tuple(
            (s, tuple(RunAction(a, "exit", s) for a in states[s].on_exit)) for s in exited
        ),
        transition_actions=transition_actions,
        enter_groups=tuple(
            (s, tuple(RunAction(a, "enter", s) for a in states[s].on_enter)) for s in entered
        ),
        pieces=tuple(pieces),
    )
