"""Every engine code block of the spec, run as written.

Where a block uses something it never defines (``db``, ``broker``, ``context``), the
test defines it first; the block itself is unchanged.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

ORDER_YAML = """\
# order_fsm.yaml
meta:
  version: "1.0.0"
  machine_name: "order_management"
  strict_mode: true

states:
  - name: PENDING
    type: initial
    timeout:
      seconds: 5.0
      destination: TIMED_OUT

  - name: OPEN
    type: stable
    on_enter:
      - notify_ui
      - log_audit

  - name: FILLED
    type: terminal

  - name: TIMED_OUT
    type: terminal

transitions:
  - trigger: exchange_ack
    source: PENDING
    dest: OPEN
    actions:
      - update_order_id

  - trigger: execution_report
    source: OPEN
    dest: FILLED
    guards:
      - is_full_fill
    actions:
      - update_positions
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "order_fsm.yaml").write_text(ORDER_YAML)
    return tmp_path


def test_quick_start(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved: dict[str, str] = {}
    db = SimpleNamespace(update_state=lambda key, state: saved.__setitem__(key, state))
    order_id = "A-1"
    context = {"fill_qty": 100, "order_qty": 100, "order_id": order_id}

    from pystator import ActionRegistry, Event, GuardRegistry, StateMachine  # noqa: F401
    from pystator.actions import ActionExecutor

    # Load FSM
    machine = StateMachine.from_yaml("order_fsm.yaml")

    # Register guards and actions
    guards = GuardRegistry()
    guards.register("is_full_fill", lambda ctx: ctx["fill_qty"] >= ctx["order_qty"])
    machine.bind_guards(guards)

    actions = ActionRegistry()
    actions.register("update_order_id", lambda ctx: print(f"Order ID: {ctx['order_id']}"))
    actions.register("update_positions", lambda ctx: print("Positions updated"))

    executor = ActionExecutor(actions)

    # Process event (pure computation)
    result = machine.process(
        current_state="OPEN", event="execution_report", context={"fill_qty": 100, "order_qty": 100}
    )

    # Execute actions after persistence
    if result.success:
        db.update_state(order_id, result.target_state)
        executor.execute(result, context)

    assert saved == {"A-1": "FILLED"}
    assert "Positions updated" in capsys.readouterr().out


def test_spec_quick_start_yaml_without_timed_out_is_a_located_error(in_tmp: Path) -> None:
    from pystator import ConfigError, StateMachine

    text = ORDER_YAML.replace("  - name: TIMED_OUT\n    type: terminal\n\n", "")
    (in_tmp / "spec.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        StateMachine.from_yaml("spec.yaml")
    [issue] = info.value.issues
    assert "TIMED_OUT" in issue.message and issue.line == 12


def test_core_concepts_state_and_transition() -> None:
    from pystator import State, StateType, Timeout

    state = State(
        name="PENDING",
        type=StateType.INITIAL,  # initial, stable, terminal, error, parallel
        on_enter=("log_entry",),
        on_exit=("log_exit",),
        timeout=Timeout(seconds=5.0, destination="TIMED_OUT"),
    )
    from pystator import Transition

    transition = Transition(
        trigger="execution_report",
        source=frozenset({"OPEN", "PARTIALLY_FILLED"}),
        dest="FILLED",
        guards=("is_full_fill",),
        actions=("update_positions",),
    )
    assert state.on_enter[0].name == "log_entry" and state.timeout is not None
    assert transition.guard_names == ("is_full_fill",)
    assert transition.action_names == ("update_positions",)


def test_core_concepts_guards_and_actions() -> None:
    class Account:
        buying_power = 500

    class Broker:
        async def get_account(self) -> Account:
            return Account()

    broker = Broker()
    sent: list[Any] = []
    email_service = SimpleNamespace(send=lambda *a: sent.append(a))
    positions: list[Any] = []

    class Db:
        async def update_position(self, symbol: str, qty: int) -> None:
            positions.append((symbol, qty))

    db = Db()
    from pystator import GuardRegistry

    guards = GuardRegistry()

    @guards.decorator("has_buying_power")
    def has_buying_power(ctx: dict) -> bool:
        return ctx["buying_power"] >= ctx["order_value"]

    # Async guards
    @guards.decorator("check_external")
    async def check_external(ctx: dict) -> bool:
        account = await broker.get_account()
        return account.buying_power >= ctx["order_value"]

    from pystator import ActionRegistry
    from pystator.actions import ActionExecutor, ExecutionMode

    actions = ActionRegistry()

    @actions.decorator()
    def send_notification(ctx: dict) -> None:
        email_service.send(ctx["user_email"], "Order updated")

    @actions.decorator()
    async def update_position(ctx: dict) -> None:
        await db.update_position(ctx["symbol"], ctx["quantity"])

    executor = ActionExecutor(actions, default_mode=ExecutionMode.PHASED)

    from pystator import StateMachine

    machine = StateMachine.from_dict(
        {
            "states": [
                {"name": "a", "type": "initial", "on_exit": ["send_notification"]},
                {"name": "b", "on_enter": ["update_position"]},
            ],
            "transitions": [
                {
                    "trigger": "go",
                    "source": "a",
                    "dest": "b",
                    "guards": ["has_buying_power", "check_external"],
                }
            ],
        }
    ).bind_guards(guards)
    context = {
        "buying_power": 1000,
        "order_value": 100,
        "user_email": "u@example.test",
        "symbol": "ACME",
        "quantity": 3,
    }
    transition_result = asyncio.run(machine.async_process("a", "go", context))
    assert transition_result.success

    # Sync execution (sequential by default)
    result = executor.execute(transition_result, context)
    assert result.all_succeeded

    async def run() -> None:
        # Async execution: parallel (all at once) or phased (exit → transition → enter)
        result = await executor.async_execute_parallel(transition_result, context)
        result = await executor.async_execute_phased(transition_result, context)
        assert result.all_succeeded

    asyncio.run(run())
    assert len(sent) == 3 and positions == [("ACME", 3)] * 3
    assert has_buying_power({"buying_power": 1, "order_value": 2}) is False


HIERARCHY_YAML = """\
states:
  - name: active
    type: stable
    initial_child: active.scanning
    on_enter: [start_feed]
    on_exit: [stop_feed]
    
  - name: active.scanning
    parent: active
    type: stable
    
  - name: active.analyzing
    parent: active
    type: stable
    
  - name: halted
    type: terminal

transitions:
  # Transition between siblings
  - trigger: signal_detected
    source: active.scanning
    dest: active.analyzing
    
  # Transition from parent applies to any child
  - trigger: emergency_stop
    source: active
    dest: halted
"""


def test_hierarchical_states() -> None:
    from pystator import StateMachine

    machine = StateMachine.from_yaml(HIERARCHY_YAML)
    assert machine.get_initial_state().name == "active.scanning"
    result = machine.process("active.scanning", "emergency_stop", {})
    assert result.success and result.target_state == "halted"
    assert result.all_actions == ("stop_feed",)


PARALLEL_YAML = """\
states:
  - name: active
    type: parallel
    regions:
      - name: trading
        initial: scanning
        states: [scanning, analyzing, executing]
        
      - name: risk_monitor
        initial: normal
        states: [normal, elevated, critical]
        
      - name: data_feed
        initial: connecting
        states: [connecting, connected, failed]

  # Optional: define region states for on_enter/on_exit
  - name: scanning
    type: stable
    parent: active
    on_enter: [start_scanners]
    
  - name: normal
    type: stable
    parent: active
    on_enter: [reset_risk_alerts]

transitions:
  # Region-scoped: only this region is considered
  - trigger: signal_detected
    source: scanning
    dest: analyzing
    region: trading
    
  - trigger: risk_warning
    source: normal
    dest: elevated
    region: risk_monitor
"""


def test_parallel_states(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "trading_fsm.yaml").write_text(PARALLEL_YAML)
    from pystator import ActionRegistry, StateMachine
    from pystator.actions import ActionExecutor

    ran: list[str] = []
    actions = ActionRegistry()
    actions.register("start_scanners", lambda ctx: ran.append("start_scanners"))
    executor = ActionExecutor(actions)
    context: dict[str, Any] = {}

    async def block() -> Any:
        machine = StateMachine.from_yaml("trading_fsm.yaml")

        # Enter parallel state - initializes all regions
        config = machine.enter_parallel_state("active")
        # config.region_states = {"trading": "scanning", "risk_monitor": "normal", "data_feed": "connecting"}
        assert config.region_states == {
            "trading": "scanning",
            "risk_monitor": "normal",
            "data_feed": "connecting",
        }

        # Process events that affect specific regions
        config, results = machine.process_parallel(config, "signal_detected", context)
        # Trading region: scanning -> analyzing

        config, results = machine.process_parallel(config, "risk_warning", context)
        # Risk region: normal -> elevated (if guards pass)

        # Each result contains actions for that region transition
        for result in results:
            await executor.async_execute_phased(result, context)

        # Exit parallel state
        exit_actions = machine.get_parallel_exit_actions(config)
        return config, results, exit_actions

    config, results, exit_actions = asyncio.run(block())
    assert (
        config.to_string() == "active:trading=analyzing,risk_monitor=elevated,data_feed=connecting"
    )
    assert [(r.region, r.source_state, r.target_state) for r in results] == [
        ("risk_monitor", "normal", "elevated")
    ]
    assert exit_actions == ()
    assert config.get_region_state("trading") == "analyzing"
    assert config.is_in_state("elevated") and config.get_all_active()[1] == "elevated"


def test_delayed_transition_yaml_syntax() -> None:
    from pystator import StateMachine

    machine = StateMachine.from_yaml("""\
states:
  - {name: waiting, type: initial}
  - {name: retry}
  - {name: pending}
  - {name: cancelled, type: terminal}
  - {name: active}
  - {name: closed, type: terminal}
transitions:
  - trigger: timeout
    source: waiting
    dest: retry
    after: 5000        # 5 seconds (milliseconds)
  
  - trigger: expire
    source: pending
    dest: cancelled
    after: "30m"       # 30 minutes (string with unit)
  
  - trigger: daily_close
    source: active
    dest: closed
    after: "1h"        # 1 hour
  - source: retry
    dest: waiting
    after: 500ms
""")
    delays = {t.trigger: t.after for t in machine.transitions}
    assert delays == {
        "timeout": 5000,
        "expire": 1_800_000,
        "daily_close": 3_600_000,
        "after:500ms:retry": 500,
    }
    [implicit] = machine.delayed_transitions("retry")
    assert machine.process("retry", implicit.trigger).target_state == "waiting"


def test_inline_guard_expressions() -> None:
    from pystator import GuardRegistry, StateMachine

    machine = StateMachine.from_yaml("""\
states:
  - {name: open, type: initial}
  - {name: filled}
  - {name: partial}
transitions:
  - trigger: fill
    source: open
    dest: filled
    guards:
      - expr: "fill_qty >= order_qty"           # Inline expression
      - expr: "price > 0 and symbol != ''"      # Multiple conditions
      - is_valid_order                           # Named guard function
  
  - trigger: partial_fill
    source: open
    dest: partial
    guards:
      - expr: "fill_qty > 0 and fill_qty < order_qty"
""")
    guards = GuardRegistry()
    guards.register("is_valid_order", lambda ctx: True)
    machine.bind_guards(guards)
    ctx = {"fill_qty": 100, "order_qty": 100, "price": 10.5, "symbol": "X"}
    assert machine.process("open", "fill", ctx).target_state == "filled"
    assert machine.process("open", "partial_fill", {**ctx, "fill_qty": 10}).success

    context = {
        "qty": 100,
        "filled": 50,
        "price": 10.5,
        "status": "active",
        "item": 1,
        "items": [1, 2],
        "is_cancelled": False,
        "positions": [1],
        "max_positions": 3,
    }
    for expr in [
        "qty > 0",
        "filled < qty",
        "price * qty < 2000",
        "status == 'active'",
        "item in items",
        "not is_cancelled",
        "len(positions) < max_positions",
    ]:
        m = StateMachine.from_dict(
            {
                "states": [{"name": "a", "type": "initial"}, {"name": "b"}],
                "transitions": [
                    {"trigger": "t", "source": "a", "dest": "b", "guards": [{"expr": expr}]}
                ],
            }
        )
        assert m.process("a", "t", context).success, expr


def test_event_normalization() -> None:
    from pystator import StateMachine

    machine = StateMachine.from_yaml("""\
meta:
  event_normalizer: lower

states:
  - {name: open, type: initial}
  - {name: filled}
transitions:
  - trigger: FILL
    source: open
    dest: filled
""")
    assert machine.process("open", "fill", {}).target_state == "filled"
    assert machine.process("open", "FILL", {}).target_state == "filled"


def test_context_for_guards() -> None:
    from pystator import StateMachine

    machine = StateMachine.from_dict(
        {
            "states": [{"name": "current", "type": "initial"}, {"name": "next"}],
            "transitions": [
                {
                    "trigger": "signal",
                    "source": "current",
                    "dest": "next",
                    "guards": [{"expr": "position_count < 5 and buying_power > 0"}],
                }
            ],
        }
    )
    current_state = "current"
    from pystator.recipes import flatten_context_for_guards

    # Nested context: add derived values for guards
    ctx = flatten_context_for_guards(
        {"trading_context": {"positions": [...], "buying_power": 10000}},
        overrides={"position_count": 3},  # or len(trading_context["positions"])
    )
    result = machine.process(current_state, "signal", ctx)
    assert result.success and result.target_state == "next"
    assert (ctx["position_count"], ctx["buying_power"]) == (3, 10000)
    crowded = flatten_context_for_guards(
        {"trading_context": {"positions": [...], "buying_power": 10000}},
        overrides={"position_count": 5},
    )
    refused = machine.process(current_state, "signal", crowded)
    assert not refused.success and "position_count < 5" in str(refused.error)


def test_action_parameters() -> None:
    from pystator import ActionRegistry, StateMachine
    from pystator.actions import ACTION_PARAMS_KEY, ActionExecutor

    machine = StateMachine.from_yaml("""\
states:
  - {name: open, type: initial}
  - name: filled
    on_enter:
      - name: send_notification
        params: {channel: email}
transitions:
  - trigger: order_filled
    source: open
    dest: filled
    actions:
      - log_fill                    # Simple action (no params)
      - name: send_notification     # Parameterized action
        params:
          channel: slack
          priority: high
      - name: update_metrics
        params:
          metric_name: fills
          increment: 1
""")
    sent: list[tuple[str, str, str]] = []

    def notify(channel: str, priority: str, message: str) -> None:
        sent.append((channel, priority, message))

    actions = ActionRegistry()
    actions.register("log_fill", lambda ctx: None)
    actions.register("update_metrics", lambda ctx: None)

    @actions.decorator()
    def send_notification(context: dict) -> None:
        params = context.get(ACTION_PARAMS_KEY, {})
        channel = params.get("channel", "email")  # "slack"
        priority = params.get("priority", "normal")  # "high"

        notify(channel=channel, priority=priority, message=context["message"])

    result = machine.process("open", "order_filled", {})
    outcome = ActionExecutor(actions).execute(result, {"message": "filled"})
    assert outcome.all_succeeded
    assert sent == [("slack", "high", "filled"), ("email", "normal", "filled")]


def test_async_support() -> None:
    from pystator import ActionRegistry, GuardRegistry, StateMachine
    from pystator.actions import ActionExecutor, ExecutionMode

    class Broker:
        async def get_account(self) -> Any:
            return SimpleNamespace(buying_power=1000)

    broker = Broker()
    done: list[Any] = []

    class Tx:
        async def __aenter__(self) -> None:
            return None

        async def __aexit__(self, *exc: object) -> None:
            return None

    class Db:
        def transaction(self) -> Tx:
            return Tx()

        async def update_position(self, symbol: str, qty: int) -> None:
            done.append((symbol, qty))

    db = Db()
    guards = GuardRegistry()
    actions = ActionRegistry()

    # Async guards (evaluated during async_process / async_process_parallel)
    @guards.decorator()
    async def check_buying_power(ctx: dict) -> bool:
        account = await broker.get_account()
        return account.buying_power >= ctx["order_value"]

    # Async actions (run with executor.async_execute_* after persistence)
    @actions.decorator()
    async def update_position(ctx: dict) -> None:
        async with db.transaction():
            await db.update_position(ctx["symbol"], ctx["qty"])

    machine = StateMachine.from_dict(
        {
            "states": [
                {"name": "OPEN", "type": "initial"},
                {"name": "FILLED"},
                {
                    "name": "p",
                    "type": "parallel",
                    "regions": [{"name": "r", "initial": "x", "states": ["x", "y"]}],
                },
            ],
            "transitions": [
                {
                    "trigger": "execution_report",
                    "source": "OPEN",
                    "dest": "FILLED",
                    "guards": ["check_buying_power"],
                    "actions": ["update_position"],
                },
                {
                    "trigger": "go",
                    "source": "x",
                    "dest": "y",
                    "region": "r",
                    "guards": ["check_buying_power"],
                },
            ],
        }
    )
    machine.bind_guards(guards)
    executor = ActionExecutor(actions)
    context = {"order_value": 10, "symbol": "ACME", "qty": 5}
    event = "go"

    async def block() -> Any:
        # Async transition computation
        result = await machine.async_process("OPEN", "execution_report", context)

        # Async parallel state processing
        config = machine.enter_parallel_state("p")
        config, results = await machine.async_process_parallel(config, event, context)

        # Async action execution (parallel or phased)
        execution = await executor.async_execute_parallel(result, context)
        mode_result = await executor.async_execute_with_mode(
            result, context, mode=ExecutionMode.PARALLEL
        )
        return result, config, execution, mode_result

    result, config, execution, mode_result = asyncio.run(block())
    assert result.target_state == "FILLED" and config.get_region_state("r") == "y"
    assert execution.all_succeeded and mode_result.all_succeeded
    assert done == [("ACME", 5), ("ACME", 5)]


def test_api_reference(tmp_path: Path) -> None:
    from pystator import StateMachine

    path = tmp_path / "config.yaml"
    path.write_text(PARALLEL_YAML)
    config_dict = {"states": [{"name": "STATE", "type": "initial"}]}
    # Creation
    machine = StateMachine.from_yaml(str(path))
    machine2 = StateMachine.from_dict(config_dict)
    event, context = "signal_detected", {}
    current_state = machine.initial_state_string()

    # Processing
    result = machine.process(current_state, event, context)
    assert result.success
    result = asyncio.run(machine.async_process(current_state, event, context))

    # Parallel states
    config = machine.enter_parallel_state("active")
    config, results = machine.process_parallel(config, event, context)
    config, results = asyncio.run(machine.async_process_parallel(config, "risk_warning", context))

    # Queries
    assert machine2.get_state("STATE").is_initial
    assert machine.get_initial_state().name == "active"
    assert [t.trigger for t in machine.get_available_transitions("scanning")] == ["signal_detected"]
    assert machine.is_parallel_state("active")
    assert machine.validate_parallel_config(config) == []

    # TransitionResult
    assert result.success is True and result.source_state == current_state
    assert (
        result.target_state == "active:trading=analyzing,risk_monitor=normal,data_feed=connecting"
    )
    assert result.trigger == "signal_detected"
    assert isinstance(result.all_actions, tuple) and result.error is None

    # ParallelStateConfig
    assert config.parallel_state == "active"
    assert config.region_states["risk_monitor"] == "elevated"
    assert config.get_region_state("trading") == "analyzing"
    assert config.is_in_state("analyzing")
    assert config.get_all_active() == ["analyzing", "elevated", "connecting"]
    assert (
        config.to_string() == "active:trading=analyzing,risk_monitor=elevated,data_feed=connecting"
    )
