"""A parent machine whose child machine keeps time: the child's timers must fire
wherever the parent runs (engine, simulator, model checker, designer).

``session`` runs the ``ticker`` child while ``active``: the ticker rings 5 s after it
starts (``ding``) and stops 1 s later (``dong``), which ends it and so closes the session
(``done.invoke.clock``); the session's own ``nudge`` timer (7 s) is armed in the same
step as the child's first, and both are timer 0 of their machine.
"""

from __future__ import annotations

from pystator import StateMachine

SESSION = """meta: {machine_name: session}
states:
  - {name: browsing, type: initial}
  - name: active
    invoke: [{id: clock, src: "machine:ticker"}]
  - {name: closed, type: terminal}
transitions:
  - {trigger: enter, source: browsing, dest: active}
  - {trigger: nudge, source: active, dest: active, after: 7s}
  - {trigger: done.invoke.clock, source: active, dest: closed}
"""

TICKER = """meta: {machine_name: ticker}
states:
  - {name: counting, type: initial}
  - {name: ringing}
  - {name: rang, type: terminal}
transitions:
  - {trigger: ding, source: counting, dest: ringing, after: 5s}
  - {trigger: dong, source: ringing, dest: rang, after: 1s}
"""


def session_machine() -> StateMachine:
    """``session`` with its ``ticker`` bound."""
    return StateMachine.from_string(SESSION).bind_machines(
        {"ticker": StateMachine.from_string(TICKER)}
    )
