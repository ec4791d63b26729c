"""Each lint check fires on the mistake it names and stays quiet on sound machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pystator import LivelockError, StateMachine
from pystator.config import load_spec
from pystator.lint import Finding, lint
from pystator.model import (
    ActionSpec,
    Location,
    MachineMeta,
    MachineSpec,
    Region,
    State,
    Timeout,
    Transition,
)
from tests.engine.diagram_cases import hierarchical_spec, order_spec, parallel_spec
from tests.engine.test_properties import machines

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def spec(
    states: list[State],
    transitions: list[Transition],
    locations: dict[str, Location] | None = None,
) -> MachineSpec:
    return MachineSpec(
        meta=MachineMeta(),
        states=tuple(states),
        transitions=tuple(transitions),
        locations=locations or {},
    )


class Names:
    def __init__(self, *names: str) -> None:
        self.names = set(names)

    def has(self, name: str) -> bool:
        return name in self.names


def codes(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.code, f.path) for f in findings]


@pytest.mark.parametrize("make", [order_spec, hierarchical_spec, parallel_spec])
def test_sound_machines_have_no_findings(make: object) -> None:
    assert lint(make()) == []  # type: ignore[operator]


def test_unreachable_state() -> None:
    findings = lint(
        spec(
            [State("A", type="initial"), State("B"), State("ORPHAN"), State("END", "terminal")],
            [
                Transition("go", "A", "B"),
                Transition("stop", "B", "END"),
                Transition("back", "ORPHAN", "A"),
            ],
        )
    )
    assert codes(findings) == [("unreachable-state", "states[2]")]
    assert "'ORPHAN' can never be entered" in findings[0].message


def test_reachability_follows_timeouts_defaults_regions_and_ancestors() -> None:
    findings = lint(
        spec(
            [
                State("wait", type="initial", timeout=Timeout(1, "box")),
                State("box", initial_child="inside"),
                State("inside", parent="box"),
                State("later", parent="box"),
                State(
                    "par",
                    type="parallel",
                    regions=(Region("r1", "p1", ("p1",)), Region("r2", "q1", ("q1", "q2"))),
                ),
                State("p1", parent="par"),
                State("q1", parent="par"),
                State("q2", parent="par"),
                State("done", type="terminal"),
            ],
            [
                # from the compound (an ancestor of the active leaf) into a sibling
                Transition("next", "box", "later"),
                # entering one region's state also enters the other region's initial
                Transition("split", "later", "q2"),
                Transition("finish", "par", "done"),
                Transition("step", "q1", "q2"),
            ],
        )
    )
    assert findings == []


def test_unreachable_inside_a_region_and_under_a_parent() -> None:
    findings = lint(
        spec(
            [
                State(
                    "par",
                    type="initial",
                    regions=(Region("r1", "p1", ("p1", "p2")),),
                ),
                State("p1", parent="par"),
                State("p2", parent="par"),
                State("done", type="terminal"),
            ],
            [Transition("stop", "par", "done")],
        )
    )
    # type initial is not parallel here, so its children are a compound with first child p1
    assert codes(findings) == [("unreachable-state", "states[2]")]


def test_dead_end() -> None:
    findings = lint(
        spec(
            [State("A", type="initial"), State("STUCK"), State("END", type="terminal")],
            [
                Transition("go", "A", "STUCK"),
                Transition("spin", "STUCK", "STUCK"),
                Transition("end", "A", "END"),
            ],
        )
    )
    assert codes(findings) == [("dead-end", "states[1]")]
    assert "'STUCK' is not terminal but nothing leaves it" in findings[0].message


def test_no_dead_end_when_a_timeout_or_an_ancestor_leaves() -> None:
    findings = lint(
        spec(
            [
                State("A", type="initial", timeout=Timeout(2, "P")),
                State("P", initial_child="C"),
                State("C", parent="P"),
                State("END", type="terminal"),
            ],
            [Transition("abort", "P", "END")],
        )
    )
    assert findings == []


def test_shadowed_transition() -> None:
    findings = lint(
        spec(
            [State("A", type="initial"), State("B", type="terminal"), State("C", "terminal")],
            [
                Transition("go", "A", "B"),
                Transition("go", "A", "C", guards=("is_special",)),
            ],
            {"transitions[1]": Location(9, 5)},
        )
    )
    assert codes(findings) == [("shadowed-transition", "transitions[1]")]
    finding = findings[0]
    assert (finding.line, finding.column, finding.severity) == (9, 5, "warning")
    assert "transition 1 ('go' from 'A' to 'C') never fires" in finding.message
    assert str(finding).startswith("9:5: warning: ")


def test_guarded_first_does_not_shadow_and_regions_are_separate() -> None:
    findings = lint(
        spec(
            [State("A", type="initial"), State("B", type="terminal"), State("C", "terminal")],
            [
                Transition("go", "A", "B", guards=({"expr": "x > 1"},)),
                Transition("go", "A", "C"),
                Transition("other", "A", "B"),
                Transition("other", "A", "C", region="r2"),
            ],
        )
    )
    assert findings == []


def test_nondeterministic_transitions() -> None:
    findings = lint(
        spec(
            [State("A", type="initial"), State("B", type="terminal"), State("C", "terminal")],
            [Transition("go", frozenset({"A"}), "B"), Transition("go", "A", "C")],
        )
    )
    assert codes(findings) == [("nondeterministic", "transitions[1]")]
    assert "'go' from 'A' has two transitions without a guard" in findings[0].message


def test_transitions_and_timers_leaving_a_terminal_state() -> None:
    findings = lint(
        spec(
            [
                State("A", type="initial"),
                State("END", type="terminal", timeout=Timeout(1, "A")),
            ],
            [
                Transition("go", "A", "END"),
                Transition("restart", "END", "A"),
                Transition("", "END", "A", after=5000),
            ],
            {"transitions[2].source": Location(20, 13)},
        )
    )
    assert codes(findings) == [
        ("terminal-outgoing", "transitions[1].source"),
        ("terminal-outgoing", "transitions[2].source"),
        ("terminal-outgoing", "states[1].timeout"),
    ]
    assert "an 'after' delay" in findings[1].message
    assert (findings[1].line, findings[1].column) == (20, 13)


def test_unknown_guards_and_actions_only_with_registries() -> None:
    machine = spec(
        [
            State("A", type="initial", on_exit=("log_exit", "missing_exit")),
            State("B", type="terminal"),
        ],
        [
            Transition(
                "go",
                "A",
                "B",
                guards=("known", "nope", {"expr": "x > 1"}),
                actions=("audit", "typo_action"),
            )
        ],
        {"transitions[0]": Location(3, 3)},
    )
    assert lint(machine) == []
    findings = lint(machine, guards=Names("known"), actions=Names("log_exit", "audit"))
    assert codes(findings) == [
        ("unknown-guard", "transitions[0].guards[1]"),
        ("unknown-action", "states[0].on_exit[1]"),
        ("unknown-action", "transitions[0].actions[1]"),
    ]
    assert all(f.severity == "error" for f in findings)
    assert findings[0].message == "guard 'nope' (on 'go' to 'B') is not registered"
    # the closest known location is used when the exact path has none
    assert (findings[0].line, findings[0].column) == (3, 3)
    assert (findings[1].line, findings[1].column) == (None, None)


def test_finding_converts_to_an_issue_and_a_dict() -> None:
    finding = Finding("dead-end", "warning", "msg", "states[0]", 2, 3)
    issue = finding.to_issue("m.yaml")
    assert str(issue) == "m.yaml:2:3: states[0]: msg"
    assert (issue.code, issue.severity) == ("dead-end", "warning")
    assert finding.to_dict()["line"] == 2


def test_accepts_anything_with_a_spec_and_rejects_other_input() -> None:
    class Holder:
        spec = order_spec()

    assert lint(Holder()) == []
    with pytest.raises(TypeError, match="lint expects a MachineSpec"):
        lint("states: []")


def test_implicit_initial_is_pointed_out() -> None:
    from pystator.config import load_spec

    implicit = load_spec(
        "states:\n  - name: first\n  - name: second\n"
        "transitions:\n  - {trigger: go, source: first, dest: second}\n"
    )
    [finding] = [f for f in lint(implicit) if f.code == "implicit-initial"]
    assert finding.severity == "info" and "'first'" in finding.message
    assert (finding.line, finding.column) == (2, 5)
    explicit = load_spec("states:\n  - {name: first, type: initial}\n  - name: second\n")
    assert not [f for f in lint(explicit) if f.code == "implicit-initial"]


def test_a_compound_reached_through_a_child_is_still_entered_by_default_later() -> None:
    # 'box' is first reached as the parent of 'second'; 'back' then enters it by its
    # initial child, so 'first' is reachable too
    findings = lint(
        spec(
            [
                State("idle", type="initial"),
                State("box", initial_child="first"),
                State("first", parent="box"),
                State("second", parent="box"),
                State("done", type="terminal"),
            ],
            [
                Transition("skip", "idle", "second"),
                Transition("back", "second", "box"),
                Transition("finish", "first", "done"),
            ],
        )
    )
    assert findings == []


def test_the_start_is_the_charts_even_when_a_nested_state_is_marked_initial() -> None:
    findings = lint(
        spec(
            [
                State("A"),
                State("B", initial_child="B1"),
                State("B1", type="initial", parent="B"),
                State("END", type="terminal"),
            ],
            [Transition("go", "A", "B"), Transition("end", "B1", "END")],
        )
    )
    assert codes(findings) == [("implicit-initial", "states[0]")]
    assert "starts in 'A'" in findings[0].message


def test_many_transitions_on_one_trigger_are_reported_against_the_first_unguarded() -> None:
    transitions = [Transition("go", "A", "B", guards=("first_guard",))]
    transitions += [Transition("go", "A", "B")] + [Transition("go", "A", "B")] * 3
    findings = lint(spec([State("A", type="initial"), State("B", type="terminal")], transitions))
    assert codes(findings) == [(("nondeterministic", f"transitions[{k}]")) for k in (2, 3, 4)]
    assert all("in transition 1 and" in f.message for f in findings)


def test_a_transition_back_into_the_state_does_not_hide_another_way_out() -> None:
    machine = spec(
        [
            State("P", type="initial", initial_child="X"),
            State("X", parent="P"),
            State("END", type="terminal"),
        ],
        [Transition("reset", "P", "X"), Transition("reset_again", "P", "X")],
    )
    # every way out of X leads back into X: a dead end (END is never entered)
    assert codes(lint(machine)) == [("unreachable-state", "states[2]"), ("dead-end", "states[1]")]
    out = spec(
        list(machine.states),
        [*machine.transitions, Transition("stop", "P", "END")],
    )
    assert lint(out) == []


def test_a_history_target_reaches_what_entering_it_enters() -> None:
    # 'last' remembers nothing at first, so it enters its default; 'exact' has none,
    # so it enters its parent's initial child
    findings = lint(
        spec(
            [
                State("off", type="initial"),
                State("on", initial_child="radio"),
                State("radio", parent="on"),
                State("cd", parent="on"),
                State("tape", parent="on"),
                State("last", type="history", parent="on", default="cd"),
                State("exact", type="history", parent="on"),
            ],
            [
                Transition("power", "off", "last"),
                Transition("resume", "off", "exact"),
                Transition("power", "on", "off"),
            ],
        )
    )
    assert codes(findings) == [("unreachable-state", "states[4]")]


def test_a_final_state_at_the_top_level_ends_the_machine_and_is_no_dead_end() -> None:
    findings = lint(
        spec(
            [
                State("A", type="initial"),
                State("box", initial_child="inner"),
                State("inner", parent="box"),
                State("inner_done", type="final", parent="box"),
                State("done", type="final"),
            ],
            [
                Transition("go", "A", "box"),
                Transition("finish", "inner", "inner_done"),
                Transition("stop", "A", "done"),
            ],
        )
    )
    # a final state inside a compound only completes it: nothing leaves it here
    assert codes(findings) == [("dead-end", "states[3]")]


def always(source: str | frozenset[str], dest: str, *guards: Any, **more: Any) -> Transition:
    return Transition("always", source, dest, guards=guards, eventless=True, **more)


def test_an_eventless_transition_into_its_own_child_goes_round() -> None:
    # 'A' stays active when it enters its own child, so it is enabled again at once
    findings = lint(
        spec(
            [
                State("A", type="initial", initial_child="C"),
                State("C", parent="A"),
                State("D", parent="A"),
                State("E", type="terminal"),
            ],
            [always("A", "D"), Transition("stop", "A", "E")],
            {"transitions[0]": Location(9, 5)},
        )
    )
    assert codes(findings) == [("eventless-cycle", "transitions[0]")]
    [finding] = findings
    assert finding.severity == "warning" and (finding.line, finding.column) == (9, 5)
    assert "can go round for ever: A -> D (transition 0)" in finding.message
    assert "it has no guard, so once taken nothing stops it" in finding.message
    with pytest.raises(LivelockError):
        StateMachine(_into_own_child()).start()  # the engine meets the loop lint warns of


def _into_own_child() -> MachineSpec:
    return spec(
        [
            State("A", type="initial", initial_child="C"),
            State("C", parent="A"),
            State("D", parent="A"),
        ],
        [always("A", "D")],
    )


def test_an_eventless_loop_through_another_region_is_named_in_order() -> None:
    # t1 -> t2 leaves the parallel state for X; X enters s2 from outside, which
    # starts the other region again in t1: a loop no event interrupts
    states = [
        State("idle", type="initial"),
        State(
            "P",
            type="parallel",
            regions=(Region("r1", "s1", ("s1", "s2")), Region("r2", "t1", ("t1", "t2"))),
        ),
        *(State(n, parent="P") for n in ("s1", "s2", "t1", "t2")),
        State("X"),
    ]
    transitions = [
        Transition("go", "idle", "P"),
        always("s1", "s2"),  # inside one region: taken once, then s2 is quiet
        always("t1", "t2"),
        always("t2", "X", {"expr": "busy"}),
        always("X", "s2"),
        Transition("stop", frozenset({"P", "X"}), "idle"),
    ]
    findings = lint(spec(states, transitions))
    assert codes(findings) == [("eventless-cycle", "transitions[2]")]
    message = findings[0].message
    assert "t1 -> t2, then t2 -> X, then X -> s2 (transitions 2, 3, 4)" in message
    assert "make sure one of their guards turns false" in message
    # entering s2 from inside its own region restarts nothing: no loop
    quiet = [*transitions[:4], always("X", "idle"), transitions[5]]
    assert [f for f in lint(spec(states, quiet)) if f.code == "eventless-cycle"] == []


def test_eventless_chains_that_settle_are_quiet() -> None:
    machine = StateMachine.from_yaml(EXAMPLES / "document_review.yaml")
    assert [f.code for f in lint(machine)] == []
    findings = lint(
        spec(
            [
                State("idle", type="initial"),
                State("checking"),
                State("approved"),
                State("archived", type="terminal"),
            ],
            [
                Transition("submit", "idle", "checking"),
                always("checking", "approved", {"expr": "score > 700"}),
                always("checking", "idle"),
                always("approved", "archived"),
            ],
        )
    )
    assert codes(findings) == []


def test_an_eventless_loop_through_a_history_state() -> None:
    # X enters 'mem', which enters B (its default) or whatever 'box' had: B goes back
    states = [
        State("X", type="initial"),
        State("box", initial_child="A"),
        State("A", parent="box"),
        State("B", parent="box"),
        State("mem", parent="box", type="history", default="A"),
    ]
    loop = [always("X", "mem"), Transition("next", "A", "B"), always("B", "X", {"expr": "n"})]
    findings = lint(spec(states, loop))
    assert codes(findings) == [("eventless-cycle", "transitions[0]")]
    assert "X -> mem, then B -> X (transitions 0, 2)" in findings[0].message
    deep = [*states[:4], State("mem", parent="box", type="history", history="deep")]
    assert codes(lint(spec(deep, loop))) == [("eventless-cycle", "transitions[0]")]
    # a shallow history restores a child of 'box'; with nothing remembered it enters
    # its default, here a grandchild no child's default chain leads to
    nested = [
        State("X", type="initial"),
        State("box", initial_child="mid"),
        State("mid", parent="box", initial_child="m1"),
        State("m1", parent="mid"),
        State("m2", parent="mid"),
        State("mem", parent="box", type="history", default="m2"),
    ]
    via_default = [always("X", "mem", {"expr": "n"}), always("m2", "X")]
    findings = [f for f in lint(spec(nested, via_default)) if f.code == "eventless-cycle"]
    assert codes(findings) == [("eventless-cycle", "transitions[0]")]
    assert "X -> mem, then m2 -> X (transitions 0, 1)" in findings[0].message


def test_an_eventless_ring_of_states_is_one_finding_naming_each_step() -> None:
    size = 6
    states = [State(f"s{k}", type="initial" if k == 0 else "stable") for k in range(size)]
    ring = [always(f"s{k}", f"s{(k + 1) % size}", {"expr": "spin"}) for k in range(size)]
    findings = lint(spec(states, ring))
    assert codes(findings) == [("eventless-cycle", "transitions[0]")]
    way = ", then ".join(f"s{k} -> s{(k + 1) % size}" for k in range(size))
    assert f"{way} (transitions 0, 1, 2, 3, 4, 5)" in findings[0].message


def test_leaving_a_final_state_at_the_top_level_and_eventless_wording() -> None:
    findings = lint(
        spec(
            [State("A", type="initial"), State("done", type="final"), State("END", "terminal")],
            [
                Transition("finish", "A", "done"),
                Transition("again", "done", "A"),
                always("END", "A"),
                Transition("end", "A", "END"),
            ],
        )
    )
    assert codes(findings) == [
        ("terminal-outgoing", "transitions[1].source"),
        ("terminal-outgoing", "transitions[2].source"),
    ]
    assert findings[0].message.startswith("top-level final state 'done' has an outgoing")
    assert "(an eventless transition to 'A'); terminal states accept" in findings[1].message


def test_only_the_actions_a_host_runs_must_be_registered() -> None:
    branchy = ActionSpec.from_config(
        {
            "if": "n > 1",
            "then": ["known", "missing_then"],
            "elif": [{"if": "n > 0", "then": [{"raise": "bump"}, "missing_elif"]}],
            "else": [{"foreach": "items", "item": "i", "do": ["missing_loop"]}],
        }
    )
    machine = spec(
        [
            State("A", type="initial", on_enter=({"raise": "unregistered_event"}, branchy)),
            State("B", initial_child="B1"),
            State("B1", parent="B"),
            State("H", parent="B", type="history", default_actions=("missing_default",)),
        ],
        [
            Transition(
                "go",
                "A",
                "H",
                actions=({"assign": "n", "expr": "n + 1"}, {"log": "went"}, "known"),
            ),
            Transition("back", "B", "A"),
        ],
    )
    findings = lint(machine, actions=Names("known"))
    assert codes(findings) == [
        ("unknown-action", "states[0].on_enter[1].then[1]"),
        ("unknown-action", "states[0].on_enter[1].elif[0].then[1]"),
        ("unknown-action", "states[0].on_enter[1].else[0].do[0]"),
        ("unknown-action", "states[3].default_actions[0]"),
    ]
    assert "default_actions of 'H'" in findings[3].message


@st.composite
def eventless_machines(draw: st.DrawFn) -> dict[str, Any]:
    """Generated machines with eventless transitions here and there, some guarded."""
    definition = draw(machines())
    names = [s["name"] for s in definition["states"]]
    for state in definition["states"]:
        for region in state.get("regions", ()):
            names += region["states"]
    for _ in range(draw(st.integers(1, 5))):
        move: dict[str, Any] = {
            "source": draw(st.sampled_from(names)),
            "dest": draw(st.sampled_from(names)),
            "always": True,
        }
        if draw(st.booleans()):
            move["guards"] = [{"expr": "n > 1"}]
        definition["transitions"].append(move)
    return definition


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(eventless_machines(), st.lists(st.integers(0, 20), max_size=8), st.integers(0, 3))
def test_every_loop_the_engine_meets_was_warned_about(
    definition: dict[str, Any], picks: list[int], n: int
) -> None:
    """Lint's eventless-cycle finding is sound: a machine it is quiet about never
    livelocks on eventless transitions, whatever the events and the context."""
    spec_ = load_spec(definition)
    warned = any(f.code == "eventless-cycle" for f in lint(spec_))
    machine = StateMachine.from_spec(spec_)
    triggers = sorted({t.trigger for t in spec_.transitions if not t.eventless})
    try:
        step = machine.start({"n": n})
    except LivelockError:
        assert warned, "the start loops, but lint said nothing"
        return
    for pick in picks:
        step = machine.step(step.snapshot, triggers[pick % len(triggers)], {"n": n})
        if step.refusal is not None and step.refusal.code == "livelock":
            assert warned, f"a step loops ({step.refusal}), but lint said nothing"
