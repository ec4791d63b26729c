"""The machine's small public questions, answered exactly (mutation run of ``machine.py``).

``explain_guard``, ``expression`` and ``get_available_triggers`` had no test of
the engine layer; a mutant of any of them survived. These pin what each answers:
the record of one guard (outcome, what it read, who decided), an async guard
refused without leaving an un-awaited coroutine behind, guards found in a
registry that only has ``has``/``get``, and triggers listed once each, by priority.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from pystator import GuardRegistry, StateMachine
from pystator.result import GuardEvaluation

MACHINE = """
meta: {machine_name: explained}
states:
  - {name: open, type: initial}
  - {name: filled}
  - {name: held}
transitions:
  - {trigger: fill, source: open, dest: filled, guards: [in_stock, {expr: "qty > 1"}]}
  - {trigger: hold, source: open, dest: held}
  - {trigger: fill, source: open, dest: held}
  - {trigger: cancel, source: open, dest: held}
  - {trigger: reopen, source: held, dest: open}
"""


def machine() -> StateMachine:
    return StateMachine.from_string(MACHINE)


class HasGet:
    """A registry without ``find``: the machine asks ``has`` and then ``get``."""

    def __init__(self, guards: Mapping[str, Callable[..., Any]]) -> None:
        self.guards = dict(guards)
        self.asked: list[str] = []

    def has(self, name: str) -> bool:
        self.asked.append(name)
        return name in self.guards

    def get(self, name: str) -> Callable[..., Any]:
        return self.guards[name]


def named_guard(m: StateMachine) -> Any:
    return m.transitions[0].guards[0]


def expr_guard(m: StateMachine) -> Any:
    return m.transitions[0].guards[1]


def test_an_expression_guard_is_explained_with_what_it_read() -> None:
    m = machine()
    assert m.explain_guard(expr_guard(m), {"qty": 3}) == GuardEvaluation(
        "qty > 1", True, "3 > 1", decided_by="expr"
    )
    assert m.explain_guard(expr_guard(m), {"qty": 0}) == GuardEvaluation(
        "qty > 1", False, "0 > 1", decided_by="expr"
    )


def test_an_unregistered_named_guard_fails_and_says_so() -> None:
    m = machine()
    assert m.explain_guard(named_guard(m), {"qty": 3}) == GuardEvaluation(
        "in_stock", False, "not registered"
    )


def test_a_registered_guard_is_called_with_a_plain_copy_of_the_context() -> None:
    seen: list[Any] = []

    def in_stock(ctx: Any) -> int:
        seen.append(ctx)
        ctx["touched"] = True  # a guard that writes must not change the caller's context
        return ctx["qty"]  # truthy, not True: the record says True

    registry = GuardRegistry()
    registry.register("in_stock", in_stock)
    m = machine().bind_guards(registry)
    context = {"qty": 2}
    assert m.explain_guard(named_guard(m), context) == GuardEvaluation(
        "in_stock", True, "", decided_by="registry"
    )
    assert context == {"qty": 2}
    assert seen == [{"qty": 2, "touched": True}] and type(seen[0]) is dict
    assert m.explain_guard(named_guard(m), {"qty": 0}).passed is False


def test_an_async_guard_is_refused_and_its_coroutine_closed() -> None:
    pending: list[Any] = []

    async def answer() -> bool:
        return True

    def in_stock(_ctx: Any) -> Any:
        pending.append(answer())
        return pending[-1]

    m = machine().bind_guards(HasGet({"in_stock": in_stock}))
    assert m.explain_guard(named_guard(m), {}) == GuardEvaluation(
        "in_stock", False, "async guard: use async_process"
    )
    (coroutine,) = pending
    assert coroutine.cr_frame is None  # closed: no "never awaited" warning later
    with pytest.raises(RuntimeError, match="cannot reuse"):
        asyncio.run(coroutine)


def test_a_registry_with_only_has_and_get_supplies_guards() -> None:
    registry = HasGet({"in_stock": lambda ctx: ctx["qty"] > 5})
    m = machine().bind_guards(registry)
    assert m.explain_guard(named_guard(m), {"qty": 9}).passed is True
    assert registry.asked == ["in_stock"]
    assert m.process("open", "fill", {"qty": 9}).target_state == "filled"
    assert m.process("open", "fill", {"qty": 1}).target_state == "held"
    missing = machine().bind_guards(HasGet({}))
    assert missing.explain_guard(named_guard(missing), {}).detail == "not registered"


def test_expression_compiles_once_and_evaluates() -> None:
    m = machine()
    compiled = m.expression("qty * 2 > 5")
    assert compiled.evaluate({"qty": 3}) == (True, "6 > 5")
    assert m.expression("qty * 2 > 5") is compiled


def test_available_triggers_are_listed_once_each_in_priority_order() -> None:
    m = machine()
    assert m.get_available_triggers("open") == ["fill", "hold", "cancel"]
    assert m.get_available_triggers("held") == ["reopen"]
    assert m.get_available_triggers("filled") == []


def test_an_unknown_trigger_is_matched_against_every_written_one_whatever_its_metadata() -> None:
    """A state's timeout is left out of the suggestions (nobody sends ``timeout:idle``);
    a written transition whose own metadata says ``timeout`` is not one."""
    m = StateMachine.from_yaml(
        """
        meta: {machine_name: hints, strict_mode: true}
        states:
          - {name: idle, type: initial, timeout: {seconds: 1, destination: b}}
          - {name: b}
        transitions:
          - {trigger: proceed, source: idle, dest: b, metadata: {timeout: true}}
        """
    )
    start = m.start().snapshot
    refusal = m.step(start, "procede").refusal
    assert refusal is not None and refusal.code == "unknown-trigger"
    assert refusal.message == (
        "no transition in this machine uses the trigger 'procede': did you mean 'proceed'?"
    )
    assert refusal.error is not None
    assert refusal.error.context["available_triggers"] == ["proceed"]
    hidden = m.step(start, "timeout:idl").refusal
    assert hidden is not None
    assert hidden.message == "no transition in this machine uses the trigger 'timeout:idl'"


def test_an_awaitable_without_close_is_refused_too() -> None:
    class Later:
        """Awaitable, but not a coroutine: it has nothing to close."""

        def __await__(self) -> Any:
            yield
            return True

    m = machine().bind_guards(HasGet({"in_stock": lambda _ctx: Later()}))
    assert m.explain_guard(named_guard(m), {}).detail == "async guard: use async_process"


# --- phase 2: configurations, state strings, sources and ``outcomes`` -------------------

NESTED = """
meta: {machine_name: nested}
states:
  - {name: shop, type: initial, initial_child: open}
  - {name: open, parent: shop}
  - {name: filled, parent: shop}
  - {name: idle}
  - {name: checking, type: initial, parent: idle}
  - {name: gone}
transitions:
  - {trigger: fill, source: open, dest: filled, guards: [{expr: "qty > 1"}]}
  - {trigger: quit, source: shop, dest: gone}
  - {trigger: rest, source: gone, dest: idle}
  - {always: true, source: idle, dest: open}
  - {trigger: back, source: filled, dest: open, after: 250}
"""

PARALLELS = """
meta: {machine_name: parallels}
states:
  - name: zeta
    type: parallel
    regions:
      - {name: left, initial: alpha, states: [alpha, done]}
      - {name: right, initial: y1, states: [y1]}
  - name: alpha
    type: parallel
    regions:
      - {name: a, initial: a1, states: [a1]}
      - {name: b, initial: b1, states: [b1]}
  - {name: done}
transitions:
  - {trigger: go, source: a1, dest: done}
"""


NEAR_MAIN = """
meta: {machine_name: near}
states:
  - name: m
    type: parallel
    regions:
      - {name: ain, initial: x, states: [x]}
      - {name: other, initial: y, states: [y]}
  - {name: main}
  - {name: x}
  - {name: y}
"""


def steps(m: StateMachine, snapshot: Any, event: Any, *args: Any, **options: Any) -> list[Any]:
    """The same step on both drivers (they must agree; a test reads the first)."""
    sync = m.step(snapshot, event, *args, **options)
    other = asyncio.run(m.async_step(snapshot, event, *args, **options))
    return [sync, other]


def test_a_snapshot_naming_only_a_leaf_is_closed_over_its_ancestors() -> None:
    from pystator.snapshot import Snapshot

    m = StateMachine.from_string(NESTED)
    for refused in steps(m, Snapshot(frozenset({"open"})), "fill", {"qty": 0}):
        assert refused.refusal is not None and refused.refusal.code == "guard-false"
    for moved in steps(m, Snapshot(frozenset({"open"})), "quit"):
        assert moved.exited == ("open", "shop")  # shop was active: it is left too
        assert moved.snapshot.configuration == {"gone"}


def test_an_unknown_state_is_named_with_a_hint_wherever_it_is_given() -> None:
    from pystator.errors import UndefinedStateError
    from pystator.snapshot import Snapshot

    m = StateMachine.from_string(NESTED)
    with pytest.raises(UndefinedStateError, match=r"^state 'opne' is not defined.*'open'") as e:
        m.step(Snapshot(frozenset({"opne", "shop"})), "fill")
    assert e.value.state == "opne"
    with pytest.raises(UndefinedStateError, match=r"^state 'fillled' is not defined.*'filled'"):
        m.configuration_of("fillled")
    p = StateMachine.from_string(PARALLELS)
    bad = "zeta:left=alpah,right=y1"
    with pytest.raises(UndefinedStateError, match=r"^state 'zeta:left=alpah,right=y1' is not"):
        p.configuration_of(bad)
    with pytest.raises(UndefinedStateError, match=r"^state 'zeta:left=' is not defined"):
        p.configuration_of("zeta:left=")
    near = StateMachine.from_string(NEAR_MAIN)  # a parallel string that reads like a state
    with pytest.raises(
        UndefinedStateError, match=r"^state 'm:ain=q' is not defined: did you mean 'main'\?$"
    ):
        near.configuration_of("m:ain=q")  # parses, names no state of region ain
    with pytest.raises(
        UndefinedStateError, match=r"^state 'mian' is not defined: did you mean 'main'\?$"
    ):
        near.configuration_of("mian")  # no parallel string at all


def test_a_nested_parallel_configuration_is_named_from_the_outermost_parallel() -> None:
    m = StateMachine.from_string(PARALLELS)
    text = "zeta:left=alpha{a=a1,b=b1},right=y1"
    assert m.initial_state_string() == text
    assert m.state_string(m.initial_configuration()) == text
    assert m.configuration_of(text) == {"zeta", "alpha", "a1", "b1", "y1"}
    assert m.snapshot_of(text).configuration == m.initial_configuration()
    moved = m.step(m.snapshot_of(text), "go")
    assert m.state_string(moved.snapshot.configuration) == "zeta:left=done,right=y1"
    assert m.state_string(frozenset({"done", "zeta", "y1"})) == ("zeta:left=done,right=y1")


def test_definition_text_is_told_from_a_path_by_its_first_character_or_a_newline() -> None:
    import json

    from pystator.errors import ConfigError

    definition = {"meta": {"machine_name": "j"}, "states": [{"name": "a", "type": "initial"}]}
    assert StateMachine.from_json("  " + json.dumps(definition)).name == "j"
    assert StateMachine.from_yaml("meta: {machine_name: y}\nstates: [{name: a}]").name == "y"
    with pytest.raises(ConfigError, match="a machine definition is a mapping"):
        StateMachine.from_json("  [1]")
    with pytest.raises(ConfigError, match=r"cannot read nofile\.yaml"):
        StateMachine.from_yaml("nofile.yaml")


def test_outcomes_steps_each_written_trigger_with_the_callers_context_and_clock() -> None:
    m = StateMachine.from_string(NESTED)
    out = m.outcomes(m.snapshot_of("open"), {"qty": 3}, now=1000)
    assert list(out) == ["fill", "quit", "rest", "back"]  # as written; an eventless one is no event
    fill = out["fill"]
    assert fill.refusal is None and fill.snapshot.configuration == {"shop", "filled"}
    assert [t.due_ms for t in fill.snapshot.timers] == [1250]
    assert fill.guards == (GuardEvaluation("qty > 1", True, "", 0, "open", "expr"),)
    assert out["quit"].snapshot.configuration == {"gone"}
    rested = m.outcomes(m.snapshot_of("gone"))["rest"]
    assert rested.snapshot.configuration == {"shop", "open"}  # idle moved on at once
    at_zero = m.outcomes(m.snapshot_of("open"), {"qty": 3})["fill"]
    assert [t.due_ms for t in at_zero.snapshot.timers] == [250]
    explained = m.outcomes(m.snapshot_of("open"), {"qty": 3}, explain=True, events=["fill"])
    assert list(explained) == ["fill"]
    assert explained["fill"].guards[0].detail == "3 > 1"
    resolved = m.outcomes(
        m.snapshot_of("open"), {"qty": 3}, guard_resolver=lambda t, g, c: False, events=["fill"]
    )
    assert resolved["fill"].refusal is not None
    assert resolved["fill"].guards[0].decided_by == "resolver"


def test_a_named_source_is_where_every_config_error_points() -> None:
    from pystator.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        StateMachine.from_string("states: [", source_name="orders.yaml")
    assert "\n  orders.yaml:2:1: YAML syntax error" in str(raised.value)


@pytest.mark.parametrize(
    ("ask", "message"),
    [
        (lambda m: m.get_state("opn"), "state 'opn' is not defined: did you mean 'open'?"),
        (lambda m: m.configuration_of("fillled"),
         "state 'fillled' is not defined: did you mean 'filled'?"),
    ],
    ids=["get_state", "configuration_of"],
)  # fmt: skip
def test_an_unknown_state_is_named_with_the_nearest_known_one(ask: Any, message: str) -> None:
    from pystator.errors import UndefinedStateError

    with pytest.raises(UndefinedStateError) as raised:
        ask(StateMachine.from_string(NESTED))
    assert str(raised.value) == message


def test_a_state_without_timers_has_no_delayed_transitions() -> None:
    m = StateMachine.from_string(NESTED)
    assert m.delayed_transitions("open") == ()
    (back,) = m.delayed_transitions("filled")
    assert (back.trigger, back.dest, back.after) == ("back", "open", 250)


def test_async_step_keeps_the_clock_at_zero_unless_told_and_explains_when_asked() -> None:
    m = StateMachine.from_string(NESTED)
    filled = asyncio.run(m.async_step(m.snapshot_of("open"), "fill", {"qty": 3}))
    assert [(t.armed_at_ms, t.due_ms) for t in filled.snapshot.timers] == [(0, 250)]
    assert filled.guards[0].detail == ""
    explained = asyncio.run(m.async_step(m.snapshot_of("open"), "fill", {"qty": 3}, explain=True))
    assert explained.guards[0].detail == "3 > 1"


# ------------------------------------------------------------------ the whole module (phase 7)

GUARDED = """
meta: {machine_name: gated}
states:
  - {name: a, type: initial}
  - {name: b}
  - {name: c}
  - name: p
    type: parallel
    regions:
      - {name: r1, initial: x, states: [x, y]}
      - {name: r2, initial: u, states: [u]}
transitions:
  - {trigger: go, source: a, dest: b, guards: [{expr: "n > 1"}]}
  - {trigger: move, source: x, dest: y, guards: [{expr: "n > 1"}]}
  - {trigger: enter, source: a, dest: p}
  - {trigger: wait, source: a, dest: c}
  - {trigger: later, source: c, dest: b, after: 500}
"""


def test_the_views_record_a_passing_guard_without_explaining_it() -> None:
    # only step(explain=True) reads out a passing guard's values (the designer asks);
    # the views, sync and async, keep to the hot path
    gated = StateMachine.from_string(GUARDED)
    passed = GuardEvaluation("n > 1", True, "", 0, "a", "expr")
    assert gated.process("a", "go", {"n": 5}).guard_evaluations == (passed,)
    assert asyncio.run(gated.async_process("a", "go", {"n": 5})).guard_evaluations == (passed,)
    config = gated.enter_parallel_state("p")
    moved = GuardEvaluation("n > 1", True, "", 1, "x", "expr")
    _, (sync,) = gated.process_parallel(config, "move", {"n": 5})
    _, (awaited,) = asyncio.run(gated.async_process_parallel(config, "move", {"n": 5}))
    assert sync.guard_evaluations == awaited.guard_evaluations == (moved,)
    explained = gated.step(gated.start().snapshot, "go", {"n": 5}, explain=True).guards
    assert explained[0].detail != ""


def test_a_step_without_a_clock_is_taken_at_zero() -> None:
    gated = StateMachine.from_string(GUARDED)
    (timer,) = gated.step(gated.start().snapshot, "wait").snapshot.timers
    assert (timer.armed_at_ms, timer.due_ms) == (0, 500)


def test_a_machine_with_other_guards_shares_the_transitions_of_the_first() -> None:
    # `with_guards` shares the compiled tables: a state's `timeout` is a transition the
    # tables make, and a step of the copy must be readable by the original (a host keeps
    # one machine and binds guards per call); built anew, it is another object
    timed = StateMachine.from_string(
        "meta: {machine_name: t}\n"
        "states:\n"
        "  - {name: a, type: initial, timeout: {seconds: 5, destination: b}}\n"
        "  - {name: b}\n"
        "transitions:\n"
        "  - {trigger: go, source: a, dest: b}\n"
    )
    copy = timed.with_guards(GuardRegistry())
    started = copy.start()
    (timer,) = started.snapshot.pending
    step = copy.step(started.snapshot, timer, now=5000)
    assert timed.transition_index(step.transitions[0].transition) == 1
