"""Semantic checks: what the schema cannot see (names that must exist, one tree, ...).

Each rule is one small function over a validated ``MachineModel`` that yields
``(path, message, code)``; ``run_checks`` gathers them all so a person sees every
problem at once. Region states that are not declared as state entries are
synthesised here (as plain stable children of their parallel state), because
declaring them is optional.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pystator._text import did_you_mean
from pystator.config.schema import MachineModel, StateModel
from pystator.durations import parse_duration

__all__ = ["Finding", "Tree", "build_tree", "run_checks"]

Finding = tuple[str, str, str]  # path, message, code


@dataclass
class Tree:
    """Names and nesting derived from the definition, shared by the checks."""

    index: dict[str, int] = field(default_factory=dict)  # first declaration of a name
    parent: dict[str, str | None] = field(default_factory=dict)
    region_of: dict[str, tuple[str, str]] = field(
        default_factory=dict
    )  # state -> (parallel, region)
    region_paths: dict[str, str] = field(default_factory=dict)  # synthesised state -> path
    synthesised: list[str] = field(default_factory=list)

    def known(self) -> list[str]:
        return list(self.parent)


def build_tree(model: MachineModel) -> tuple[Tree, list[Finding]]:
    tree = Tree()
    findings: list[Finding] = []
    for i, state in enumerate(model.states):
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
    for i, state in enumerate(model.states):
        if tree.index.get(state.name) != i:
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
            members = region.states or [region.initial]
            for k, member in enumerate(members):
                path = f"{base}.states[{k}]" if region.states else f"{base}.initial"
                if member in tree.region_of:
                    other = tree.region_of[member]
                    findings.append(
                        (
                            path,
                            f"state {member!r} is already in region {other[1]!r} of {other[0]!r}",
                            "region-overlap",
                        )
                    )
                    continue
                tree.region_of[member] = (state.name, region.name)
                if member not in tree.parent:
                    tree.parent[member] = state.name
                    tree.synthesised.append(member)
                    tree.region_paths[member] = path
    return tree, findings


def _unknown(tree: Tree, name: str, what: str) -> str:
    return f"{what} {name!r} is not a state{did_you_mean(name, tree.known())}"


def check_references(model: MachineModel, tree: Tree) -> Iterator[Finding]:
    for i, state in enumerate(model.states):
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
    for j, transition in enumerate(model.transitions):
        base = f"transitions[{j}]"
        for k, source in enumerate(transition.source):
            if source not in tree.parent:
                path = f"{base}.source[{k}]" if len(transition.source) > 1 else f"{base}.source"
                yield path, _unknown(tree, source, "source"), "unknown-state"
        if transition.dest not in tree.parent:
            yield f"{base}.dest", _unknown(tree, transition.dest, "dest"), "unknown-state"
    fallback = model.error_policy.default_fallback
    if fallback is not None and fallback not in tree.parent:
        yield (
            "error_policy.default_fallback",
            _unknown(tree, fallback, "default_fallback"),
            "unknown-state",
        )


def check_parents(model: MachineModel, tree: Tree) -> Iterator[Finding]:
    """No cycles; children of a parallel state must sit in one of its regions."""
    reported: set[str] = set()
    for name in tree.parent:
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
    states = {s.name: s for s in model.states}
    for i, state in enumerate(model.states):
        parent = states.get(state.parent or "")
        if parent is None or tree.index.get(state.name) != i:
            continue
        if parent.type == "parallel":
            where = tree.region_of.get(state.name)
            if where is None:
                regions = ", ".join(r.name for r in parent.regions) or "none"
                yield (
                    f"states[{i}].parent",
                    f"{state.name!r} is a child of parallel state "
                    f"{parent.name!r} but is listed in none of its regions ({regions})",
                    "not-in-region",
                )
            elif where[0] != parent.name:
                yield (
                    f"states[{i}].parent",
                    f"{state.name!r} is in a region of {where[0]!r}, "
                    f"so its parent must be {where[0]!r}",
                    "region-parent",
                )
    for name, (parallel, _region) in tree.region_of.items():
        declared = states.get(name)
        if declared is not None and declared.parent not in (None, parallel):
            i = tree.index[name]
            yield (
                f"states[{i}].parent",
                f"{name!r} is in a region of {parallel!r}, so its parent must be {parallel!r}",
                "region-parent",
            )


def check_structure(model: MachineModel, tree: Tree) -> Iterator[Finding]:
    children: dict[str, list[str]] = {}
    for name, parent in tree.parent.items():
        if parent is not None:
            children.setdefault(parent, []).append(name)
    roots = [
        (i, s)
        for i, s in enumerate(model.states)
        if tree.index.get(s.name) == i and _effective_parent(s, tree) is None
    ]
    initial_roots = [(i, s) for i, s in roots if s.type == "initial"]
    # No root marked initial: the first top-level state is the start, as in SCXML (the
    # spec's own hierarchical and parallel examples rely on it); lint warns about it.
    for i, state in initial_roots[1:]:
        yield (
            f"states[{i}].type",
            f"more than one top-level initial state: {state.name!r} and "
            f"{initial_roots[0][1].name!r}",
            "many-initial",
        )
    for i, state in enumerate(model.states):
        if tree.index.get(state.name) != i:
            continue
        base = f"states[{i}]"
        kids = children.get(state.name, [])
        if state.type == "parallel":
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
                if region.states and region.initial not in region.states:
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
                f"{state.name!r} has regions but its type is {state.type!r}; use 'type: parallel'",
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
            marked = [k for k in kids if _type_of(model, tree, k) == "initial"]
            if len(marked) != 1:
                yield (
                    f"{base}",
                    f"compound state {state.name!r} needs 'initial_child' (one of "
                    f"{', '.join(kids)})",
                    "no-initial-child",
                )
        if state.type == "terminal" and kids:
            yield (
                f"{base}.type",
                f"terminal state {state.name!r} cannot have children",
                "terminal-children",
            )


def check_transitions(model: MachineModel, tree: Tree) -> Iterator[Finding]:
    regions = {(p, r) for p, r in tree.region_of.values()}
    region_names = {r for _, r in regions}
    for j, transition in enumerate(model.transitions):
        base = f"transitions[{j}]"
        delay = None
        if transition.after is not None:
            try:
                delay = parse_duration(transition.after)
            except ValueError as exc:
                yield f"{base}.after", str(exc), "bad-delay"
        if transition.trigger is None:
            if transition.after is None:
                yield (
                    base,
                    "a transition needs a 'trigger' (only delayed transitions with "
                    "'after' may leave it out)",
                    "no-trigger",
                )
            elif len(transition.source) != 1:
                yield (
                    f"{base}.source",
                    "a delayed transition without a trigger must have exactly one source state",
                    "implicit-trigger-sources",
                )
        elif delay is None and transition.trigger.startswith(("after:", "timeout:")):
            yield (
                f"{base}.trigger",
                "trigger names starting with 'after:' or 'timeout:' are reserved for timers",
                "reserved-trigger",
            )
        if transition.region is not None:
            if transition.region not in region_names:
                yield (
                    f"{base}.region",
                    f"region {transition.region!r} does not exist"
                    f"{did_you_mean(transition.region, sorted(region_names))}",
                    "unknown-region",
                )
                continue
            for source in transition.source:
                if source in tree.parent and _region_containing(source, tree) != transition.region:
                    yield (
                        f"{base}.region",
                        f"source {source!r} is not inside region {transition.region!r}",
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


def _effective_parent(state: StateModel, tree: Tree) -> str | None:
    return tree.parent.get(state.name)


def _type_of(model: MachineModel, tree: Tree, name: str) -> str:
    i = tree.index.get(name)
    return model.states[i].type if i is not None else "stable"


RULES: tuple[Callable[[MachineModel, Tree], Iterator[Finding]], ...] = (
    check_references,
    check_parents,
    check_structure,
    check_transitions,
)


def run_checks(model: MachineModel) -> tuple[Tree, list[Finding]]:
    tree, findings = build_tree(model)
    for rule in RULES:
        findings.extend(rule(model, tree))
    return tree, findings
