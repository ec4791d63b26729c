"""pystator.verify.explore: the reachable graph of snapshots, through machine.step only."""

from __future__ import annotations

from pathlib import Path

import pytest

from pystator import StateMachine
from pystator.selection import GuardDecision
from pystator.verify import explore
from tests.invoke_machines import session_machine

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.yaml"))

RACE = """
states:
  - {name: idle, type: initial}
  - name: both
    type: parallel
    regions:
      - {name: a, initial: a0, states: [a0, a1, a2]}
      - {name: b, initial: b0, states: [b0, b1, b_missed]}
transitions:
  - {trigger: start, source: idle, dest: both}
  - {trigger: poke, source: a0, dest: a1}
  - {trigger: tick, source: a1, dest: a2, after: 1s}
  # b's timer, armed on entering both, finds a1 active only if poke came late
  - {trigger: check, source: b0, dest: b1, after: 1500ms, guards: [{expr: "In('a1')"}]}
  - {trigger: check, source: b0, dest: b_missed, after: 1500ms}
"""


def configurations(machine: StateMachine, **options: object) -> set[frozenset[str]]:
    return {n.configuration for n in explore(machine, **options).nodes}  # type: ignore[arg-type]


def test_waiting_lets_an_event_come_between_timers() -> None:
    machine = StateMachine.from_yaml(RACE)
    b1 = [c for c in configurations(machine) if "b1" in c]
    assert b1, "poke just before b's timer is due keeps a1 active when it fires"
    assert not [c for c in configurations(machine, waits=False) if "b1" in c]
    exploration = explore(machine)
    node = next(n for n in exploration.nodes if "b1" in n.configuration)
    moves = [e.move for e in exploration.path(node.id)]
    assert [m.kind for m in moves] == ["event", "wait", "event", "timer"]
    assert moves[1].wait_ms == 1499 and moves[1].describe() == "wait 1499ms"


def test_a_machine_that_cycles_through_timers_has_finitely_many_nodes() -> None:
    path = next(p for p in EXAMPLES if p.stem == "traffic_light")
    exploration = explore(StateMachine.from_yaml(path), max_steps=200)
    assert exploration.complete
    assert len(exploration.nodes) < 20
    # the clock keeps going round, but a node is the same however late it is reached
    assert max(n.now for n in exploration.nodes) < 60_000


def test_every_way_a_step_can_go_is_a_move() -> None:
    text = """
states:
  - {name: a, type: initial}
  - {name: big}
  - {name: small}
  - {name: vip}
  - {name: other}
transitions:
  - {trigger: order, source: a, dest: vip, guards: [member, {expr: "total > 100"}]}
  - {trigger: order, source: a, dest: big, guards: [{expr: "total > 100"}]}
  - {trigger: order, source: a, dest: small, guards: [{expr: "total > 0 and total <= 100"}]}
  - {trigger: order, source: a, dest: other}
"""
    machine = StateMachine.from_yaml(text)
    exploration = explore(machine)
    first = exploration.nodes[0]
    where = {
        machine.state_string(exploration.nodes[e.target].configuration): e.move for e in first.edges
    }
    assert set(where) == {"vip", "big", "small", "other"}
    assert dict(where["vip"].guards) == {"member": True} and where["vip"].context["total"] > 100
    assert where["big"].context["total"] > 100 and dict(where["big"].guards) == {"member": False}
    assert 0 < where["small"].context["total"] <= 100
    assert not (0 < where["other"].context.get("total", 0) <= 100)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_edge_is_the_engines_step(path: Path) -> None:
    machine = StateMachine.from_yaml(path)
    exploration = explore(machine, max_steps=8)
    for node in exploration.nodes:
        for edge in node.edges:
            move = edge.move
            if move.kind == "wait":
                assert exploration.nodes[edge.target].configuration == node.configuration
                continue
            named = dict(move.guards)

            def resolve(_t: object, guard: object, _c: object, named: dict[str, bool] = named):
                name = getattr(guard, "name", None)
                return None if name is None else GuardDecision(named.get(name, False), "test")

            event = node.snapshot.next_timer if move.kind == "timer" else move.event
            assert event is not None
            at = node.snapshot.next_timer.due_ms if move.kind == "timer" else node.now  # type: ignore[union-attr]
            step = machine.step(node.snapshot, event, move.context, now=at, guard_resolver=resolve)
            assert step.snapshot.configuration == exploration.nodes[edge.target].configuration
            assert [t.edge for t in step.transitions] == [t.edge for t in edge.step.transitions]


def test_history_tells_nodes_apart() -> None:
    text = """
states:
  - {name: work, type: initial, initial_child: one}
  - {name: one, parent: work}
  - {name: two, parent: work}
  - {name: h, parent: work, type: history}
  - {name: away}
transitions:
  - {trigger: next, source: one, dest: two}
  - {trigger: leave, source: work, dest: away}
  - {trigger: back, source: away, dest: h}
"""
    exploration = explore(StateMachine.from_yaml(text))
    away = [n for n in exploration.nodes if n.configuration == {"away"}]
    assert len(away) == 2  # away remembering one, and away remembering two
    assert {frozenset(n.snapshot.history.get("h", ())) for n in away} == {
        frozenset({"one"}),
        frozenset({"two"}),
    }


def test_bounds() -> None:
    text = "states:\n" + "".join(f"  - {{name: s{i}}}\n" for i in range(6))
    text += "transitions:\n" + "".join(
        f"  - {{trigger: next, source: s{i}, dest: s{i + 1}}}\n" for i in range(5)
    )
    machine = StateMachine.from_yaml(text)
    assert explore(machine).complete
    cut = explore(machine, max_steps=2)
    assert not cut.complete and len(cut.nodes) == 3 and max(n.depth for n in cut.nodes) == 2
    assert not cut.nodes[2].expanded
    small = explore(machine, max_states=4)
    assert not small.complete and len(small.nodes) == 4
    with pytest.raises(ValueError, match="max_steps must be >= 0"):
        explore(machine, max_steps=-1)


def test_in_reads_the_configuration_when_contexts_are_solved() -> None:
    # busy is never active in idle, so only n > 5 can make the guard true
    text = """
states:
  - {name: idle, type: initial}
  - {name: busy}
  - {name: done}
transitions:
  - {trigger: go, source: idle, dest: done, guards: [{expr: "In('busy') or n > 5"}]}
  - {trigger: work, source: idle, dest: busy}
"""
    exploration = explore(StateMachine.from_yaml(text))
    (edge,) = [e for e in exploration.nodes[0].edges if e.move.event == "go"]
    assert edge.move.context["n"] > 5


RETRIES = """
meta: {machine_name: retries}
data: {tries: 0}
states:
  - {name: idle, type: initial}
  - name: calling
    on_enter:
      - {assign: tries, expr: "tries + 1"}
      - {send: call_timed_out, delay: 2s, id: deadline}
    on_exit:
      - {cancel: deadline}
  - {name: gave_up, type: terminal}
  - {name: done, type: terminal}
transitions:
  - {trigger: call, source: idle, dest: calling}
  - {trigger: call_timed_out, source: calling, dest: gave_up, guards: [{expr: "tries >= 3"}]}
  - {trigger: call_timed_out, source: calling, dest: calling, kind: external}
  - {trigger: answered, source: calling, dest: done}
"""


def test_the_machines_own_variables_are_read_not_chosen() -> None:
    machine = StateMachine.from_yaml(RETRIES)
    exploration = explore(machine)
    assert exploration.complete
    calling = [n for n in exploration.nodes if "calling" in n.configuration]
    assert sorted({n.snapshot.data["tries"] for n in calling}) == [1, 2, 3]
    assert all("tries" not in e.move.context for e in exploration.edges())
    gave_up = next(n for n in exploration.nodes if "gave_up" in n.configuration)
    moves = [e.move for e in exploration.path(gave_up.id)]
    assert [m.event for m in moves] == [
        "call",
        "call_timed_out",
        "call_timed_out",
        "call_timed_out",
    ]


COUNTER = """
data: {n: 0}
states:
  - {name: counting, type: initial}
transitions:
  - trigger: tick
    source: counting
    dest: counting
    actions: [{assign: n, expr: "n + 1"}]
"""


def test_a_time_bound_stops_an_endless_exploration_and_says_so() -> None:
    """A counter has a new snapshot after every tick: only a bound ends the walk, and
    the exploration names the one that did."""
    machine = StateMachine.from_yaml(COUNTER)
    timed = explore(machine, max_steps=10**9, max_states=10**9, max_seconds=0.05)
    assert not timed.complete and timed.cut_by == ("time",)
    assert timed.bound_text() == "0.05 s"
    assert len(timed.nodes) > 5
    # every node that counts as expanded has all its moves (the one tick) recorded
    assert all(len(n.edges) == 1 for n in timed.nodes if n.expanded)
    steps = explore(machine, max_steps=4)
    assert steps.cut_by == ("steps",) and steps.bound_text() == "4 moves"
    states = explore(machine, max_states=3)
    assert states.cut_by == ("states",) and states.bound_text() == "3 configurations"
    assert explore(StateMachine.from_yaml(RETRIES), max_seconds=5).cut_by == ()
    with pytest.raises(ValueError, match="max_seconds"):
        explore(machine, max_seconds=0)


def test_a_child_machines_timers_are_explored_and_its_state_tells_nodes_apart() -> None:
    machine = session_machine()
    exploration = explore(machine)
    active = [n for n in exploration.nodes if n.configuration == {"active"}]
    assert {n.snapshot.children["clock"].configuration for n in active} == {
        frozenset({"counting"}),
        frozenset({"ringing"}),
    }
    closed = next(n for n in exploration.nodes if n.configuration == {"closed"})
    moves = [e.move.describe() for e in exploration.path(closed.id)]
    # the child's timers take it there; done.invoke.clock is the engine's to raise
    assert moves == ["send 'enter'", "timer 'ding' fires", "timer 'dong' fires"]
