"""What tests and benchmarks need of this machine, written once.

Chromium is Debian's (``/usr/bin/chromium``): Playwright cannot download its own
browser here. The flags keep it headless and quiet: without the background-network
flags it keeps trying hosts this machine cannot reach.
"""

from __future__ import annotations

import socket
from pathlib import Path

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "free_port"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
