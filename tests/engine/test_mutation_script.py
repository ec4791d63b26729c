"""``scripts/mutation --since``: which functions count as changed, and the mutmut names
that select their mutants (a wrong pattern would silently run nothing, or everything)."""

from __future__ import annotations

import subprocess
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "mutation"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    loader = SourceFileLoader("mutation_script", str(SCRIPT))
    module = ModuleType(loader.name)
    module.__file__ = str(SCRIPT)
    loader.exec_module(module)
    return module


BEFORE = """
def kept(x):
    # a comment
    return x + 1


def edited(x):
    return x


class Box:
    def same(self):
        return 1

    def edited(self):
        return 2
"""

AFTER = """
class Box:
    def edited(self):
        return 3

    def same(self):
        return 1

    async def added(self):
        return 4


def edited(x):
    return -x


def kept(x):
    # the comment, reworded, and the function moved
    return x + 1


def added():
    pass
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def test_functions_and_methods_are_compared_by_syntax_tree(script: ModuleType) -> None:
    before, after = script.functions_of(BEFORE), script.functions_of(AFTER)
    assert list(before) == ["kept", "edited", "Box.same", "Box.edited"]
    changed = sorted(name for name, dump in after.items() if before.get(name) != dump)
    assert changed == ["Box.added", "Box.edited", "added", "edited"]


def test_since_names_the_mutants_of_changed_and_new_functions_only(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pkg").mkdir()
    module = tmp_path / "pkg" / "mod.py"
    module.write_text(BEFORE)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "before")
    module.write_text(AFTER)
    (tmp_path / "pkg" / "new.py").write_text("def fresh():\n    pass\n")
    monkeypatch.setattr(script, "ROOT", tmp_path)

    assert script.changed_patterns("pkg/mod.py", "HEAD") == [
        "pkg.mod.x\u01c1Box\u01c1edited__mutmut_*",
        "pkg.mod.x\u01c1Box\u01c1added__mutmut_*",
        "pkg.mod.x_edited__mutmut_*",
        "pkg.mod.x_added__mutmut_*",
    ]
    # a module the revision did not have is new: every function of it counts
    assert script.changed_patterns("pkg/new.py", "HEAD") == ["pkg.new.x_fresh__mutmut_*"]
    with pytest.raises(SystemExit, match="no such revision: nowhere"):
        script.changed_patterns("pkg/mod.py", "nowhere")


def test_the_report_counts_only_the_mutants_the_patterns_chose(script: ModuleType) -> None:
    listing = (
        "    pkg.mod.x_edited__mutmut_1: killed\n"
        "    pkg.mod.x_kept__mutmut_1: survived\n"
        "    pkg.mod.x\u01c1Box\u01c1edited__mutmut_2: survived\n"
        "    other.x_f__mutmut_1: killed\n"
    )
    chosen = ["pkg.mod.x_edited__mutmut_*", "pkg.mod.x\u01c1Box\u01c1edited__mutmut_*"]
    assert script.parse(listing, ["pkg/mod.py"], chosen) == {
        "pkg/mod.py": [
            ("pkg.mod.x_edited__mutmut_1", "killed"),
            ("pkg.mod.x\u01c1Box\u01c1edited__mutmut_2", "survived"),
        ]
    }
