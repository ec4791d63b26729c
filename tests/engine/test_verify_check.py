"""pystator.verify.check: planted bugs are found, each with a counterexample as short as
brute force finds, as a share link that opens at the violating step and as a pytest
that fails; properties hold where they hold.

The brute force here is independent of the checker: breadth first over
``machine.step`` with every event, a fixed grid of contexts and every combination
of named-guard outcomes (no solver, no guard flipping, no caching).
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pystator import StateMachine
from pystator.config import load_spec
from pystator.errors import ConfigError
from pystator.selection import GuardDecision
from pystator.simulator import Simulation
from pystator.snapshot import Snapshot
from pystator.step import Step
from pystator.verify import Report, Violation, check
from tests.engine.test_properties import machines

# --------------------------------------------------------------------------- brute force

GRID: list[dict[str, Any]] = [{}]
_rng = random.Random(7)
_VALUES = {
    "n": [-1, 0, 1, 2, 3, 4, 6, 11],
    "m": ["a", "b", "x"],
    "items": [[], ["k"], [0, 0], ["k", 0, 0]],
    "k": [0, 1, 3],
    "force": [0, 2.5, 5, 11],
    "locked": [True, False],
}
for _ in range(40):
    GRID.append({name: _rng.choice(vals) for name, vals in _VALUES.items() if _rng.random() < 0.7})
GRID += [{"n": v} for v in _VALUES["n"]] + [{"force": v} for v in _VALUES["force"]]


def _key(snapshot: Snapshot, now: int) -> tuple[Any, ...]:
    return (
        snapshot.configuration,
        frozenset(snapshot.history.items()),
        tuple((t.state, t.transition, t.due_ms - now) for t in snapshot.timers),
    )


@dataclass
class Brute:
    """Every snapshot within ``depth`` moves, with its least depth, and every step tried."""

    machine: StateMachine
    depth: dict[tuple[Any, ...], int] = field(default_factory=dict)
    configuration: dict[tuple[Any, ...], frozenset[str]] = field(default_factory=dict)
    # (depth of the source, source key, step) for every step that did something
    steps: list[tuple[int, tuple[Any, ...], Step]] = field(default_factory=list)
    livelocks: list[int] = field(default_factory=list)
    stuck: dict[tuple[Any, ...], bool] = field(default_factory=dict)

    def least(self, keep: Callable[[frozenset[str]], bool]) -> int | None:
        found = [d for k, d in self.depth.items() if keep(self.configuration[k])]
        return min(found) if found else None


def brute_force(
    machine: StateMachine, depth: int, contexts: Iterable[Mapping[str, Any]] = GRID
) -> Brute:
    contexts = list(contexts)
    names = sorted(machine.named_guards)
    outcomes = [
        dict(zip(names, bits, strict=True))
        for bits in itertools.product([False, True], repeat=len(names))
    ]
    events = sorted(
        {
            t.trigger
            for t in machine.all_transitions
            if not (t.is_delayed or t.eventless or t.trigger.startswith("done.state."))
        }
    )

    def resolver(named: dict[str, bool]) -> Any:
        def resolve(_t: Any, guard: Any, _ctx: Any) -> GuardDecision | None:
            if guard.name is None:
                return None
            return GuardDecision(named[guard.name], "brute")

        return resolve

    out = Brute(machine)
    start = machine.start({})
    first = _key(start.snapshot, 0)
    out.depth[first] = 0
    out.configuration[first] = start.snapshot.configuration
    frontier = [(start.snapshot, 0, first)]
    for d in range(depth):  # snapshots at ``depth`` are recorded, not expanded
        nxt = []
        for snapshot, now, key in frontier:
            options: list[tuple[Any, int]] = [(e, now) for e in events]
            if snapshot.next_timer is not None:
                options.append((snapshot.next_timer, snapshot.next_timer.due_ms))
            moved = False
            for event, at in options:
                for context in contexts:
                    for named in outcomes:
                        step = machine.step(
                            snapshot, event, context, now=at, guard_resolver=resolver(named)
                        )
                        if step.refusal is not None and step.refusal.code == "livelock":
                            out.livelocks.append(d)
                            continue
                        target = _key(step.snapshot, at)
                        if not step.transitions and target == key:
                            continue
                        moved = True
                        out.steps.append((d, key, step))
                        if target not in out.depth:
                            out.depth[target] = d + 1
                            out.configuration[target] = step.snapshot.configuration
                            nxt.append((step.snapshot, at, target))
            out.stuck[key] = not moved
        frontier = nxt
    return out


def finished(machine: StateMachine, configuration: frozenset[str]) -> bool:
    chart = machine.chart
    return all(
        chart.states[s].is_terminal or chart.states[s].is_final
        for s in chart.leaves_of(configuration)
    )


def shortest_deadlock(brute: Brute) -> int | None:
    found = [
        brute.depth[k]
        for k, stuck in brute.stuck.items()
        if stuck and not finished(brute.machine, brute.configuration[k])
    ]
    return min(found) if found else None


def shortest_entering(brute: Brute, state: str) -> int | None:
    found = [d for k, d in brute.depth.items() if state in brute.configuration[k]]
    found += [d + 1 for d, _k, step in brute.steps if state in step.entered]
    return min(found) if found else None


# --------------------------------------------------------------------------- helpers


def violations(report: Report, code: str) -> list[Violation]:
    return [v for v in report.violations if v.code == code]


def run_pytest(text: str) -> dict[str, BaseException | None]:
    """Run every test function of a generated module in-process: name -> its failure."""
    namespace: dict[str, Any] = {"__name__": "generated"}
    exec(compile(text, "generated_test.py", "exec"), namespace)
    results: dict[str, BaseException | None] = {}
    for name, value in namespace.items():
        if name.startswith("test_") and callable(value):
            try:
                value()
            except AssertionError as error:
                results[name] = error
            else:
                results[name] = None
    return results


def assert_fails_only_on_property(text: str) -> str:
    """The replay test passes (the run is real), the property test fails; its message."""
    results = run_pytest(text)
    replay = [n for n in results if n.endswith("_replays_recorded_run")]
    prop = [n for n in results if n.endswith("_holds")]
    assert len(replay) == 1 and len(prop) == 1, results
    assert results[replay[0]] is None, results[replay[0]]
    assert results[prop[0]] is not None, "the property test passed"
    return str(results[prop[0]])


def final_simulation(machine: StateMachine, violation: Violation) -> Simulation:
    assert violation.run is not None
    sim = Simulation.from_json(machine, violation.run.trace_json())
    assert sim.divergence is None
    return sim


# --------------------------------------------------------------------------- planted bugs

MISSING_TRANSITION = """
meta: {machine_name: orders}
states:
  - {name: draft, type: initial}
  - {name: submitted}
  - {name: paid}
  - {name: shipped, type: terminal}
  - {name: cancelled, type: terminal}
transitions:
  - {trigger: submit, source: draft, dest: submitted}
  - {trigger: pay, source: submitted, dest: paid}
  - {trigger: cancel, source: [draft, submitted], dest: cancelled}
  # the bug: nothing ships a paid order (no "ship" transition from paid)
  - {trigger: ship, source: submitted, dest: shipped, guards: [{expr: "n > 3"}]}
"""


def test_missing_transition_is_a_deadlock_with_the_shortest_run() -> None:
    machine = StateMachine.from_yaml(MISSING_TRANSITION)
    report = check(machine)
    assert report.complete
    (dead,) = violations(report, "deadlock")
    assert dead.run is not None
    assert dead.run.states[-1] == "paid"
    assert len(dead.run) == shortest_deadlock(brute_force(machine, 6)) == 2
    assert dead.path == "states[2]" and dead.line == 6
    sim = final_simulation(machine, dead)
    assert sim.state == "paid"
    message = assert_fails_only_on_property(dead.pytest(MISSING_TRANSITION) or "")
    assert "no event moves 'paid' on" in message


NEVER_TRUE_GUARD = """
meta: {machine_name: approvals}
states:
  - {name: draft, type: initial}
  - {name: review}
  - {name: approved}
  - {name: done, type: terminal}
transitions:
  - {trigger: submit, source: draft, dest: review}
  - {trigger: reject, source: review, dest: draft}
  # the bug: "and" where "or" was meant; no amount is both
  - trigger: approve
    source: review
    dest: approved
    guards: [{expr: "amount > 100 and amount < 50"}]
  - {trigger: archive, source: approved, dest: done}
"""


def test_never_true_guard_leaves_states_unreachable_and_the_machine_unable_to_finish() -> None:
    machine = StateMachine.from_yaml(NEVER_TRUE_GUARD)
    report = check(machine)
    assert report.complete
    unreachable = violations(report, "unreachable-state")
    assert [v.path for v in unreachable] == ["states[2]", "states[3]"]
    assert all(v.run is None for v in unreachable)
    (trapped,) = violations(report, "cannot-finish")
    assert trapped.run is not None and len(trapped.run) == 0  # already at the start
    message = assert_fails_only_on_property(trapped.pytest(NEVER_TRUE_GUARD) or "")
    assert "from 'draft'" in message


DEADLOCKED_REGION = """
meta: {machine_name: handshake}
states:
  - {name: idle, type: initial}
  - name: handshake
    type: parallel
    regions:
      - {name: client, initial: c_wait, states: [c_wait, c_done]}
      - {name: server, initial: s_wait, states: [s_wait, s_done]}
  - {name: c_done, type: final}
  - {name: s_done, type: final}
  - {name: connected, type: terminal}
transitions:
  - {trigger: connect, source: idle, dest: handshake}
  # each side waits for the other to be done first: neither ever is
  - {trigger: ack, source: c_wait, dest: c_done, guards: [{expr: "In('s_done')"}]}
  - {trigger: ack, source: s_wait, dest: s_done, guards: [{expr: "In('c_done')"}]}
  - {trigger: done.state.handshake, source: handshake, dest: connected}
"""


def test_deadlocked_region_is_found_at_the_parallel_state() -> None:
    machine = StateMachine.from_yaml(DEADLOCKED_REGION)
    report = check(machine)
    (dead,) = violations(report, "deadlock")
    assert dead.run is not None
    assert dead.run.states[-1] == "handshake:client=c_wait,server=s_wait"
    assert len(dead.run) == shortest_deadlock(brute_force(machine, 5)) == 1
    # c_wait is not declared on its own: it is located where its region lists it
    assert dead.path == "states[5]" and (dead.line, dead.column) == (8, 50)
    assert_fails_only_on_property(dead.pytest(DEADLOCKED_REGION) or "")


MUTUAL_EXCLUSION = """
meta: {machine_name: airlock}
states:
  - {name: parked, type: initial}
  - name: cycling
    type: parallel
    regions:
      - {name: inner, initial: inner_closed, states: [inner_closed, inner_open]}
      - {name: outer, initial: outer_closed, states: [outer_closed, outer_open]}
transitions:
  - {trigger: power, source: parked, dest: cycling}
  - {trigger: open_inner, source: inner_closed, dest: inner_open,
     guards: [{expr: "In('outer_closed')"}]}
  - {trigger: close_inner, source: inner_open, dest: inner_closed}
  # the bug: this edge forgot its guard In('inner_closed')
  - {trigger: open_outer, source: outer_closed, dest: outer_open}
  - {trigger: close_outer, source: outer_open, dest: outer_closed}
verify:
  never: [inner_open, outer_open]
"""


def test_mutual_exclusion_broken_by_one_edge() -> None:
    machine = StateMachine.from_yaml(MUTUAL_EXCLUSION)
    report = check(machine)
    assert report.complete
    (broken,) = violations(report, "never")
    assert broken.run is not None
    together = {"inner_open", "outer_open"}
    brute = brute_force(machine, 6)
    assert len(broken.run) == brute.least(lambda c: together <= c) == 3
    assert [m.event for m in broken.run.moves] == ["power", "open_inner", "open_outer"]
    assert broken.path == "verify.never" and broken.line == 19
    message = assert_fails_only_on_property(broken.pytest(MUTUAL_EXCLUSION) or "")
    assert "inner_open" in message

    fixed = MUTUAL_EXCLUSION.replace(
        "dest: outer_open}", "dest: outer_open, guards: [{expr: \"In('inner_closed')\"}]}"
    )
    assert check(StateMachine.from_yaml(fixed)).ok


# Each target is two moves down one branch and three down the other, mirrored, so
# whichever branch an explorer follows first, a depth-first order finds one of them
# by its long way round.
TWO_WAYS = """
meta: {machine_name: two_ways}
states:
  - {name: start, type: initial}
  - {name: left}
  - {name: right}
  - {name: left_detour}
  - {name: right_detour}
  - {name: target_a}
  - {name: target_b}
transitions:
  - {trigger: go_left, source: start, dest: left}
  - {trigger: go_right, source: start, dest: right}
  - {trigger: a, source: left, dest: target_a}
  - {trigger: a, source: right, dest: right_detour}
  - {trigger: a, source: right_detour, dest: target_a}
  - {trigger: b, source: right, dest: target_b}
  - {trigger: b, source: left, dest: left_detour}
  - {trigger: b, source: left_detour, dest: target_b}
verify:
  unreachable: [target_a, target_b]
  never: [[target_a], [target_b]]
"""


def test_counterexamples_take_the_short_branch_whichever_is_explored_first() -> None:
    machine = StateMachine.from_yaml(TWO_WAYS)
    report = check(machine)
    brute = brute_force(machine, 6)
    for code in ("unreachable", "never"):
        found = {tuple(v.run.states[-1:]): v.run for v in violations(report, code) if v.run}
        assert set(found) == {("target_a",), ("target_b",)}, code
        for (target,), run in found.items():
            assert len(run) == brute.least(lambda c, t=target: t in c) == 2, run.describe()
    # both targets are dead ends: the deadlock is the nearer of them, two moves away
    (dead,) = violations(report, "deadlock")[:1]
    assert dead.run is not None and len(dead.run) == shortest_deadlock(brute) == 2


def test_the_share_link_opens_the_designer_at_the_violating_step(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from pystator.verify.cli import DESIGNER
    from ui.app import DEFAULT_ORIGIN, create_app
    from ui.share import decode_token

    assert DESIGNER == DEFAULT_ORIGIN  # the CLI prints links under the designer's address

    machine = StateMachine.from_yaml(MUTUAL_EXCLUSION)
    (broken,) = violations(check(machine), "never")
    link = broken.share_path(MUTUAL_EXCLUSION)
    assert link is not None and link.startswith("/s/")
    shared = decode_token(link[3:])
    assert shared.yaml == MUTUAL_EXCLUSION
    assert shared.trace is not None
    document = json.dumps({"v": 1, "context": {}, "trace": shared.trace})
    sim = Simulation.from_json(machine, document)
    assert sim.divergence is None
    assert {"inner_open", "outer_open"} <= sim.configuration
    app = create_app(tmp_path / "library.db")
    with TestClient(app, base_url=DEFAULT_ORIGIN) as client:
        page = client.get(link)
    assert page.status_code == 200
    assert "inner_open" in page.text and "outer_open" in page.text
    assert "open_outer" in page.text  # the last step of the run is in the step log


# --------------------------------------------------------------------------- other checks

LIVELOCK = """
meta: {machine_name: pingpong}
states:
  - {name: idle, type: initial}
  - {name: ping}
  - {name: pong}
transitions:
  - {trigger: serve, source: idle, dest: ping, guards: [{expr: "n > 2"}]}
  - {source: ping, dest: pong, always: true}
  - {source: pong, dest: ping, always: true}
"""


def test_livelock_is_the_event_that_never_settles() -> None:
    machine = StateMachine.from_yaml(LIVELOCK)
    report = check(machine)
    (loop,) = violations(report, "livelock")
    assert not violations(report, "deadlock")  # the loop is the explanation
    assert loop.run is not None and len(loop.run) == 1
    assert loop.run.moves[0].event == "serve" and loop.run.moves[0].context["n"] > 2
    assert "never settles" in loop.message
    message = assert_fails_only_on_property(loop.pytest(LIVELOCK) or "")
    assert "loop without settling" in message  # the engine's own refusal
    assert len(loop.run) == min(brute_force(machine, 2).livelocks) + 1


def test_a_machine_that_cannot_start_is_a_livelock_without_a_run() -> None:
    text = LIVELOCK.replace("{name: idle, type: initial}", "{name: idle}").replace(
        "{name: ping}", "{name: ping, type: initial}"
    )
    report = check(StateMachine.from_yaml(text))
    (loop,) = report.violations
    assert loop.code == "livelock" and loop.run is None and loop.pytest(text) is None
    assert "cannot start" in loop.message
    assert report.exploration is None and not report.complete


TRAFFIC = """
meta: {machine_name: lights}
states:
  - {name: green, type: initial}
  - {name: yellow}
  - {name: red}
transitions:
  - {trigger: next, source: green, dest: yellow}
  - {trigger: next, source: yellow, dest: red}
  - {trigger: next, source: red, dest: green, guards: [{expr: "n > 0"}]}
  - {trigger: hold, source: red, dest: red}
verify:
  always_eventually: green within 3 steps
"""


def test_always_eventually_counts_steps_and_finds_the_shortest_window() -> None:
    machine = StateMachine.from_yaml(TRAFFIC)
    (late,) = violations(check(machine), "always-eventually")
    assert late.run is not None
    # green, yellow, red, then "hold" keeps it red: four states without green in a row
    # need green -> yellow -> red -> red -> red (four steps).
    assert [m.event for m in late.run.moves] == ["next", "next", "hold", "hold"]
    assert "3 steps pass without it" in late.message
    assert_fails_only_on_property(late.pytest(TRAFFIC) or "")
    relaxed = TRAFFIC.replace("  - {trigger: hold, source: red, dest: red}\n", "")
    assert check(StateMachine.from_yaml(relaxed)).ok


def test_always_eventually_when_the_machine_stops_without_it() -> None:
    text = TRAFFIC.replace("hold, source: red, dest: red", "hold, source: yellow, dest: stuck")
    text = text.replace("  - {name: red}\n", "  - {name: red}\n  - {name: stuck}\n")
    text = text.replace("green within 3 steps", "green within 5 steps")
    machine = StateMachine.from_yaml(text)
    report = check(machine)
    (late,) = violations(report, "always-eventually")
    assert late.run is not None
    assert [m.event for m in late.run.moves] == ["next", "hold"]
    assert "the machine stops in 'stuck' without it" in late.message
    message = assert_fails_only_on_property(late.pytest(text) or "")
    assert "no event moves 'stuck' on" in message
    assert len(violations(report, "deadlock")) == 1


def test_unreachable_counts_a_state_passed_through_within_a_step() -> None:
    text = """
states:
  - {name: a, type: initial}
  - {name: triage}
  - {name: b}
transitions:
  - {trigger: go, source: a, dest: triage}
  - {source: triage, dest: b, always: true}
verify:
  unreachable: triage
"""
    machine = StateMachine.from_yaml(text)
    report = check(machine)
    assert not violations(report, "unreachable-state")  # it is entered, if briefly
    (entered,) = violations(report, "unreachable")
    assert entered.run is not None and entered.run.states == ["a", "b"]
    assert "send 'go' in 'a' enters it" in entered.message
    message = assert_fails_only_on_property(entered.pytest(text) or "")
    assert "'go'" in message


def test_cannot_finish_names_the_nearest_trap() -> None:
    text = """
states:
  - {name: a, type: initial}
  - {name: loop1}
  - {name: loop2}
  - {name: end, type: terminal}
transitions:
  - {trigger: go, source: a, dest: loop1}
  - {trigger: go, source: loop1, dest: loop2}
  - {trigger: go, source: loop2, dest: loop1}
  - {trigger: quit, source: a, dest: end}
"""
    machine = StateMachine.from_yaml(text)
    (trap,) = violations(check(machine), "cannot-finish")
    assert trap.run is not None and trap.run.states == ["a", "loop1"]
    message = assert_fails_only_on_property(trap.pytest(text) or "")
    assert "loop2" in message


def test_named_guards_are_explored_both_ways() -> None:
    text = """
states:
  - {name: a, type: initial}
  - {name: b}
  - {name: c}
transitions:
  - {trigger: go, source: a, dest: b, guards: [approved]}
  - {trigger: go, source: a, dest: c}
verify:
  unreachable: [b, c]
"""
    machine = StateMachine.from_yaml(text)
    found = violations(check(machine), "unreachable")
    assert [dict(v.run.moves[0].guards) for v in found if v.run] == [
        {"approved": True},
        {"approved": False},
    ]
    for v in found:
        assert_fails_only_on_property(v.pytest(text) or "")


def test_timers_are_explored_in_order_on_the_virtual_clock() -> None:
    text = """
states:
  - {name: idle, type: initial}
  - name: racing
    type: parallel
    regions:
      - {name: a, initial: a_run, states: [a_run, a_won]}
      - {name: b, initial: b_run, states: [b_run, b_won]}
transitions:
  - {trigger: go, source: idle, dest: racing}
  - {trigger: tick_a, source: a_run, dest: a_won, after: 2s}
  - {trigger: tick_b, source: b_run, dest: b_won, after: 1s}
  - {trigger: reset, source: racing, dest: idle}
verify:
  never: [a_won, b_run]
"""
    machine = StateMachine.from_yaml(text)
    report = check(machine)
    # b's timer is always due first: a wins only after b did
    assert report.ok, report.violations
    swapped = text.replace("after: 1s", "after: 3s")
    (broken,) = violations(check(StateMachine.from_yaml(swapped)), "never")
    assert broken.run is not None
    assert [m.kind for m in broken.run.moves] == ["event", "timer"]
    sim = final_simulation(StateMachine.from_yaml(swapped), broken)
    assert sim.clock_ms == 2000 and "a_won" in sim.configuration


def test_the_bound_is_reported() -> None:
    text = """
states:
  - {name: s0, type: initial}
  - {name: s1}
  - {name: s2}
  - {name: s3}
  - {name: end, type: terminal}
transitions:
  - {trigger: next, source: s0, dest: s1}
  - {trigger: next, source: s1, dest: s2}
  - {trigger: next, source: s2, dest: s3}
  - {trigger: next, source: s3, dest: s0}
  - {trigger: stop, source: s3, dest: end}
"""
    machine = StateMachine.from_yaml(text)
    short = check(machine, max_steps=2)
    assert not short.complete
    missed = violations(short, "unreachable-state")
    assert [v.path for v in missed] == ["states[3]", "states[4]"]
    assert "within 2 moves" in missed[0].message
    # s0..s2 cannot finish within 2 moves, but their future was not all explored
    assert not violations(short, "cannot-finish")
    assert "cut at 2 moves" in short.summary()
    assert check(machine).ok and check(machine).complete
    assert not check(machine, max_states=2).complete


def test_verify_section_names_unknown_states_with_a_located_error() -> None:
    text = MUTUAL_EXCLUSION.replace(
        "never: [inner_open, outer_open]", "never: [inner_open, outer_opn]"
    )
    with pytest.raises(ConfigError) as caught:
        check(StateMachine.from_yaml(text))
    (issue,) = caught.value.issues
    assert issue.path == "verify.never[1]" and (issue.line, issue.column) == (19, 23)
    assert "did you mean 'outer_open'" in issue.message


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("never: [a, b]", {"never": (("a", "b"),)}),
        ("never: [[a, b], [b, c]]", {"never": (("a", "b"), ("b", "c"))}),
        ("always_eventually: a within 4 steps", {"always_eventually": (("a", 4),)}),
        (
            "always_eventually: [a within 1 step, {state: b, within: 2}]",
            {"always_eventually": (("a", 1), ("b", 2))},
        ),
        ("unreachable: c", {"unreachable": ("c",)}),
        ("unreachable: [b, c]", {"unreachable": ("b", "c")}),
    ],
)
def test_verify_section_forms(section: str, expected: dict[str, Any]) -> None:
    states = "  - {name: a, type: initial}\n  - {name: b}\n  - {name: c}\n"
    text = f"states:\n{states}verify:\n  {section}\n"
    spec = load_spec(text)
    got = {
        "never": spec.verify.never,
        "always_eventually": tuple((p.state, p.within) for p in spec.verify.always_eventually),
        "unreachable": spec.verify.unreachable,
    }
    assert {k: v for k, v in got.items() if v} == expected
    assert spec.verify  # a non-empty section is true


@pytest.mark.parametrize(
    ("section", "path", "words"),
    [
        ("always_eventually: a soon", "verify.always_eventually", "STATE within N steps"),
        (
            "always_eventually: {state: a, within: 0}",
            "verify.always_eventually",
            "greater than or equal to 1",
        ),
        ("never: 3", "verify.never", "list"),
        ("sometimes: a", "verify", "sometimes"),
    ],
)
def test_bad_verify_sections_are_located_errors(section: str, path: str, words: str) -> None:
    text = f"states:\n  - {{name: a, type: initial}}\nverify:\n  {section}\n"
    with pytest.raises(ConfigError) as caught:
        load_spec(text)
    issue = caught.value.issues[0]
    assert issue.path.startswith(path), issue
    assert issue.line in (3, 4)
    assert words in issue.message, issue.message


def test_the_engine_ignores_the_verify_section() -> None:
    plain = StateMachine.from_yaml(MUTUAL_EXCLUSION.split("verify:")[0])
    checked = StateMachine.from_yaml(MUTUAL_EXCLUSION)
    assert not plain.spec.verify and checked.spec.verify
    for event in ("power", "open_inner", "open_outer"):
        assert (
            plain.process("parked", event).to_dict() == checked.process("parked", event).to_dict()
        )


# --------------------------------------------------------------------------- against brute force


@st.composite
def checked_machines(draw: st.DrawFn) -> dict[str, Any]:
    definition = draw(machines())
    names = [s["name"] for s in definition["states"]]
    for s in definition["states"]:
        for region in s.get("regions", ()):
            names += region["states"]
    guards = st.sampled_from(
        [
            None,
            "n > 1",
            "n <= 1",
            "m in ['a', 'b']",
            "not (n > 2) or m == 'b'",
            "'k' in items",
            "approved",
        ]
    )
    for t in definition["transitions"]:
        guard = draw(guards)
        t.pop("guards", None)
        if guard == "approved":
            t["guards"] = ["approved"]
        elif guard is not None:
            t["guards"] = [{"expr": guard}]
    definition["verify"] = {
        "never": [draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True))],
        "unreachable": [draw(st.sampled_from(names))],
    }
    return definition


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(checked_machines())
def test_counterexamples_are_as_short_as_brute_force(definition: dict[str, Any]) -> None:
    machine = StateMachine.from_dict(definition)
    depth = 6
    report = check(machine, max_steps=depth)
    brute = brute_force(machine, depth)
    together = set(definition["verify"]["never"][0])
    (forbidden,) = definition["verify"]["unreachable"]

    never = violations(report, "never")
    expected = brute.least(lambda c: together <= c)
    assert (len(never[0].run) if never and never[0].run else None) == expected

    entered = violations(report, "unreachable")
    assert (len(entered[0].run) if entered and entered[0].run else None) == shortest_entering(
        brute, forbidden
    )
    dead = violations(report, "deadlock")
    if report.complete or dead:
        assert (len(dead[0].run) if dead and dead[0].run else None) == shortest_deadlock(brute)
    yaml_text = _yaml(definition)
    for v in [*never[:1], *entered[:1], *dead[:1]]:
        assert_fails_only_on_property(v.pytest(yaml_text) or "")


def _yaml(definition: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(definition, sort_keys=False, allow_unicode=True)
