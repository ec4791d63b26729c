"""The lint checks of pystator.verify: unsatisfiable guards and deadlocks, located at the
YAML line, in the shape of ``pystator.lint.CHECKS``."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pystator.lint as lint_module
from pystator import StateMachine
from pystator.config import load_spec
from pystator.lint import lint
from pystator.verify import check, check_deadlocks, check_unsatisfiable_guards, lint_findings
from pystator.verify.findings import may_rest
from tests.engine.test_properties import machines
from tests.engine.test_verify_check import DEADLOCKED_REGION, MISSING_TRANSITION

GUARDED = """
states:
  - {name: draft, type: initial}
  - {name: review}
  - {name: done, type: terminal}
transitions:
  - {trigger: submit, source: draft, dest: review}
  - trigger: approve
    source: review
    dest: done
    guards:
      - {expr: "amount > 100 and amount < 50"}
  - trigger: escalate
    source: review
    dest: done
    guards: [{expr: "amount > 100"}, {expr: "amount < 50"}]
  - {trigger: fine, source: review, dest: done, guards: [{expr: "amount > 100 or amount < 50"}]}
  - {trigger: maybe, source: review, dest: draft, guards: [{expr: "In('review') and n > 1"}]}
"""


def by_code(findings: list[lint_module.Finding], code: str) -> list[lint_module.Finding]:
    return [f for f in findings if f.code == code]


def test_unsatisfiable_guards_are_located_at_the_guard() -> None:
    findings = by_code(lint_findings(load_spec(GUARDED)), "unsatisfiable-guard")
    assert [(f.path, f.line, f.column) for f in findings] == [
        ("transitions[1].guards[0]", 12, 9),
        ("transitions[2].guards", 16, 5),
    ]
    assert "'amount > 100 and amount < 50'" in findings[0].message
    assert "can never be true" in findings[0].message
    assert "never all true" in findings[1].message
    assert all(f.severity == "warning" for f in findings)


def test_a_deadlock_behind_a_never_true_guard_is_found_where_the_state_is() -> None:
    kept = [line for line in GUARDED.splitlines() if "trigger: fine" not in line]
    text = "\n".join(line for line in kept if "trigger: maybe" not in line) + "\n"
    (dead,) = by_code(lint_findings(load_spec(text)), "deadlock")
    assert (dead.path, dead.line, dead.column) == ("states[1]", 4, 5)
    assert "in 'review' nothing can happen" in dead.message
    assert "reached by: 1. send 'submit' -> review" in dead.message
    # lint alone does not see it: review has transitions out, so it is no dead end
    assert not by_code(lint(load_spec(text)), "dead-end")


def test_a_state_nothing_leaves_is_lints_dead_end_not_repeated() -> None:
    spec = load_spec(MISSING_TRANSITION)
    assert by_code(lint(spec), "dead-end")
    assert not by_code(lint_findings(spec), "deadlock")


def test_a_deadlocked_region_is_found() -> None:
    (dead,) = by_code(lint_findings(load_spec(DEADLOCKED_REGION)), "deadlock")
    assert "handshake:client=c_wait,server=s_wait" in dead.message
    assert dead.line == 8  # where the region lists c_wait


def test_satisfiable_guards_give_nothing() -> None:
    spec = load_spec(GUARDED)
    findings = lint_findings(spec)
    flagged = {f.path for f in findings}
    assert "transitions[3].guards[0]" not in flagged and "transitions[4].guards[0]" not in flagged


@pytest.mark.parametrize("text", [GUARDED, DEADLOCKED_REGION, MISSING_TRANSITION])
def test_lint_lists_them_with_its_own_checks(text: str) -> None:
    """lint runs both (they are in CHECKS): every finding of theirs is in lint's list."""
    spec = load_spec(text)
    assert check_unsatisfiable_guards in lint_module.CHECKS
    assert check_deadlocks in lint_module.CHECKS
    ours = lint_findings(spec)
    everything = lint(spec)
    assert [f for f in everything if f in ours] == ours


def test_lint_locates_them_at_the_yaml_line() -> None:
    kept = [line for line in GUARDED.splitlines() if "trigger: fine" not in line]
    text = "\n".join(line for line in kept if "trigger: maybe" not in line) + "\n"
    found = [(f.code, f.line) for f in lint(load_spec(text))]
    assert ("unsatisfiable-guard", 12) in found and ("deadlock", 4) in found


def test_an_edit_elsewhere_moves_the_findings_with_their_lines() -> None:
    """The answers are kept per machine: a comment added above moves every finding down
    by its lines, and the findings are otherwise the same."""
    spec = load_spec(GUARDED)
    before = lint_findings(spec)
    after = lint_findings(load_spec("# a note\n# and another\n" + GUARDED))
    assert [(f.code, f.message, f.path) for f in after] == [
        (f.code, f.message, f.path) for f in before
    ]
    assert [f.line for f in after] == [f.line + 2 for f in before if f.line is not None]


def test_a_livelocking_start_is_the_loops_finding_not_a_deadlock() -> None:
    """With ``spin`` false the machine rests where it starts, with ``spin`` true the start
    never settles: lint reports the loop (eventless-cycle), not a deadlock as well."""
    text = """
states:
  - {name: s0, type: initial}
  - {name: s1}
  - {name: s2, type: terminal}
transitions:
  - {source: s0, dest: s1, always: true, guards: [{expr: "spin"}]}
  - {source: s1, dest: s0, always: true, guards: [{expr: "spin"}]}
  - {trigger: stop, source: s1, dest: s2}
"""
    assert [f.code for f in lint(load_spec(text))] == ["eventless-cycle"]
    # the same resting start without the loop is a deadlock
    back = '  - {source: s1, dest: s0, always: true, guards: [{expr: "spin"}]}\n'
    settled = text.replace(back, "")
    (dead,) = by_code(lint(load_spec(settled)), "deadlock")
    assert "it is where the machine starts" in dead.message


BOUNDLESS = """
data: {n: 0}
states:
  - {name: counting, type: initial}
  - {name: stuck}
  - {name: done, type: terminal}
transitions:
  - {trigger: tick, source: counting, dest: counting, actions: [{assign: n, expr: "n + 1"}]}
  - {trigger: finish, source: counting, dest: done, guards: [{expr: "n > 1000"}]}
  - {trigger: jam, source: counting, dest: stuck, guards: [{expr: "n == 2"}]}
  - {trigger: free, source: stuck, dest: done, guards: [{expr: "n > 5"}]}
"""


def test_a_search_cut_by_its_bound_says_what_it_did_not_check() -> None:
    """A counter has ever new configurations: the search stops at its bound, reports the
    deadlock it found within it, and says it did not see the rest (an info finding)."""
    findings = lint(load_spec(BOUNDLESS))
    (dead,) = by_code(findings, "deadlock")
    assert "in 'stuck' nothing can happen" in dead.message
    (note,) = by_code(findings, "deadlock-unchecked")
    assert note.severity == "info" and note.path == "states" and note.line == 3
    assert "stopped at its bound (40 moves)" in note.message
    assert "use the Check tab or 'pystator check'" in note.message


def chain(depth: int, guarded: bool) -> str:
    """L0 > L1 > ... > L<depth-1>: the leaf's only way out is guarded when ``guarded``."""
    lines = ["states:", "  - {name: L0, type: initial, initial_child: L1}"]
    for k in range(1, depth):
        child = f", initial_child: L{k + 1}" if k < depth - 1 else ""
        lines.append(f"  - {{name: L{k}, parent: L{k - 1}{child}}}")
    lines += ["  - {name: out, type: terminal}", "transitions:"]
    guard = ', guards: [{expr: "x > 1"}]' if guarded else ""
    lines.append(f"  - {{trigger: leave, source: L{depth - 1}, dest: out{guard}}}")
    return "\n".join(lines) + "\n"


def test_a_machine_too_large_to_search_is_said_to_be_unchecked() -> None:
    (note,) = by_code(lint(load_spec(chain(1500, guarded=True))), "deadlock-unchecked")
    assert "the machine has 1,501 states, more than live validation explores (1,000)" in (
        note.message
    )
    # a way out that cannot fail proves there is nothing to search for, at any size
    assert by_code(lint(load_spec(chain(1500, guarded=False))), "deadlock-unchecked") == []


def test_nothing_can_rest_when_every_leaf_has_a_sure_way_out() -> None:
    assert may_rest(load_spec(chain(4, guarded=False))) == []
    assert may_rest(load_spec(chain(4, guarded=True))) == ["L3"]
    # a guarded timer may be spent with its guard false; an unguarded one leaves
    timed = "states:\n  - {name: a, type: initial}\n  - {name: b, type: terminal}\n"
    timed += "transitions:\n  - {trigger: t, source: a, dest: b, after: 1s%s}\n"
    assert may_rest(load_spec(timed % "")) == []
    assert may_rest(load_spec(timed % ', guards: [{expr: "x"}]')) == ["a"]


@st.composite
def restless_machines(draw: st.DrawFn) -> dict[str, Any]:
    """Generated machines whose transitions carry guards that hold, never hold, or
    depend on another state, some of them timers."""
    definition = draw(machines())
    guards = st.sampled_from([None, None, "n > 1", "n > 2 and n < 1", "In('s1')", "approved"])
    for t in definition["transitions"]:
        t.pop("guards", None)
        guard = draw(guards)
        if guard == "approved":
            t["guards"] = ["approved"]
        elif guard is not None:
            t["guards"] = [{"expr": guard}]
        if draw(st.integers(0, 4)) == 0:
            t["after"] = "1s"
    return definition


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(restless_machines())
def test_when_nothing_can_rest_the_model_checker_finds_no_deadlock(
    definition: dict[str, Any],
) -> None:
    """``may_rest`` is a proof, so it must agree with the full search: no state that can
    rest means no deadlock anywhere the model checker looks."""
    machine = StateMachine.from_dict(definition)
    if may_rest(machine.spec):
        return
    assert not [v for v in check(machine, max_steps=8).violations if v.code == "deadlock"]
