"""What clicking each simulator edge does: the event button that takes it, or why not."""

from __future__ import annotations

import json

from pystator import StateMachine
from ui.simulating import SimView, simulate

CHAINED = """\
meta: {machine_name: review}
data: {score: 7}
states:
  - {name: idle, type: initial}
  - {name: checking}
  - {name: scored_high}
  - {name: approved, type: terminal}
transitions:
  - {trigger: submit, source: idle, dest: checking}
  - {trigger: done, source: checking, dest: scored_high, guards: [{expr: "score > 5"}]}
  - {always: true, source: scored_high, dest: approved}
  - {trigger: done, source: checking, dest: idle}
  - {trigger: skip, source: idle, dest: approved, guards: [{expr: "score > 9"}]}
"""

PARALLEL = """\
meta: {machine_name: both}
states:
  - name: on
    type: parallel
    regions:
      - {name: left, initial: a1, states: [a1, a2]}
      - {name: right, initial: b1, states: [b1, b2]}
  - {name: a1}
  - {name: a2}
  - {name: b1}
  - {name: b2}
transitions:
  - {trigger: go, source: a1, dest: a2}
  - {trigger: go, source: b1, dest: b2}
"""

NAMED = """\
meta: {machine_name: named}
states:
  - {name: open, type: initial}
  - {name: filled, type: terminal}
  - {name: partial}
transitions:
  - {trigger: fill, source: open, dest: filled, guards: [is_full]}
  - {trigger: fill, source: open, dest: partial}
"""


def controls(view: SimView) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = json.loads(view.edge_controls_json)
    return found


def by_label(view: SimView, text: str) -> dict[str, str]:
    """The control of the edge whose Mermaid line carries ``text``.

    Mermaid numbers edges (``edge<N>``) in the order the text writes its arrows, the
    initial ``[*]`` arrows included.
    """
    arrows = [line for line in view.mermaid.splitlines() if "-->" in line]
    index = next(i for i, line in enumerate(arrows) if text in line)
    return controls(view)[f"edge{index}"]


def test_an_enabled_edge_presses_its_event_button() -> None:
    view = simulate(StateMachine.from_yaml(CHAINED), "[]", "show", {})
    submit = by_label(view, ": submit")
    assert submit["do"] in {button.do for button in view.enabled}
    assert submit["do"] == "send:-:submit"


def test_a_disabled_edge_says_why_in_the_simulators_words() -> None:
    view = simulate(StateMachine.from_yaml(CHAINED), "[]", "show", {})
    skip = by_label(view, ": skip")
    assert "do" not in skip
    assert skip["why"].startswith("Event skip does nothing now: ")
    assert "score > 9 is false (7 > 9)" in skip["why"]
    assert by_label(view, "checking --> idle")["why"] == (
        "State checking is not active now (the machine is in idle)."
    )


def test_an_edge_another_transition_of_its_event_beats_says_so() -> None:
    view = simulate(StateMachine.from_yaml(CHAINED), "[]", "send:-:submit", {})
    assert view.state == "checking"
    assert by_label(view, "checking --> scored_high")["do"] == "send:-:done"
    back = by_label(view, "checking --> idle")
    assert back["why"].startswith("Event done takes another transition now: done -> ")


def test_an_eventless_edge_is_never_a_button() -> None:
    """``done`` from checking chains into the eventless edge: only its first edge fires."""
    view = simulate(StateMachine.from_yaml(CHAINED), "[]", "send:-:submit", {})
    assert by_label(view, "checking --> scored_high")["do"] == "send:-:done"
    eventless = by_label(view, "scored_high --> approved")
    assert "do" not in eventless
    assert eventless["why"].startswith("State scored_high is not active now")


def test_one_event_moving_two_regions_fires_from_either_edge() -> None:
    view = simulate(StateMachine.from_yaml(PARALLEL), "[]", "show", {})
    left, right = by_label(view, "a1 --> a2"), by_label(view, "b1 --> b2")
    assert left["do"] == right["do"] == "send:-:go"


def test_a_choice_on_an_undecided_guard_fires_with_its_via() -> None:
    view = simulate(StateMachine.from_yaml(NAMED), "[]", "show", {})
    full = by_label(view, "open --> filled")
    assert full["do"] == "send:0:fill" and "[is_full]" in full["label"]
    assert full["do"] in {button.do for button in view.enabled}
