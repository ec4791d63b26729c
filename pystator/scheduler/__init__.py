"""Scheduler adapters at the import path the spec shows; they live in ``pystator.runtime``."""

from pystator.runtime.asyncio_scheduler import AsyncioScheduler
from pystator.runtime.celery_scheduler import CeleryScheduler
from pystator.runtime.redis_scheduler import RedisScheduler
from pystator.runtime.timers import ScheduledTimer, Scheduler

__all__ = ["AsyncioScheduler", "CeleryScheduler", "RedisScheduler", "ScheduledTimer", "Scheduler"]
