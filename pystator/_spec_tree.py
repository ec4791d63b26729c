"""The state hierarchy of a ``MachineSpec`` as lookup tables (private).

The diagram and the linter both walk the tree (children in document order, the
region of each parallel child, the initial leaf of a compound) straight from the
spec, so they work on any spec the loader produced or a test built by hand,
without compiling a machine first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from pystator.model import MachineSpec, State

__all__ = ["SpecTree"]


@dataclass(frozen=True)
class SpecTree:
    """Parent/children/region tables for the states of one spec."""

    spec: MachineSpec
    states: dict[str, State] = field(init=False)
    order: dict[str, int] = field(init=False)
    children: dict[str | None, tuple[str, ...]] = field(init=False)

    def __post_init__(self) -> None:
        states = {s.name: s for s in self.spec.states}
        order = {s.name: i for i, s in enumerate(self.spec.states)}
        kids: dict[str | None, list[str]] = {None: []}
        for s in self.spec.states:
            parent = s.parent if s.parent in states else None
            kids.setdefault(parent, []).append(s.name)
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "children", {k: tuple(v) for k, v in kids.items()})

    @property
    def roots(self) -> tuple[str, ...]:
        return self.children.get(None, ())

    def kids(self, name: str) -> tuple[str, ...]:
        return self.children.get(name, ())

    def parent(self, name: str) -> str | None:
        state = self.states.get(name)
        if state is None or state.parent not in self.states:
            return None
        return state.parent

    def ancestors(self, name: str) -> Iterator[str]:
        """Innermost first, excluding ``name``; stops on a cycle."""
        seen = {name}
        parent = self.parent(name)
        while parent is not None and parent not in seen:
            yield parent
            seen.add(parent)
            parent = self.parent(parent)

    def is_compound(self, name: str) -> bool:
        state = self.states.get(name)
        return state is not None and not state.is_parallel and bool(self.kids(name))

    def is_parallel(self, name: str) -> bool:
        state = self.states.get(name)
        return state is not None and state.is_parallel

    def regions(self, name: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``(region name, member states in document order)`` for a parallel state.

        A child listed in no region (a hand-built spec can do that) joins the
        first region so it is never lost from the picture.
        """
        state = self.states.get(name)
        if state is None or not state.is_parallel:
            return ()
        kids = self.kids(name)
        claimed: set[str] = set()
        out: list[tuple[str, list[str]]] = []
        for region in state.regions:
            members = [k for k in kids if region.contains(k)]
            for extra in (region.initial, *region.states):
                if extra not in members and extra in kids:
                    members.append(extra)
            claimed.update(members)
            out.append((region.name, members))
        stray = [k for k in kids if k not in claimed]
        if stray:
            if out:
                out[0][1].extend(stray)
            else:
                out.append(("", stray))
        return tuple((n, tuple(m)) for n, m in out)

    def region_initials(self, name: str) -> tuple[str | None, ...]:
        state = self.states.get(name)
        if state is None:
            return ()
        return tuple(r.initial if r.initial in self.states else None for r in state.regions)

    def initial_child(self, name: str) -> str | None:
        state = self.states.get(name)
        if state is None:
            return None
        if state.initial_child in self.states:
            return state.initial_child
        kids = self.kids(name)
        return kids[0] if kids and not state.is_parallel else None

    def root_initial(self) -> str | None:
        """The top-level state the machine starts in (type ``initial``, else the first)."""
        for name in self.roots:
            if self.states[name].is_initial:
                return name
        for state in self.spec.states:
            if state.is_initial:
                top = state.name
                for anc in self.ancestors(state.name):
                    top = anc
                return top
        return self.roots[0] if self.roots else None

    def entry_set(self, name: str) -> list[str]:
        """States entered when ``name`` is entered: itself plus its default descendants."""
        out: list[str] = []
        stack = [name]
        while stack:
            current = stack.pop()
            if current in out or current not in self.states:
                continue
            out.append(current)
            if self.is_parallel(current):
                initials = [i for i in self.region_initials(current) if i is not None]
                stack.extend(reversed(initials))
            else:
                child = self.initial_child(current)
                if child is not None:
                    stack.append(child)
        return out

    def initial_leaf(self, name: str) -> str:
        """Follow ``initial_child`` (first region for a parallel state) down to a leaf."""
        seen = {name}
        current = name
        while True:
            if self.is_parallel(current):
                nxt = next((i for i in self.region_initials(current) if i is not None), None)
            else:
                nxt = self.initial_child(current)
            if nxt is None or nxt in seen:
                return current
            seen.add(nxt)
            current = nxt
