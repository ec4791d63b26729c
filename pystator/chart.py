"""The statechart's structure, precomputed once: nesting, document order, LCA, default entry.

Regions are not states, but the algorithm treats each as a node between a parallel
state and its region states (``RegionNode``), so that a transition between two
states of one region has the region as its domain and leaves the other regions
alone, exactly as an SCXML ``<state>`` child of a ``<parallel>`` would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from pystator.model import MachineSpec, State

__all__ = ["Chart", "Node", "RegionNode"]


@dataclass(frozen=True)
class RegionNode:
    parallel: str
    name: str

    def __str__(self) -> str:
        return f"{self.parallel}/{self.name}"


Node: TypeAlias = "str | RegionNode"


class Chart:
    """Structure questions answered by lookup: every answer is computed in ``__init__``."""

    def __init__(self, spec: MachineSpec) -> None:
        self.states: dict[str, State] = {s.name: s for s in spec.states}
        self.parent: dict[Node, Node | None] = {}
        self.children: dict[Node, list[Node]] = {}
        self.region_of: dict[str, tuple[str, str]] = {}
        for state in spec.states:
            for region in state.regions:
                node = RegionNode(state.name, region.name)
                self.parent[node] = state.name
                self.children.setdefault(state.name, []).append(node)
                for member in region.states:
                    self.region_of[member] = (state.name, region.name)
        for state in spec.states:
            where = self.region_of.get(state.name)
            parent: Node | None = RegionNode(*where) if where else state.parent
            self.parent[state.name] = parent
        for state in spec.states:  # children in declaration order; region members in list order
            up = self.parent[state.name]
            if up is not None and not isinstance(up, RegionNode):
                self.children.setdefault(up, []).append(state.name)
        for state in spec.states:
            for region in state.regions:
                node = RegionNode(state.name, region.name)
                self.children[node] = [m for m in region.states if m in self.states]
        self.roots: list[str] = [s.name for s in spec.states if self.parent[s.name] is None]

        self.order: dict[Node, int] = {}
        for root in self.roots:
            self._number(root)
        self.ancestors: dict[Node, tuple[Node, ...]] = {n: self._walk_up(n) for n in self.order}
        self.ancestor_set: dict[Node, frozenset[Node]] = {
            n: frozenset(a) for n, a in self.ancestors.items()
        }
        self.state_ancestors: dict[str, tuple[str, ...]] = {
            s: tuple(a for a in self.ancestors[s] if isinstance(a, str)) for s in self.states
        }
        self.atomic: frozenset[str] = frozenset(s for s in self.states if not self.children.get(s))
        self.completion: dict[Node, frozenset[str]] = {}
        for item in sorted(self.order, key=self.order.__getitem__, reverse=True):
            self.completion[item] = self._complete(item)
        initial = next((s for s in self.roots if self.states[s].is_initial), self.roots[0])
        self.initial_state = initial
        self.initial_configuration: frozenset[str] = self.completion[initial]

    def _number(self, node: Node) -> None:
        self.order[node] = len(self.order)
        for child in self.children.get(node, ()):
            self._number(child)

    def _walk_up(self, node: Node) -> tuple[Node, ...]:
        out: list[Node] = []
        current = self.parent.get(node)
        while current is not None:
            out.append(current)
            current = self.parent.get(current)
        return tuple(out)

    def initial_child(self, state: str) -> str | None:
        info = self.states[state]
        if info.initial_child is not None:
            return info.initial_child
        kids = self.children.get(state, [])
        return kids[0] if kids and isinstance(kids[0], str) else None

    def _complete(self, node: Node) -> frozenset[str]:
        """States entered when ``node`` is entered by default (itself included)."""
        if isinstance(node, RegionNode):
            region = self.states[node.parallel].get_region(node.name)
            assert region is not None
            return self.completion[region.initial]
        out = {node}
        if self.states[node].is_parallel:
            for child in self.children.get(node, ()):
                out |= self.completion[child]
        else:
            first = self.initial_child(node)
            if first is not None:
                out |= self.completion[first]
        return frozenset(out)

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
