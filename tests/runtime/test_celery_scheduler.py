"""CeleryScheduler with a real worker process, Redis as broker and result backend."""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def celery_env(redis_url: str, key_prefix: str, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.setenv("PYSTATOR_TEST_REDIS_URL", redis_url)
    monkeypatch.setenv("PYSTATOR_TEST_DB", str(tmp_path / "state.db"))
    monkeypatch.setenv("PYSTATOR_TEST_PREFIX", key_prefix)
    sys.modules.pop("tests.runtime.celery_app", None)
    module = importlib.import_module("tests.runtime.celery_app")
    celery = shutil.which("celery")
    command = ([celery] if celery else [sys.executable, "-m", "celery"]) + [
        "-A", "tests.runtime.celery_app", "worker", "--pool=solo", "--loglevel=WARNING",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "-Q", key_prefix, "-n", f"{key_prefix}@%h",
    ]
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not module.app.control.ping(timeout=0.5):
            if worker.poll() is not None or time.monotonic() > deadline:
                pytest.fail("celery worker did not come up:\n"
                            + (tmp_path / "worker.log").read_text())
        yield module
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=5)
        log.close()
        module.app.close()


def test_a_worker_fires_timers_and_honours_cancellation(celery_env: ModuleType) -> None:
    orch = celery_env.make_orchestrator()

    async def arm() -> tuple[str, str]:
        fires = await orch.async_process_event("kept", "arm")
        cancels = await orch.async_process_event("left", "arm")
        await orch.async_process_event("left", "disarm")
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
        return armed.armed_timers[0].timer_id

    timer_id = asyncio.run(arm_and_leave())
    celery_env.scheduler.cancel_store.delete(f"{celery_env.PREFIX}:cancelled:{timer_id}")
    outcome = celery_env.fire_timer.AsyncResult(timer_id).get(timeout=30)
    assert outcome["status"] == "fired" and outcome["stale_timer"] is True
    stored = orch.state_store.load("x")
    assert stored is not None and stored.state == "disarmed"
