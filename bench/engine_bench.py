"""Side-by-side speed and memory benchmark: our engine, pystator 0.0.1 and transitions.

Run from the repository root::

    python bench/engine_bench.py            # full run, prints a Markdown table
    python bench/engine_bench.py --quick    # smoke run: fewer repeats, shorter timings
    python bench/engine_bench.py --json out.json

Why the script is shaped like this:

* pystator 0.0.1 (PyPI) has the same import name as this repository's package, so the
  two cannot live in one interpreter. Every engine is therefore measured in its own,
  fresh worker process running this same file (``--worker ENGINE``): ours with this
  interpreter and the repository root put first on ``sys.path``; 0.0.1 with the python
  of a private virtual environment (``bench/.venv-pystator001``, created on first use
  with ``python -m venv`` + ``pip install pystator==0.0.1 simpleeval``); transitions with
  this interpreter (``pip install transitions==0.9.3`` into it when it is missing).
  Workers write their measurements as JSON; the parent only orchestrates and prints.
* Every engine gets the same machines, built from the same dict (and, for the YAML load,
  the same file). transitions has its own constructor format, so the dict is converted
  to it outside any timed region; where it lacks a feature (expression guards, a YAML
  loader) the cell says "n/a".
* Timings use ``time.perf_counter_ns`` with the garbage collector paused (as ``timeit``
  does), one warm-up, a calibrated number of passes per repeat, several repeats, and
  report the median.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
VENV_001 = BENCH_DIR / ".venv-pystator001"
PYSTATOR_001_REQUIREMENT = "pystator==0.0.1"
TRANSITIONS_REQUIREMENT = "transitions==0.9.3"

ENGINES = ("ours", "pystator001", "transitions")
ENGINE_TITLES = {"ours": "ours", "pystator001": "0.0.1", "transitions": "transitions"}

# One context for every event in every scenario (guards read it; others ignore it).
CONTEXT: dict[str, Any] = {"fill_qty": 100, "order_qty": 100}


# --------------------------------------------------------------------------------------
# Machines: one engine-neutral dict per scenario, in the spec's configuration schema.
# --------------------------------------------------------------------------------------


def flat_order_machine(guard: str | None = None) -> dict[str, Any]:
    """A 6-state order lifecycle.

    ``guard`` is None, "callable" (a registered function) or "expr" (an inline
    expression). A guard goes on *every* transition, so every event evaluates exactly one
    guard and the guard's cost is not diluted by unguarded events.
    """
    transitions: list[dict[str, Any]] = [
        {"trigger": "submit", "source": "NEW", "dest": "PENDING", "actions": ["send"]},
        {"trigger": "ack", "source": "PENDING", "dest": "OPEN", "actions": ["store_id"]},
        {
            "trigger": "partial_fill",
            "source": "OPEN",
            "dest": "PARTIALLY_FILLED",
            "actions": ["update_positions"],
        },
        {
            "trigger": "fill",
            "source": "PARTIALLY_FILLED",
            "dest": "FILLED",
            "actions": ["update_positions"],
        },
        {
            "trigger": "cancel",
            "source": ["NEW", "PENDING", "OPEN", "PARTIALLY_FILLED"],
            "dest": "CANCELLED",
            "actions": ["notify_cancel"],
        },
        {"trigger": "reset", "source": ["FILLED", "CANCELLED"], "dest": "NEW"},
    ]
    if guard is not None:
        spellings: dict[str, Any] = {
            "callable": "is_full_fill",
            "expr": {"expr": "fill_qty >= order_qty"},
        }
        spelled = spellings[guard]
        for transition in transitions:
            transition["guards"] = [spelled]
    return {
        "meta": {"version": "1.0.0", "machine_name": "order_flat"},
        "states": [
            {"name": "NEW", "type": "initial"},
            {"name": "PENDING", "type": "stable", "on_exit": ["stop_ack_timer"]},
            {"name": "OPEN", "type": "stable", "on_enter": ["notify_ui", "log_audit"]},
            {"name": "PARTIALLY_FILLED", "type": "stable"},
            {"name": "FILLED", "type": "stable", "on_enter": ["log_audit"]},
            {"name": "CANCELLED", "type": "stable", "on_enter": ["log_audit"]},
        ],
        "transitions": transitions,
    }


# A fixed cycle: NEW back to NEW through a fill and through a cancel.
FLAT_EVENTS = ("submit", "ack", "partial_fill", "fill", "reset", "submit", "cancel", "reset")
FLAT_START = "NEW"


def hierarchical_machine() -> dict[str, Any]:
    """Three levels (ops > ops.trading > ops.trading.scanning); ``halt`` sits on the root."""
    return {
        "meta": {"version": "1.0.0", "machine_name": "hierarchy"},
        "states": [
            {
                "name": "ops",
                "type": "initial",
                "initial_child": "ops.trading",
                "on_enter": ["start_feed"],
                "on_exit": ["stop_feed"],
            },
            {
                "name": "ops.trading",
                "type": "stable",
                "parent": "ops",
                "initial_child": "ops.trading.scanning",
                "on_enter": ["open_book"],
                "on_exit": ["close_book"],
            },
            {
                "name": "ops.trading.scanning",
                "type": "stable",
                "parent": "ops.trading",
                "on_enter": ["start_scan"],
                "on_exit": ["stop_scan"],
            },
            {"name": "ops.trading.analyzing", "type": "stable", "parent": "ops.trading"},
            {"name": "ops.monitor", "type": "stable", "parent": "ops"},
            {"name": "halted", "type": "stable", "on_enter": ["page_oncall"]},
        ],
        "transitions": [
            {
                "trigger": "signal",
                "source": "ops.trading.scanning",
                "dest": "ops.trading.analyzing",
            },
            {"trigger": "done", "source": "ops.trading.analyzing", "dest": "ops.trading.scanning"},
            {"trigger": "watch", "source": "ops.trading", "dest": "ops.monitor"},
            {"trigger": "halt", "source": "ops", "dest": "halted", "actions": ["flatten"]},
            {"trigger": "resume", "source": "halted", "dest": "ops"},
        ],
    }


# halt: a root-level transition taken from the level-3 leaf (exits 3 states);
# resume: enters 3 states through the initial_child chain.
HIER_EVENTS = ("halt", "resume")
HIER_START = "ops.trading.scanning"

PARALLEL_REGIONS: dict[str, tuple[str, ...]] = {
    "trading": ("scanning", "analyzing", "executing"),
    "risk": ("normal", "elevated", "critical"),
    "feed": ("connecting", "connected", "failed"),
}
# Each region cycles through its three states with its own three events.
PARALLEL_REGION_EVENTS: dict[str, tuple[str, ...]] = {
    "trading": ("signal", "execute", "reset_trading"),
    "risk": ("warn", "escalate", "calm"),
    "feed": ("connect", "drop", "retry"),
}
PARALLEL_EVENTS = tuple(
    PARALLEL_REGION_EVENTS[region][step] for step in range(3) for region in PARALLEL_REGIONS
)


def parallel_machine() -> dict[str, Any]:
    """A parallel state with 3 regions of 3 states each.

    The region states are declared as state entries with ``parent: active`` because
    pystator 0.0.1 rejects a transition whose ``dest`` is not a declared state (the spec
    says declaring them is optional; ours accepts both forms).
    """
    states: list[dict[str, Any]] = [
        {"name": "idle", "type": "initial"},
        {
            "name": "active",
            "type": "parallel",
            "regions": [
                {"name": region, "initial": names[0], "states": list(names)}
                for region, names in PARALLEL_REGIONS.items()
            ],
        },
    ]
    transitions: list[dict[str, Any]] = [{"trigger": "start", "source": "idle", "dest": "active"}]
    for region, names in PARALLEL_REGIONS.items():
        for index, name in enumerate(names):
            entry: dict[str, Any] = {"name": name, "type": "stable", "parent": "active"}
            if index == 0:
                entry["on_enter"] = [f"enter_{region}"]
            states.append(entry)
            transitions.append(
                {
                    "trigger": PARALLEL_REGION_EVENTS[region][index],
                    "source": name,
                    "dest": names[(index + 1) % len(names)],
                    "region": region,
                }
            )
    return {
        "meta": {"version": "1.0.0", "machine_name": "parallel"},
        "states": states,
        "transitions": transitions,
    }


def generated_machine(n_states: int, n_transitions: int, seed: int = 42) -> dict[str, Any]:
    """``n_states`` flat states, ``n_transitions // n_states`` outgoing transitions each.

    Trigger ``e0`` walks a ring (S_i -> S_i+1); ``e1``... jump to seeded random states.
    Every state has every trigger, so any walk over the triggers is valid from anywhere.
    """
    if n_states < 2 or n_transitions < n_states or n_transitions % n_states:
        raise ValueError("need states >= 2 and transitions a positive multiple of states")
    rng = random.Random(seed)
    per_state = n_transitions // n_states
    states = [{"name": f"S{i}", "type": "initial" if i == 0 else "stable"} for i in range(n_states)]
    transitions = []
    for i in range(n_states):
        for k in range(per_state):
            dest = (i + 1) % n_states if k == 0 else rng.randrange(n_states)
            transitions.append({"trigger": f"e{k}", "source": f"S{i}", "dest": f"S{dest}"})
    return {
        "meta": {"version": "1.0.0", "machine_name": f"generated_{n_states}"},
        "states": states,
        "transitions": transitions,
    }


def generated_events(
    n_states: int, n_transitions: int, length: int = 500, seed: int = 7
) -> tuple[str, ...]:
    rng = random.Random(seed)
    per_state = n_transitions // n_states
    return tuple(f"e{rng.randrange(per_state)}" for _ in range(length))


# --------------------------------------------------------------------------------------
# Measurement helpers
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """What a worker measures; passed to it as JSON."""

    repeats: int
    min_time_s: float
    states: int
    transitions: int
    entities: int
    yaml_path: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Plan:
        return cls(**data)


class NotApplicable(Exception):
    """The engine has no such feature; the table shows "n/a" with this reason."""


def events_per_second(
    run: Callable[[int], None], events_per_pass: int, plan: Plan
) -> dict[str, Any]:
    """Median events/s of ``run(passes)`` over ``plan.repeats`` calibrated repeats."""
    run(1)  # warm-up (and the first pass's lazy caches)
    start = time.perf_counter_ns()
    run(1)
    one = max(time.perf_counter_ns() - start, 1)
    passes = max(1, math.ceil(plan.min_time_s * 1e9 / one))
    samples = []
    for _ in range(plan.repeats):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter_ns()
            run(passes)
            elapsed = time.perf_counter_ns() - start
        finally:
            gc.enable()
        samples.append(passes * events_per_pass * 1e9 / elapsed)
    return {
        "value": statistics.median(samples),
        "unit": "ev/s",
        "samples": samples,
        "events_per_repeat": passes * events_per_pass,
    }


def call_time_ms(call: Callable[[], object], plan: Plan) -> dict[str, Any]:
    """Median wall time of one ``call()`` in milliseconds, after warming up.

    The warm-up repeats the call for ``plan.min_time_s`` (at least 3 calls), as the
    events/s measurements do: a fresh process's first calls also pay for growing the
    allocator's arenas and for the interpreter specialising hot code.

    What ``call()`` returns is kept until the clock has stopped: tearing a machine
    down is not part of building it. (An engine whose objects form reference cycles
    is torn down later by the cycle collector, outside any timing; one without cycles
    would otherwise pay for its teardown inside the timed region.)
    """
    deadline = time.perf_counter() + plan.min_time_s
    warmed = 0
    while warmed < 3 or time.perf_counter() < deadline:
        call()
        warmed += 1
    samples = []
    for _ in range(max(plan.repeats, 3)):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter_ns()
            result = call()
            elapsed = time.perf_counter_ns() - start
            del result
        finally:
            gc.enable()
        samples.append(elapsed / 1e6)
    return {"value": statistics.median(samples), "unit": "ms", "samples": samples}


def bytes_per_entity(make_entity: Callable[[int], object], count: int) -> dict[str, Any]:
    """Traced bytes held per live entity when ``count`` entities are kept in a list."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        store = [make_entity(i) for i in range(count)]
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del store
    return {"value": (after - before) / count, "unit": "B", "samples": [(after - before) / count]}


def fresh_copy(text: str) -> str:
    """A new string object equal to ``text``, as if it had been read from storage."""
    return text.encode("utf-8").decode("utf-8")


# --------------------------------------------------------------------------------------
# Engine adapters (used only inside worker processes)
# --------------------------------------------------------------------------------------


def full_fill(ctx: Mapping[str, Any]) -> bool:
    return bool(ctx["fill_qty"] >= ctx["order_qty"])


class StatelessAdapter:
    """The pystator API (``from_dict``, ``process``, ...), shared by ours and 0.0.1."""

    def __init__(self, module: Any, label: str) -> None:
        self.module = module
        self.label = label
        self.machine_cls = module.StateMachine

    def version(self) -> str:
        try:
            from importlib.metadata import version

            if self.label == "pystator001":
                return version("pystator")
        except Exception:  # a missing version is only cosmetic
            pass
        return str(getattr(self.module, "__version__", "repo"))

    def build(self, spec: dict[str, Any]) -> Any:
        machine = self.machine_cls.from_dict(spec)
        registry = self.module.GuardRegistry()
        registry.register("is_full_fill", full_fill)
        machine.bind_guards(registry)
        return machine

    def build_only(self, spec: dict[str, Any]) -> Any:
        return self.machine_cls.from_dict(spec)

    def load_yaml(self, path: str) -> Any:
        return self.machine_cls.from_yaml(Path(path))

    def leaf_runner(
        self, machine: Any, start: str, events: tuple[str, ...], must_cycle: bool
    ) -> Callable[[int], None]:
        state = start
        for event in events:  # check the machine does what the scenario says
            result = machine.process(state, event, CONTEXT)
            if not result.success:
                raise RuntimeError(f"{event!r} from {state!r} failed: {result.error}")
            state = result.target_state
        if must_cycle and state != start:
            raise RuntimeError(f"cycle ended in {state!r}, expected {start!r}")
        current = [start]
        process = machine.process
        ctx = CONTEXT

        def run(passes: int) -> None:
            state = current[0]
            for _ in range(passes):
                for event in events:
                    state = process(state, event, ctx).target_state
            current[0] = state

        return run

    def parallel_runner(self, machine: Any, events: tuple[str, ...]) -> Callable[[int], None]:
        config = machine.enter_parallel_state("active")
        initial = dict(config.region_states)
        for event in events:
            config, results = machine.process_parallel(config, event, CONTEXT)
            if len(results) != 1 or not results[0].success:
                raise RuntimeError(f"{event!r} did not fire exactly one region: {results}")
        if dict(config.region_states) != initial:
            raise RuntimeError(f"cycle ended in {config.region_states}, expected {initial}")
        current = [config]
        process_parallel = machine.process_parallel
        ctx = CONTEXT

        def run(passes: int) -> None:
            config = current[0]
            for _ in range(passes):
                for event in events:
                    config, _results = process_parallel(config, event, ctx)
            current[0] = config

        return run

    def entity_factory(
        self, machine: Any, start: str, events: tuple[str, ...]
    ) -> Callable[[int], object]:
        # A stateless engine keeps nothing per entity: the application stores the state
        # string the engine returned. Measure a fresh copy, as loaded from storage.
        states = []
        state = start
        for event in events:
            state = machine.process(state, event, CONTEXT).target_state
            states.append(state)
        return lambda i: fresh_copy(states[i % len(states)])


def _trigger_loop(trigger: Callable[..., Any], events: tuple[str, ...]) -> Callable[[int], None]:
    """The timed loop for transitions: fire the events on one model, ``passes`` times."""
    ctx = CONTEXT

    def run(passes: int) -> None:
        for _ in range(passes):
            for event in events:
                trigger(event, ctx)

    return run


class TransitionsAdapter:
    """transitions 0.9.x: one model object per entity, the machine holds the tables."""

    def __init__(self) -> None:
        import transitions
        from transitions.extensions import HierarchicalMachine

        self.module = transitions
        self.machine_cls = transitions.Machine
        self.hsm_cls = HierarchicalMachine

    def version(self) -> str:
        return str(self.module.__version__)

    # ---- conversion from our dict (outside timed regions) ----
    @staticmethod
    def _short(name: str, parent: str | None) -> str:
        if parent and name.startswith(parent + "."):
            return name[len(parent) + 1 :]
        return name

    def convert(self, spec: dict[str, Any]) -> tuple[Any, dict[str, Any], dict[str, str]]:
        """Our dict -> (machine class, constructor kwargs, our name -> transitions name)."""
        states = spec["states"]
        by_name = {s["name"]: s for s in states}
        nested = any(s.get("parent") or s.get("type") == "parallel" for s in states)
        for t in spec["transitions"]:
            for guard in t.get("guards", []):
                if isinstance(guard, dict):
                    raise NotApplicable("no expression guards")
        initial = next(s["name"] for s in states if s.get("type") == "initial")
        names: dict[str, str] = {}
        if not nested:
            names = {s["name"]: s["name"] for s in states}
            state_defs: list[Any] = [s["name"] for s in states]
            cls = self.machine_cls
        else:
            children: dict[str | None, list[str]] = {}
            for s in states:
                children.setdefault(s.get("parent"), []).append(s["name"])

            def region_of(parallel: str, name: str) -> str:
                for region in by_name[parallel]["regions"]:
                    if name in region["states"]:
                        return str(region["name"])
                raise NotApplicable(f"{name} is in no region of {parallel}")

            def define(name: str, prefix: str) -> dict[str, Any]:
                state = by_name[name]
                short = self._short(name, state.get("parent"))
                full = prefix + short
                names[name] = full
                node: dict[str, Any] = {"name": short}
                kids = children.get(name, [])
                if state.get("type") == "parallel":
                    node["parallel"] = []
                    for region in state["regions"]:
                        members = [k for k in kids if region_of(name, k) == region["name"]]
                        region_prefix = f"{full}_{region['name']}_"
                        node["parallel"].append(
                            {
                                "name": region["name"],
                                "initial": region["initial"],
                                "children": [define(k, region_prefix) for k in members],
                            }
                        )
                elif kids:
                    node["children"] = [define(k, full + "_") for k in kids]
                    node["initial"] = self._short(state["initial_child"], name)
                return node

            state_defs = [define(name, "") for name in children.get(None, [])]
            cls = self.hsm_cls
        transitions = []
        for t in spec["transitions"]:
            sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
            entry: dict[str, Any] = {
                "trigger": t["trigger"],
                "source": [names[s] for s in sources],
                "dest": names[t["dest"]],
            }
            if t.get("guards"):
                entry["conditions"] = [full_fill for _ in t["guards"]]
            transitions.append(entry)
        kwargs = {
            "model": None,
            "states": state_defs,
            "transitions": transitions,
            "initial": names[initial],
            "auto_transitions": False,
        }
        return cls, kwargs, names

    def build(self, spec: dict[str, Any]) -> tuple[Any, dict[str, str]]:
        cls, kwargs, names = self.convert(spec)
        return cls(**kwargs), names

    def build_call(self, spec: dict[str, Any]) -> Callable[[], object]:
        cls, kwargs, _names = self.convert(spec)
        return lambda: cls(**kwargs)

    def leaf_runner(
        self,
        built: tuple[Any, dict[str, str]],
        start: str,
        events: tuple[str, ...],
        must_cycle: bool,
    ) -> Callable[[int], None]:
        machine, names = built

        class Entity:
            pass

        model = Entity()
        machine.add_model(model, initial=names[start])
        for event in events:
            if not model.trigger(event, CONTEXT):
                raise RuntimeError(f"{event!r} from {model.state!r} did not fire")
        if must_cycle and model.state != names[start]:
            raise RuntimeError(f"cycle ended in {model.state!r}, expected {names[start]!r}")
        return _trigger_loop(model.trigger, events)

    def parallel_runner(
        self, built: tuple[Any, dict[str, str]], events: tuple[str, ...]
    ) -> Callable[[int], None]:
        machine, _names = built

        class Entity:
            pass

        model = Entity()
        machine.add_model(model)
        model.trigger("start")
        initial = list(model.state)
        for event in events:
            if not model.trigger(event, CONTEXT):
                raise RuntimeError(f"{event!r} from {model.state!r} did not fire")
        if list(model.state) != initial:
            raise RuntimeError(f"cycle ended in {model.state}, expected {initial}")
        return _trigger_loop(model.trigger, events)

    def entity_factory(
        self, built: tuple[Any, dict[str, str]], start: str, events: tuple[str, ...]
    ) -> Callable[[int], object]:
        machine, _names = built

        class Entity:
            pass

        def make(_i: int) -> object:
            model = Entity()
            machine.add_model(model)
            return model

        return make


# --------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------

# key -> (row label, what the value is)
SCENARIOS: dict[str, str] = {
    "flat": "flat 6-state order machine (events/s)",
    "guard_callable": "flat + callable guard (events/s)",
    "guard_expr": "flat + `expr` guard (events/s)",
    "hierarchy": "3-level hierarchy, root transition from deep leaf (events/s)",
    "parallel": "3-region parallel state (events/s)",
    "big_events": "{states}-state / {transitions}-transition machine (events/s)",
    "big_build": "{states}-state machine: build from dict (ms)",
    "big_yaml": "{states}-state machine: load from YAML file (ms)",
    "entity_bytes": "bytes per live entity ({entities} entities)",
}


def measure(adapter: Any, plan: Plan, only: set[str] | None = None) -> dict[str, Any]:
    """Run every scenario on one engine; a failing scenario is recorded, not fatal."""
    stateless = isinstance(adapter, StatelessAdapter)
    big = generated_machine(plan.states, plan.transitions)
    big_events = generated_events(plan.states, plan.transitions)

    def flat(guard: str | None) -> dict[str, Any]:
        machine = adapter.build(flat_order_machine(guard))
        return events_per_second(
            adapter.leaf_runner(machine, FLAT_START, FLAT_EVENTS, True), len(FLAT_EVENTS), plan
        )

    def hierarchy() -> dict[str, Any]:
        machine = adapter.build(hierarchical_machine())
        return events_per_second(
            adapter.leaf_runner(machine, HIER_START, HIER_EVENTS, True), len(HIER_EVENTS), plan
        )

    def parallel() -> dict[str, Any]:
        machine = adapter.build(parallel_machine())
        return events_per_second(
            adapter.parallel_runner(machine, PARALLEL_EVENTS), len(PARALLEL_EVENTS), plan
        )

    def big_run() -> dict[str, Any]:
        machine = adapter.build(big)
        return events_per_second(
            adapter.leaf_runner(machine, "S0", big_events, False), len(big_events), plan
        )

    def big_build() -> dict[str, Any]:
        if stateless:
            return call_time_ms(lambda: adapter.build_only(big), plan)
        return call_time_ms(adapter.build_call(big), plan)

    def big_yaml() -> dict[str, Any]:
        if not stateless:
            raise NotApplicable("no YAML loader")
        return call_time_ms(lambda: adapter.load_yaml(plan.yaml_path), plan)

    def entity_bytes() -> dict[str, Any]:
        machine = adapter.build(flat_order_machine())
        return bytes_per_entity(
            adapter.entity_factory(machine, FLAT_START, FLAT_EVENTS), plan.entities
        )

    jobs: dict[str, Callable[[], dict[str, Any]]] = {
        "flat": lambda: flat(None),
        "guard_callable": lambda: flat("callable"),
        "guard_expr": lambda: flat("expr"),
        "hierarchy": hierarchy,
        "parallel": parallel,
        "big_events": big_run,
        "big_build": big_build,
        "big_yaml": big_yaml,
        "entity_bytes": entity_bytes,
    }
    results: dict[str, Any] = {}
    for key, job in jobs.items():
        if only is not None and key not in only:
            continue
        try:
            results[key] = job()
        except NotApplicable as exc:
            results[key] = {"na": str(exc)}
        except Exception as exc:  # reported in the table; the run goes on
            results[key] = {"error": f"{type(exc).__name__}: {exc}"}
    return results


def make_adapter(engine: str) -> Any:
    if engine == "ours":
        sys.path.insert(0, str(REPO_ROOT))
        import pystator

        if not hasattr(pystator, "StateMachine"):
            raise ImportError("pystator.StateMachine cannot be imported from the repository")
        return StatelessAdapter(pystator, "ours")
    if engine == "pystator001":
        import pystator

        return StatelessAdapter(pystator, "pystator001")
    if engine == "transitions":
        return TransitionsAdapter()
    raise ValueError(f"unknown engine {engine!r}")


def worker_main(engine: str, plan_path: str, out_path: str, only: set[str] | None) -> int:
    """Measure one engine in this (fresh) process and write JSON to ``out_path``."""
    plan = Plan.from_json(json.loads(Path(plan_path).read_text()))
    report: dict[str, Any] = {"engine": engine, "python": platform.python_version()}
    try:
        adapter = make_adapter(engine)
    except Exception as exc:  # "not available" is a result, not a crash
        report.update(available=False, reason=f"{type(exc).__name__}: {exc}", results={})
    else:
        report.update(
            available=True,
            version=adapter.version(),
            module_file=str(getattr(adapter.module, "__file__", "")),
            results=measure(adapter, plan, only),
        )
    Path(out_path).write_text(json.dumps(report, indent=2))
    return 0


# --------------------------------------------------------------------------------------
# Parent: environments, workers, table
# --------------------------------------------------------------------------------------


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def installed_version(python: Path | str, distribution: str) -> str | None:
    probe = (
        "import importlib.metadata as m, sys\n"
        f"try: print(m.version({distribution!r}))\n"
        "except m.PackageNotFoundError: sys.exit(1)\n"
    )
    done = subprocess.run(
        [str(python), "-c", probe],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=tempfile.gettempdir(),
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def clean_env() -> dict[str, str]:
    """The environment for children: no PYTHONPATH, so no stray ``pystator`` leaks in."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def ensure_pystator001(log: Callable[[str], None]) -> Path:
    """Create (once) the private venv holding pystator 0.0.1 and return its python."""
    python = venv_python(VENV_001)
    if python.exists() and installed_version(python, "pystator") == "0.0.1":
        return python
    log(f"creating {VENV_001} with {PYSTATOR_001_REQUIREMENT} ...")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV_001)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            PYSTATOR_001_REQUIREMENT,
            "simpleeval",
        ],
        check=True,
        env=clean_env(),
    )
    return python


def ensure_transitions(log: Callable[[str], None]) -> None:
    """transitions runs in this interpreter; install the pinned version if it is missing."""
    version = installed_version(sys.executable, "transitions")
    if version is None:
        log(f"installing {TRANSITIONS_REQUIREMENT} into {sys.executable} ...")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                TRANSITIONS_REQUIREMENT,
            ],
            check=True,
        )
    elif version != "0.9.3":
        log(f"note: transitions {version} is installed here, not 0.9.3; measuring it anyway")


def run_worker(
    engine: str, python: Path | str, plan_path: Path, work: Path, only: set[str] | None
) -> dict[str, Any]:
    out = work / f"{engine}.json"
    cmd = [
        str(python),
        str(Path(__file__).resolve()),
        "--worker",
        engine,
        "--plan",
        str(plan_path),
        "--out",
        str(out),
    ]
    if only:
        cmd += ["--only", ",".join(sorted(only))]
    done = subprocess.run(
        cmd, capture_output=True, text=True, env=clean_env(), cwd=str(work), check=False
    )
    if done.returncode != 0 or not out.exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return {
            "engine": engine,
            "available": False,
            "reason": f"worker failed (exit {done.returncode}): {' | '.join(tail)}",
            "results": {},
        }
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def merge_round(previous: dict[str, Any] | None, report: dict[str, Any]) -> dict[str, Any]:
    """Fold one round's report into the earlier ones: samples pool, value is their median."""
    if previous is None or not previous.get("available"):
        return report
    if not report.get("available"):
        return previous
    for key, cell in report.get("results", {}).items():
        earlier = previous["results"].get(key)
        if earlier and "samples" in earlier and "samples" in cell:
            earlier["samples"] = earlier["samples"] + cell["samples"]
            earlier["value"] = statistics.median(earlier["samples"])
        elif earlier is None:
            previous["results"][key] = cell
    return previous


def value_of(report: Mapping[str, Any], key: str) -> float | None:
    cell = report.get("results", {}).get(key)
    if isinstance(cell, Mapping) and "value" in cell:
        return float(cell["value"])
    return None


def format_cell(report: Mapping[str, Any] | None, key: str) -> str:
    if report is None:
        return "not run"
    if not report.get("available", False):
        return "not available"
    cell = report.get("results", {}).get(key)
    if cell is None:
        return "not run"
    if "na" in cell:
        return f"n/a ({cell['na']})"
    if "error" in cell:
        return f"error: {cell['error']}"[:80]
    value, unit = float(cell["value"]), cell["unit"]
    if unit == "ev/s":
        return f"{value:,.0f} ev/s"
    if unit == "ms":
        return f"{value:,.2f} ms" if value < 100 else f"{value:,.0f} ms"
    return f"{value:,.0f} B"


@dataclass(frozen=True)
class Verdict:
    ratio: str
    target: str
    status: str


def verdict(key: str, reports: Mapping[str, Mapping[str, Any]]) -> Verdict:
    """The ratio ours/0.0.1 and the issue's target for one row."""
    ours = reports.get("ours", {})
    old = reports.get("pystator001", {})
    trans = reports.get("transitions", {})
    mine, base = value_of(ours, key), value_of(old, key)
    ratio = f"{mine / base:.2f}x" if mine is not None and base else "—"

    def speed_target(minimum: float) -> Verdict:
        if mine is None or not base:
            return Verdict(ratio, f">= {minimum:g}x 0.0.1", "—")
        return Verdict(
            ratio, f">= {minimum:g}x 0.0.1", "PASS" if mine / base >= minimum else "FAIL"
        )

    if key in ("flat", "hierarchy"):
        return speed_target(5)
    if key == "parallel":
        return speed_target(3)
    if key == "big_events":
        return speed_target(30)
    if key == "guard_expr":
        callable_rate = value_of(ours, "guard_callable")
        target = ">= 0.8x ours' callable guard"
        if mine is None or not callable_rate:
            return Verdict(ratio, target, "—")
        status = "PASS" if mine >= 0.8 * callable_rate else "FAIL"
        return Verdict(ratio, f"{target} ({mine / callable_rate:.2f}x)", status)
    if key == "big_yaml":
        if mine is None or not base:
            return Verdict(ratio, "<= 0.25x 0.0.1's time", "—")
        return Verdict(ratio, "<= 0.25x 0.0.1's time", "PASS" if mine / base <= 0.25 else "FAIL")
    if key == "big_build":
        theirs = value_of(trans, key)
        if mine is None or theirs is None:
            return Verdict(ratio, "<= transitions' time", "—")
        return Verdict(
            ratio,
            f"<= transitions' time ({mine / theirs:.2f}x)",
            "PASS" if mine <= theirs else "FAIL",
        )
    return Verdict(ratio, "—", "—")


def markdown_table(reports: Mapping[str, Mapping[str, Any]], plan: Plan) -> str:
    header = ["scenario", "ours", "0.0.1", "transitions", "ratio ours/0.0.1", "target", "PASS/FAIL"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, label in SCENARIOS.items():
        if not any(key in r.get("results", {}) for r in reports.values()):
            continue
        row = [
            label.format(states=plan.states, transitions=plan.transitions, entities=plan.entities)
        ]
        row += [format_cell(reports.get(engine), key) for engine in ENGINES]
        v = verdict(key, reports)
        row += [v.ratio, v.target, v.status]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 3 repeats of ~20 ms instead of 7 of ~200 ms",
    )
    parser.add_argument("--json", metavar="PATH", help="also write all measurements as JSON")
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help=f"comma-separated subset of {', '.join(ENGINES)}",
    )
    parser.add_argument(
        "--only", help="comma-separated subset of scenarios: " + ", ".join(SCENARIOS)
    )
    parser.add_argument("--states", type=int, default=500, help="generated machine size")
    parser.add_argument(
        "--transitions",
        type=int,
        default=1000,
        help="generated machine transitions (a multiple of --states)",
    )
    parser.add_argument(
        "--entities", type=int, default=10_000, help="live entities for the memory scenario"
    )
    parser.add_argument(
        "--repeats", type=int, help="repeats per engine per round (default 5; 3 with --quick)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="interleaved rounds over the engines (default 3; 1 with --quick)",
    )
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    if only and only - set(SCENARIOS):
        print(
            f"unknown scenario(s): {', '.join(sorted(only - set(SCENARIOS)))}; "
            f"choose from {', '.join(SCENARIOS)}",
            file=sys.stderr,
        )
        return 2
    if args.worker:
        if not (args.plan and args.out):
            print("--worker needs --plan and --out", file=sys.stderr)
            return 2
        return worker_main(args.worker, args.plan, args.out, only)

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        print(
            f"unknown engine(s): {', '.join(unknown)}; choose from {', '.join(ENGINES)}",
            file=sys.stderr,
        )
        return 2
    try:
        generated_machine(args.states, args.transitions)
    except ValueError as exc:
        print(f"bad size: {exc}", file=sys.stderr)
        return 2

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    rounds = max(1, args.rounds or (1 if args.quick else 3))

    with tempfile.TemporaryDirectory(prefix="pystator-bench-") as tmp:
        work = Path(tmp)
        yaml_path = work / "generated.yaml"
        import yaml

        yaml_path.write_text(
            yaml.safe_dump(generated_machine(args.states, args.transitions), sort_keys=False)
        )
        plan = Plan(
            repeats=args.repeats or (3 if args.quick else 5),
            min_time_s=0.02 if args.quick else 0.2,
            states=args.states,
            transitions=args.transitions,
            entities=args.entities,
            yaml_path=str(yaml_path),
        )
        plan_path = work / "plan.json"
        plan_path.write_text(json.dumps(plan.__dict__))

        reports: dict[str, dict[str, Any]] = {}
        pythons: dict[str, Path | str] = {}
        for engine in engines:
            try:
                if engine == "pystator001":
                    pythons[engine] = ensure_pystator001(log)
                else:
                    if engine == "transitions":
                        ensure_transitions(log)
                    pythons[engine] = sys.executable
            except (subprocess.CalledProcessError, OSError) as exc:
                reports[engine] = {
                    "engine": engine,
                    "available": False,
                    "reason": f"set-up failed: {exc}",
                    "results": {},
                }
        # Rounds interleave the engines, so a slow spell of a shared machine is spread
        # over all of them instead of skewing one engine's column.
        for round_number in range(1, rounds + 1):
            for engine, python in pythons.items():
                log(f"round {round_number}/{rounds}: measuring {engine} ...")
                started = time.perf_counter()
                report = run_worker(engine, python, plan_path, work, only)
                log(f"  {engine}: {time.perf_counter() - started:.1f} s")
                reports[engine] = merge_round(reports.get(engine), report)

    print(
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs; {rounds} round(s) x {plan.repeats} repeats, median; "
        f"{'quick' if args.quick else 'full'} run"
    )
    for engine in engines:
        report = reports[engine]
        if report.get("available"):
            print(
                f"- {ENGINE_TITLES[engine]}: {report.get('version', '?')} "
                f"({report.get('module_file', '')})"
            )
        else:
            print(f"- {ENGINE_TITLES[engine]}: not available ({report.get('reason', '')})")
    print()
    print(markdown_table(reports, plan))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "plan": plan.__dict__,
                    "quick": args.quick,
                    "engines": reports,
                    "verdicts": {key: verdict(key, reports).__dict__ for key in SCENARIOS},
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
