"""Every example is loaded, linted, drawn, round-tripped and its script is run."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from pystator import StateMachine
from pystator.config import dump_spec, load_spec
from pystator.diagram import to_mermaid
from pystator.lint import lint

EXAMPLES = Path(__file__).parents[2] / "examples"
MACHINES = sorted(EXAMPLES.glob("*.yaml"))
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


def test_the_examples_are_there() -> None:
    names = {p.name for p in MACHINES} | {p.name for p in SCRIPTS}
    assert {
        "order_fsm.yaml",
        "basic_usage.py",
        "day_trading_fsm.yaml",
        "day_trading_example.py",
        "portfolio_optimization_fsm.yaml",
        "portfolio_optimization_example.py",
    } <= names


@pytest.mark.parametrize("path", MACHINES, ids=lambda p: p.name)
def test_example_machine(path: Path) -> None:
    spec = load_spec(path)
    machine = StateMachine.from_spec(spec)
    assert not [f for f in lint(spec) if f.severity == "error"]
    assert to_mermaid(machine).startswith("stateDiagram-v2")
    assert load_spec(dump_spec(spec)) == spec


LAST_LINES = {
    "basic_usage.py": "cancel in FILLED: 'FILLED' is a terminal state: it accepts no event",
    "day_trading_example.py": "leaving runs: stop_scanners, close_positions",
    "portfolio_optimization_example.py": (
        "actions ['unlock_portfolio', 'cancel_orders', 'page_on_call']"
    ),
}


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_example_script_runs(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(path), run_name="__main__")
    lines = capsys.readouterr().out.strip().splitlines()
    assert path.name in LAST_LINES, f"say what {path.name} ends by printing"
    assert lines[-1].strip() == LAST_LINES[path.name], "the script did not run to its end"


def test_basic_usage_walks_the_order_to_filled() -> None:
    history = runpy.run_path(str(EXAMPLES / "basic_usage.py"))["main"]()
    assert history[-1] == ("PARTIALLY_FILLED", "FILLED")


def test_portfolio_abort_exits_through_every_level() -> None:
    trail = runpy.run_path(str(EXAMPLES / "portfolio_optimization_example.py"))["main"]()
    assert trail[-1] == ("failed", ("unlock_portfolio", "cancel_orders", "page_on_call"))
