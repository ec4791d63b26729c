"""The lint checks of pystator.verify: unsatisfiable guards and deadlocks, located at the
YAML line, in the shape of ``pystator.lint.CHECKS``."""

from __future__ import annotations

import pytest

import pystator.lint as lint_module
from pystator.config import load_spec
from pystator.lint import lint
from pystator.verify import check_deadlocks, check_unsatisfiable_guards, lint_findings
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
def test_they_fit_lints_checks(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """What lint gains by listing the two functions in CHECKS: the same findings."""
    spec = load_spec(text)
    before = lint(spec)
    monkeypatch.setattr(
        lint_module,
        "CHECKS",
        (*lint_module.CHECKS, check_unsatisfiable_guards, check_deadlocks),
    )
    after = lint(spec)
    assert after[: len(before)] == before
    assert after[len(before) :] == lint_findings(spec)
