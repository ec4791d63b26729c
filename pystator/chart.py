"""The statechart's structure, precomputed once: nesting, document order, LCA, default entry.

Regions are not states, but the algorithm treats each as a node between a parallel
state and its region states (``RegionNode``), so that a transition between two
states of one region has the region as its domain and leaves the other regions
alone, exactly as an SCXML ``<state>`` child of a ``<parallel>`` would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeAlias

from pystator.model import MachineSpec, State

__all__ = ["Chart", "Memo", "Node", "RegionNode"]


@dataclass(frozen=True)
class RegionNode:
    parallel: str
    name: str

    def __str__(self) -> str:
        return f"{self.parallel}/{self.name}"


Node: TypeAlias = "str | RegionNode"


class Memo(dict[Any, Any]):
    """A table whose entries are computed on first lookup.

    A machine of hundreds of states is built far more often than all its states are
    visited (a web request, a test), so per-node answers are paid for when first
    asked, then read like any dict. ``compute(table, key)`` gets the table itself, so
    a recursive answer reads its sub-answers from it; it should hold only the plain
    tables it reads, never the object that owns the memo, so that a dropped machine
    is freed at once rather than by the cycle collector. Unknown keys raise
    ``KeyError``.
    """

    __slots__ = ("_compute",)

    def __init__(self, compute: Callable[[Memo, Any], Any]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, key: Any) -> Any:
        value = self[key] = self._compute(self, key)
        return value


class Chart:
    """Structure questions answered by lookup.

    Nesting, document order and the atomic states are computed in ``__init__``;
    ancestors and default entries are computed per node on first use and cached.
    """

    def __init__(self, spec: MachineSpec) -> None:
        states = spec.states
        self.states: dict[str, State] = {s.name: s for s in states}
        # A region member's parent is its region; everyone else's is the declared one.
        self.parent: dict[Node, Node | None] = {s.name: s.parent for s in states}
        self.children: dict[Node, list[Node]] = {}
        self.region_of: dict[str, tuple[str, str]] = {}
        parallels = [s for s in states if s.regions]
        for state in parallels:
            for region in state.regions:
                node = RegionNode(state.name, region.name)
                self.parent[node] = state.name
                self.children.setdefault(state.name, []).append(node)
                self.children[node] = [m for m in region.states if m in self.states]
                for member in region.states:
                    self.region_of[member] = (state.name, region.name)
                    if member in self.states:
                        self.parent[member] = node
        region_of = self.region_of
        for name, up in [(s.name, s.parent) for s in states if s.parent is not None]:
            if name not in region_of:  # children in declaration order
                self.children.setdefault(up, []).append(name)
        self.roots: list[str] = [
            name for name, up in self.parent.items() if up is None and isinstance(name, str)
        ]
        self.order: dict[Node, int] = self._document_order()
        self.ancestors: dict[Node, tuple[Node, ...]] = Memo(partial(_walk_up, self.parent))
        self.ancestor_set: dict[Node, frozenset[Node]] = Memo(partial(_as_set, self.ancestors))
        self.state_ancestors: dict[str, tuple[str, ...]] = Memo(
            partial(_states_only, self.ancestors)
        )
        self.atomic: frozenset[str] = frozenset(self.states.keys() - self.children.keys())
        self.completion: dict[Node, frozenset[str]] = Memo(
            partial(_complete, self.states, self.children, self.parent)
        )
        initial = next((s for s in self.roots if self.states[s].is_initial), self.roots[0])
        self.initial_state = initial
        self.initial_configuration: frozenset[str] = self.completion[initial]

    def _document_order(self) -> dict[Node, int]:
        """Pre-order numbering: a node, then its children's subtrees in order."""
        if not self.children:
            return dict(zip(self.roots, range(len(self.roots)), strict=True))
        order: dict[Node, int] = {}
        stack: list[Node] = list(reversed(self.roots))
        children = self.children
        while stack:
            node = stack.pop()
            order[node] = len(order)
            kids = children.get(node)
            if kids:
                stack.extend(reversed(kids))
        return order

    def closure(self, leaves: frozenset[str] | set[str]) -> frozenset[str]:
        """Leaves plus all their (state) ancestors: a configuration."""
        out = set(leaves)
        for leaf in leaves:
            out.update(self.state_ancestors[leaf])
        return frozenset(out)

    def lca(self, nodes: list[Node]) -> Node | None:
        """Lowest common ancestor-or-self of ``nodes`` (None: the chart's root)."""
        first = nodes[0]
        for candidate in (first, *self.ancestors[first]):
            if all(n == candidate or candidate in self.ancestor_set[n] for n in nodes[1:]):
                return candidate
        return None

    def is_descendant(self, node: Node, ancestor: Node | None) -> bool:
        return ancestor is None or ancestor in self.ancestor_set[node]

    def leaves_of(self, configuration: frozenset[str]) -> list[str]:
        """The active atomic states, in document order."""
        leaves = [s for s in configuration if s in self.atomic]
        leaves.sort(key=self.order.__getitem__)
        return leaves


# The per-node answers behind ``Chart``'s memo tables: functions of the plain tables
# (see ``Memo`` for why they are not methods).


def _walk_up(parent: dict[Node, Node | None], _table: Memo, node: Node) -> tuple[Node, ...]:
    if node not in parent:
        raise KeyError(node)
    out: list[Node] = []
    current = parent[node]
    while current is not None:
        out.append(current)
        current = parent.get(current)
    return tuple(out)


def _as_set(ancestors: dict[Node, tuple[Node, ...]], _table: Memo, node: Node) -> frozenset[Node]:
    return frozenset(ancestors[node])


def _states_only(
    ancestors: dict[Node, tuple[Node, ...]], _table: Memo, node: str
) -> tuple[str, ...]:
    return tuple(a for a in ancestors[node] if isinstance(a, str))


def _initial_child(
    states: dict[str, State], children: dict[Node, list[Node]], state: str
) -> str | None:
    info = states[state]
    if info.initial_child is not None:
        return info.initial_child
    kids = children.get(state, [])
    return kids[0] if kids and isinstance(kids[0], str) else None


def _complete(
    states: dict[str, State],
    children: dict[Node, list[Node]],
    parent: dict[Node, Node | None],
    completion: Memo,
    node: Node,
) -> frozenset[str]:
    """States entered when ``node`` is entered by default (itself included)."""
    if node not in parent:
        raise KeyError(node)
    if isinstance(node, RegionNode):
        region = states[node.parallel].get_region(node.name)
        assert region is not None
        result: frozenset[str] = completion[region.initial]
        return result
    out = {node}
    if states[node].is_parallel:
        for child in children.get(node, ()):
            out |= completion[child]
    else:
        first = _initial_child(states, children, node)
        if first is not None:
            out |= completion[first]
    return frozenset(out)
