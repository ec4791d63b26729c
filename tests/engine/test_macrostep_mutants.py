"""A machine with a datamodel takes every microstep the way a machine without one does.

``pystator.macrostep`` has two ways to apply a microstep: the plain one, and the one a
machine with variables (``data:``) takes, which runs each block of actions as it is
reached so that later guards read what earlier actions assigned. Apart from the
variables, the two must agree on everything a step reports: the states exited and
entered, the effects in order (actions, timers armed and cancelled, raised events),
the microsteps, the pending timers with their ids, the history and the done events.

So every machine here is run twice, as written and with one variable no guard or
action reads, through the same random events and timer firings, and the two steps
compared field by field. Mutation testing found the datamodel path was otherwise
checked only by the W3C and SCION suites (``tests/conformance``): a broken timer or
history there passed every engine test.
"""

from __future__ import annotations

import copy
import datetime
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pystator import Event, StateMachine
from pystator.config.source import read_source
from pystator.guards import GuardRegistry
from pystator.macrostep import LivelockError
from pystator.step import Step
from tests.engine.test_properties import machines

HERE = Path(__file__).parent
EXAMPLES = sorted((HERE.parents[1] / "examples").glob("*.yaml"))
STATECHARTS = sorted((HERE / "statecharts").glob("*.yaml"))
TWIN = "twin_variable"  # the variable that makes the datamodel path run


def _definitions(path: Path) -> list[dict[str, Any]]:
    """The machine of a file: an example, or each document of a statechart case file."""
    texts = path.read_text(encoding="utf-8").split("\n---\n")
    documents = [read_source(text).data for text in texts]  # our reader: `on` is a name
    return [d["machine"] if "states" not in d else d for d in documents if d]


def _twins(definition: dict[str, Any]) -> tuple[StateMachine, StateMachine]:
    plain = StateMachine.from_dict(definition)
    with_data = copy.deepcopy(definition)
    data = with_data.get("data")
    if isinstance(data, list):
        data.append({"id": TWIN, "expr": "0"})
    else:
        with_data["data"] = {**(data or {}), TWIN: 0}
    twin = StateMachine.from_dict(with_data)
    guards = GuardRegistry()
    for name in plain.named_guards:
        guards.register(name, lambda ctx, _n=name: len(_n) % 2 == 0)
    return plain.with_guards(guards), twin.with_guards(guards)


def _view(machine: StateMachine, step: Step) -> dict[str, Any]:
    snapshot = step.snapshot
    return {
        "refusal": step.refusal.code if step.refusal is not None else None,
        "configuration": machine.state_string(step.configuration),
        "exited": step.exited,
        "entered": step.entered,
        "transitions": [(t.index, t.source) for t in step.transitions],
        "effects": [e for e in step.effects if type(e).__name__ != "Assign"],
        "microsteps": [
            (
                m.event,
                m.exited,
                m.entered,
                m.internal,
                [(t.index, t.source) for t in m.transitions],
                [e for e in m.effects if type(e).__name__ != "Assign"],
            )
            for m in step.microsteps
        ],
        "timers": snapshot.timers,
        "next_timer_id": snapshot.next_timer_id,
        "history": dict(snapshot.history),
        "data": {k: v for k, v in snapshot.data.items() if k != TWIN},
    }


def _agree(definition: dict[str, Any], seed: int, steps: int = 30) -> None:
    plain, twin = _twins(definition)
    assert twin._tables.datamodel is not None
    rng = random.Random(seed)
    triggers = sorted({t.trigger for t in plain.transitions if not t.eventless and t.trigger})
    context = {"n": 2, "amount": 150, "attempts": 1}
    a, b = plain.start(context), twin.start(context)
    assert _view(plain, a) == _view(twin, b)
    now = 0
    for _ in range(steps):
        sa, sb = a.snapshot, b.snapshot
        if sa.timers and rng.random() < 0.35:
            now = max(now, sa.timers[0].due_ms)
            a = plain.step(sa, sa.timers[0], context, now=now)
            b = twin.step(sb, sb.timers[0], context, now=now)
        else:
            event = rng.choice(triggers) if triggers else "nothing"
            now += rng.choice((0, 250, 1000))
            a = plain.step(sa, event, context, now=now)
            b = twin.step(sb, event, context, now=now)
        assert _view(plain, a) == _view(twin, b), f"after {event if not sa.timers else 'a step'}"


CHARTS = EXAMPLES + STATECHARTS


@pytest.mark.parametrize("path", CHARTS, ids=[f"{p.parent.name}/{p.stem}" for p in CHARTS])
def test_a_datamodel_changes_no_step_of_a_written_machine(path: Path) -> None:
    for definition in _definitions(path):
        for seed in range(8):
            _agree(definition, seed)


@st.composite
def timed_machines(draw: st.DrawFn) -> dict[str, Any]:
    """The property tests' machines with delayed transitions and a history state added."""
    definition = draw(machines())
    names = [s["name"] for s in definition["states"] if s.get("type") != "parallel"]
    names += [
        child
        for s in definition["states"]
        for region in s.get("regions", ())
        for child in region["states"]
    ]
    for k in range(draw(st.integers(1, 3))):
        definition["transitions"].append(
            {
                "after": f"{draw(st.sampled_from((1, 2, 5)))}s",
                "source": draw(st.sampled_from(names)),
                "dest": draw(st.sampled_from(names)),
                "actions": [f"late{k}"],
            }
        )
    parents = sorted({s["parent"] for s in definition["states"] if "parent" in s})
    if draw(st.booleans()) and parents:
        parent = draw(st.sampled_from(parents))
        definition["states"].append(
            {
                "name": "back",
                "parent": parent,
                "type": "history",
                "history": draw(st.sampled_from(("shallow", "deep"))),
            }
        )
        definition["transitions"].append(
            {"trigger": "resume", "source": draw(st.sampled_from(names)), "dest": "back"}
        )
    return definition


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timed_machines(), st.integers(0, 10_000))
def test_a_datamodel_changes_no_step_of_a_generated_machine(
    definition: dict[str, Any], seed: int
) -> None:
    try:
        StateMachine.from_dict(definition)
    except Exception as error:  # a generated shape the loader refuses is not a case
        from pystator.errors import ConfigError

        if isinstance(error, ConfigError):
            return
        raise
    _agree(definition, seed)


# What only the datamodel path has: the event's fields and In(...) read while a
# microstep is being taken.

NESTED = {
    "meta": {"machine_name": "leaving"},
    "data": {"child_active": None, "kind": None, "name": None},
    "states": [
        {"name": "job", "type": "initial", "initial_child": "fetch"},
        {
            "name": "fetch",
            "parent": "job",
            "on_exit": [{"assign": "child_active", "expr": "In('fetch')"}],
        },
        {"name": "finished", "parent": "job", "type": "final"},
        {
            "name": "outer",
            "initial_child": "inner",
            "on_exit": [{"assign": "child_active", "expr": "In('inner')"}],
        },
        {"name": "inner", "parent": "outer"},
        {"name": "out", "type": "terminal"},
    ],
    "transitions": [
        {"trigger": "fetched", "source": "fetch", "dest": "finished"},
        {
            "trigger": "done.state.job",
            "source": "job",
            "dest": "outer",
            "actions": [
                {"assign": "kind", "expr": "_event['type']"},
                {"assign": "name", "expr": "_event['name']"},
            ],
        },
        {"trigger": "leave", "source": "outer", "dest": "out"},
    ],
}


def test_a_state_is_active_in_its_own_exit_actions_and_gone_in_its_parents() -> None:
    machine = StateMachine.from_dict(NESTED)
    first = machine.step(machine.start().snapshot, "fetched")
    assert first.snapshot.data["child_active"] is True  # fetch's own on_exit
    left = machine.step(first.snapshot, "leave")
    assert left.snapshot.data["child_active"] is False  # outer's: inner has left already


def test_a_done_event_reaches_the_datamodel_as_a_platform_event() -> None:
    machine = StateMachine.from_dict(NESTED)
    step = machine.step(machine.start().snapshot, "fetched")
    assert machine.state_string(step.configuration) == "inner"
    assert (step.snapshot.data["kind"], step.snapshot.data["name"]) == (
        "platform",
        "done.state.job",
    )


def test_an_internal_event_carries_its_send_id_origin_and_data_and_its_data_is_read_first() -> None:
    """A ``send`` to ``#_internal`` is queued with its id: ``_event`` says who sent it,
    and a guard reads the event's data before the variable of the same name."""
    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "fields"},
            "data": {"seen": None, "plain": None, "amount": 0},
            "states": [
                {"name": "a", "type": "initial"},
                {
                    "name": "b",
                    "on_enter": [
                        {"send": "ping", "id": "p1", "target": "#_internal", "data": {"amount": 7}}
                    ],
                },
                {"name": "c", "on_enter": [{"raise": "pong"}]},
                {"name": "d"},
            ],
            "transitions": [
                {"trigger": "go", "source": "a", "dest": "b"},
                {
                    "trigger": "ping",
                    "source": "b",
                    "dest": "c",
                    "guards": [{"expr": "amount == 7"}],
                    "actions": [{"assign": "seen", "expr": "_event"}],
                },
                {
                    "trigger": "pong",
                    "source": "c",
                    "dest": "d",
                    "actions": [{"assign": "plain", "expr": "_event"}],
                },
            ],
        }
    )
    step = machine.step(machine.start().snapshot, "go")
    assert [m.event for m in step.microsteps] == ["go", "ping", "pong"]
    assert [m.internal for m in step.microsteps] == [False, True, True]
    processor = "http://www.w3.org/TR/scxml/#SCXMLEventProcessor"
    assert step.snapshot.data["seen"] == {
        "name": "ping",
        "type": "internal",
        "sendid": "p1",
        "origin": "#_scxml_pystator",
        "origintype": processor,
        "invokeid": None,
        "data": {"amount": 7},
    }
    assert step.snapshot.data["plain"] == {
        "name": "pong",
        "type": "internal",
        "sendid": None,
        "origin": None,
        "origintype": None,
        "invokeid": None,
        "data": None,
    }
    assert step.snapshot.data["amount"] == 0


def test_an_internal_event_nothing_handles_is_an_empty_internal_microstep() -> None:
    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "unheard"},
            "data": {"k": 0},
            "states": [
                {"name": "a", "type": "initial"},
                {"name": "b", "on_enter": [{"raise": "echo"}]},
            ],
            "transitions": [{"trigger": "go", "source": "a", "dest": "b"}],
        }
    )
    step = machine.step(machine.start().snapshot, "go")
    (_, echo) = step.microsteps
    assert (
        echo.event,
        echo.transitions,
        echo.exited,
        echo.entered,
        echo.effects,
        echo.internal,
    ) == ("echo", (), (), (), (), True)


def test_each_transition_of_a_microstep_runs_its_actions_as_a_block_of_its_own() -> None:
    """An error stops the rest of its own transition's actions, not another region's."""
    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "blocks"},
            "data": {"a": 0, "b": 0, "c": 0},
            "states": [
                {
                    "name": "both",
                    "type": "parallel",
                    "regions": [
                        {"name": "left", "initial": "l0", "states": ["l0", "l1"]},
                        {"name": "right", "initial": "r0", "states": ["r0", "r1"]},
                    ],
                }
            ],
            "transitions": [
                {
                    "trigger": "go",
                    "source": "l0",
                    "dest": "l1",
                    "actions": [{"assign": "a", "expr": "1 / 0"}, {"assign": "b", "expr": "1"}],
                },
                {
                    "trigger": "go",
                    "source": "r0",
                    "dest": "r1",
                    "actions": [{"assign": "c", "expr": "2"}],
                },
            ],
        }
    )
    step = machine.step(machine.start().snapshot, "go")
    assert dict(step.snapshot.data) == {"a": 0, "b": 0, "c": 2}


def _ring(size: int, laps: int) -> StateMachine:
    """``size`` states in a ring, gone round eventlessly while ``k < laps``."""
    names = [f"s{i}" for i in range(size)]
    return StateMachine.from_dict(
        {
            "meta": {"machine_name": "ring"},
            "data": {"k": 0},
            "states": [{"name": "idle", "type": "initial"}, *({"name": n} for n in names)],
            "transitions": [
                {"trigger": "go", "source": "idle", "dest": names[0]},
                *(
                    {
                        "source": n,
                        "dest": names[(i + 1) % size],
                        "always": True,
                        "guards": [{"expr": f"k < {laps}"}],
                        "actions": [{"assign": "k", "expr": "k + 1"}],
                    }
                    for i, n in enumerate(names)
                ),
            ],
        }
    )


def test_a_datamodel_chain_may_take_exactly_the_microstep_limit_and_no_more() -> None:
    from pystator.macrostep import MAX_DATAMODEL_MICROSTEPS as LIMIT

    machine = _ring(1, LIMIT - 1)  # the event's microstep and LIMIT - 1 more: LIMIT
    settled = machine.step(machine.start().snapshot, "go")
    assert settled.refusal is None and len(settled.microsteps) == LIMIT
    assert settled.snapshot.data["k"] == LIMIT - 1
    machine = _ring(12, LIMIT)
    refused = machine.step(machine.start().snapshot, "go")
    assert refused.refusal is not None and refused.refusal.code == "livelock"
    # no configuration came back (the counter moved on): the last ten microsteps are named
    last = [(LIMIT - 10 + j) % 12 for j in range(10)]
    hops = ", then ".join(f"s{i} -> s{(i + 1) % 12}" for i in last)
    assert refused.refusal.message == (
        f"eventless transitions or internal events loop without settling: {hops}, and again "
        f"(stopped after {LIMIT + 1} microsteps)"
    )
    assert refused.snapshot.data["k"] == 0  # nothing of the chain applies


SPIN = {
    "meta": {"machine_name": "spin"},
    "states": [
        {"name": "A", "type": "initial"},
        {"name": "B"},
        {"name": "C", "on_enter": [{"raise": "again"}]},
    ],
    "transitions": [
        {"trigger": "go", "source": "A", "dest": "B"},
        {"source": "B", "dest": "A", "always": True, "guards": [{"expr": "looping"}]},
        {"source": "A", "dest": "B", "always": True, "guards": [{"expr": "looping"}]},
        {"trigger": "echo", "source": "A", "dest": "C"},
        {"trigger": "again", "source": "C", "dest": "C", "kind": "external"},
    ],
}


@pytest.mark.parametrize("datamodel", [False, True], ids=["plain", "datamodel"])
def test_a_loop_is_named_from_where_it_first_came_back(datamodel: bool) -> None:
    machine = StateMachine.from_dict({**SPIN, "data": {"v": 1}} if datamodel else SPIN)
    start = machine.start({"looping": False}).snapshot
    loop = "eventless transitions or internal events loop without settling: "
    spun = machine.step(start, "go", {"looping": True})
    assert spun.refusal is not None
    assert (
        spun.refusal.message == f"{loop}B -> A, then A -> B, and again (stopped after 3 microsteps)"
    )
    echoed = machine.step(start, "echo", {"looping": False})
    assert echoed.refusal is not None
    assert echoed.refusal.message == f"{loop}again: C -> C, and again (stopped after 2 microsteps)"
    assert echoed.snapshot == start


@pytest.mark.parametrize("datamodel", [False, True], ids=["plain", "datamodel"])
def test_a_timer_that_already_fired_is_refused_and_changes_nothing(datamodel: bool) -> None:
    definition: dict[str, Any] = {
        "meta": {"machine_name": "once"},
        "states": [{"name": "a", "type": "initial"}, {"name": "b"}],
        "transitions": [{"after": "1s", "source": "a", "dest": "b"}],
    }
    if datamodel:
        definition["data"] = {"v": 3}
    machine = StateMachine.from_dict(definition)
    (timer,) = machine.start().snapshot.timers
    fired = machine.step(machine.start().snapshot, timer, now=1000)
    again = machine.step(fired.snapshot, timer, {"w": 1}, now=1000)
    assert again.refusal is not None and again.refusal.code == "stale-timer"
    assert again.refusal.message == (
        f"timer {timer.id} is not pending in 'b' (it fired, or its state was left)"
    )
    assert (again.event, again.timer, again.snapshot) == (timer.trigger, timer, fired.snapshot)
    assert dict(again.context) == ({"v": 3, "w": 1} if datamodel else {"w": 1})


PAYMENT = {
    "meta": {"machine_name": "payment"},
    "states": [
        {"name": "authorising", "type": "initial"},
        {"name": "capturing", "on_enter": ["capture"]},
        {"name": "timed_out"},
    ],
    "transitions": [
        {"trigger": "authorised", "source": "authorising", "dest": "capturing"},
        {"after": "2s", "source": "authorising", "dest": "timed_out"},
        {"after": "1s", "source": "capturing", "dest": "timed_out"},
    ],
}
CHECKOUT = {
    "meta": {"machine_name": "checkout"},
    "states": [
        {"name": "cart", "type": "initial"},
        {
            "name": "paying",
            "invoke": [{"id": "pay", "src": "machine:payment", "autoforward": True}],
        },
        {"name": "paid"},
    ],
    "transitions": [
        {"trigger": "checkout", "source": "cart", "dest": "paying"},
        {"trigger": "done.invoke.pay", "source": "paying", "dest": "paid"},
    ],
}


def _paying() -> tuple[StateMachine, Any]:
    parent = StateMachine.from_dict(CHECKOUT)
    parent.bind_machines({"payment": StateMachine.from_dict(PAYMENT)})
    return parent, parent.step(parent.start().snapshot, "checkout", now=100).snapshot


def test_an_event_only_a_forwarding_child_takes_is_a_step_of_the_child() -> None:
    parent, paying = _paying()
    step = parent.step(paying, "authorised", {"who": "me"}, now=500)
    assert step.refusal is None and step.event == "authorised"
    assert parent.state_string(step.configuration) == "paying"
    child = step.snapshot.children["pay"]
    assert child.configuration == frozenset({"capturing"})
    (armed,) = child.timers
    assert (armed.armed_at_ms, armed.due_ms) == (500, 1500)  # on the step's clock
    assert [type(e).__name__ for e in step.effects] == ["CancelTimer", "RunAction", "ScheduleTimer"]
    assert dict(step.context) == {"who": "me"}
    assert step.timer is None


def test_a_childs_own_timer_moves_only_the_child() -> None:
    parent, paying = _paying()
    (timer,) = paying.children["pay"].timers
    assert paying.timers == ()  # the parent holds none of it
    step = parent.step(paying, timer, {"who": "me"}, now=timer.due_ms)
    assert step.refusal is None
    assert (step.event, step.timer) == (timer.trigger, timer)
    assert parent.state_string(step.configuration) == "paying"
    assert step.snapshot.children["pay"].configuration == frozenset({"timed_out"})
    assert dict(step.context) == {"who": "me"}


def test_transition_actions_see_the_states_left_gone_and_the_other_regions_still_active() -> None:
    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "between"},
            "data": {"source_active": None, "sibling_active": None},
            "states": [
                {
                    "name": "both",
                    "type": "parallel",
                    "regions": [
                        {"name": "left", "initial": "l0", "states": ["l0", "l1"]},
                        {"name": "right", "initial": "r0", "states": ["r0"]},
                    ],
                }
            ],
            "transitions": [
                {
                    "trigger": "go",
                    "source": "l0",
                    "dest": "l1",
                    "actions": [
                        {"assign": "source_active", "expr": "In('l0')"},
                        {"assign": "sibling_active", "expr": "In('r0')"},
                    ],
                }
            ],
        }
    )
    step = machine.step(machine.start().snapshot, "go")
    assert dict(step.snapshot.data) == {"source_active": False, "sibling_active": True}


def test_an_eventless_guard_reads_in_with_the_states_just_entered() -> None:
    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "entered"},
            "data": {"k": 0},
            "states": [{"name": "a", "type": "initial"}, {"name": "b"}, {"name": "c"}],
            "transitions": [
                {"trigger": "go", "source": "a", "dest": "b"},
                {"source": "b", "dest": "c", "always": True, "guards": [{"expr": "In('b')"}]},
            ],
        }
    )
    step = machine.step(machine.start().snapshot, "go")
    assert machine.state_string(step.configuration) == "c"


def test_a_childs_done_event_reaches_a_parents_datamodel_as_a_platform_event() -> None:
    parent = StateMachine.from_dict(
        {
            **CHECKOUT,
            "data": {"kind": None, "name": None},
            "transitions": [
                {"trigger": "checkout", "source": "cart", "dest": "paying"},
                {
                    "trigger": "done.invoke.pay",
                    "source": "paying",
                    "dest": "paid",
                    "actions": [
                        {"assign": "kind", "expr": "_event['type']"},
                        {"assign": "name", "expr": "_event['name']"},
                    ],
                },
            ],
        }
    )
    quick = {
        **PAYMENT,
        "states": [{"name": "authorising", "type": "initial"}, {"name": "ok", "type": "terminal"}],
    }
    quick["transitions"] = [{"trigger": "authorised", "source": "authorising", "dest": "ok"}]
    parent.bind_machines({"payment": StateMachine.from_dict(quick)})
    paying = parent.step(parent.start().snapshot, "checkout").snapshot
    step = parent.step(paying, "authorised")
    assert parent.state_string(step.configuration) == "paid"
    assert (step.snapshot.data["kind"], step.snapshot.data["name"]) == (
        "platform",
        "done.invoke.pay",
    )


def test_an_internal_event_whose_named_guard_is_missing_is_not_taken() -> None:
    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "unguarded"},
            "states": [
                {"name": "a", "type": "initial"},
                {"name": "b", "on_enter": [{"raise": "onward"}]},
                {"name": "c"},
            ],
            "transitions": [
                {"trigger": "go", "source": "a", "dest": "b"},
                {"trigger": "onward", "source": "b", "dest": "c", "guards": ["nobody_registered"]},
            ],
        }
    )
    step = machine.step(machine.start().snapshot, "go")
    assert machine.state_string(step.configuration) == "b"
    assert [(m.event, m.transitions) for m in step.microsteps][-1] == ("onward", ())


def test_an_internal_event_into_a_history_state_restores_what_was_remembered() -> None:
    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "resume"},
            "states": [
                {"name": "on", "type": "initial", "initial_child": "one"},
                {"name": "one", "parent": "on"},
                {"name": "two", "parent": "on"},
                {"name": "back", "parent": "on", "type": "history", "default": "one"},
                {"name": "off"},
                {"name": "waking", "on_enter": [{"raise": "wake"}]},
            ],
            "transitions": [
                {"trigger": "next", "source": "one", "dest": "two"},
                {"trigger": "sleep", "source": "on", "dest": "off"},
                {"trigger": "nudge", "source": "off", "dest": "waking"},
                {"trigger": "wake", "source": "waking", "dest": "back"},
            ],
        }
    )
    snapshot = machine.start().snapshot
    for event in ("next", "sleep"):
        snapshot = machine.step(snapshot, event).snapshot
    step = machine.step(snapshot, "nudge")
    assert machine.state_string(step.configuration) == "two"


BOTH_SPIN = {
    "meta": {"machine_name": "both_spin"},
    "states": [
        {"name": "idle", "type": "initial"},
        {
            "name": "both",
            "type": "parallel",
            "regions": [
                {"name": "a", "initial": "a1", "states": ["a1", "a2"]},
                {"name": "b", "initial": "b1", "states": ["b1", "b2"]},
            ],
        },
    ],
    "transitions": [
        {"trigger": "go", "source": "idle", "dest": "both"},
        {"source": "a1", "dest": "a2", "always": True, "region": "a"},
        {"source": "a2", "dest": "a1", "always": True, "region": "a"},
        {"source": "b1", "dest": "b2", "always": True, "region": "b"},
        {"source": "b2", "dest": "b1", "always": True, "region": "b"},
    ],
}
NOISE = {
    "meta": {"machine_name": "noise"},
    "states": [{"name": "A", "type": "initial"}],
    "transitions": [
        {"trigger": "start", "source": "A", "dest": "A", "actions": [{"raise": "tick"}]},
        {
            "trigger": "tick",
            "source": "A",
            "dest": "A",
            "kind": "external",
            "actions": [{"raise": "noise"}, {"raise": "tick"}],
        },
    ],
}
LOOP = "eventless transitions or internal events loop without settling: "


@pytest.mark.parametrize("datamodel", [False, True], ids=["plain", "datamodel"])
def test_a_loop_through_two_regions_names_both_transitions_of_each_microstep(
    datamodel: bool,
) -> None:
    machine = StateMachine.from_dict({**BOTH_SPIN, "data": {"v": 1}} if datamodel else BOTH_SPIN)
    spun = machine.step(machine.start().snapshot, "go")
    assert spun.refusal is not None
    assert spun.refusal.message == (
        f"{LOOP}a1 -> a2, b1 -> b2, then a2 -> a1, b2 -> b1, and again (stopped after 3 microsteps)"
    )


@pytest.mark.parametrize("datamodel", [False, True], ids=["plain", "datamodel"])
def test_a_loop_names_the_internal_event_nothing_handles(datamodel: bool) -> None:
    machine = StateMachine.from_dict({**NOISE, "data": {"v": 1}} if datamodel else NOISE)
    spun = machine.step(machine.start().snapshot, "start")
    assert spun.refusal is not None
    assert spun.refusal.message == (
        f"{LOOP}tick: A -> A, then noise: nothing handles it, and again "
        "(stopped after 3 microsteps)"
    )


def test_a_datamodel_loop_is_found_with_values_json_cannot_write_in_the_context() -> None:
    definition = {
        **SPIN,
        "data": {"v": 1},
        "transitions": [
            {"trigger": "go", "source": "A", "dest": "B"},
            {"source": "B", "dest": "A", "always": True, "guards": [{"expr": "when"}]},
            {"source": "A", "dest": "B", "always": True, "guards": [{"expr": "when"}]},
        ],
    }
    machine = StateMachine.from_dict(definition)
    when = datetime.date(2026, 12, 3)
    spun = machine.step(machine.start().snapshot, "go", {"when": when, "tags": {"x"}})
    assert spun.refusal is not None and spun.refusal.code == "livelock"
    assert spun.refusal.message == (
        f"{LOOP}B -> A, then A -> B, and again (stopped after 3 microsteps)"
    )


# A child that keeps time on its own, then finishes; its host approves the result with a
# named guard, and keeps a timer of its own inside the invoking state.
TICKER = {
    "meta": {"machine_name": "ticker"},
    "states": [
        {"name": "waiting", "type": "initial"},
        {"name": "again"},
        {"name": "finished", "type": "final"},
    ],
    "transitions": [
        {"after": "1s", "source": "waiting", "dest": "again"},
        {"after": "1s", "source": "again", "dest": "finished"},
        {"trigger": "finish", "source": "again", "dest": "finished"},
    ],
}
HOST = {
    "meta": {"machine_name": "host"},
    "states": [
        {"name": "idle", "type": "initial"},
        {
            "name": "running",
            "initial_child": "r1",
            "invoke": [{"id": "tick", "src": "machine:ticker", "autoforward": True}],
        },
        {"name": "r1", "parent": "running"},
        {"name": "r2", "parent": "running"},
        {"name": "accepted"},
        {"name": "rejected"},
    ],
    "transitions": [
        {"trigger": "go", "source": "idle", "dest": "running"},
        {"after": "500ms", "source": "r1", "dest": "r2"},
        {"trigger": "done.invoke.tick", "source": "running", "dest": "accepted",
         "guards": ["approve"]},
        {"trigger": "done.invoke.tick", "source": "running", "dest": "rejected"},
    ],
}  # fmt: skip


def _hosting(definition: dict[str, Any] = HOST) -> tuple[StateMachine, Any]:
    """The host bound to its child and its guard, and its snapshot once running."""
    host = StateMachine.from_dict(definition)
    host.bind_machines({"ticker": StateMachine.from_dict(TICKER)})
    registry = GuardRegistry()
    registry.register("approve", lambda ctx: bool(ctx.get("ok")))
    host.bind_guards(registry)
    return host, host.step(host.start().snapshot, "go", now=100).snapshot


def test_a_childs_timer_arms_the_childs_next_timer_on_the_steps_clock() -> None:
    host, running = _hosting()
    (first,) = running.children["tick"].timers
    step = host.step(running, first, now=first.due_ms)
    assert step.snapshot.children["tick"].configuration == frozenset({"again"})
    (following,) = step.snapshot.children["tick"].timers
    assert (following.armed_at_ms, following.due_ms) == (1100, 2100)
    assert host.state_string(step.configuration) == "r1"


@pytest.mark.parametrize("ok", [True, False])
def test_a_child_finished_by_its_own_timer_lets_the_hosts_named_guard_decide(ok: bool) -> None:
    host, running = _hosting()
    (first,) = running.children["tick"].timers
    ticked = host.step(running, first, now=first.due_ms).snapshot
    (last,) = ticked.children["tick"].timers
    step = host.step(ticked, last, {"ok": ok}, now=last.due_ms)
    assert step.refusal is None
    assert host.state_string(step.configuration) == ("accepted" if ok else "rejected")
    assert [g.guard for g in step.guards] == ["approve"]


@pytest.mark.parametrize("ok", [True, False])
def test_a_child_finished_by_a_forwarded_event_lets_the_hosts_named_guard_decide(ok: bool) -> None:
    host, running = _hosting()
    (first,) = running.children["tick"].timers
    ticked = host.step(running, first, now=first.due_ms).snapshot
    step = host.step(ticked, "finish", {"ok": ok}, now=1500)
    assert step.refusal is None
    assert host.state_string(step.configuration) == ("accepted" if ok else "rejected")


def test_the_hosts_own_timer_leaves_its_running_child_as_it_was() -> None:
    host, running = _hosting()
    (own,) = running.timers
    step = host.step(running, own, now=own.due_ms)
    assert host.state_string(step.configuration) == "r2"
    assert step.snapshot.children == running.children  # not restarted: same state, same timer
    assert not any(m.event and m.event.startswith("start.invoke") for m in step.microsteps)


EXTERNAL = {
    "meta": {"machine_name": "external"},
    "data": {"seen": None, "timed": None, "amount": 0},
    "states": [
        {"name": "a", "type": "initial"},
        {
            "name": "b",
            "on_enter": [{"send": "ping", "id": "t1", "delay": "1s", "data": {"amount": 9}}],
        },
        {"name": "c"},
    ],
    "transitions": [
        {"trigger": "go", "source": "a", "dest": "b", "guards": [{"expr": "amount == 3"}],
         "actions": [{"assign": "seen", "expr": "_event"}]},
        {"trigger": "ping", "source": "b", "dest": "c", "guards": [{"expr": "amount == 9"}],
         "actions": [{"assign": "timed", "expr": "_event"}]},
    ],
}  # fmt: skip
PROCESSOR = "http://www.w3.org/TR/scxml/#SCXMLEventProcessor"


def test_an_external_event_and_a_sent_timer_reach_the_datamodel_with_their_data() -> None:
    machine = StateMachine.from_dict(EXTERNAL)
    went = machine.step(machine.start().snapshot, Event("go", {"amount": 3}))
    assert went.refusal is None  # the guard read the event's data, not the variable (0)
    assert went.snapshot.data["seen"] == {
        "name": "go", "type": "external", "sendid": None, "origin": None,
        "origintype": None, "invokeid": None, "data": {"amount": 3},
    }  # fmt: skip
    (timer,) = went.snapshot.timers
    fired = machine.step(went.snapshot, timer, now=timer.due_ms)
    assert fired.refusal is None and fired.snapshot.configuration == frozenset({"c"})
    assert fired.snapshot.data["timed"] == {
        "name": "ping", "type": "external", "sendid": "t1", "origin": "#_scxml_pystator",
        "origintype": PROCESSOR, "invokeid": None, "data": {"amount": 9},
    }  # fmt: skip
    assert fired.snapshot.data["amount"] == 0


@pytest.mark.parametrize("datamodel", [False, True], ids=["plain", "datamodel"])
def test_a_refused_event_or_timer_says_which_and_gives_the_context_back(datamodel: bool) -> None:
    definition = {**GUARDED, "data": {"v": 2}} if datamodel else GUARDED
    machine = StateMachine.from_dict(definition)
    start = machine.start().snapshot
    refused = machine.step(start, "nope", {"w": 1})
    assert (refused.event, refused.timer, refused.refusal and refused.refusal.code) == (
        "nope", None, "unknown-trigger",
    )  # fmt: skip
    assert dict(refused.context) == ({"v": 2, "w": 1} if datamodel else {"w": 1})
    assert dict(machine.step(start, "nope").context) == ({"v": 2} if datamodel else {})
    (timer,) = start.timers
    held = machine.step(start, timer, {"ready": False}, now=timer.due_ms)
    assert held.refusal is not None and held.refusal.code == "guard-false"
    assert (held.event, held.timer) == (timer.trigger, timer)
    assert dict(held.context) == ({"v": 2, "ready": False} if datamodel else {"ready": False})


GUARDED = {
    "meta": {"machine_name": "guarded"},
    "states": [{"name": "armed", "type": "initial"}, {"name": "fired"}],
    "transitions": [
        {"trigger": "ring", "source": "armed", "dest": "fired", "after": "1s",
         "guards": [{"expr": "ready"}]},
    ],
}  # fmt: skip


@pytest.mark.parametrize("datamodel", [False, True], ids=["plain", "datamodel"])
def test_a_livelock_is_refused_with_its_error_the_guards_read_and_the_context(
    datamodel: bool,
) -> None:
    guarded_go = [
        {**t, "guards": [{"expr": "looping"}]} if t.get("trigger") == "go" else t
        for t in SPIN["transitions"]
    ]
    definition: dict[str, Any] = {**SPIN, "transitions": guarded_go}
    if datamodel:
        definition["data"] = {"v": 2}
    machine = StateMachine.from_dict(definition)
    spun = machine.step(machine.start({"looping": False}).snapshot, "go", {"looping": True})
    assert spun.refusal is not None and spun.refusal.code == "livelock"
    assert (spun.event, spun.timer) == ("go", None)
    assert isinstance(spun.refusal.error, LivelockError)
    assert spun.refusal.error.message == spun.refusal.message
    assert spun.refusal.error.context == {"trigger": "go"}
    assert [(g.guard, g.passed) for g in spun.guards][:1] == [("looping", True)]
    assert dict(spun.context) == ({"v": 2, "looping": True} if datamodel else {"looping": True})


def test_a_machine_that_cannot_settle_cannot_start() -> None:
    looping = {
        **SPIN,
        "transitions": [
            {"source": "A", "dest": "B", "always": True},
            {"source": "B", "dest": "A", "always": True},
        ],
    }
    with pytest.raises(LivelockError) as raised:
        StateMachine.from_dict(looping).start()
    assert str(raised.value) == (
        f"the machine cannot start: {LOOP}A -> B, then B -> A, and again "
        "(stopped after 3 microsteps)"
    )


def test_a_datamodel_start_keeps_the_given_context_beside_its_variables() -> None:
    machine = StateMachine.from_dict({**SPIN, "data": {"v": 2}})
    started = machine.start({"looping": False, "x": 1})
    assert dict(started.context) == {"looping": False, "x": 1, "v": 2}
    assert dict(started.snapshot.data) == {"v": 2}


def test_a_host_with_a_running_child_keeps_counting_its_timer_ids() -> None:
    _host, running = _hosting()
    assert [t.id for t in running.timers] == [0] and running.next_timer_id == 1


def test_an_event_the_host_and_its_forwarding_child_both_take_moves_both() -> None:
    inner = {"trigger": "finish", "source": "r1", "dest": "r2"}
    both = {**HOST, "transitions": [*HOST["transitions"], inner]}
    host, running = _hosting(both)
    (first,) = running.children["tick"].timers
    ticked = host.step(running, first, now=first.due_ms).snapshot
    step = host.step(ticked, "finish", {"ok": True}, now=1500)
    assert [m.event for m in step.microsteps] == [
        "finish", "finish", "done.invoke.tick", "cancel.invoke.tick",
    ]  # fmt: skip
    assert step.microsteps[0].transitions[0].label == "r1 -> r2"  # the host's own, first
    assert host.state_string(step.configuration) == "accepted"


TIMED_SPIN = {
    "meta": {"machine_name": "timed_spin"},
    "states": [{"name": "A", "type": "initial"}, {"name": "B"}, {"name": "C"}],
    "transitions": [
        {"after": "1s", "source": "A", "dest": "B"},
        {"source": "B", "dest": "C", "always": True},
        {"source": "C", "dest": "B", "always": True},
    ],
}


@pytest.mark.parametrize("datamodel", [False, True], ids=["plain", "datamodel"])
def test_a_timer_that_starts_a_loop_is_refused_as_that_timer(datamodel: bool) -> None:
    machine = StateMachine.from_dict({**TIMED_SPIN, "data": {"v": 1}} if datamodel else TIMED_SPIN)
    start = machine.start().snapshot
    (timer,) = start.timers
    spun = machine.step(start, timer, now=1000)
    assert spun.refusal is not None and spun.refusal.code == "livelock"
    assert (spun.event, spun.timer) == (timer.trigger, timer)
    # Nothing is applied; the timer is spent, as a refused timer is.
    assert spun.snapshot.configuration == start.configuration and spun.snapshot.timers == ()


def test_a_host_with_a_running_child_keeps_what_its_history_remembers() -> None:
    remembering = {
        **HOST,
        "states": [
            *(s for s in HOST["states"] if s["name"] != "r1"),
            {"name": "r1", "parent": "running", "initial_child": "r1a"},
            {"name": "r1a", "parent": "r1"},
            {"name": "r1b", "parent": "r1"},
            {"name": "r1h", "parent": "r1", "type": "history", "history": "shallow"},
        ],
        "transitions": [*HOST["transitions"], {"trigger": "flip", "source": "r1a", "dest": "r1b"}],
    }
    host, running = _hosting(remembering)
    flipped = host.step(running, "flip", now=200).snapshot
    (own,) = flipped.timers
    step = host.step(flipped, own, now=own.due_ms)  # r1 -> r2, the child still running
    assert host.state_string(step.configuration) == "r2"
    assert list(step.snapshot.children) == ["tick"]
    assert dict(step.snapshot.history) == {"r1h": frozenset({"r1b"})}


# ------------------------------------------------------------------ phase 3's open mutants


def test_a_declaration_reads_the_value_the_host_passed_for_an_earlier_one() -> None:
    # starter 20, 26: the start's variables come from `initial(context)`; rebuilt from the
    # context over the bare declarations, `y` would be computed from the declared `x`
    machine = StateMachine.from_dict(
        {
            "meta": {"machine_name": "declared"},
            "data": {"x": 1, "y": {"expr": "x + 1"}},
            "states": [{"name": "a", "type": "initial"}],
            "transitions": [],
        }
    )
    assert dict(machine.start({"x": 10}).context) == {"x": 10, "y": 11}
    assert dict(machine.start().context) == {"x": 1, "y": 2}


LOOPING_CHILD = {
    "meta": {"machine_name": "instant"},
    "states": [{"name": "over", "type": "final"}],
    "transitions": [],
}
LOOPING_HOST = {
    "meta": {"machine_name": "pingpong"},
    "states": [
        {"name": "ping", "type": "initial", "invoke": [{"id": "a", "src": "machine:instant"}]},
        {"name": "pong", "invoke": [{"id": "b", "src": "machine:instant"}]},
    ],
    "transitions": [
        {"trigger": "done.invoke.a", "source": "ping", "dest": "pong"},
        {"trigger": "done.invoke.b", "source": "pong", "dest": "ping"},
    ],
}


def test_a_host_whose_children_finish_at_once_and_start_each_other_cannot_start() -> None:
    # starter 93: the refusal names the loop the child's done event makes at the start
    host = StateMachine.from_dict(LOOPING_HOST)
    host.bind_machines({"instant": StateMachine.from_dict(LOOPING_CHILD)})
    with pytest.raises(LivelockError) as refused:
        host.start()
    assert str(refused.value) == (
        f"the machine cannot start: {LOOP}done.invoke.a: ping -> pong, "
        "then cancel.invoke.a: nothing handles it, then start.invoke.b: nothing handles it, "
        "then done.invoke.b: pong -> ping, then cancel.invoke.b: nothing handles it, "
        "then start.invoke.a: nothing handles it, and again (stopped after 8 microsteps)"
    )


SENDER = {
    "meta": {"machine_name": "sender"},
    "data": {"got": None},
    "states": [
        {
            "name": "waiting",
            "type": "initial",
            "on_enter": [{"send": "note", "delay": "1s", "content": "'got it'"}],
        },
        {"name": "read"},
        {"name": "unread"},
    ],
    "transitions": [
        {
            "trigger": "note",
            "source": "waiting",
            "dest": "read",
            "guards": [{"expr": "_event['data'] == 'got it' and got is None"}],
            "actions": [{"assign": "got", "expr": "_event['data']"}],
        },
        {"trigger": "note", "source": "waiting", "dest": "unread"},
    ],
}


def test_a_sent_timers_text_content_is_the_events_data() -> None:
    # stepper 7, 57: a timer's data that is not a mapping (SCXML <content> text) reaches
    # `_event.data` as it is, and is no payload for the guards: read as one, the text
    # would answer for `got` ("got" in "got it") and the guard fail
    machine = StateMachine.from_dict(SENDER)
    started = machine.start(now=0)
    (timer,) = started.snapshot.timers
    assert timer.data == "got it"
    step = machine.step(started.snapshot, timer, started.context, now=timer.due_ms)
    assert step.refusal is None
    assert machine.state_string(step.configuration) == "read"
    assert dict(step.context) == {"got": "got it"}


def test_a_childs_timer_that_already_fired_is_refused_as_stale_and_changes_nothing() -> None:
    # `_not_pending`: a timer with an owner path goes to the child only while the child
    # still holds it; once fired it is stale like any other
    host, running = _hosting()
    (owned,) = [t for t in running.pending if t.owner]
    fired = host.step(running, owned, now=owned.due_ms)
    assert fired.refusal is None
    again = host.step(fired.snapshot, owned, {"w": 1}, now=owned.due_ms)
    assert again.refusal is not None and again.refusal.code == "stale-timer"
    assert (again.snapshot, again.timer, again.microsteps) == (fired.snapshot, owned, ())
