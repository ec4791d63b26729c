"""The W3C IRP tests and SCION's groups, each run through the engine, and read back.

A test passes, or is listed in skips.yaml with the feature it needs; a listed test
that starts passing fails too (take it off the list). The last test renders the
conformance table and checks docs/conformance.md holds it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pystator.scxml import from_scxml, to_scxml
from tests.conformance.report import outcome, render, results
from tests.conformance.suite import (
    Outcome,
    case_id,
    load,
    load_skips,
    scion_cases,
    suite_root,
    w3c_cases,
)

ROOT = suite_root()
W3C = w3c_cases(ROOT)
SCION = scion_cases(ROOT)
SKIPS = load_skips()
DOC = Path(__file__).parents[2] / "docs" / "conformance.md"


def _judge(case: str, passed: bool, detail: str) -> None:
    reason = SKIPS.get(case)
    if reason is not None:
        assert not passed, f"{case} passes now: take it off tests/conformance/skips.yaml"
    else:
        assert passed, f"{case}: {detail}"


@pytest.mark.parametrize("path", W3C or [None], ids=[case_id(p) for p in W3C] or ["missing"])
def test_w3c(suite: Path, path: Path) -> None:
    result = outcome(path)
    _judge(case_id(path), result.passed, result.detail)


@pytest.mark.parametrize("path", SCION or [None], ids=[case_id(p) for p in SCION] or ["missing"])
def test_scion(suite: Path, path: Path) -> None:
    result = outcome(path)
    _judge(case_id(path), result.passed, result.detail)


def test_counts(suite: Path) -> None:
    """The package holds what the conformance table counts: 203 W3C tests, 127 SCION."""
    assert len(W3C) == 203
    assert len(SCION) == 127


def test_skips_name_real_tests(suite: Path) -> None:
    known = {case_id(p) for p in W3C + SCION}
    assert sorted(set(SKIPS) - known) == []


def test_conformance_table(suite: Path) -> None:
    """docs/conformance.md is the table this run renders (rewritten when it is not)."""
    text = render(results(W3C, SCION), SKIPS)
    if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
        DOC.write_text(text, encoding="utf-8")
        pytest.fail("docs/conformance.md was out of date: it has been rewritten, commit it")


@pytest.mark.parametrize(
    "path", (W3C + SCION) or [None], ids=[case_id(p) for p in W3C + SCION] or ["missing"]
)
def test_round_trip(suite: Path, path: Path) -> None:
    """from_scxml -> to_scxml -> from_scxml gives an equal machine (for every test that loads)."""
    machine = load(path)
    if isinstance(machine, Outcome):
        assert machine.stage == "load" and case_id(path) in SKIPS
        return
    again = from_scxml(to_scxml(machine))
    assert again.spec == machine.spec
    assert again.spec.data == machine.spec.data
