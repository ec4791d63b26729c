"""The statechart's structure, computed once per spec and read by every host.

The engine, the config checks, lint, the diagram and the simulator all ask the same
questions of a machine: who is whose parent, in what order are states declared,
where does the machine start, what does entering a state enter. They all read one
``Chart`` (``MachineSpec.chart`` builds it once), so they cannot disagree.

A chart is built from *any* spec, valid or not: the config checks run on it to find
the problems. A duplicate name keeps its first declaration, an unknown parent makes
a state top-level, a parent cycle is broken at the state where it was found, and the
chart records each of these so the checks can report them. Every table is built by
loops over the states (never recursion), so a hierarchy thousands of levels deep
costs time in proportion to its size and cannot overflow the stack.

Regions are not states, but the algorithm treats each as a node between a parallel
state and its region states (``RegionNode``), so that a transition between two
states of one region has the region as its domain and leaves the other regions
alone, exactly as an SCXML ``<state>`` child of a ``<parallel>`` would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property, partial
from itertools import count
from typing import Any, TypeAlias

from pystator.model import MachineSpec, State, StateType

__all__ = ["Chart", "Memo", "Node", "RegionNode"]


@dataclass(frozen=True)
class RegionNode:
    """One region of a parallel state, as a node of the tree."""

    parallel: str
    name: str

    def __str__(self) -> str:
        return f"{self.parallel}/{self.name}"


Node: TypeAlias = "str | RegionNode"


class Memo(dict[Any, Any]):
    """A table whose entries are computed on first lookup.

    A machine of hundreds of states is built far more often than all its states are
    visited (a web request, a test), so per-node answers are paid for when first
    asked, then read like any dict. ``compute(table, key)`` gets the table itself so
    an answer may reuse entries already there; it should hold only the plain tables
    it reads, never the object that owns the memo, so that a dropped machine is
    freed at once rather than by the cycle collector. Unknown keys raise ``KeyError``.
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

    ``states`` holds each name's first declaration and ``index`` where it stands in
    ``spec.states``. ``parent`` maps every node to its parent node (a region member's
    parent is its ``RegionNode``; a top-level state's is ``None``); ``children`` lists
    each node's children in document order. ``order`` numbers nodes in document
    order (a node, then its children's subtrees in order).

    ``region_of`` maps each state listed in a region of a parallel state to the
    (parallel, region) that lists it first, as written (a cycle broken at a region
    member leaves its listing alone); ``region_at`` is the nearest enclosing region
    in the tree.

    What the checks report on: ``duplicates`` (index of a repeated declaration,
    index of the first), ``cycles`` (the states of each parent cycle, in the order
    followed), ``region_overlaps`` (parallel, region index, member index, the
    (parallel, region) that already lists the member: another region, or the same
    one earlier) and ``duplicate_regions`` (parallel, region index). A region whose
    name repeats an earlier one of the same parallel state is recorded and merged
    into it: its new members join the first region of that name.
    """

    def __init__(self, spec: MachineSpec) -> None:
        # The chart keeps no reference to ``spec``: the spec caches its chart, so one
        # would be a cycle, and a dropped machine would wait for the cycle collector.
        self.duplicates: list[tuple[int, int]] = []
        states: dict[str, State] = {s.name: s for s in spec.states}
        if len(states) == len(spec.states):  # no name repeats: positions in one C pass
            index = dict(zip(states, count()))
        else:
            states, index = self._first_declarations(spec)
        self.states = states
        self.index = index
        self._by_type: dict[StateType, frozenset[str]] = Memo(
            partial(_of_type, states, [s.type for s in spec.states])
        )
        self.region_of: dict[str, tuple[str, str]] = {}
        self.region_overlaps: list[tuple[str, int, int, tuple[str, str]]] = []
        self.duplicate_regions: list[tuple[str, int]] = []
        self._regions: dict[RegionNode, Any] = {}
        self.parent: dict[Node, Node | None] = {}
        self.children: dict[Node, list[Node]] = {}
        self.cycles: list[tuple[str, ...]] = []
        if len(states) == len(spec.states) and not any([s.regions for s in spec.states]):
            self._flat_tree()  # the common case: one pass, no region bookkeeping
        else:
            self._tree()
        self.roots: list[str] = (
            [n for n in states if self.parent[n] is None] if self.children else list(states)
        )
        self.order: dict[Node, int] = self._document_order()
        self.ancestors: dict[Node, tuple[Node, ...]] = Memo(partial(_walk_up, self.parent))
        self.ancestor_set: dict[Node, frozenset[Node]] = Memo(partial(_as_set, self.ancestors))
        self.state_ancestors: dict[str, tuple[str, ...]] = Memo(
            partial(_states_only, self.ancestors)
        )
        self.history: frozenset[str] = self.of_type(StateType.HISTORY)
        self.atomic: frozenset[str] = frozenset(states.keys() - self.children.keys() - self.history)
        top_finals = [n for n in self.of_type(StateType.FINAL) if self.parent[n] is None]
        self.ends: frozenset[str] = self.of_type(StateType.TERMINAL).union(top_finals)
        """States that end the machine: ``terminal`` ones, and ``final`` ones at the top level.
        An active one accepts no event."""
        self.completion: dict[Node, frozenset[str]] = Memo(
            partial(_complete, states, self.children, self.parent, self._regions)
        )
        initial = (
            next((s for s in self.roots if states[s].is_initial), None)
            if self.of_type(StateType.INITIAL)
            else None
        )
        if initial is None and self.roots:
            initial = self.roots[0]
        self.initial_state: str | None = initial
        """The top-level state a machine starts in: the one marked ``initial``, else the
        first (SCXML's rule; the spec's own hierarchical examples rely on it)."""

    # ------------------------------------------------------------------ building
    def _first_declarations(self, spec: MachineSpec) -> tuple[dict[str, State], dict[str, int]]:
        """Each name's first declaration and its position; ``duplicates`` records the rest."""
        states: dict[str, State] = {}
        index: dict[str, int] = {}
        for i, state in enumerate(spec.states):
            first = index.get(state.name)
            if first is None:
                states[state.name] = state
                index[state.name] = i
            else:
                self.duplicates.append((i, first))
        return states, index

    def _flat_tree(self) -> None:
        """No duplicates and no regions: parents as declared, unknown ones made top-level."""
        states, parent, children = self.states, self.parent, self.children
        if [s.parent for s in states.values()].count(None) == len(states):
            parent.update(dict.fromkeys(states))  # no nesting at all: every state top-level
            return
        for name, state in states.items():
            up = state.parent
            if up is not None and up in states:
                parent[name] = up
                kids = children.get(up)
                if kids is None:
                    children[up] = [name]
                else:
                    kids.append(name)
            else:
                parent[name] = None
        if children:
            self._break_cycles()

    def _tree(self) -> None:
        """Regions claim their members first, so a region beats a declared ``parent``."""
        self._claim_region_members()
        self._link_parents()
        self._break_cycles()
        self._list_children()

    def _claim_region_members(self) -> None:
        """``region_of`` for every state a parallel state's region lists; the first claim wins.

        A repeated region name and a state listed by a second region are recorded
        (``duplicate_regions``, ``region_overlaps``) for the config checks to report.
        """
        region_of = self.region_of
        for name, state in self.states.items():
            if not state.regions or not state.is_parallel:
                continue
            seen: set[str] = set()
            for r, region in enumerate(state.regions):
                if region.name in seen:
                    self.duplicate_regions.append((name, r))
                else:
                    seen.add(region.name)
                    self._regions[RegionNode(name, region.name)] = region
                for k, member in enumerate(region.states):
                    other = region_of.get(member)
                    if other is not None:
                        self.region_overlaps.append((name, r, k, other))
                        continue
                    region_of[member] = (name, region.name)

    def _link_parents(self) -> None:
        """Each state's parent: its region, else its declared parent when that exists."""
        states, parent, region_of = self.states, self.parent, self.region_of
        for name, state in states.items():
            where = region_of.get(name)
            if where is not None and where[0] != name:
                parent[name] = RegionNode(*where)
            elif state.parent is not None and state.parent in states:
                parent[name] = state.parent
            else:
                parent[name] = None
        for node in self._regions:
            parent[node] = node.parallel

    def _list_children(self) -> None:
        """Children in document order; a region's in the order its ``states`` list them."""
        parent, children = self.parent, self.children
        members: dict[RegionNode, dict[str, None]] = {}
        for node, region in self._regions.items():
            children.setdefault(node.parallel, []).append(node)
            members[node] = dict.fromkeys(m for m in region.states if parent.get(m) == node)
        for name in self.states:
            up = parent[name]
            if isinstance(up, str):
                children.setdefault(up, []).append(name)
            elif up is not None and name not in members[up]:
                members[up][name] = None  # listed only by a repeated region of that name
        for node, listed in members.items():
            children[node] = list(listed)

    def _break_cycles(self) -> None:
        """Follow parents from every state once; a path that meets itself is a cycle.

        The state where the walk met its own path becomes top-level, so the rest of
        the chart is a tree; ``cycles`` records what was found.
        """
        parent = self.parent
        done: set[Node] = set()
        for start in self.states:
            if start in done:
                continue
            path: list[Node] = []
            on_path: set[Node] = set()
            node: Node | None = start
            while node is not None and node not in done and node not in on_path:
                path.append(node)
                on_path.add(node)
                node = parent.get(node)
            if node is not None and node in on_path:
                loop = path[path.index(node) :]
                self.cycles.append(tuple(n for n in loop if isinstance(n, str)))
                head = (
                    node if isinstance(node, str) else next(n for n in loop if isinstance(n, str))
                )
                above, parent[head] = parent[head], None
                kids = self.children.get(above) if above is not None else None
                if above is not None and kids:  # the flat tree lists children already
                    kids.remove(head)
                    if not kids:
                        del self.children[above]
            done.update(path)

    def _document_order(self) -> dict[Node, int]:
        """Pre-order numbering: a node, then its children's subtrees in order."""
        if not self.children:
            return dict(zip(self.roots, count()))
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

    # ------------------------------------------------------------------ questions
    def of_type(self, kind: StateType) -> frozenset[str]:
        """The states of type ``kind`` (first declarations), computed on first ask.

        Answered by one search of the declarations' types (in C) before any loop, so
        asking about a kind no state has costs nothing per state: most machines have
        no history, final or parallel state, and the engine and checks ask about each.
        """
        return self._by_type[kind]

    @cached_property
    def initial_configuration(self) -> frozenset[str]:
        """The states active when the machine starts (empty for a chart with no states)."""
        if self.initial_state is None:
            return frozenset()
        return self.completion[self.initial_state]

    @cached_property
    def region_at(self) -> dict[str, tuple[str, str]]:
        """State -> the (parallel state, region) nearest above it, for states inside one.

        Computed in one pass in document order (a parent is numbered before its
        children), so it costs the same at any depth.
        """
        out: dict[str, tuple[str, str]] = {}
        parent = self.parent
        for node in self.order:
            if not isinstance(node, str):
                continue
            up = parent[node]
            if isinstance(up, RegionNode):
                out[node] = (up.parallel, up.name)
            elif up is not None and up in out:
                out[node] = out[up]
        return out

    @cached_property
    def subtree_end(self) -> dict[Node, int]:
        """Node -> the last ``order`` number inside its subtree (its own for a leaf).

        With ``order`` this makes every subtree one interval, so "is this node inside
        that one" is two comparisons at any depth (``is_inside``). One pass, children
        before parents.
        """
        end: dict[Node, int] = {}
        children, order = self.children, self.order
        for node in reversed(order):
            kids = children.get(node)
            end[node] = end[kids[-1]] if kids else order[node]
        return end

    def is_inside(self, node: Node, ancestor: Node) -> bool:
        """Whether ``node`` is a proper descendant of ``ancestor`` (constant time)."""
        first = self.order[ancestor]
        return first < self.order[node] <= self.subtree_end[ancestor]

    def kids(self, name: Node) -> list[Node]:
        """Children in document order (region nodes for a parallel state)."""
        return self.children.get(name, [])

    def state_children(self, name: str) -> tuple[str, ...]:
        """The states directly below ``name``: its children, or its regions' members."""
        out: list[str] = []
        for child in self.children.get(name, ()):
            if isinstance(child, str):
                out.append(child)
            else:
                out.extend(c for c in self.children.get(child, ()) if isinstance(c, str))
        return tuple(out)

    def region_nodes(self, parallel: str) -> list[RegionNode]:
        return [n for n in self.children.get(parallel, ()) if isinstance(n, RegionNode)]

    def region(self, node: RegionNode) -> Any:
        """The ``Region`` value a region node stands for."""
        return self._regions[node]

    def initial_child(self, name: str) -> str | None:
        """The child a compound state enters by default (None for a leaf or parallel state)."""
        return _initial_child(self.states, self.children, name)

    def region_initial(self, node: RegionNode) -> str | None:
        """The state a region starts in."""
        return _region_initial(self._regions[node], self.children, self.parent, node)

    def is_compound(self, name: str) -> bool:
        state = self.states.get(name)
        return state is not None and not state.is_parallel and bool(self.children.get(name))

    def closure(self, leaves: Iterable[str]) -> frozenset[str]:
        """Leaves plus all their (state) ancestors: a configuration."""
        out = set(leaves)
        for leaf in list(out):
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

    def leaves_of(self, configuration: Iterable[str]) -> list[str]:
        """The active atomic states, in document order."""
        atomic = self.atomic
        leaves = [s for s in configuration if s in atomic]
        leaves.sort(key=self.order.__getitem__)
        return leaves

    def in_entry_order(self, states: Iterable[str]) -> tuple[str, ...]:
        """Outer before inner, regions in document order: how states are entered."""
        return tuple(sorted(states, key=self.order.__getitem__))

    def in_exit_order(self, states: Iterable[str]) -> tuple[str, ...]:
        """Inner before outer, regions in reverse document order: how states are left."""
        return tuple(sorted(states, key=self.order.__getitem__, reverse=True))


def _of_type(
    states: dict[str, State], types: list[StateType], _table: Memo, kind: StateType
) -> frozenset[str]:
    """The (first-declared) states of ``kind``; ``types`` lists every declaration's type."""
    if kind not in types:
        return frozenset()
    return frozenset(n for n, s in states.items() if s.type is kind)


# The per-node answers behind ``Chart``'s memo tables: functions of the plain tables
# (see ``Memo`` for why they are not methods). Each walks with a loop, never recursion.


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
    states: dict[str, State], children: dict[Node, list[Node]], name: str
) -> str | None:
    state = states[name]
    if state.is_parallel:
        return None
    kids = children.get(name)
    if not kids:
        return None
    wanted = state.initial_child
    if wanted is not None and wanted in kids:
        return wanted
    return next((k for k in kids if isinstance(k, str) and not states[k].is_history), None)


def _region_initial(
    region: Any, children: dict[Node, list[Node]], parent: dict[Node, Node | None], node: Node
) -> str | None:
    if parent.get(region.initial) == node:
        return str(region.initial)
    members = children.get(node)
    return str(members[0]) if members else None


def _complete(
    states: dict[str, State],
    children: dict[Node, list[Node]],
    parent: dict[Node, Node | None],
    regions: dict[RegionNode, Any],
    completion: Memo,
    node: Node,
) -> frozenset[str]:
    """States entered when ``node`` is entered by default (itself included)."""
    if node not in parent:
        raise KeyError(node)

    out: set[str] = set()
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, RegionNode):
            first = _region_initial(regions[current], children, parent, current)
            if first is not None:
                stack.append(first)
            continue
        if current in out:
            continue
        known = completion.get(current) if current != node else None
        if known is not None:
            out |= known
            continue
        info = states[current]
        if info.is_history:
            # A pseudo-state, never active: on its own it stands for its default.
            if info.default is not None and info.default in states and current == node:
                stack.append(info.default)
            continue
        out.add(current)
        if info.is_parallel:
            stack.extend(
                k
                for k in children.get(current, ())
                if not (isinstance(k, str) and states[k].is_history)
            )
        else:
            child = _initial_child(states, children, current)
            if child is not None:
                stack.append(child)
    return frozenset(out)
