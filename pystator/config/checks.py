"""Semantic checks: what the schema cannot see (names that must exist, one tree, ...).

Each rule is one small function over the built ``MachineSpec`` and its ``Chart``
that yields ``(path, message, code)``; ``run_checks`` gathers them all so a person
sees every problem at once. Paths index the definition as written
(``states[3].parent``); region states the definition did not declare come after the
declared ones.

The rules read the structure from ``spec.chart``, the one reading of the hierarchy
the engine, lint and the diagram share. The chart is built from any spec, damaged or
not (first declaration wins, an unknown parent makes a state top-level, a parent
cycle is broken where it was found) and records what it had to repair; the rules
report those records and ask the rest of their questions of the repaired tree. So
every rule costs time in proportion to the states and transitions, whatever the
nesting depth, and a damaged spec cannot make one of them loop or recurse.

Most definitions have no problem, and the checks run on every load (the designer
loads on every keystroke), so each rule first asks its question of the whole machine
with set operations and walks item by item, building messages, only when the answer
shows there is something to report or an item it must look at closely.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator

from pystator._text import did_you_mean
from pystator.chart import Chart
from pystator.model import MachineSpec, StateType

__all__ = ["PLACEHOLDER", "Finding", "run_checks"]

Finding = tuple[str, str, str]  # path, message, code

# A did-you-mean hint compares one unknown name with every candidate, so thousands of
# distinct unknown names in a large definition would cost their product. Hints stop
# once this many comparisons have been spent (a person fixes the first ones first).
HINT_COMPARISONS = 20_000


PLACEHOLDER = "\x00"
"""Marks a name the loader made up (a nameless state is ``"\x00<index>"``) so the rest of
a broken definition can be checked; the text reader refuses NUL, so no written name holds
one, and no finding or hint may offer such a name."""


class _Hints:
    """Did-you-mean suffixes, computed once per unknown name, within a budget."""

    def __init__(self, candidates: Iterable[str]) -> None:
        self._candidates = candidates
        self._listed: list[str] | None = None
        self._known: dict[str, str] = {}
        self._left = HINT_COMPARISONS

    def __call__(self, name: str) -> str:
        hint = self._known.get(name)
        if hint is None:
            if self._listed is None:
                self._listed = [c for c in self._candidates if PLACEHOLDER not in c]
            if self._left < len(self._listed):
                return ""
            self._left -= len(self._listed)
            hint = self._known[name] = did_you_mean(name, self._listed)
        return hint


class _Context:
    """What every rule reads: the spec, its chart, and the hint cache for state names."""

    def __init__(self, spec: MachineSpec) -> None:
        self.spec = spec
        self.chart: Chart = spec.chart
        self.states = self.chart.states
        self.hint = _Hints(self.states)

    def unknown(self, name: str, what: str) -> str:
        return f"{what} {name!r} is not a state{self.hint(name)}"


def check_declarations(ctx: _Context) -> Iterator[Finding]:
    """What the chart set aside: repeated state names, repeated or shared region entries."""
    chart, states = ctx.chart, ctx.spec.states
    for i, first in chart.duplicates:
        yield (
            f"states[{i}].name",
            f"duplicate state name {states[i].name!r} (first declared as states[{first}])",
            "duplicate-state",
        )
    # One list in the order the regions are written: a repeated region name, then
    # each of its members already listed elsewhere.
    repeated = ((chart.index[name], r, -1, None) for name, r in chart.duplicate_regions)
    shared = ((chart.index[name], r, k, other) for name, r, k, other in chart.region_overlaps)
    for i, r, k, other in heapq.merge(repeated, shared, key=lambda entry: entry[:3]):
        region = states[i].regions[r]
        if other is None:
            yield (
                f"states[{i}].regions[{r}].name",
                f"duplicate region name {region.name!r} in {states[i].name!r}",
                "duplicate-region",
            )
        else:
            yield (
                f"states[{i}].regions[{r}].states[{k}]",
                f"state {region.states[k]!r} is already in region {other[1]!r} of {other[0]!r}",
                "region-overlap",
            )


def check_references(ctx: _Context) -> Iterator[Finding]:
    """Every state name a state, transition or the error policy mentions must exist."""
    spec, known = ctx.spec, ctx.states
    if _mentioned_names(spec) <= known.keys():
        return  # every name the definition mentions is a state
    yield from _state_references(ctx)
    yield from _transition_references(ctx)
    fallback = spec.error_policy.default_fallback
    if fallback is not None and fallback not in known:
        yield (
            "error_policy.default_fallback",
            ctx.unknown(fallback, "default_fallback"),
            "unknown-state",
        )


def _mentioned_names(spec: MachineSpec) -> set[str | None]:
    """One set of every name mentioned, so a valid chart is checked in a single comparison."""
    states, transitions = spec.states, spec.transitions
    named: set[str | None] = {t.dest for t in transitions}
    named = named.union(*[t.source for t in transitions])
    named.update([s.parent for s in states], [s.initial_child for s in states])
    named.update([s.default for s in states])
    timeouts = [s.timeout for s in states]
    if timeouts.count(None) != len(timeouts):
        named.update([t.destination for t in timeouts if t is not None])
    named.add(spec.error_policy.default_fallback)
    named.discard(None)
    return named


def _state_references(ctx: _Context) -> Iterator[Finding]:
    known = ctx.states
    for i, state in enumerate(ctx.spec.states):
        base = f"states[{i}]"
        if state.parent is not None and state.parent not in known:
            yield f"{base}.parent", ctx.unknown(state.parent, "parent"), "unknown-state"
        if state.initial_child is not None and state.initial_child not in known:
            yield (
                f"{base}.initial_child",
                ctx.unknown(state.initial_child, "initial_child"),
                "unknown-state",
            )
        if state.default is not None and state.default not in known:
            yield f"{base}.default", ctx.unknown(state.default, "default"), "unknown-state"
        if state.timeout is not None and state.timeout.destination not in known:
            yield (
                f"{base}.timeout.destination",
                ctx.unknown(state.timeout.destination, "timeout destination"),
                "unknown-state",
            )


def _transition_references(ctx: _Context) -> Iterator[Finding]:
    known = ctx.states
    for j, transition in enumerate(ctx.spec.transitions):
        if transition.source <= known.keys() and transition.dest in known:
            continue
        base = f"transitions[{j}]"
        sources = transition.sources_in_order
        for k, source in enumerate(sources):
            if source not in known:
                path = f"{base}.source[{k}]" if len(sources) > 1 else f"{base}.source"
                yield path, ctx.unknown(source, "source"), "unknown-state"
        if transition.dest not in known:
            yield f"{base}.dest", ctx.unknown(transition.dest, "dest"), "unknown-state"


def check_parents(ctx: _Context) -> Iterator[Finding]:
    """No cycles; children of a parallel state must sit in one of its regions."""
    chart, states = ctx.chart, ctx.states
    for cycle in chart.cycles:
        yield (
            f"states[{chart.index[cycle[0]]}].parent",
            "parent cycle: " + " -> ".join([*cycle, cycle[0]]),
            "parent-cycle",
        )
    if not chart.of_type(StateType.PARALLEL) and not chart.region_of:
        return
    for name, state in states.items():
        declared = states.get(state.parent or "")
        if declared is None:
            continue
        where = chart.region_of.get(name)
        if declared.is_parallel and where is None and not state.is_history:
            regions = ", ".join(r.name for r in declared.regions) or "none"
            yield (
                f"states[{chart.index[name]}].parent",
                f"{name!r} is a child of parallel state "
                f"{declared.name!r} but is listed in none of its regions ({regions})",
                "not-in-region",
            )
        elif where is not None and where[0] != declared.name:
            yield (
                f"states[{chart.index[name]}].parent",
                f"{name!r} is in a region of {where[0]!r}, so its parent must be {where[0]!r}",
                "region-parent",
            )


def check_initial(ctx: _Context) -> Iterator[Finding]:
    """At most one top-level state is marked ``initial`` (the chart starts in the first)."""
    initial, states = StateType.INITIAL, ctx.states
    if len(ctx.chart.of_type(initial)) < 2:
        return  # the usual case: one state (or none) marked initial in the whole machine
    marked = [
        name
        for name in ctx.chart.roots
        if states[name].type is initial and states[name].parent is None
    ]
    for name in marked[1:]:
        yield (
            f"states[{ctx.chart.index[name]}].type",
            f"more than one top-level initial state: {name!r} and {marked[0]!r}",
            "many-initial",
        )


def check_structure(ctx: _Context) -> Iterator[Finding]:
    """Each compound state knows where it starts; parallel states have sound regions."""
    chart, parallel = ctx.chart, StateType.PARALLEL
    if not (chart.children or chart.of_type(parallel) or _any_regions_or_initial(ctx)):
        return  # a flat machine: no state has anything this rule looks at
    for name, state in ctx.states.items():
        if state.is_history:
            continue  # a pseudo-state: check_history says what it cannot have
        if not (
            name in chart.children
            or state.regions
            or state.initial_child is not None
            or state.type is parallel
        ):
            continue
        base = f"states[{chart.index[name]}]"
        if state.is_parallel:
            yield from _parallel_findings(base, name, ctx)
        else:
            yield from _compound_findings(base, name, ctx)


def _any_regions_or_initial(ctx: _Context) -> bool:
    """Whether any state has regions or an ``initial_child`` (one pass, no branches)."""
    return not all([not s.regions and s.initial_child is None for s in ctx.states.values()])


def _parallel_findings(base: str, name: str, ctx: _Context) -> Iterator[Finding]:
    state = ctx.states[name]
    if not state.regions:
        yield f"{base}.type", f"parallel state {name!r} has no regions", "no-regions"
    if state.initial_child is not None:
        yield (
            f"{base}.initial_child",
            f"parallel state {name!r} enters all its regions; it cannot have an initial_child",
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


def _compound_findings(base: str, name: str, ctx: _Context) -> Iterator[Finding]:
    state = ctx.states[name]
    history = ctx.chart.history
    kids = tuple(k for k in ctx.chart.state_children(name) if k not in history)
    if state.regions:
        yield (
            f"{base}.regions",
            f"{name!r} has regions but its type is {state.type.value!r}; use 'type: parallel'",
            "regions-not-parallel",
        )
    wanted = state.initial_child
    if wanted is not None and wanted in history:
        default = ctx.states[wanted].default
        instead = f" (its default is {default!r})" if default is not None else ""
        yield (
            f"{base}.initial_child",
            f"initial_child {wanted!r} is a history state, which is never active; "
            f"{name!r} must start in one of its states{instead}",
            "initial-child-history",
        )
    elif wanted is not None and wanted in ctx.states:
        if wanted not in kids:
            yield (
                f"{base}.initial_child",
                f"initial_child {wanted!r} is not a child of {name!r}",
                "initial-child-not-child",
            )
    elif wanted is None and kids:
        yield (
            base,
            f"compound state {name!r} needs 'initial_child' (one of {', '.join(kids)})",
            "no-initial-child",
        )
    elif wanted is None and name in ctx.chart.children:
        yield (
            base,
            f"compound state {name!r} holds only history states; give it a state to start in",
            "no-initial-child",
        )
    if state.type in _ATOMIC_TYPES and name in ctx.chart.children:
        yield (
            f"{base}.type",
            f"{state.type.value} state {name!r} cannot have children",
            f"{state.type.value}-children",
        )


_ATOMIC_TYPES = (StateType.TERMINAL, StateType.FINAL)


def check_history(ctx: _Context) -> Iterator[Finding]:
    """A history state is a pseudo-state of its parent: never active, never left.

    It sits directly in a compound or parallel state (a parallel state's history
    belongs to no region), has no states of its own and nothing that would run while
    it is active, no transition or timeout leaves it, and its ``default`` is a state
    inside its parent (SCXML's rule for the default history configuration).
    """
    chart = ctx.chart
    if not chart.history:
        return
    yield from _history_children(ctx)
    for name, state in chart.states.items():
        if not state.is_history:
            continue
        base = f"states[{chart.index[name]}]"
        yield from _history_place(ctx, base, name)
        for what, field, verb in _NEVER_ACTIVE:
            if getattr(state, field):
                yield (
                    f"{base}.{field}",
                    f"history state {name!r} is never active, so its {what} never {verb}",
                    "history-outgoing" if field == "timeout" else "history-never-active",
                )
        if state.initial_child is not None or state.regions:
            field = "initial_child" if state.initial_child is not None else "regions"
            yield (
                f"{base}.{field}",
                f"history state {name!r} has no states of its own, so it takes no {field}",
                "history-children",
            )
        yield from _history_default(ctx, base, name)
    yield from _history_outgoing(ctx)


def _history_place(ctx: _Context, base: str, name: str) -> Iterator[Finding]:
    """Directly in a compound or parallel state, and in none of a parallel's regions."""
    chart = ctx.chart
    where = chart.region_of.get(name)
    if where is not None:
        parallel, region = where
        r, listing = next(
            (r, g)
            for r, g in enumerate(ctx.states[parallel].regions)
            if g.name == region and name in g.states
        )
        yield (
            f"states[{chart.index[parallel]}].regions[{r}].states[{listing.states.index(name)}]",
            f"history state {name!r} is listed in region {region!r} of {parallel!r}: "
            f"a parallel state's history belongs to the parallel state itself "
            f"(parent: {parallel}, in no region)",
            "history-in-region",
        )
    elif ctx.states[name].parent is None:
        yield (
            f"{base}.type",
            f"history state {name!r} is at the top level: it remembers what its parent "
            "had active, so it needs a parent (a compound or parallel state)",
            "history-top-level",
        )


def _history_default(ctx: _Context, base: str, name: str) -> Iterator[Finding]:
    """The default is a state (not a history state) inside the history's parent."""
    chart = ctx.chart
    default, up = ctx.states[name].default, chart.parent[name]
    if default is None or default not in chart.states or not isinstance(up, str):
        return  # none, unknown (check_references says so), or no parent to be inside
    if default in chart.history:
        problem = "is another history state"
    elif not chart.is_inside(default, up):
        problem = f"is not inside {up!r}"
    else:
        return
    yield (
        f"{base}.default",
        f"the default of history state {name!r}, {default!r}, {problem}: it must be "
        f"a state inside {up!r}, which the history stands for",
        "history-default",
    )


_NEVER_ACTIVE = (
    ("on_enter actions", "on_enter", "run"),
    ("on_exit actions", "on_exit", "run"),
    ("invoke", "invoke", "starts"),
    ("timeout", "timeout", "fires"),
)


def _history_children(ctx: _Context) -> Iterator[Finding]:
    chart = ctx.chart
    for name in chart.states:
        if name not in chart.history:
            continue
        for child in chart.kids(name):
            if isinstance(child, str):
                yield (
                    f"states[{chart.index[child]}].parent",
                    f"{child!r} names history state {name!r} as its parent, but a history "
                    "state has no states of its own",
                    "history-children",
                )


def _history_outgoing(ctx: _Context) -> Iterator[Finding]:
    history = ctx.chart.history
    for j, transition in enumerate(ctx.spec.transitions):
        if history.isdisjoint(transition.source):
            continue
        sources = transition.sources_in_order
        for k, source in enumerate(sources):
            if source in history:
                path = f"transitions[{j}].source" + (f"[{k}]" if len(sources) > 1 else "")
                yield (
                    path,
                    f"history state {source!r} is never active, so a transition from it "
                    "never fires",
                    "history-outgoing",
                )


def check_transitions(ctx: _Context) -> Iterator[Finding]:
    """A region-scoped transition names an existing region and starts inside it."""
    transitions = ctx.spec.transitions
    regions = [t.region for t in transitions]
    if regions.count(None) == len(regions):
        return  # no transition is scoped to a region
    scoped = [(j, t) for j, t in enumerate(transitions) if t.region is not None]
    region_at = ctx.chart.region_at
    names = {region for _, region in ctx.chart.region_of.values()}
    hint = _Hints(sorted(names))
    for j, transition in scoped:
        region = transition.region
        base = f"transitions[{j}]"
        if region not in names:
            yield (
                f"{base}.region",
                f"region {region!r} does not exist{hint(str(region))}",
                "unknown-region",
            )
            continue
        for source in transition.sources_in_order:
            where = region_at.get(source)
            if source in ctx.states and (where is None or where[1] != region):
                yield (
                    f"{base}.region",
                    f"source {source!r} is not inside region {region!r}",
                    "source-outside-region",
                )


RULES: tuple[Callable[[_Context], Iterator[Finding]], ...] = (
    check_declarations,
    check_references,
    check_parents,
    check_initial,
    check_structure,
    check_history,
    check_transitions,
)


def run_checks(spec: MachineSpec) -> list[Finding]:
    """Every problem the rules find in ``spec``, in rule order."""
    ctx = _Context(spec)
    return [finding for rule in RULES for finding in rule(ctx)]
