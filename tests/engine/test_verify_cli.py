"""``pystator paths FILE`` and ``pystator check FILE``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pystator import StateMachine
from pystator.cli import main
from pystator.simulator import Simulation
from tests.engine.test_verify_check import MUTUAL_EXCLUSION

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture
def airlock(tmp_path: Path) -> Path:
    path = tmp_path / "airlock.yaml"
    path.write_text(MUTUAL_EXCLUSION, encoding="utf-8")
    return path


def test_check_prints_the_violation_located_with_its_counterexample_and_link(
    airlock: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(airlock)]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == (
        f"{airlock}:19:3: never ['inner_open', 'outer_open']: "
        "'cycling:inner=inner_open,outer=outer_open' has them all active [never]"
    )
    assert lines[1:5] == [
        "  counterexample:",
        "    1. send 'power' -> cycling:inner=inner_closed,outer=outer_closed",
        "    2. send 'open_inner' -> cycling:inner=inner_open,outer=outer_closed",
        "    3. send 'open_outer' -> cycling:inner=inner_open,outer=outer_open",
    ]
    assert lines[5].startswith("  open it in the designer: http://127.0.0.1:8000/s/1")
    assert lines[-1] == f"{airlock}: 1 violation; 5 configurations explored"


def test_check_writes_failing_pytests(
    airlock: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "cx"
    assert main(["check", str(airlock), "-o", str(out_dir)]) == 1
    assert "wrote 1 failing pytest files" in capsys.readouterr().out
    (written,) = sorted(out_dir.iterdir())
    assert written.name == "test_airlock_never_01.py"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(written)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 1
    assert "1 failed, 1 passed" in result.stdout
    assert "test_never_holds" in result.stdout


def test_check_of_a_sound_machine_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    path = EXAMPLES / "traffic_light.yaml"
    assert main(["check", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: no violations; 7 configurations explored\n"


def test_check_json(airlock: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(airlock), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["complete"] is True
    (violation,) = report["violations"]
    assert violation["code"] == "never" and violation["line"] == 19
    assert violation["share"].startswith("/s/")
    machine = StateMachine.from_yaml(MUTUAL_EXCLUSION)
    sim = Simulation.from_json(machine, violation["trace"])
    assert {"inner_open", "outer_open"} <= sim.configuration


def test_paths_prints_runs_and_coverage_and_writes_tests(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = EXAMPLES / "traffic_light.yaml"
    assert main(["paths", str(path), "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        f"{path}: 5 runs, 11 moves: transitions 8/8 (100%), solvable 8/8 (100%), states 4/4 (100%)"
    )
    assert "run 5 (1 move; first to cover transitions[0]: green -> yellow" in out
    assert "timer 'after:30s:green' fires -> yellow" in out
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names[:2] == ["test_traffic_light_path_01.py", "test_traffic_light_path_02.py"]
    assert "traffic_light_path_01.json" in names and len(names) == 10
    machine = StateMachine.from_yaml(path)
    trace = (tmp_path / "out" / "traffic_light_path_05.json").read_text(encoding="utf-8")
    assert Simulation.from_json(machine, trace).state == "yellow"


def test_paths_json_is_the_designer_view(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["paths", str(EXAMPLES / "order_fsm.yaml"), "--json"]) == 0
    view = json.loads(capsys.readouterr().out)
    assert set(view) == {"figures", "covered", "uncovered", "uncovered_states", "runs"}
    assert view["figures"]["transitions"]["covered"] == view["figures"]["transitions"]["total"]


def test_paths_reports_what_it_cannot_cover(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "states:\n  - {name: a, type: initial}\n  - {name: b}\ntransitions:\n"
        '  - {trigger: go, source: a, dest: b, guards: [{expr: "n > 2 and n < 1"}]}\n',
        encoding="utf-8",
    )
    assert main(["paths", str(path)]) == 0
    out = capsys.readouterr().out
    assert "transitions 0/1 (0%), solvable 0/0" in out
    assert (
        "  transitions[0]: a -> b on go: its guard 'n > 2 and n < 1' can never be true "
        "[unsatisfiable]" in out
    )


def test_bad_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["check", str(missing)]) == 1
    assert "No such file" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "states:\n  - {name: a, type: initial}\nverify:\n  never: [a, zz]\n", encoding="utf-8"
    )
    assert main(["check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:4:14: verify.never[1]: verify names an unknown state 'zz'" in err
    with pytest.raises(SystemExit):
        main(["paths", str(bad), "--max-steps", "0"])
    assert "expected a number of at least 1, got 0" in capsys.readouterr().err


def test_the_pystator_command_has_them(airlock: Path) -> None:
    command = Path(sys.executable).parent / "pystator"
    result = subprocess.run(
        [str(command), "check", str(airlock)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "[never]" in result.stdout
    helped = subprocess.run([str(command), "--help"], capture_output=True, text=True, timeout=60)
    assert "paths" in helped.stdout and "check" in helped.stdout


def test_the_readme_transcript_is_what_the_command_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Verification", 1)[1].split("\n## ", 1)[0]
    yaml_text = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    transcript = section.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    assert transcript[0] == "$ pystator check airlock.yaml"
    (tmp_path / "airlock.yaml").write_text(yaml_text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["check", "airlock.yaml"]) == 1
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(transcript) - 1
    for shown, real in zip(transcript[1:], printed, strict=True):
        if shown.endswith("..."):  # the README shortens the link
            assert real.startswith(shown[:-3])
        else:
            assert real == shown


def test_the_python_in_docs_verify_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    root = Path(__file__).parents[2]
    text = (root / "docs" / "verify.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    monkeypatch.chdir(root)
    namespace: dict[str, object] = {"__name__": "docs"}
    for number, body in enumerate(blocks, start=1):
        exec(compile(body, f"docs/verify.md python block {number}", "exec"), namespace)
