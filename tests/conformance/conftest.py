"""The conformance suites need the npm package scripts/test unpacks; without it they fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conformance.suite import PACKAGE, suite_root


@pytest.fixture(scope="session")
def suite() -> Path:
    root = suite_root()
    if not (root / "test" / "w3c-ecma").is_dir():
        pytest.fail(
            f"the SCXML conformance suite ({PACKAGE}) is not at {root}: run scripts/test, "
            "which fetches it with npm, or point PYSTATOR_SCXML_SUITE at its package/ folder"
        )
    return root
