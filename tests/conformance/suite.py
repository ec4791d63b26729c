"""The SCXML conformance suites, read from the npm package scripts/test fetches.

``@scion-scxml/test-framework`` holds the W3C IRP tests in their ECMAScript form
(``test/w3c-ecma/*.txml.scxml``: a test passes by reaching the final state ``pass``)
and SCION's own groups (``test/<group>/*.scxml``, each with a ``.json`` script: the
initial configuration, then each event, optionally after a delay, and the atomic
states active after it). The files are test data read at run time; the repository
never holds a copy.

The runner is a host like the simulator: a virtual clock, and the machine's pending
timers (its ``<send>`` events, delayed or not) delivered in (due time, arming order)
as its external queue.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pystator import Event, StateMachine
from pystator.errors import ConfigError
from pystator.scxml import from_scxml

__all__ = [
    "PACKAGE",
    "Outcome",
    "case_id",
    "load",
    "load_skips",
    "run_scion",
    "run_w3c",
    "scion_cases",
    "suite_root",
    "w3c_cases",
]

PACKAGE = "@scion-scxml/test-framework@2.0.16"
HERE = Path(__file__).parent
MAX_TIMERS = 1_000  # external events one test may process (a runaway sender stops here)


def suite_root() -> Path:
    """Where scripts/test unpacked the package (``PYSTATOR_SCXML_SUITE`` overrides)."""
    given = os.environ.get("PYSTATOR_SCXML_SUITE")
    if given:
        return Path(given)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "pystator" / "scion-scxml-test-framework-2.0.16" / "package"


def w3c_cases(root: Path) -> list[Path]:
    return sorted((root / "test" / "w3c-ecma").glob("*.txml.scxml"))


def scion_cases(root: Path) -> list[Path]:
    return sorted(
        p
        for p in (root / "test").glob("*/*.scxml")
        if p.parent.name != "w3c-ecma" and p.with_suffix(".json").exists()
    )


def case_id(path: Path) -> str:
    """``w3c/test144`` or ``scion/basic/basic1``: how skips.yaml names a test."""
    if path.parent.name == "w3c-ecma":
        return "w3c/" + path.name.split(".")[0]
    return f"scion/{path.parent.name}/{path.stem}"


@dataclass(frozen=True)
class Outcome:
    """What running one test gave: ``passed``, or why not (``stage`` load or run)."""

    passed: bool
    stage: str = "run"
    detail: str = ""


def load(path: Path) -> StateMachine | Outcome:
    try:
        return from_scxml(path)
    except ConfigError as error:
        return Outcome(False, "load", str(error.issues[0]))


def _drain(machine: StateMachine, snapshot: Any, now: int, until: int) -> tuple[Any, int]:
    """Deliver every pending timer due by ``until``, each at its own due time."""
    for _ in range(MAX_TIMERS):
        timer = snapshot.next_timer
        if timer is None or timer.due_ms > until:
            break
        now = max(now, timer.due_ms)
        snapshot = machine.step(snapshot, timer, now=now).snapshot
        if _ended(machine, snapshot):
            break
    return snapshot, now


def _ended(machine: StateMachine, snapshot: Any) -> bool:
    return bool(snapshot.configuration & machine.chart.ends)


def run_w3c(path: Path) -> Outcome:
    """Start the machine and deliver its sent events until it ends: pass is ``pass``."""
    machine = load(path)
    if isinstance(machine, Outcome):
        return machine
    snapshot = machine.start().snapshot
    now = 0
    for _ in range(MAX_TIMERS):
        if _ended(machine, snapshot) or snapshot.next_timer is None:
            break
        snapshot, now = _drain(machine, snapshot, now, snapshot.next_timer.due_ms)
    leaves = sorted(machine.chart.leaves_of(snapshot.configuration))
    if "pass" in snapshot.configuration:
        return Outcome(True)
    return Outcome(False, "run", f"ended in {', '.join(leaves) or 'nothing'}")


def run_scion(path: Path) -> Outcome:
    """Follow the ``.json`` script: each event (after its delay), then the atomic states."""
    machine = load(path)
    if isinstance(machine, Outcome):
        return machine
    script = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    snapshot = machine.start().snapshot
    now = 0
    snapshot, now = _drain(machine, snapshot, now, now)
    leaves = set(machine.chart.leaves_of(snapshot.configuration))
    if leaves != set(script["initialConfiguration"]):
        return Outcome(False, "run", f"started in {sorted(leaves)}")
    for number, item in enumerate(script.get("events", [])):
        target = now + int(item.get("after", 0))
        snapshot, now = _drain(machine, snapshot, now, target)
        now = target
        event = item["event"]
        sent: str | Event = event["name"]
        if "data" in event:
            data = event["data"]
            sent = Event(event["name"], data if isinstance(data, dict) else {"data": data})
        snapshot = machine.step(snapshot, sent, now=now).snapshot
        snapshot, now = _drain(machine, snapshot, now, now)
        leaves = set(machine.chart.leaves_of(snapshot.configuration))
        if leaves != set(item["nextConfiguration"]):
            return Outcome(
                False,
                "run",
                f"after event {number} ({event['name']}): {sorted(leaves)}, "
                f"expected {sorted(item['nextConfiguration'])}",
            )
    return Outcome(True)


def load_skips() -> dict[str, str]:
    """skips.yaml: every test that is not expected to pass, with the feature it needs."""
    data = yaml.safe_load((HERE / "skips.yaml").read_text(encoding="utf-8")) or {}
    return {str(k): str(v) for k, v in data.items()}
