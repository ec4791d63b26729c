"""CeleryScheduler with a real worker process, Redis as broker and result backend."""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.runtime.stores import close_store, open_store

pytestmark = [pytest.mark.slow, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]


class Workers:
    """Real Celery worker processes for the test's app; each can be SIGKILLed."""

    def __init__(self, key_prefix: str, log_dir: Path, module: ModuleType) -> None:
        self.key_prefix, self.log_dir, self.module = key_prefix, log_dir, module
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Any] = []

    def start(self) -> subprocess.Popen[bytes]:
        celery = shutil.which("celery")
        n = len(self.procs)
        command = ([celery] if celery else [sys.executable, "-m", "celery"]) + [
            "-A",
            "tests.runtime.celery_app",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            self.key_prefix,
            "-n",
            f"{self.key_prefix}-{n}@%h",
        ]
        log = (self.log_dir / f"worker{n}.log").open("w")
        worker = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs.append(worker)
        self.logs.append(log)
        deadline = time.monotonic() + 30
        name = f"{self.key_prefix}-{n}@"
        while not any(
            name in key for reply in self.module.app.control.ping(timeout=0.5) for key in reply
        ):
            if worker.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    "celery worker did not come up:\n"
                    + (self.log_dir / f"worker{n}.log").read_text()
                )
        return worker

    def stop(self) -> None:
        for worker in self.procs:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait(timeout=5)
        for log in self.logs:
            log.close()


@pytest.fixture
def celery_workers(
    redis_url: str, key_prefix: str, tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Workers]:
    monkeypatch.setenv("PYSTATOR_TEST_REDIS_URL", redis_url)
    monkeypatch.setenv("PYSTATOR_TEST_STORE", store_url)
    monkeypatch.setenv("PYSTATOR_TEST_PREFIX", key_prefix)
    close_store(open_store(store_url))  # the schema exists before the processes start
    sys.modules.pop("tests.runtime.celery_app", None)
    module = importlib.import_module("tests.runtime.celery_app")
    workers = Workers(key_prefix, tmp_path, module)
    try:
        yield workers
    finally:
        workers.stop()
        module.close_stores()
        module.app.close()


@pytest.fixture
def celery_env(celery_workers: Workers) -> ModuleType:
    celery_workers.start()
    return celery_workers.module


def test_a_worker_fires_timers_and_honours_cancellation(celery_env: ModuleType) -> None:
    orch = celery_env.make_orchestrator()

    async def arm() -> tuple[str, str]:
        fires = await orch.async_process_event("kept", "arm")
        cancels = await orch.async_process_event("left", "arm")
        await orch.async_process_event("left", "disarm")
        await orch.state_store.aclose()
        return fires.armed_timers[0].timer_id, cancels.armed_timers[0].timer_id

    start = time.time()
    fired_id, cancelled_id = asyncio.run(arm())
    fired = celery_env.fire_timer.AsyncResult(fired_id).get(timeout=30)
    cancelled = celery_env.fire_timer.AsyncResult(cancelled_id).get(timeout=30)
    assert fired["status"] == "fired" and fired["state"] == "expired"
    assert cancelled == {"timer_id": cancelled_id, "status": "cancelled"}

    store = orch.state_store
    kept, left = store.load("kept"), store.load("left")
    assert kept is not None and kept.state == "expired" and kept.timers == ()
    assert left is not None and left.state == "disarmed"
    (expiry,) = [r for r in store.audit_trail("kept") if r.trigger == "expire"]
    assert expiry.timestamp - start >= 2.0, "the countdown was respected"
    assert celery_env.scheduler.is_cancelled(cancelled_id)
    assert not celery_env.scheduler.is_cancelled(fired_id)


def test_a_stale_timer_is_dropped_even_if_its_cancel_was_lost(celery_env: ModuleType) -> None:
    orch = celery_env.make_orchestrator()

    async def arm_and_leave() -> str:
        armed = await orch.async_process_event("x", "arm")
        await orch.async_process_event("x", "disarm")
        await orch.state_store.aclose()
        return armed.armed_timers[0].timer_id

    timer_id = asyncio.run(arm_and_leave())
    celery_env.scheduler.cancel_store.delete(f"{celery_env.PREFIX}:cancelled:{timer_id}")
    outcome = celery_env.fire_timer.AsyncResult(timer_id).get(timeout=30)
    assert outcome["status"] == "fired" and outcome["stale_timer"] is True
    stored = orch.state_store.load("x")
    assert stored is not None and stored.state == "disarmed"


def test_a_killed_worker_does_not_take_its_timers_along(celery_workers: Workers) -> None:
    """SIGKILL a worker holding countdown tasks: the dispatcher sends them again at
    due + rearm_after, long before the broker's visibility timeout (an hour by
    default) would bring the messages back."""
    doomed = celery_workers.start()
    module = celery_workers.module
    orch = module.make_orchestrator()

    async def arm() -> float:
        for i in range(3):
            await orch.async_process_event(f"k{i}", "arm")
        await orch.state_store.aclose()
        return time.time()

    armed_at = asyncio.run(arm())
    time.sleep(1.0)  # the worker has taken the countdown tasks (unacked, in memory)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    celery_workers.start()

    async def deliver_until_expired() -> None:
        await orch.start()
        try:
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                states = [await orch.async_get_state(f"k{i}") for i in range(3)]
                if all(s is not None and s.state == "expired" for s in states):
                    break
                await asyncio.sleep(0.1)
        finally:
            await orch.stop()

    asyncio.run(deliver_until_expired())
    store = orch.state_store
    for i in range(3):
        stored = store.load(f"k{i}")
        assert stored is not None and stored.state == "expired" and stored.timers == ()
        expiries = [r for r in store.audit_trail(f"k{i}") if r.trigger == "expire"]
        assert len(expiries) == 1
        assert expiries[0].timestamp - armed_at < 20, "recovered in seconds, not an hour"
