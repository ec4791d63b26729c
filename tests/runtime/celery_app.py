"""The Celery app a real worker imports in the Celery test (``celery -A tests.runtime.celery_app``).

Broker, result backend and cancel marks are the test's redis-server; the state is a
store shared by the test process and the worker (``PYSTATOR_TEST_STORE``, a URL as in
``tests.runtime.stores``, by default the SQLite file ``PYSTATOR_TEST_DB``). Both come
from environment variables the test sets before it starts the worker and imports
this module.
"""

from __future__ import annotations

import os

import redis
from celery import Celery

from pystator import StateMachine
from pystator.runtime import CeleryScheduler, Orchestrator
from pystator.runtime.state_store import StateStore
from tests.runtime.machines import EXPIRING
from tests.runtime.stores import close_store, open_store

REDIS_URL = os.environ.get("PYSTATOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DB_PATH = os.environ.get("PYSTATOR_TEST_DB", "pystator-celery-test.db")
PREFIX = os.environ.get("PYSTATOR_TEST_PREFIX", "pystator:celery-test")
STORE = os.environ.get("PYSTATOR_TEST_STORE", f"sqlite:///{DB_PATH}")

app = Celery("pystator_test", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    broker_connection_retry_on_startup=True,
    task_default_queue=PREFIX,
    result_expires=600,
    worker_hijack_root_logger=False,
)

scheduler = CeleryScheduler(app, cancel_store=redis.Redis.from_url(REDIS_URL), key_prefix=PREFIX)
fire_timer = scheduler.register_task()


OPENED: list[StateStore] = []


def make_orchestrator() -> Orchestrator:
    store = open_store(STORE)
    OPENED.append(store)
    return Orchestrator(
        StateMachine.from_string(EXPIRING),
        store,
        scheduler=scheduler,
        rearm_after=1.0,
        dispatch_interval=0.1,
    )


def close_stores() -> None:
    """Close the stores this process opened (the test process, at teardown)."""
    while OPENED:
        close_store(OPENED.pop())


scheduler.set_orchestrator_factory(make_orchestrator)
