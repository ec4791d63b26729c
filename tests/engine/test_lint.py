"""Each lint check fires on the mistake it names and stays quiet on sound machines."""

from __future__ import annotations

import pytest

from pystator.lint import Finding, lint
from pystator.model import (
    Location,
    MachineMeta,
    MachineSpec,
    Region,
    State,
    Timeout,
    Transition,
)
from tests.engine.diagram_cases import hierarchical_spec, order_spec, parallel_spec


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

    implicit = load_spec("states:\n  - name: first\n  - name: second\n"
                         "transitions:\n  - {trigger: go, source: first, dest: second}\n")
    [finding] = [f for f in lint(implicit) if f.code == "implicit-initial"]
    assert finding.severity == "info" and "'first'" in finding.message
    assert (finding.line, finding.column) == (2, 5)
    explicit = load_spec("states:\n  - {name: first, type: initial}\n  - name: second\n")
    assert not [f for f in lint(explicit) if f.code == "implicit-initial"]
