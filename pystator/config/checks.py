"""Semantic checks: what the schema cannot see (names that must exist, one tree, ...).

Each rule is one small function over the built ``MachineSpec`` that yields
``(path, message, code)``; ``run_checks`` gathers them all so a person sees every
problem at once. Paths index the definition as written (``states[3].parent``);
region states the definition did not declare come after the declared ones.

Most definitions have no problem, and the checks run on every load (the designer
loads on every keystroke), so each rule first asks its question of the whole machine
with set operations and walks item by item, building messages, only when the answer
shows there is something to report or an item it must look at closely.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pystator._text import did_you_mean
from pystator.model import MachineSpec, StateType

__all__ = ["Finding", "Tree", "build_tree", "run_checks"]

Finding = tuple[str, str, str]  # path, message, code


@dataclass
class Tree:
    """Names and nesting derived from the spec, shared by the checks."""

    index: dict[str, int] = field(default_factory=dict)  # first declaration of a name
    parent: dict[str, str | None] = field(default_factory=dict)
    region_of: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> (parallel, region)
    children: dict[str, list[str]] = field(default_factory=dict)

    def known(self) -> list[str]:
        return list(self.parent)


def build_tree(spec: MachineSpec) -> tuple[Tree, list[Finding]]:
    states = spec.states
    tree = Tree()
    findings: list[Finding] = []
    tree.index = {s.name: i for i, s in enumerate(states)}
    if len(tree.index) == len(states):
        tree.parent = {s.name: s.parent for s in states}
    else:  # duplicates: the first declaration of a name is the one that counts
        tree.index = {}
        for i, state in enumerate(states):
            if state.name in tree.index:
                first = tree.index[state.name]
                findings.append(
                    (
                        f"states[{i}].name",
                        f"duplicate state name {state.name!r} (first declared as states[{first}])",
                        "duplicate-state",
                    )
                )
                continue
            tree.index[state.name] = i
            tree.parent[state.name] = state.parent
    for i, state in enumerate(states):
        if not state.regions or tree.index[state.name] != i:
            continue
        seen_regions: set[str] = set()
        for r, region in enumerate(state.regions):
            base = f"states[{i}].regions[{r}]"
            if region.name in seen_regions:
                findings.append(
                    (
                        f"{base}.name",
                        f"duplicate region name {region.name!r} in {state.name!r}",
                        "duplicate-region",
                    )
                )
            seen_regions.add(region.name)
            for k, member in enumerate(region.states):
                if member in tree.region_of:
                    other = tree.region_of[member]
                    findings.append(
                        (
                            f"{base}.states[{k}]",
                            f"state {member!r} is already in region {other[1]!r} of {other[0]!r}",
                            "region-overlap",
                        )
                    )
                    continue
                tree.region_of[member] = (state.name, region.name)
    for name, parent in tree.parent.items():
        if parent is not None:
            tree.children.setdefault(parent, []).append(name)
    return tree, findings


def _unknown(tree: Tree, name: str, what: str) -> str:
    return f"{what} {name!r} is not a state{did_you_mean(name, tree.known())}"


def check_references(spec: MachineSpec, tree: Tree) -> Iterator[Finding]:
    states, transitions = spec.states, spec.transitions
    named: set[str | None] = {t.dest for t in transitions}
    named = named.union(*[t.source for t in transitions])
    named.update([s.parent for s in states], [s.initial_child for s in states])
    named.update(s.timeout.destination for s in states if s.timeout is not None)
    named.add(spec.error_policy.default_fallback)
    named.discard(None)
    if named <= tree.parent.keys():
        return  # every name the definition mentions is a state
    for i, state in enumerate(states):
        base = f"states[{i}]"
        if state.parent is not None and state.parent not in tree.parent:
            yield f"{base}.parent", _unknown(tree, state.parent, "parent"), "unknown-state"
        if state.initial_child is not None and state.initial_child not in tree.parent:
            yield (
                f"{base}.initial_child",
                _unknown(tree, state.initial_child, "initial_child"),
                "unknown-state",
            )
        if state.timeout is not None and state.timeout.destination not in tree.parent:
            yield (
                f"{base}.timeout.destination",
                _unknown(tree, state.timeout.destination, "timeout destination"),
                "unknown-state",
            )
    for j, transition in enumerate(transitions):
        if transition.source <= tree.parent.keys() and transition.dest in tree.parent:
            continue
        base = f"transitions[{j}]"
        sources = transition.metadata.get("sources") or sorted(transition.source)
        for k, source in enumerate(sources):
            if source not in tree.parent:
                path = f"{base}.source[{k}]" if len(sources) > 1 else f"{base}.source"
                yield path, _unknown(tree, source, "source"), "unknown-state"
        if transition.dest not in tree.parent:
            yield f"{base}.dest", _unknown(tree, transition.dest, "dest"), "unknown-state"
    fallback = spec.error_policy.default_fallback
    if fallback is not None and fallback not in tree.parent:
        yield (
            "error_policy.default_fallback",
            _unknown(tree, fallback, "default_fallback"),
            "unknown-state",
        )


def check_parents(spec: MachineSpec, tree: Tree) -> Iterator[Finding]:
    """No cycles; children of a parallel state must sit in one of its regions."""
    nested = [name for name, parent in tree.parent.items() if parent is not None]
    if not nested:
        return
    reported: set[str] = set()
    for name in nested:
        seen = [name]
        current = tree.parent.get(name)
        while current is not None and current in tree.parent:
            if current in seen:
                cycle = [*seen[seen.index(current) :], current]
                if not reported & set(cycle):
                    reported.update(cycle)
                    i = tree.index.get(current, 0)
                    yield (
                        f"states[{i}].parent",
                        "parent cycle: " + " -> ".join(cycle),
                        "parent-cycle",
                    )
                break
            seen.append(current)
            current = tree.parent.get(current)
    states = spec.states
    for name in nested:
        i = tree.index[name]
        state = states[i]
        parent_index = tree.index.get(state.parent or "")
        if parent_index is None:
            continue
        parent = states[parent_index]
        where = tree.region_of.get(state.name)
        if parent.is_parallel and where is None:
            regions = ", ".join(r.name for r in parent.regions) or "none"
            yield (
                f"states[{i}].parent",
                f"{state.name!r} is a child of parallel state "
                f"{parent.name!r} but is listed in none of its regions ({regions})",
                "not-in-region",
            )
        elif where is not None and where[0] != parent.name:
            yield (
                f"states[{i}].parent",
                f"{state.name!r} is in a region of {where[0]!r}, "
                f"so its parent must be {where[0]!r}",
                "region-parent",
            )


def check_structure(spec: MachineSpec, tree: Tree) -> Iterator[Finding]:
    # No root marked initial: the first top-level state is the start, as in SCXML (the
    # spec's own hierarchical and parallel examples rely on it).
    initial, parallel = StateType.INITIAL, StateType.PARALLEL
    initial_roots = [
        (i, s)
        for i, s in enumerate(spec.states)
        if s.type is initial and s.parent is None and tree.index[s.name] == i
    ]
    for i, state in initial_roots[1:]:
        yield (
            f"states[{i}].type",
            f"more than one top-level initial state: {state.name!r} and "
            f"{initial_roots[0][1].name!r}",
            "many-initial",
        )
    compound = tree.children
    notable = [
        (i, s)
        for i, s in enumerate(spec.states)
        if s.name in compound or s.regions or s.initial_child is not None or s.type is parallel
    ]
    for i, state in notable:
        if tree.index[state.name] != i:
            continue
        base = f"states[{i}]"
        kids = tree.children.get(state.name, [])
        if state.is_parallel:
            if not state.regions:
                yield f"{base}.type", f"parallel state {state.name!r} has no regions", "no-regions"
            if state.initial_child is not None:
                yield (
                    f"{base}.initial_child",
                    f"parallel state {state.name!r} enters all its "
                    "regions; it cannot have an initial_child",
                    "parallel-initial-child",
                )
            for r, region in enumerate(state.regions):
                if region.initial not in region.states:
                    yield (
                        f"{base}.regions[{r}].initial",
                        f"region {region.name!r} starts in "
                        f"{region.initial!r}, which is not among its states "
                        f"({', '.join(region.states)})",
                        "region-initial",
                    )
            continue
        if state.regions:
            yield (
                f"{base}.regions",
                f"{state.name!r} has regions but its type is "
                f"{state.type.value!r}; use 'type: parallel'",
                "regions-not-parallel",
            )
        if state.initial_child is not None and state.initial_child in tree.parent:
            if state.initial_child not in kids:
                yield (
                    f"{base}.initial_child",
                    f"initial_child {state.initial_child!r} is not a child of {state.name!r}",
                    "initial-child-not-child",
                )
        elif state.initial_child is None and kids:
            yield (
                base,
                f"compound state {state.name!r} needs 'initial_child' (one of {', '.join(kids)})",
                "no-initial-child",
            )
        if state.type is StateType.TERMINAL and kids:
            yield (
                f"{base}.type",
                f"terminal state {state.name!r} cannot have children",
                "terminal-children",
            )


def check_transitions(spec: MachineSpec, tree: Tree) -> Iterator[Finding]:
    scoped = [(j, t) for j, t in enumerate(spec.transitions) if t.region is not None]
    region_names = {r for _, r in tree.region_of.values()}
    for j, transition in scoped:
        region = transition.region
        if region is None:  # (for the type checker: scoped has only regional ones)
            continue
        base = f"transitions[{j}]"
        if region not in region_names:
            yield (
                f"{base}.region",
                f"region {region!r} does not exist{did_you_mean(region, sorted(region_names))}",
                "unknown-region",
            )
            continue
        for source in transition.metadata.get("sources") or sorted(transition.source):
            if source in tree.parent and _region_containing(source, tree) != region:
                yield (
                    f"{base}.region",
                    f"source {source!r} is not inside region {region!r}",
                    "source-outside-region",
                )


def _region_containing(state: str, tree: Tree) -> str | None:
    current: str | None = state
    seen: set[str] = set()
    while current is not None and current not in seen:
        seen.add(current)
        if current in tree.region_of:
            return tree.region_of[current][1]
        current = tree.parent.get(current)
    return None


RULES: tuple[Callable[[MachineSpec, Tree], Iterator[Finding]], ...] = (
    check_references,
    check_parents,
    check_structure,
    check_transitions,
)


def run_checks(spec: MachineSpec) -> list[Finding]:
    tree, findings = build_tree(spec)
    for rule in RULES:
        findings.extend(rule(spec, tree))
    return findings
