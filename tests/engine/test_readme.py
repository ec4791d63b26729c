"""Every code block of the README runs.

Python blocks run in order in one namespace (later blocks may use earlier names),
in a folder holding the examples and the README's own YAML files (a YAML block
whose first line is ``# name.yaml`` is written to that file). ``pystator`` command
lines run through the CLI's ``main``; the two set-up commands and the development
commands are what CI itself runs, so they are only checked to be present.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from pystator import StateMachine
from pystator.cli import main

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.S)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    for lang, body in BLOCKS:
        first = body.splitlines()[0]
        if lang == "yaml" and first.startswith("# ") and first.endswith(".yaml"):
            (tmp_path / first[2:]).write_text(body)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_yaml_blocks_load(workdir: Path) -> None:
    yaml_blocks = [body for lang, body in BLOCKS if lang == "yaml"]
    assert yaml_blocks
    for body in yaml_blocks:
        StateMachine.from_yaml(body)


def test_python_blocks_run_in_order(workdir: Path) -> None:
    namespace: dict[str, object] = {"__name__": "readme"}
    blocks = [body for lang, body in BLOCKS if lang == "python"]
    assert len(blocks) >= 5
    for index, body in enumerate(blocks):
        code = compile(body, f"README.md python block {index + 1}", "exec")
        exec(code, namespace)


def test_command_lines_run(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    commands = [
        line.split("#")[0].strip()
        for lang, body in BLOCKS
        if lang == "bash"
        for line in body.splitlines()
        if line.startswith("pystator ")
    ]
    assert len(commands) >= 4
    for command in commands:
        argv = shlex.split(command)[1:]
        assert main(argv) == 0, command


def test_setup_commands_are_the_ones_ci_runs() -> None:
    assert "bash scripts/test" in README
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in README
    assert '.venv/bin/pip install -e ".[ui]" && .venv/bin/pystator-ui' in README


def test_every_name_in_the_api_table_exists() -> None:
    """The "API at a glance" table names real things, so it cannot silently rot.

    In a row's first cell, ``machine.x`` / ``StateMachine.x`` / ``TransitionResult.x``
    set the class that later bare names in the same cell belong to; ``pystator.a.b``
    is imported; any other bare name is an attribute of ``pystator``.
    """
    import importlib
    from dataclasses import fields, is_dataclass

    import pystator
    from pystator import Snapshot, Step, TransitionResult

    def exists(owner: type, name: str) -> bool:
        declared = {f.name for f in fields(owner)} if is_dataclass(owner) else set()
        return hasattr(owner, name) or name in declared

    section = README.split("## API at a glance", 1)[1].split("\n## ", 1)[0]
    owners: dict[str, type] = {
        "machine": StateMachine,
        "StateMachine": StateMachine,
        "TransitionResult": TransitionResult,
        "Snapshot": Snapshot,
        "Step": Step,
    }
    checked = 0
    for cell in re.findall(r"^\| (.*?) \| ", section, flags=re.M)[2:]:
        owner: type | None = None
        for token in re.findall(r"`([^`]+)`", cell):
            name = token.split("(")[0]
            head, dot, rest = name.partition(".")
            if head in owners and dot:
                owner, name = owners[head], rest
            if head == "pystator":
                module, _, attr = rest.rpartition(".")
                try:
                    found = hasattr(importlib.import_module(f"pystator.{module or attr}"), attr)
                except ModuleNotFoundError:
                    found = False
                assert found or importlib.import_module(f"pystator.{rest}"), token
            elif owner is not None:
                assert exists(owner, name), f"{owner.__name__}.{name}"
            else:
                assert hasattr(pystator, name), f"pystator.{name}"
            checked += 1
    assert checked >= 40
