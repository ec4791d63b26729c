"""Which eventless transitions can keep taking each other, found from the structure.

An eventless transition (``always: true``) is taken whenever its source is active and
its guards hold, and the engine keeps taking them until none is enabled. When taking
some of them can enable the first again, a step can go round for ever; the engine
stops such a step and refuses it (a livelock). Lint warns about every such way round
before a run meets it: ``eventless_cycles`` lists each as the transitions it takes.

The answer comes from the chart alone (guards are not evaluated), so it says what
*can* loop. It costs time in proportion to the states and transitions, plus, for
each eventless transition, one step per parallel state its target is entered through;
every walk is a loop, never recursion, so depth cannot overflow the stack.
"""

from __future__ import annotations

from typing import Any

from pystator.chart import RegionNode
from pystator.microstep import effective_targets
from pystator.model import MachineSpec

__all__ = ["eventless_cycles"]

_Vertex = tuple[str, Any]


class _EventlessGraph:
    """What an eventless transition can make active, as a graph whose cycles are loops.

    A vertex ``("from", S)`` stands for the eventless transitions of ``S``; taking
    one enters its target (``("enter", X)``: X and its default descendants, a history
    state's default or anything its parent may have had active) and makes the
    target's ancestors active (``("up", X)``), whose own eventless transitions are
    then enabled. Entering a state inside a region from outside the region's
    parallel state enters the parallel state's other regions too (``("before", R)``
    and ``("after", R)`` chain the regions on either side, so each region is linked
    once). A cycle back to a ``from`` vertex is a way round that no event
    interrupts. Each vertex is expanded once, and its edges come from its own entry
    in the chart (its parent, its initial child, its regions, its transitions), so
    the graph is as large as the chart, but for the walk a ``from`` vertex makes up
    through the parallel states its targets are entered through.
    """

    def __init__(self, spec: MachineSpec) -> None:
        self.chart = chart = spec.chart
        self.transitions = spec.transitions
        self.eventless: dict[str, list[int]] = {}
        for j, t in enumerate(self.transitions):
            if t.eventless and t.dest in chart.states:
                known = [source for source in t.source if source in chart.states]
                for source in sorted(known, key=chart.index.__getitem__):
                    self.eventless.setdefault(source, []).append(j)
        self._regions: dict[str, list[RegionNode]] = {}
        self._position: dict[RegionNode, int] = {}

    def successors(self, vertex: _Vertex) -> list[tuple[_Vertex, int | None]]:
        """(next vertex, the transition the edge takes or None) for ``vertex``."""
        kind, node = vertex
        if kind == "from":
            return self._taken(node)
        if kind == "enter":
            return [(v, None) for v in self._entered(node)]
        if kind == "up":
            return [(v, None) for v in self._active_above(node)]
        if kind in ("shallow", "deep"):
            return [(v, None) for v in self._restored(kind, node)]
        return [(v, None) for v in self._side(kind, node)]

    def _taken(self, source: str) -> list[tuple[_Vertex, int | None]]:
        out: list[tuple[_Vertex, int | None]] = []
        for j in self.eventless[source]:
            dest = self.transitions[j].dest
            out.append((("enter", dest), j))
            out.extend((v, j) for v in self._other_regions_entered(source, dest))
        return out

    def _entered(self, name: str) -> list[_Vertex]:
        chart = self.chart
        if name in chart.history:
            out: list[_Vertex] = [("enter", t) for t in effective_targets(chart, name, {})]
            up = chart.parent[name]
            if isinstance(up, str):
                out.append(("deep" if chart.states[name].is_deep_history else "shallow", up))
            return out
        out = [("up", name)]
        if chart.states[name].is_parallel:
            starts = (chart.region_initial(r) for r in self._region_list(name))
            out.extend(("enter", s) for s in starts if s is not None)
        else:
            child = chart.initial_child(name)
            if child is not None:
                out.append(("enter", child))
        return out

    def _active_above(self, name: str) -> list[_Vertex]:
        out: list[_Vertex] = [("from", name)] if name in self.eventless else []
        up = self.chart.parent[name]
        if isinstance(up, RegionNode):
            up = up.parallel
        if up is not None:
            out.append(("up", up))
        return out

    def _restored(self, kind: str, name: str) -> list[_Vertex]:
        """What a history state of ``name`` may restore: a child (shallow), or any
        active state below (deep)."""
        out: list[_Vertex] = []
        for child in self.chart.state_children(name):
            if child in self.chart.history:
                continue
            if kind == "shallow":
                out.append(("enter", child))
            else:
                out.extend([("up", child), ("deep", child)])
        return out

    def _side(self, kind: str, region: RegionNode) -> list[_Vertex]:
        """The regions on one side (``before`` or ``after``) of ``region``, nearest first."""
        regions = self._region_list(region.parallel)
        k = self._position[region] + (-1 if kind == "before" else 1)
        if not 0 <= k < len(regions):
            return []
        first = self.chart.region_initial(regions[k])
        out: list[_Vertex] = [("enter", first)] if first is not None else []
        out.append((kind, regions[k]))
        return out

    def _region_list(self, parallel: str) -> list[RegionNode]:
        found = self._regions.get(parallel)
        if found is None:
            found = self._regions[parallel] = self.chart.region_nodes(parallel)
            self._position.update((r, i) for i, r in enumerate(found))
        return found

    def _other_regions_entered(self, source: str, dest: str) -> list[_Vertex]:
        """The sibling-region chains entered on the way from ``source`` into ``dest``:
        for each region around ``dest`` that ``source`` is outside of."""
        chart = self.chart
        out: list[_Vertex] = []
        where = chart.region_at.get(dest)
        while where is not None:
            region = RegionNode(*where)
            if chart.is_inside(source, region):
                break  # this region, and every one around it, stays active
            out.extend([("before", region), ("after", region)])
            where = chart.region_at.get(region.parallel)
        return out


def eventless_cycles(spec: MachineSpec) -> list[list[int]]:
    """Each way round of eventless transitions, as the transitions taken in order.

    One cycle is named per strongly connected component of ``_EventlessGraph`` (loops
    that share a state are one way round to fix), found by a breadth-first search
    inside the component from its first ``from`` vertex. Sorted by the first
    transition each takes.
    """
    graph = _EventlessGraph(spec)
    if not graph.eventless:
        return []
    edges: dict[_Vertex, list[tuple[_Vertex, int | None]]] = {}
    index = graph.chart.index
    cycles: list[list[int]] = []
    for component in _components(graph, edges):
        starts = [v for v in component if v[0] == "from"]
        if not starts:
            continue
        start = min(starts, key=lambda v: (graph.eventless[v[1]][0], index[v[1]]))
        cycle = _cycle_through(start, set(component), edges)
        if cycle:
            cycles.append(cycle)
    cycles.sort(key=min)
    return cycles


def _components(
    graph: _EventlessGraph, edges: dict[_Vertex, list[tuple[_Vertex, int | None]]]
) -> list[list[_Vertex]]:
    """Tarjan's strongly connected components of what the ``from`` vertices reach,
    with an explicit stack (any depth); ``edges`` is filled with every vertex's edges."""
    index: dict[_Vertex, int] = {}
    low: dict[_Vertex, int] = {}
    on_stack: set[_Vertex] = set()
    stack: list[_Vertex] = []
    components: list[list[_Vertex]] = []
    work: list[tuple[_Vertex, int]] = []  # (vertex, next edge to follow): the DFS path

    def visit(vertex: _Vertex) -> None:
        index[vertex] = low[vertex] = len(index)
        stack.append(vertex)
        on_stack.add(vertex)
        edges[vertex] = graph.successors(vertex)
        work.append((vertex, 0))

    for source in graph.eventless:
        if ("from", source) in index:
            continue
        visit(("from", source))
        while work:
            vertex, i = work[-1]
            out = edges[vertex]
            if i < len(out):
                work[-1] = (vertex, i + 1)
                following = out[i][0]
                if following not in index:
                    visit(following)
                elif following in on_stack:
                    low[vertex] = min(low[vertex], index[following])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[vertex])
            if low[vertex] == index[vertex]:
                component: list[_Vertex] = []
                while not component or component[-1] != vertex:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                components.append(component)
    return components


def _cycle_through(
    start: _Vertex,
    members: set[_Vertex],
    edges: dict[_Vertex, list[tuple[_Vertex, int | None]]],
) -> list[int]:
    """The transitions of a shortest way from ``start`` back to itself inside a component."""
    came: dict[_Vertex, tuple[_Vertex, int | None]] = {}
    frontier = [start]
    while frontier and start not in came:
        following_frontier: list[_Vertex] = []
        for vertex in frontier:
            for following, j in edges.get(vertex, ()):
                if following in members and following not in came:
                    came[following] = (vertex, j)
                    following_frontier.append(following)
        frontier = following_frontier
    if start not in came:
        return []  # a component of one vertex without a loop
    taken: list[int] = []
    vertex = start
    while True:
        vertex, j = came[vertex]
        if j is not None:
            taken.append(j)
        if vertex == start:
            break
    taken.reverse()
    return taken
