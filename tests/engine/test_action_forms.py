"""``ActionSpec.from_config`` reads each form of action by the key that names it, and
``to_config`` writes it back; a mapping with no such key is refused by name."""

from __future__ import annotations

from typing import Any

import pytest

from pystator.model import ActionSpec

FORMS: list[tuple[dict[str, Any] | str, str, str]] = [
    ("notify", "call", "notify"),
    ({"name": "notify", "params": {"to": "ops"}}, "call", "notify"),
    ({"raise": "done"}, "raise", "done"),
    ({"assign": "n", "expr": "n + 1"}, "assign", "n"),
    ({"log": "seen"}, "log", "seen"),
    ({"log": None, "expr": "n"}, "log", ""),
    ({"send": "ping", "delay": 5, "data": {"n": "n"}, "internal": True}, "send", "ping"),
    ({"send_expr": "'p' + 'ing'", "target": "#_internal"}, "send", ""),
    ({"cancel": "s1"}, "cancel", "s1"),
    ({"cancel_expr": "sid"}, "cancel", ""),
    ({"if": "n > 1", "then": [{"raise": "big"}], "elif": [{"if": "n", "then": ["x"]}]}, "if", ""),
    ({"foreach": "xs", "item": "x", "index": "i", "do": [{"log": "x"}]}, "foreach", "x"),
]


@pytest.mark.parametrize(("config", "kind", "name"), FORMS, ids=[f[1] for f in FORMS])
def test_each_form_reads_by_its_key_and_writes_back(
    config: dict[str, Any] | str, kind: str, name: str
) -> None:
    action = ActionSpec.from_config(config)
    assert (action.kind, action.name) == (kind, name)
    assert ActionSpec.from_config(action.to_config()) == action


def test_send_params_are_normalised() -> None:
    action = ActionSpec.from_config({"send_expr": "e", "data": {"n": 1}, "id": None})
    assert dict(action.params) == {"event_expr": "e", "data": {"n": "1"}}
    internal = ActionSpec.from_config({"send": "e", "internal": 1, "delay": 0})
    assert dict(internal.params) == {"delay": 0, "internal": True}


def test_a_mapping_that_names_no_action_is_refused() -> None:
    with pytest.raises(ValueError, match=r"not an action: \{'jump': 'x'\}"):
        ActionSpec.from_config({"jump": "x"})
