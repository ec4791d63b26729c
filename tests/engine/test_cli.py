"""The ``pystator`` command, called through ``main(argv)`` (what the console script runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pystator.cli import main

EXAMPLES = Path(__file__).parents[2] / "examples"


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES / "order_fsm.yaml")]) == 0
    assert "ok (7 states" in capsys.readouterr().out


def test_validate_reports_located_issues_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "states:\n  - {name: a, type: initial}\ntransitions:\n"
        "  - {trigger: t, source: a, dest: b}\n"
    )
    assert main(["validate", str(bad)]) == 1
    assert f"{bad}:4:" in capsys.readouterr().err


def test_missing_file_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/nonexistent/machine.yaml"]) == 1
    assert "cannot read /nonexistent/machine.yaml" in capsys.readouterr().err


def test_process_prints_the_result_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["process", str(EXAMPLES / "order_fsm.yaml"), "PENDING", "exchange_ack"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["target_state"] == "OPEN"
    assert out["all_actions"] == ["update_order_id", "notify_ui", "log_audit"]


def test_process_with_context_and_failure(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "process",
            str(EXAMPLES / "order_fsm.yaml"),
            "OPEN",
            "cancel",
            "--context",
            '{"locked": true}',
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and "not locked" in out["error"]["message"]


def test_process_rejects_bad_context(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["process", str(EXAMPLES / "order_fsm.yaml"), "OPEN", "cancel", "--context", "{nope"]
    )
    assert code == 2 and "not valid JSON" in capsys.readouterr().err


def test_unknown_state_is_an_error_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["process", str(EXAMPLES / "order_fsm.yaml"), "OPN", "cancel"]) == 1
    assert "did you mean 'OPEN'" in capsys.readouterr().err


def test_diagram_to_file_with_active_state(tmp_path: Path) -> None:
    out = tmp_path / "out.mmd"
    assert (
        main(["diagram", str(EXAMPLES / "order_fsm.yaml"), "--active", "OPEN", "-o", str(out)]) == 0
    )
    text = out.read_text()
    assert text.startswith("stateDiagram-v2") and "class OPEN active" in text


def test_lint(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    machine = tmp_path / "m.yaml"
    machine.write_text(
        "states:\n  - {name: a, type: initial}\n  - {name: lonely}\n"
        "  - {name: z, type: terminal}\n"
        "transitions:\n  - {trigger: t, source: a, dest: z}\n"
    )
    assert main(["lint", str(machine)]) == 0
    assert "unreachable" in capsys.readouterr().out


def test_unwritable_output_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing-dir" / "out.mmd"
    assert main(["diagram", str(EXAMPLES / "order_fsm.yaml"), "-o", str(target)]) == 1
    assert "No such file or directory" in capsys.readouterr().err


def test_ui_hands_its_options_to_the_designer(monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.server

    seen: list[list[str]] = []
    monkeypatch.setattr(ui.server, "main", lambda argv: seen.append(list(argv)) or 0)
    assert main(["ui", "--port", "8123", "--db", "lib.sqlite3", "--open"]) == 0
    assert main(["ui"]) == 0
    assert seen == [["--port", "8123", "--db", "lib.sqlite3", "--open"], []]


def test_ui_help_is_the_designers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["ui", "--help"])
    assert stop.value.code == 0
    assert "--port PORT" in capsys.readouterr().out


def test_other_commands_still_refuse_unknown_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["validate", str(EXAMPLES / "order_fsm.yaml"), "--bogus"])
    assert stop.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
