"""Mermaid ``stateDiagram-v2`` text for a machine, built through a small diagram graph.

Two steps, so each can be tested alone::

    MachineSpec / StateMachine --build_graph--> DiagramGraph --render_mermaid--> text

``DiagramGraph`` is plain data (nodes, edges, active ids) that a test can build by
hand; ``render_mermaid`` knows Mermaid and nothing about machines. ``build_graph``
reads the machine's structure from ``spec.chart`` (the one the engine runs on), so
the start arrow points where the machine starts and regions come in the order they
are written. Both steps work with loops, never recursion, at any nesting depth.

What the text looks like
    Every state is declared ``state "real name" as id``: the label is always the
    state's own name, the id is a safe Mermaid identifier (the name itself when it
    is a plain word that is not a Mermaid keyword, else ``s_<sanitized>_<n>``, made
    unique deterministically). Compound and parallel states are composite blocks
    ``state "name" as id { ... }``; the regions of a parallel state are separated
    by ``--`` (a region may hold parallel states of its own, drawn the same way).
    Each scope starts with ``[*] --> initial``; terminal and final states get
    ``id --> [*]`` in their own block, so a final state inside a compound state
    points at that block's end, the completion that raises ``done.state.<parent>``.
    A history state reads ``(H) name`` (shallow) or ``(H*) name`` (deep), with the
    dashed ``history`` class. Edges read ``trigger (kind) [guard] [guard2] /
    action``: an eventless transition's trigger is ``always``, ``(external)`` or
    ``(internal)`` is written only for a transition that asks for that kind (the
    default kind has no mark), raised events read ``raise EVENT``; delayed
    transitions read ``after 5s``; a state ``timeout`` is an edge ``timeout 5s``
    to its destination. Blocks are indented four spaces per level, up to 32
    levels (deeper ones keep that indentation, so the text grows linearly with
    the machine). An edge is written inside a block only when both ends
    are declared in that very block (or region); every other edge is written at
    the top level, because Mermaid moves a state into the last composite block
    that mentions it, while top-level mentions move nothing.

Escaping
    Labels go through Mermaid's entity codes (``#quot;``, ``#35;``, ``#lt;`` ...):
    Mermaid decodes them after parsing and then renders the label as sanitized
    HTML, so ``:``, ``;``, ``#``, quotes, braces and ``<script>`` neither break the
    parse nor become markup. Newlines become spaces.

Active configuration and the last transition
    Active simple states get ``class id active`` (``classDef active``). For active
    composite states the text adds ``class id activeComposite``: Mermaid 12
    applies it to the cluster group; older Mermaid versions ignore classDef on
    composites, so ``active_composite_ids`` gives their ids and the page can style
    ``g.statediagram-cluster[data-id="<id>"]`` with CSS instead.
    ``stateDiagram-v2`` parses ``linkStyle`` but ignores it, so the last-taken
    transition cannot be coloured from the text. Mermaid numbers edges in the
    order the text writes them (``[*]`` arrows included) and tags each edge path
    and label with ``data-id="edge<N>"``; ``MermaidDiagram.edge_ids`` maps each
    graph edge to that id so the page can style ``[data-id="edge<N>"]``. A
    ``%% pystator:highlight edge<N>`` comment records it in the text as well.
    With ``marks_in_text=False`` none of these marks is written: the text then
    depends only on the chart's structure, so a page that marks the states itself
    (from ``MermaidDiagram.active_states`` and ``active_composites``) keeps one
    layout across every step that changes only what is active (the simulator).

Known Mermaid limit worked around (mermaid-js/mermaid#4052)
    Mermaid versions before 12 crash (``Cannot set properties of undefined
    (setting 'rank')``) when a transition starts or ends on a composite state
    nested inside a parallel region. With ``redirect_parallel_compounds=True``
    (the default) such an endpoint is redirected to the composite's initial leaf
    (the state the machine actually enters), both as a target and as a source,
    and the edge is written at the top level (see above); edges elsewhere and
    the ``[*]`` initial arrows keep their composite endpoints. The label is unchanged, and
    the edge index mapping still points at the same graph edge.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Literal, Protocol

from pystator import invoked
from pystator.chart import Chart, RegionNode
from pystator.durations import format_duration
from pystator.model import ActionSpec, MachineSpec, State, Transition


class _HasSpec(Protocol):
    """A ``StateMachine`` (or anything else) that carries its ``MachineSpec``."""

    @property
    def spec(self) -> MachineSpec: ...


__all__ = [
    "DiagramEdge",
    "DiagramGraph",
    "DiagramNode",
    "DiagramView",
    "Fold",
    "MermaidDiagram",
    "NodeKind",
    "RegionLabel",
    "active_composite_ids",
    "build_graph",
    "collapse",
    "escape_label",
    "mermaid_ids",
    "render_mermaid",
    "render_mermaid_diagram",
    "to_mermaid",
]

NodeKind = Literal[
    "simple", "compound", "parallel", "terminal", "final", "history", "deep-history",
    "initial-marker", "collapsed",
]  # fmt: skip
Direction = Literal["LR", "TB", "BT", "RL"]
_DIRECTIONS: tuple[Direction, ...] = ("LR", "TB", "BT", "RL")
_KINDS = (
    "simple", "compound", "parallel", "terminal", "final", "history", "deep-history",
    "initial-marker", "collapsed",
)  # fmt: skip
_ENDS = ("terminal", "final")  # drawn with an arrow to [*] in their own block
_HISTORY_MARKS = {"history": "(H)", "deep-history": "(H*)"}

ACTIVE_STYLE = "fill:#ffd8a8,stroke:#e8590c,stroke-width:2px"
ACTIVE_COMPOSITE_STYLE = "stroke:#e8590c,stroke-width:3px"
HISTORY_STYLE = "fill:#f8f9fa,stroke:#495057,stroke-dasharray:4 3"
COLLAPSED_STYLE = "stroke-width:3px,stroke-dasharray:9 3"
DEFAULT_DIRECTION: Direction = "TB"
"""Top to bottom: on every example, and on a 30-state ring, it draws larger in the
designer's frame than left to right (LR makes long rows); LR is one click away."""


@dataclass(frozen=True)
class DiagramNode:
    """One box of the diagram.

    ``id`` is the graph's own key (for machines, the state name); the Mermaid id
    is derived when rendering. A ``compound`` node lists its ``children``; a
    ``parallel`` node lists ``regions`` (each a tuple of child ids) and may name
    them in ``region_names``. An ``initial-marker`` node draws nothing itself:
    an edge from it renders as ``[*] --> target`` in the marker's scope. A
    ``collapsed`` node is a compound or parallel state drawn as one box, its
    ``hidden`` descendants left out (see :func:`collapse`).
    """

    id: str
    label: str
    kind: NodeKind = "simple"
    children: tuple[str, ...] = ()
    regions: tuple[tuple[str, ...], ...] = ()
    region_names: tuple[str, ...] = ()
    note: str = ""
    hidden: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown node kind {self.kind!r}: use one of {', '.join(_KINDS)}")
        object.__setattr__(self, "children", tuple(self.children))
        object.__setattr__(self, "regions", tuple(tuple(r) for r in self.regions))
        object.__setattr__(self, "region_names", tuple(self.region_names))

    @property
    def members(self) -> tuple[str, ...]:
        """Every child id: the children, or the regions' members in order."""
        if self.kind == "parallel":
            return tuple(c for region in self.regions for c in region)
        return self.children


@dataclass(frozen=True)
class DiagramEdge:
    """An arrow; ``key`` names what it came from (``"transitions[3]"``, ``"states[1].timeout"``).

    ``origin`` is the state the edge leaves in the machine when :func:`collapse` moved
    its drawn ``source`` onto a collapsed ancestor (empty otherwise): the simulator
    still asks "is this edge's own source active", not the box it is drawn from.
    """

    source: str
    target: str
    label: str = ""
    key: str = ""
    origin: str = ""

    @property
    def state(self) -> str:
        """The state this edge leaves in the machine (``origin``, else ``source``)."""
        return self.origin or self.source


@dataclass(frozen=True)
class DiagramGraph:
    """Nodes, edges and what to highlight; ``roots`` are the top-level node ids in order."""

    nodes: tuple[DiagramNode, ...]
    edges: tuple[DiagramEdge, ...] = ()
    roots: tuple[str, ...] | None = None
    active: frozenset[str] = frozenset()
    highlighted_edges: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "edges", tuple(self.edges))
        object.__setattr__(self, "active", frozenset(self.active))
        object.__setattr__(self, "highlighted_edges", frozenset(self.highlighted_edges))
        by_id: dict[str, DiagramNode] = {}
        for node in self.nodes:
            if node.id in by_id:
                raise ValueError(f"diagram node {node.id!r} is defined twice")
            by_id[node.id] = node
        object.__setattr__(self, "_by_id", by_id)
        owned: set[str] = set()
        for node in self.nodes:
            for child in node.members:
                if child not in by_id:
                    raise ValueError(f"diagram node {node.id!r} lists unknown child {child!r}")
                if child in owned:
                    raise ValueError(f"diagram node {child!r} has two parents")
                owned.add(child)
        if self.roots is None:
            object.__setattr__(self, "roots", tuple(n.id for n in self.nodes if n.id not in owned))
        for i, edge in enumerate(self.edges):
            for end in (edge.source, edge.target):
                if end not in by_id:
                    raise ValueError(f"diagram edge {i} uses unknown node {end!r}")
            if by_id[edge.target].kind == "initial-marker":
                raise ValueError(f"diagram edge {i} points at an initial marker")

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.__dict__["_by_id"]

    def node(self, node_id: str) -> DiagramNode:
        by_id: dict[str, DiagramNode] = self.__dict__["_by_id"]
        return by_id[node_id]

    def parent_map(self) -> dict[str, tuple[str | None, int | None]]:
        """node id -> (container id or None for top level, region index or None)."""
        out: dict[str, tuple[str | None, int | None]] = {}
        for root in self.roots or ():
            out[root] = (None, None)
        for node in self.nodes:
            if node.kind == "parallel":
                for r, region in enumerate(node.regions):
                    for child in region:
                        out[child] = (node.id, r)
            else:
                for child in node.children:
                    out[child] = (node.id, None)
        return out


@dataclass(frozen=True)
class RegionLabel:
    """A named region of a parallel state, as a page finds it in the drawn SVG.

    Mermaid draws each region as an unnamed box (its ``--`` separator takes no
    label), so a page names a box after the region whose states it holds:
    ``members`` are the Mermaid ids of the states directly in the region.
    """

    parallel: str
    name: str
    members: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {"parallel": self.parallel, "name": self.name, "states": list(self.members)}


@dataclass(frozen=True)
class Fold:
    """A compound or parallel state the page can collapse (``collapsed`` False) or expand.

    ``state`` is the graph node id (what the page sends back to collapse it), ``id`` its
    Mermaid id in the drawn SVG.
    """

    state: str
    id: str
    collapsed: bool

    def to_json(self) -> dict[str, object]:
        return {"state": self.state, "id": self.id, "collapsed": self.collapsed}


@dataclass(frozen=True)
class MermaidDiagram:
    """Rendered text plus the Mermaid ids a page needs to style the SVG.

    ``state_ids`` maps graph node id -> Mermaid id (the SVG carries it as
    ``data-id`` on composite groups and inside the node element id);
    ``edge_ids`` maps graph edge index -> ``"edge<N>"`` (the ``data-id`` of the
    rendered edge path and label); ``regions`` names the regions of parallel states.
    """

    text: str
    state_ids: Mapping[str, str] = field(default_factory=dict)
    edge_ids: Mapping[int, str] = field(default_factory=dict)
    active_composites: tuple[str, ...] = ()
    regions: tuple[RegionLabel, ...] = ()
    folds: tuple[Fold, ...] = ()
    active_states: tuple[str, ...] = ()
    """Mermaid ids of the active simple states (a page marks them when the text does not)."""

    @property
    def regions_json(self) -> str:
        """``regions`` as compact JSON, for a ``data-regions`` attribute."""
        return json.dumps([r.to_json() for r in self.regions], separators=(",", ":"))

    @property
    def folds_json(self) -> str:
        """``folds`` as compact JSON, for a ``data-folds`` attribute."""
        return json.dumps([f.to_json() for f in self.folds], separators=(",", ":"))


# --------------------------------------------------------------------------- escaping

_ENTITIES = {
    "#": "#35;",
    '"': "#quot;",
    ";": "#59;",
    ":": "#58;",
    "<": "#lt;",
    ">": "#gt;",
    "{": "#123;",
    "}": "#125;",
    "&": "#38;",
    "%": "#37;",
    "\\": "#92;",
    "`": "#96;",
}
_ENTITY_RE = re.compile("|".join(re.escape(c) for c in _ENTITIES))
_WS_RE = re.compile(r"[\s\x00-\x1f\x7f]+")

# Words the stateDiagram grammar treats specially; ids never equal one of these.
_KEYWORDS = frozenset(
    w.lower()
    for w in (
        "end",
        "state",
        "note",
        "direction",
        "class",
        "classDef",
        "click",
        "style",
        "default",
        "as",
        "left",
        "right",
        "of",
        "over",
        "linkStyle",
        "TB",
        "BT",
        "LR",
        "RL",
        "stateDiagram",
        "stateDiagram-v2",
        "hide",
        "empty",
        "description",
        "accTitle",
        "accDescr",
        "fork",
        "join",
        "choice",
        "concurrent",
        "root",
        "graph",
        "flowchart",
        "subgraph",
        "callback",
        "href",
        "call",
        "interpolate",
    )
)
_SAFE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def escape_label(text: str) -> str:
    """Text safe inside a Mermaid label: one line, special characters as entity codes."""
    one_line = _WS_RE.sub(" ", text).strip()
    return _ENTITY_RE.sub(lambda m: _ENTITIES[m.group(0)], one_line)


def _sanitize(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    word = re.sub(r"[^A-Za-z0-9]+", "_", folded).strip("_")
    return word[:40].rstrip("_")


def _is_plain(name: str) -> bool:
    return (
        bool(_SAFE_ID.match(name))
        and name.lower() not in _KEYWORDS
        and not name.startswith("s_")
        and not name.endswith(("_start", "_end"))
        and len(name) <= 60
    )


def mermaid_ids(names: Iterable[str]) -> dict[str, str]:
    """A safe, unique Mermaid id for each name, deterministic for a given order.

    Plain words keep their name; anything else becomes ``s_<sanitized>_<n>``
    where ``n`` is the name's position (bumped past any id already taken).
    """
    ordered = list(dict.fromkeys(names))
    plain = {n for n in ordered if _is_plain(n)}
    taken = set(plain)
    out: dict[str, str] = {}
    for index, name in enumerate(ordered):
        if name in plain:
            out[name] = name
            continue
        stem = _sanitize(name)
        n = index
        candidate = f"s_{stem}_{n}" if stem else f"s_{n}"
        while candidate in taken:
            n += 1
            candidate = f"s_{stem}_{n}" if stem else f"s_{n}"
        taken.add(candidate)
        out[name] = candidate
    return out


# --------------------------------------------------------------------------- rendering

Scope = tuple[str | None, int | None]
_COMPOSITE = ("compound", "parallel")
# Indentation shows nesting up to this depth; deeper blocks keep it, so the text grows
# in proportion to the machine, not to the square of its depth (Mermaid ignores it).
_MAX_INDENT = 32


def _pad(depth: int) -> str:
    return "    " * min(depth, _MAX_INDENT)


class _Renderer:
    """One rendering of one graph.

    Nested blocks are written from an explicit work list, never by recursion, and
    the per-node answers the edges need (is it inside a parallel state, which leaf
    does it start in) are remembered once found, so the cost stays proportional to
    the graph at any nesting depth.
    """

    def __init__(
        self, graph: DiagramGraph, direction: str, redirect: bool, marks: bool = True
    ) -> None:
        self.graph = graph
        self.direction = direction
        self.redirect = redirect
        self.marks = marks
        real = [n.id for n in graph.nodes if n.kind != "initial-marker"]
        self.ids = mermaid_ids(real)
        self.parents = graph.parent_map()
        self.lines: list[str] = []
        self.edge_count = 0
        self.edge_ids: dict[int, str] = {}
        self.edges_by_scope: dict[Scope, list[tuple[int, str, str]]] = {}
        self.work: list[Callable[[], None]] = []
        self._in_parallel: dict[str, bool] = {}
        self._leaf: dict[str, str] = {}
        self._starts: dict[str, str] = {}  # container -> where its initial marker points
        for edge in graph.edges:
            if graph.node(edge.source).kind == "initial-marker":
                container = self.parents.get(edge.source, (None, None))[0]
                if container is not None:
                    self._starts.setdefault(container, edge.target)

    # -- structure helpers
    def container(self, node_id: str) -> str | None:
        return self.parents.get(node_id, (None, None))[0]

    def inside_parallel(self, node_id: str) -> bool:
        """Whether any block around ``node_id`` is a parallel state."""
        memo = self._in_parallel
        path: list[str] = []
        on_path: set[str] = set()
        current = self.container(node_id)
        while current is not None and current not in memo and current not in on_path:
            path.append(current)
            on_path.add(current)
            current = self.container(current)
        if current is not None and current not in memo:
            # containers that go round (a hand-built graph): each sees the whole loop
            cut = path.index(current)
            flag = any(self.graph.node(n).kind == "parallel" for n in path[cut:])
            memo.update(dict.fromkeys(path[cut:], flag))
            del path[cut:]
        for node in reversed(path):
            up = self.container(node)
            memo[node] = up is not None and (self.graph.node(up).kind == "parallel" or memo[up])
        up = self.container(node_id)
        return up is not None and (self.graph.node(up).kind == "parallel" or memo[up])

    def initial_leaf(self, node_id: str) -> str:
        """Follow the initial markers down from ``node_id`` to the state it starts in."""
        memo = self._leaf
        path: list[str] = []
        seen: set[str] = set()
        current = node_id
        while current not in memo:
            path.append(current)
            seen.add(current)
            following = None
            if self.graph.node(current).kind in _COMPOSITE:
                following = self._starts.get(current)
            if following is None:
                memo[current] = current
                break
            if following in seen:
                return current  # markers that go round: stop where the loop closes
            current = following
        result = memo[current]
        memo.update(dict.fromkeys(path, result))
        return result

    def endpoint(self, node_id: str) -> str:
        node = self.graph.node(node_id)
        if self.redirect and node.kind in _COMPOSITE and self.inside_parallel(node_id):
            return self.initial_leaf(node_id)
        return node_id

    def edge_scope(self, source: str, target: str) -> Scope:
        """Where to write an edge: the block declaring both ends, else the top level.

        Mermaid moves a state into the last composite block that mentions it, so
        an edge written inside any block must not name a state declared elsewhere;
        mentions at the top level never move anything.
        """
        if self.graph.node(source).kind == "initial-marker":
            return self.parents.get(source, (None, None))
        here = self.parents.get(source, (None, None))
        return here if here == self.parents.get(target, (None, None)) else (None, None)

    # -- output
    def render(self) -> MermaidDiagram:
        for index, edge in enumerate(self.graph.edges):
            source, target = edge.source, edge.target
            if self.graph.node(source).kind != "initial-marker":
                source, target = self.endpoint(source), self.endpoint(target)
            scope = self.edge_scope(source, target)
            self.edges_by_scope.setdefault(scope, []).append((index, source, target))
        self.lines = ["stateDiagram-v2", f"    direction {self.direction}"]
        self.work = [partial(self.scope_body, (None, None), self.graph.roots or (), 1)]
        while self.work:
            self.work.pop()()
        self.styles()
        return MermaidDiagram(
            text="\n".join(self.lines) + "\n",
            state_ids=dict(self.ids),
            edge_ids=dict(self.edge_ids),
            active_composites=self.active_composites(),
            regions=self.region_labels(),
            folds=self.folds(),
            active_states=tuple(self.active_simple()),
        )

    def then(self, *steps: Callable[[], None]) -> None:
        """Run ``steps`` next, in this order, before anything scheduled earlier."""
        self.work.extend(reversed(steps))

    def line(self, text: str) -> Callable[[], None]:
        return partial(self.lines.append, text)

    def relation(self, pad: str, left: str, right: str, label: str = "", index: int = -1) -> None:
        text = f"{pad}{left} --> {right}"
        if label:
            text += f" : {escape_label(label)}"
        self.lines.append(text)
        if index >= 0:
            self.edge_ids[index] = f"edge{self.edge_count}"
        self.edge_count += 1

    def scope_body(self, scope: Scope, members: Sequence[str], depth: int) -> None:
        """The members' declarations, then the scope's edges and final arrows."""
        self.then(
            *(partial(self.declare, member, depth) for member in members),
            partial(self.scope_edges, scope, members, depth),
        )

    def scope_edges(self, scope: Scope, members: Sequence[str], depth: int) -> None:
        pad = _pad(depth)
        for index, source, target in self.edges_by_scope.get(scope, ()):
            edge = self.graph.edges[index]
            left = "[*]" if self.graph.node(source).kind == "initial-marker" else self.ids[source]
            self.relation(pad, left, self.ids[target], edge.label, index)
        for member in members:
            if self.graph.node(member).kind in _ENDS:
                self.relation(pad, self.ids[member], "[*]")

    def declare(self, node_id: str, depth: int) -> None:
        node = self.graph.node(node_id)
        if node.kind == "initial-marker":
            return
        pad = _pad(depth)
        label = node.label
        mark = _HISTORY_MARKS.get(node.kind)
        if mark is not None:
            label = f"{mark} {label}"
        elif node.kind == "collapsed":
            label = f"{label} ({node.hidden} inside)"
        head = f'{pad}state "{escape_label(label)}" as {self.ids[node_id]}'
        steps: list[Callable[[], None]] = []
        if node.kind == "parallel" and node.regions:
            for r, region in enumerate(node.regions):
                if r:
                    steps.append(self.line(f"{pad}    --"))
                steps.append(partial(self.scope_body, (node_id, r), region, depth + 1))
        elif node.kind in _COMPOSITE and node.children:
            steps.append(partial(self.scope_body, (node_id, None), node.children, depth + 1))
        if steps:
            self.lines.append(head + " {")
            steps.append(self.line(f"{pad}}}"))
        else:
            self.lines.append(head)
        if node.note:
            steps.append(
                self.line(f"{pad}note right of {self.ids[node_id]} : {escape_label(node.note)}")
            )
        self.then(*steps)

    def region_labels(self) -> tuple[RegionLabel, ...]:
        return tuple(
            RegionLabel(
                self.ids[node.id],
                name,
                tuple(self.ids[m] for m in members if self.graph.node(m).kind != "initial-marker"),
            )
            for node in self.graph.nodes
            if node.kind == "parallel"
            for name, members in zip(node.region_names, node.regions, strict=False)
            if name
        )

    def folds(self) -> tuple[Fold, ...]:
        return tuple(
            Fold(n.id, self.ids[n.id], n.kind == "collapsed")
            for n in self.graph.nodes
            if n.kind == "collapsed" or (n.kind in _COMPOSITE and n.members)
        )

    def active_composites(self) -> tuple[str, ...]:
        return tuple(
            self.ids[n.id]
            for n in self.graph.nodes
            if n.id in self.graph.active and n.kind in ("compound", "parallel") and n.members
        )

    def active_simple(self) -> list[str]:
        active = self.graph.active
        return [
            self.ids[n.id]
            for n in self.graph.nodes
            if n.id in active
            and n.kind != "initial-marker"
            and not (n.kind in ("compound", "parallel") and n.members)
        ]

    def styles(self) -> None:
        simple = self.active_simple() if self.marks else []
        composite = self.active_composites() if self.marks else ()
        if simple or composite:
            self.lines.append(f"    classDef active {ACTIVE_STYLE}")
            self.lines.append(f"    classDef activeComposite {ACTIVE_COMPOSITE_STYLE}")
        if simple:
            self.lines.append(f"    class {','.join(simple)} active")
        if composite:
            self.lines.append(f"    class {','.join(composite)} activeComposite")
        history = [self.ids[n.id] for n in self.graph.nodes if n.kind in _HISTORY_MARKS]
        if history:
            self.lines.append(f"    classDef history {HISTORY_STYLE}")
            self.lines.append(f"    class {','.join(history)} history")
        collapsed = [self.ids[n.id] for n in self.graph.nodes if n.kind == "collapsed"]
        if collapsed:
            self.lines.append(f"    classDef collapsed {COLLAPSED_STYLE}")
            self.lines.append(f"    class {','.join(collapsed)} collapsed")
        for index in sorted(self.graph.highlighted_edges) if self.marks else ():
            if index in self.edge_ids:
                self.lines.append(f"    %% pystator:highlight {self.edge_ids[index]}")


def render_mermaid_diagram(
    graph: DiagramGraph,
    direction: str = "LR",
    *,
    redirect_parallel_compounds: bool = True,
    marks_in_text: bool = True,
) -> MermaidDiagram:
    """Render ``graph`` and return the text with the ids a page needs for styling.

    ``marks_in_text=False`` leaves the active states and the highlighted edges out of
    the text (the ids are still returned), so the text is the same for every
    configuration of one chart: see "Active configuration" above.
    """
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(_DIRECTIONS)}, not {direction!r}")
    return _Renderer(graph, direction, redirect_parallel_compounds, marks_in_text).render()


def render_mermaid(
    graph: DiagramGraph,
    direction: str = "LR",
    *,
    redirect_parallel_compounds: bool = True,
) -> str:
    """Mermaid ``stateDiagram-v2`` text for a diagram graph (see the module docstring)."""
    return render_mermaid_diagram(
        graph, direction, redirect_parallel_compounds=redirect_parallel_compounds
    ).text


def active_composite_ids(graph: DiagramGraph) -> tuple[str, ...]:
    """Mermaid ids of the active compound/parallel states, for CSS on their cluster groups."""
    return _Renderer(graph, "TB", True).active_composites()


# --------------------------------------------------------------------------- views

MAX_COLLAPSED = 1000
"""At most this many collapsed names are read from a page's view; the rest are ignored."""


@dataclass(frozen=True)
class DiagramView:
    """How one reader wants a diagram drawn: the direction and which states are collapsed.

    A view is the reader's choice, not part of the machine: the designer keeps it in the
    browser and sends it with each request. Unknown directions fall back to
    :data:`DEFAULT_DIRECTION`, and names the graph does not hold are ignored, so a view kept
    from an older text never breaks drawing the new one.
    """

    direction: Direction = DEFAULT_DIRECTION
    collapsed: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, direction: str, collapsed: Iterable[object]) -> DiagramView:
        """A view from loosely typed input (form fields): anything unusable is dropped."""
        names: list[str] = []
        for name in collapsed:
            if len(names) >= MAX_COLLAPSED:
                break
            if isinstance(name, str):
                names.append(name)
        chosen: Direction = next((d for d in _DIRECTIONS if d == direction), DEFAULT_DIRECTION)
        return cls(chosen, frozenset(names))

    def draw(
        self, graph: DiagramGraph, *, marks_in_text: bool = True
    ) -> tuple[DiagramGraph, MermaidDiagram]:
        """The graph as this view shows it (collapsed), and its Mermaid rendering."""
        shown = collapse(graph, self.collapsed)
        return shown, render_mermaid_diagram(shown, self.direction, marks_in_text=marks_in_text)


def collapse(graph: DiagramGraph, states: Iterable[str]) -> DiagramGraph:
    """``graph`` with each named compound or parallel state drawn as one box.

    Its descendants are left out; every edge that starts or ends on one of them is drawn
    from or to the collapsed box instead (the outermost one when collapsed boxes nest),
    an edge that now starts and ends on the same box only because of that is dropped,
    and so are the hidden scopes' start arrows. Edge keys are kept, so a page still
    finds a transition's edges; ``origin`` keeps the state an edge really leaves. Names
    that are not composite nodes of ``graph`` are ignored.
    """
    wanted = {s for s in states if s in graph and graph.node(s).kind in _COMPOSITE}
    wanted = {s for s in wanted if graph.node(s).members}
    if not wanted:
        return graph
    owner = _hidden_owners(graph, wanted)
    hidden: dict[str, int] = {}
    for child, top in owner.items():
        if graph.node(child).kind != "initial-marker":
            hidden[top] = hidden.get(top, 0) + 1
    nodes = tuple(
        DiagramNode(n.id, n.label, "collapsed", note=n.note, hidden=hidden.get(n.id, 0))
        if n.id in wanted
        else n
        for n in graph.nodes
        if n.id not in owner
    )
    edges: list[DiagramEdge] = []
    marked: set[int] = set()
    for index, edge in enumerate(graph.edges):
        moved = _moved_edge(graph, edge, owner)
        if moved is None:
            continue
        if index in graph.highlighted_edges:
            marked.add(len(edges))
        edges.append(moved)
    return DiagramGraph(
        nodes=nodes,
        edges=tuple(edges),
        roots=graph.roots,
        active=graph.active,
        highlighted_edges=frozenset(marked),
    )


def _hidden_owners(graph: DiagramGraph, wanted: set[str]) -> dict[str, str]:
    """Every node inside a collapsed state -> the outermost collapsed state around it."""
    owner: dict[str, str] = {}
    parents = graph.parent_map()
    for top in (n.id for n in graph.nodes if n.id in wanted):  # a fixed order
        up = parents.get(top, (None, None))[0]
        seen = {top}
        while up is not None and up not in seen:
            if up in wanted:
                top = up
            seen.add(up)
            up = parents.get(up, (None, None))[0]
        work = list(graph.node(top).members)
        while work:
            child = work.pop()
            if child in owner or child == top:
                continue
            owner[child] = top
            work.extend(graph.node(child).members)
    return owner


def _moved_edge(
    graph: DiagramGraph, edge: DiagramEdge, owner: Mapping[str, str]
) -> DiagramEdge | None:
    """``edge`` re-pointed at collapsed boxes, or None when collapsing swallows it."""
    if edge.source in owner and graph.node(edge.source).kind == "initial-marker":
        return None
    source = owner.get(edge.source, edge.source)
    target = owner.get(edge.target, edge.target)
    if source == edge.source and target == edge.target:
        return edge
    if source == target:
        return None
    origin = edge.state if source != edge.source else edge.origin
    return replace(edge, source=source, target=target, origin=origin)


# --------------------------------------------------------------------------- spec -> graph

_MARKER = "[*]"


def _marker_id(scope: str, taken: set[str]) -> str:
    candidate = f"{_MARKER}{scope}"
    while candidate in taken:
        candidate += "'"
    taken.add(candidate)
    return candidate


def _edge_label(t: Transition, *, show_guards: bool, show_actions: bool) -> str:
    parts: list[str] = []
    if t.eventless:
        parts.append(EVENTLESS_LABEL)
    elif t.after is not None:
        delay = f"after {format_duration(t.after)}"
        parts.append(delay if _is_synthetic(t.trigger) else f"{t.trigger} {delay}")
    elif t.trigger:
        parts.append(t.trigger)
    if t.kind is not None:
        parts.append(f"({t.kind})")
    if show_guards and t.guards:
        parts.append(" ".join(f"[{g.label}]" for g in t.guards))
    if show_actions and t.actions:
        parts.append("/ " + ", ".join(_action_text(a) for a in t.actions))
    return " ".join(parts)


EVENTLESS_LABEL = "always"
"""What an eventless transition's edge reads (``always: true`` in the definition)."""


def _action_text(action: ActionSpec) -> str:
    """An action as an edge shows it: raised events say so, datamodel content reads as code."""
    return f"raise {action.name}" if action.kind == "raise" else str(action)


def _is_synthetic(trigger: str) -> bool:
    """Triggers the loader makes up for ``after``-only transitions read as noise."""
    return not trigger or trigger.startswith(("after:", "timeout:", "_"))


def _spec_of(spec_or_machine: MachineSpec | _HasSpec) -> MachineSpec:
    if isinstance(spec_or_machine, MachineSpec):
        return spec_or_machine
    spec = getattr(spec_or_machine, "spec", None)
    if isinstance(spec, MachineSpec):
        return spec
    raise TypeError(
        f"expected a MachineSpec or a StateMachine, not {type(spec_or_machine).__name__}"
    )


def build_graph(
    spec_or_machine: MachineSpec | _HasSpec,
    *,
    show_guards: bool = True,
    show_actions: bool = False,
    show_notes: bool = False,
    active: frozenset[str] | None = None,
    highlight_transition: int | None = None,
) -> DiagramGraph:
    """The diagram graph of a machine, drawn from its chart (``spec.chart``).

    ``active`` is a configuration (state names, ancestors included, as
    ``StateMachine.process_configuration`` returns it); unknown names are
    ignored. ``highlight_transition`` is an index into ``spec.transitions``:
    every edge drawn for it is marked as the last transition taken.
    """
    spec = _spec_of(spec_or_machine)
    chart = spec.chart
    taken = set(chart.states)
    nodes: list[DiagramNode] = []
    edges: list[DiagramEdge] = []

    def scope_marker(scope_name: str, target: str | None, members: list[str]) -> None:
        if target is None:
            return
        marker = _marker_id(scope_name, taken)
        nodes.append(DiagramNode(marker, "", "initial-marker"))
        members.insert(0, marker)
        edges.append(DiagramEdge(marker, target, "", f"initial:{scope_name}"))

    for name, state in chart.states.items():
        note = invoked.invokes_note(state, state.description if show_notes else "")
        if state.is_parallel and chart.kids(name):
            regions: list[tuple[str, ...]] = []
            drawn = _regions(chart, name)
            for region_name, members, initial in drawn:
                scope_marker(f"{name}/{region_name}", initial, members)
                regions.append(tuple(members))
            nodes.append(
                DiagramNode(
                    name,
                    name,
                    "parallel",
                    regions=tuple(regions),
                    region_names=tuple(region_name for region_name, _, _ in drawn),
                    note=note,
                )
            )
        elif chart.kids(name):
            children = list(chart.state_children(name))
            scope_marker(name, chart.initial_child(name), children)
            nodes.append(DiagramNode(name, name, "compound", children=tuple(children), note=note))
        else:
            nodes.append(DiagramNode(name, name, _leaf_kind(state), note=note))

    roots = list(chart.roots)
    scope_marker("", chart.initial_state, roots)

    index = chart.index
    highlighted = _transition_edges(
        spec,
        edges,
        show_guards=show_guards,
        show_actions=show_actions,
        highlight=highlight_transition,
    )
    edges.extend(_timeout_edges(spec))

    return DiagramGraph(
        nodes=tuple(nodes),
        edges=tuple(edges),
        roots=tuple(roots),
        active=frozenset(a for a in (active or ()) if a in index),
        highlighted_edges=frozenset(highlighted),
    )


def _transition_edges(
    spec: MachineSpec,
    edges: list[DiagramEdge],
    *,
    show_guards: bool,
    show_actions: bool,
    highlight: int | None,
) -> set[int]:
    """Append an edge per (source, transition); the positions of ``highlight``'s edges.

    A name the chart does not know (a hand-built spec can hold one) gets no edge, so
    the picture never points at a node that is not drawn.
    """
    index = spec.chart.index
    highlighted: set[int] = set()
    for j, t in enumerate(spec.transitions):
        if t.dest not in index:
            continue
        label = _edge_label(t, show_guards=show_guards, show_actions=show_actions)
        for source in sorted((s for s in t.source if s in index), key=index.__getitem__):
            if j == highlight:
                highlighted.add(len(edges))
            edges.append(DiagramEdge(source, t.dest, label, f"transitions[{j}]"))
    return highlighted


def _timeout_edges(spec: MachineSpec) -> Iterator[DiagramEdge]:
    """One edge per timeout, from the first state of a repeated name only."""
    index = spec.chart.index
    for i, state in enumerate(spec.states):
        timeout = state.timeout
        if timeout is not None and index[state.name] == i and timeout.destination in index:
            label = f"timeout {format_duration(timeout.ms)}"
            yield DiagramEdge(state.name, timeout.destination, label, f"states[{i}].timeout")


def _leaf_kind(state: State) -> NodeKind:
    if state.is_history:
        return "deep-history" if state.is_deep_history else "history"
    if state.is_terminal:
        return "terminal"
    return "final" if state.is_final else "simple"


def _regions(chart: Chart, parallel: str) -> list[tuple[str, list[str], str | None]]:
    """(name, member states, initial state) per region, in the order they are written.

    A child of the parallel state listed in none of its regions (a hand-built spec
    can do that) joins the first region, so it is never lost from the picture.
    """
    out: list[tuple[str, list[str], str | None]] = []
    stray: list[str] = []
    for node in chart.kids(parallel):
        if isinstance(node, RegionNode):
            members = [m for m in chart.kids(node) if isinstance(m, str)]
            out.append((node.name, members, chart.region_initial(node)))
        else:
            stray.append(node)
    if stray:
        if out:
            out[0][1].extend(stray)
        else:
            out.append(("", stray, None))
    return out


def to_mermaid(
    machine_or_spec: MachineSpec | _HasSpec,
    *,
    direction: str = "TB",
    show_guards: bool = True,
    show_actions: bool = False,
    show_notes: bool = False,
    active: frozenset[str] | None = None,
    highlight_transition: int | None = None,
) -> str:
    """Mermaid text for a machine in one call (``build_graph`` then ``render_mermaid``)."""
    graph = build_graph(
        machine_or_spec,
        show_guards=show_guards,
        show_actions=show_actions,
        show_notes=show_notes,
        active=active,
        highlight_transition=highlight_transition,
    )
    return render_mermaid(graph, direction)
