"""Machines the simulator and trace-export tests share, as YAML text."""

from __future__ import annotations

ORDER = """
meta: {machine_name: order, strict_mode: true}
states:
  - name: PENDING
    type: initial
    timeout: {seconds: 5, destination: TIMED_OUT}
  - name: OPEN
    on_enter: [notify_ui]
    on_exit: [{name: audit, params: {why: leave_open}}]
  - name: PARTIALLY_FILLED
  - name: FILLED
    type: terminal
  - name: TIMED_OUT
    type: terminal
transitions:
  - {trigger: exchange_ack, source: PENDING, dest: OPEN, actions: [update_order_id]}
  - trigger: execution_report
    source: [OPEN, PARTIALLY_FILLED]
    dest: FILLED
    guards: [is_full_fill]
  - trigger: execution_report
    source: [OPEN, PARTIALLY_FILLED]
    dest: PARTIALLY_FILLED
    guards: [is_partial_fill]
  - trigger: fill
    source: [OPEN, PARTIALLY_FILLED]
    dest: FILLED
    guards: [{expr: "fill_qty >= order_qty"}]
    actions: [{name: book_fill, params: {venue: XNYS}}]
"""

HIERARCHY = """
meta: {machine_name: jobs}
states:
  - {name: idle, type: initial}
  - {name: working, initial_child: fetching, on_enter: [start_work], on_exit: [stop_work]}
  - {name: fetching, parent: working, on_enter: [fetch], on_exit: [fetched]}
  - {name: parsing, parent: working, on_exit: [parsed]}
  - {name: done, type: terminal}
transitions:
  - {trigger: go, source: idle, dest: working, actions: [begin]}
  - {trigger: got, source: fetching, dest: parsing}
  - {trigger: cancel, source: working, dest: idle, actions: [rollback]}
  - {trigger: finish, source: parsing, dest: done}
"""

TRADING = """
meta: {machine_name: trading}
states:
  - {name: idle, type: initial}
  - name: active
    type: parallel
    on_enter: [open_session]
    on_exit: [close_session]
    regions:
      - {name: trading, initial: scanning, states: [scanning, analyzing, executing]}
      - {name: risk, initial: normal, states: [normal, elevated]}
      - {name: feed, initial: connecting, states: [connecting, connected]}
  - {name: scanning, parent: active, on_exit: [stop_scanners]}
  - {name: executing, parent: active, timeout: {seconds: 2, destination: scanning}}
  - {name: connecting, parent: active, on_enter: [dial]}
  - {name: halted}
transitions:
  - {trigger: open, source: idle, dest: active}
  - {trigger: signal, source: scanning, dest: analyzing, region: trading}
  - {trigger: confirm, source: analyzing, dest: executing, region: trading}
  - {trigger: warn, source: normal, dest: elevated, region: risk}
  - {trigger: up, source: connecting, dest: connected, region: feed}
  - {trigger: tick, source: [analyzing, connected], dest: analyzing}
  - {trigger: stop, source: active, dest: halted, actions: [flatten]}
  - {trigger: resume, source: halted, dest: active}
"""

TIMERS = """
meta: {machine_name: timers}
states:
  - name: waiting
    type: initial
    timeout: {seconds: 5, destination: expired}
  - {name: busy}
  - {name: expired}
transitions:
  - {trigger: work, source: waiting, dest: busy}
  - {trigger: rest, source: busy, dest: waiting}
  - {source: busy, dest: waiting, after: 2s}
  - {trigger: poke, source: waiting, dest: waiting, actions: [poked]}
  - {trigger: again, source: expired, dest: waiting}
"""

RACE = """
meta: {machine_name: race}
states:
  - name: both
    type: parallel
    regions:
      - {name: a, initial: a1, states: [a1, a2]}
      - {name: b, initial: b1, states: [b1, b2]}
transitions:
  - {trigger: a_done, source: a1, dest: a2, after: 1s, region: a}
  - {trigger: b_done, source: b1, dest: b2, after: 2s, region: b}
  - {trigger: a_reset, source: a2, dest: a1, region: a}
"""

GUARDED_TIMER = """
meta: {machine_name: guarded_timer}
states:
  - {name: armed, type: initial}
  - {name: fired}
transitions:
  - {trigger: ring, source: armed, dest: fired, after: 1s, guards: [{expr: "ready"}]}
"""

LENIENT = """
meta: {machine_name: lenient, strict_mode: false}
states:
  - {name: a, type: initial}
  - {name: b}
transitions:
  - {trigger: go, source: a, dest: b}
"""
