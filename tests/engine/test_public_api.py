"""The public namespace is curated: everything in ``__all__`` exists, and the spec's
import paths all work."""

from __future__ import annotations

import importlib

import pytest

import pystator

SPEC_IMPORTS = [
    (
        "pystator",
        [
            "StateMachine",
            "State",
            "StateType",
            "Timeout",
            "Transition",
            "Event",
            "GuardRegistry",
            "ActionRegistry",
            "Orchestrator",
            "AsyncioScheduler",
            "ParallelStateConfig",
            "TransitionResult",
        ],
    ),
    ("pystator.actions", ["ActionExecutor", "ExecutionMode", "ACTION_PARAMS_KEY"]),
    ("pystator.recipes", ["flatten_context_for_guards"]),
    ("pystator.core.state_store", ["InMemoryStateStore"]),
    ("pystator.scheduler", ["AsyncioScheduler", "RedisScheduler", "CeleryScheduler"]),
    ("pystator.orchestration.invoke", ["InvokeAdapter", "NoOpInvokeAdapter"]),
]


def test_all_is_sorted_and_complete() -> None:
    assert list(pystator.__all__) == sorted(pystator.__all__)
    for name in pystator.__all__:
        value = getattr(pystator, name)
        assert value.__name__ == name and value.__module__.startswith("pystator."), name
    imported = {
        name
        for name, value in vars(pystator).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("pystator")
    }
    assert imported - set(pystator.__all__) == set(), "public names missing from __all__"
    with pytest.raises(AttributeError, match="has no attribute 'Orchestra'"):
        pystator.Orchestra  # noqa: B018


@pytest.mark.parametrize(("module", "names"), SPEC_IMPORTS, ids=[m for m, _ in SPEC_IMPORTS])
def test_spec_import_paths(module: str, names: list[str]) -> None:
    loaded = importlib.import_module(module)
    for name in names:
        assert hasattr(loaded, name), f"{module}.{name}"


def test_package_is_typed() -> None:
    from importlib.resources import files

    assert files("pystator").joinpath("py.typed").is_file()
