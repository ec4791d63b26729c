"""Machine definitions shared by the runtime tests (text, as users write them)."""

ORDERS = """
meta: {machine_name: orders}
states:
  - {name: draft, type: initial}
  - name: waiting
    on_enter: [note_waiting]
  - name: retry
    timeout: {seconds: 2, destination: failed}
  - {name: open, on_enter: [notify]}
  - {name: failed, type: terminal}
  - {name: filled, type: terminal}
transitions:
  - {trigger: submit, source: draft, dest: waiting, actions: [record_submit]}
  - {trigger: timeout, source: waiting, dest: retry, after: 5000}
  - {trigger: resubmit, source: retry, dest: waiting}
  - {trigger: ack, source: waiting, dest: open}
  - {trigger: back, source: open, dest: waiting}
  - trigger: fill
    source: open
    dest: filled
    guards: [{expr: "fill_qty >= order_qty"}]
"""

GUARDED_TIMER = """
meta: {machine_name: guarded}
states:
  - {name: idle, type: initial}
  - {name: expired, type: terminal}
transitions:
  - trigger: expire
    source: idle
    dest: expired
    after: "1s"
    guards: [may_expire]
"""

CYCLE = """
meta: {machine_name: cycle}
states:
  - {name: A, type: initial}
  - {name: B}
  - {name: C}
transitions:
  - {trigger: inc, source: A, dest: B}
  - {trigger: inc, source: B, dest: C}
  - {trigger: inc, source: C, dest: A}
"""

TRADING = """
meta: {machine_name: trading}
states:
  - {name: idle, type: initial}
  - name: active
    type: parallel
    regions:
      - {name: trading, initial: scanning, states: [scanning, analyzing]}
      - {name: risk_monitor, initial: normal, states: [normal, elevated]}
  - name: scanning
    parent: active
  - {name: halted, type: terminal}
transitions:
  - {trigger: start, source: idle, dest: active}
  - {trigger: signal_detected, source: scanning, dest: analyzing, region: trading}
  - {trigger: risk_warning, source: normal, dest: elevated, region: risk_monitor}
  - {trigger: stop, source: active, dest: halted}
  - {trigger: rescan, source: analyzing, dest: scanning, region: trading}
  - {trigger: calm, source: elevated, dest: normal, region: risk_monitor, after: "3s"}
"""

MONITORING = """
meta: {machine_name: monitor}
states:
  - {name: idle, type: initial}
  - name: monitoring
    on_enter: [start_metrics]
    invoke:
      - id: price_feed
        src: websocket
        on_done: feed_ended
  - {name: ended}
  - {name: stopped}
transitions:
  - {trigger: watch, source: idle, dest: monitoring}
  - {trigger: feed_ended, source: monitoring, dest: ended}
  - {trigger: halt, source: monitoring, dest: stopped}
  - {trigger: watch, source: stopped, dest: monitoring}
"""

EXPIRING = """
meta: {machine_name: expiring}
states:
  - {name: idle, type: initial}
  - {name: armed}
  - {name: expired, type: terminal}
  - {name: disarmed}
transitions:
  - {trigger: arm, source: idle, dest: armed}
  - {trigger: expire, source: armed, dest: expired, after: 2000}
  - {trigger: disarm, source: armed, dest: disarmed}
"""

DURABLE = """
meta: {machine_name: durable}
states:
  - {name: idle, type: initial}
  - {name: armed}
  - {name: expired, type: terminal, on_enter: [record_expiry]}
  - {name: paid, type: terminal}
transitions:
  - {trigger: arm, source: idle, dest: armed}
  - {trigger: expire, source: armed, dest: expired, after: 1000, guards: [gate]}
  - {trigger: pay, source: idle, dest: paid, actions: [charge], guards: [gate]}
"""
