"""Kill tests: real processes, SIGKILL at the moment that hurts, on SQLite and PostgreSQL.

Each test breaks one thing for real (a producer killed mid-stream, a worker killed
between its claim and its commit, a store locked past its timeout, Redis killed or
down, a process killed during an action or its retry backoff, duplicates racing)
and then checks what the runtime promises: every committed timer fires exactly
once, every action completes at least once (its key is in the action log), no
event id applies twice. The worker processes are ``tests/runtime/killworkers.py``.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from pystator.runtime.state_store import StateStore
from tests.runtime.stores import close_store, open_store
from tests.support import free_port

pytestmark = [pytest.mark.slow, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]


class Proc:
    """A worker process whose stdout lines are read in the background."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.args = args
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "tests.runtime.killworkers", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.err = ""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.strip())

    def wait_for(self, prefix: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                pytest.fail(
                    f"{self.args[0]} never said {prefix!r}; it said {self.seen}\n{self.stderr()}"
                )
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def stderr(self) -> str:
        if self.popen.poll() is None:
            return ""
        self._close()
        return self.err

    def _close(self) -> None:
        """Once the process has ended: collect what it printed and close the pipes."""
        self.reader.join(timeout=10)
        if self.popen.stderr is not None and not self.popen.stderr.closed:
            self.err = self.popen.stderr.read()
            self.popen.stderr.close()
        if self.popen.stdout is not None and not self.popen.stdout.closed:
            self.popen.stdout.close()
        while not self.lines.empty():
            self.seen.append(self.lines.get())

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)
        self._close()

    def finish(self, timeout: float = 90.0) -> list[str]:
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close()
        assert self.popen.returncode == 0, f"{self.args[0]} failed:\n{self.err}"
        return self.seen


@pytest.fixture
def spawned() -> Iterator[list[Proc]]:
    procs: list[Proc] = []
    yield procs
    for proc in procs:
        proc.kill()


@pytest.fixture
def store(store_url: str) -> Iterator[StateStore]:
    opened = open_store(store_url)  # creates the schema before any worker starts
    yield opened
    close_store(opened)


class RedisServer:
    """A redis-server of the test's own, with AOF (``appendfsync everysec``)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        import redis

        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis(port=self.port, socket_timeout=0.2).ping():
                    return
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("redis-server did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    yield server
    server.kill()


def common(store_url: str, redis_url: str, prefix: str, log: Path, *more: str) -> list[str]:
    return [
        "--store",
        store_url,
        "--redis",
        redis_url,
        "--prefix",
        prefix,
        "--log",
        str(log),
        *more,
    ]


def assert_every_armed_timer_fired_once(store: StateStore, entities: int, log: Path) -> int:
    """Every entity that was armed expired exactly once; returns how many were armed."""
    logged = Counter(log.read_text().split()) if log.exists() else Counter()
    armed = 0
    for i in range(entities):
        entity = f"e{i}"
        trail = store.audit_trail(entity)
        triggers = [r.trigger for r in trail]
        ids = [r.event_id for r in trail if r.event_id is not None]
        assert len(ids) == len(set(ids)), f"{entity}: an event applied twice: {trail}"
        stored = store.load(entity)
        if "arm" not in triggers:
            assert stored is None or (stored.state == "idle"), f"{entity}: {stored}"
            continue
        armed += 1
        assert triggers.count("expire") == 1, f"{entity} expired {triggers.count('expire')}x"
        assert stored is not None and stored.state == "expired" and stored.timers == ()
        (expiry,) = [r for r in trail if r.trigger == "expire"]
        assert logged[f"{entity}:{expiry.version}:0"] >= 1, f"{entity}: its entry never ran"
    assert not store.pending_actions(), "every action completed"
    assert not store.dead_letters()
    return armed


def test_producer_killed_mid_stream(
    store_url: str,
    store: StateStore,
    redis_url: str,
    key_prefix: str,
    tmp_path: Path,
    spawned: list[Proc],
) -> None:
    log = tmp_path / "actions.log"
    args = common(store_url, redis_url, key_prefix, log, "--entities", "40")
    producer = Proc("produce", *args)
    spawned.append(producer)
    producer.wait_for("SENT 12")
    producer.kill()
    workers = [Proc("work", *args) for _ in range(2)]
    spawned.extend(workers)
    fired = sum(int(w.finish()[-1].split()[1]) for w in workers)
    armed = assert_every_armed_timer_fired_once(store, 40, log)
    assert armed >= 13 and fired == armed


def test_worker_killed_between_claim_and_commit(
    store_url: str,
    store: StateStore,
    redis_url: str,
    key_prefix: str,
    tmp_path: Path,
    spawned: list[Proc],
) -> None:
    log = tmp_path / "actions.log"
    args = common(store_url, redis_url, key_prefix, log, "--entities", "3", "--lease", "1.5")
    Proc("produce", *args).finish()
    doomed = Proc("work", *args, "--gate", "hang")
    spawned.append(doomed)
    doomed.wait_for("CLAIMED")
    doomed.kill()
    survivor = Proc("work", *args)
    spawned.append(survivor)
    assert survivor.finish()[-1] == "FIRED 3"
    assert assert_every_armed_timer_fired_once(store, 3, log) == 3


def test_store_locked_past_its_timeout(
    store_url: str,
    store: StateStore,
    redis_url: str,
    key_prefix: str,
    tmp_path: Path,
    spawned: list[Proc],
) -> None:
    log = tmp_path / "actions.log"
    args = common(
        store_url, redis_url, key_prefix, log, "--entities", "4", "--store-timeout", "0.3"
    )
    Proc("produce", *args).finish()
    worker = Proc("work", *args)
    spawned.append(worker)
    worker.wait_for("READY")
    with hold_lock(store_url, seconds=2.5):
        pass
    # A firing retried while the store was locked may also be handed over again by
    # the dispatcher; the redelivery is refused, so the audit trail is what counts.
    assert worker.finish()[-1].startswith("FIRED")
    assert assert_every_armed_timer_fired_once(store, 4, log) == 4


class hold_lock:
    """Lock the store against every writer (PostgreSQL: and reader) for ``seconds``."""

    def __init__(self, store_url: str, seconds: float) -> None:
        self.store_url, self.seconds = store_url, seconds

    def __enter__(self) -> None:
        if self.store_url.startswith("sqlite:///"):
            import sqlite3

            conn = sqlite3.connect(self.store_url[len("sqlite:///") :], isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            time.sleep(self.seconds)
            conn.execute("ROLLBACK")
            conn.close()
        else:
            import psycopg

            with psycopg.connect(self.store_url) as conn:
                conn.execute(
                    "LOCK TABLE pystator_entities, pystator_timers IN ACCESS EXCLUSIVE MODE"
                )
                time.sleep(self.seconds)
                conn.rollback()

    def __exit__(self, *exc: object) -> None:
        return None


def test_redis_killed_and_restarted_with_aof(
    store_url: str,
    store: StateStore,
    own_redis: RedisServer,
    key_prefix: str,
    tmp_path: Path,
    spawned: list[Proc],
) -> None:
    own_redis.start()
    log = tmp_path / "actions.log"
    args = common(store_url, own_redis.url, key_prefix, log, "--entities", "10")
    Proc("produce", *args).finish()
    own_redis.kill()  # SIGKILL, with the timers pending in Redis
    worker = Proc("work", *args)
    spawned.append(worker)
    worker.wait_for("READY")
    time.sleep(1.5)  # the timers come due while Redis is down
    own_redis.start()  # same port, same AOF
    worker.finish()
    assert assert_every_armed_timer_fired_once(store, 10, log) == 10


def test_redis_down_while_events_arrive(
    store_url: str,
    store: StateStore,
    own_redis: RedisServer,
    key_prefix: str,
    tmp_path: Path,
    spawned: list[Proc],
) -> None:
    own_redis.start()
    own_redis.kill()
    log = tmp_path / "actions.log"
    args = common(store_url, own_redis.url, key_prefix, log, "--entities", "10")
    Proc("produce", *args).finish()  # every commit holds; no timer reached Redis
    for i in range(10):
        stored = store.load(f"e{i}")
        assert stored is not None and stored.state == "armed" and len(stored.timers) == 1
    shutil.rmtree(tmp_path / "appendonlydir", ignore_errors=True)
    own_redis.start()  # an empty Redis
    worker = Proc("work", *args)
    spawned.append(worker)
    worker.finish()
    assert assert_every_armed_timer_fired_once(store, 10, log) == 10


def test_process_killed_during_an_action(
    store_url: str, store: StateStore, tmp_path: Path, spawned: list[Proc]
) -> None:
    log = tmp_path / "actions.log"
    args = ["--store", store_url, "--log", str(log), "--lease", "1"]
    payer = Proc("pay", *args, "--entities", "1", "--charge", "hang")
    spawned.append(payer)
    key = payer.wait_for("IN_ACTION").split()[1]
    payer.kill()
    assert store.load("p0").state == "paid"  # type: ignore[union-attr]
    assert [a.key for a in store.pending_actions()] == [key]
    Proc("dispatch", *args).finish()
    assert Counter(log.read_text().split())[key] >= 1, "the action completed"
    assert store.pending_actions() == [] and store.dead_letters() == []
    assert [r.trigger for r in store.audit_trail("p0")].count("pay") == 1


def test_process_killed_during_a_retry_backoff(
    store_url: str, store: StateStore, tmp_path: Path, spawned: list[Proc]
) -> None:
    log = tmp_path / "actions.log"
    args = ["--store", store_url, "--log", str(log), "--lease", "1", "--backoff", "1.5"]
    payer = Proc("pay", *args, "--entities", "1", "--charge", "fail-first")
    spawned.append(payer)
    key = payer.wait_for("BACKOFF").split()[1]
    time.sleep(0.3)  # it is sleeping before its retry now
    payer.kill()
    (pending,) = store.pending_actions()
    assert (pending.key, pending.attempts) == (key, 1)
    Proc("dispatch", *args, "--charge", "fail-first").finish()
    assert Counter(log.read_text().split())[key] == 1
    assert store.pending_actions() == [] and store.dead_letters() == []


def test_duplicate_after_the_first_delivery_outlived_any_claim(
    store_url: str, store: StateStore, tmp_path: Path, spawned: list[Proc]
) -> None:
    log = tmp_path / "actions.log"
    at = time.time() + 4
    base = ["--store", store_url, "--log", str(log), "--entity", "d1", "--event-id", "evt-7"]
    slow = Proc("send", *base, "--gate", "slow:3", "--at", str(at))
    fast = Proc("send", *base, "--at", str(at + 1))
    spawned.extend([slow, fast])
    outcomes = [p.finish()[-1] for p in (slow, fast)]
    assert '"duplicate": true' in outcomes[0] and '"duplicate": false' in outcomes[1]
    assert all('"success": true' in o and '"version": 2' in o for o in outcomes)
    assert [r.trigger for r in store.audit_trail("d1")].count("pay") == 1
    assert Counter(log.read_text().split()) == Counter({"d1:2:0": 1})


def test_eight_concurrent_duplicates(
    store_url: str, store: StateStore, tmp_path: Path, spawned: list[Proc]
) -> None:
    log = tmp_path / "actions.log"
    at = time.time() + 6
    senders = [
        Proc(
            "send",
            "--store",
            store_url,
            "--log",
            str(log),
            "--entity",
            "d8",
            "--event-id",
            "evt-8",
            "--at",
            str(at),
        )
        for _ in range(8)
    ]
    spawned.extend(senders)
    outcomes = [p.finish()[-1] for p in senders]
    assert all('"success": true' in o and '"version": 2' in o for o in outcomes), outcomes
    assert sum('"duplicate": false' in o for o in outcomes) == 1
    assert [r.trigger for r in store.audit_trail("d8")].count("pay") == 1
    assert Counter(log.read_text().split()) == Counter({"d8:2:0": 1})
