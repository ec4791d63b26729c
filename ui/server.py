"""``pystator-ui``: start the designer on this machine.

Serves the pages, assets and library from one process on 127.0.0.1 by default, so there is
nothing to configure and no request leaves the machine. The designer answers only to the
loopback names and ``--host`` (``--allowed-host`` adds names, for a proxy or a LAN name), and
lets pages on ``--allowed-origin`` call its REST API; see docs/security.md.
"""

from __future__ import annotations

import argparse
import threading
import webbrowser
from pathlib import Path

from pystator.library import default_db_path

__all__ = ["default_db_path", "main", "origin_of", "parse_args"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pystator-ui",
        description="The pystator designer: edit, check, draw and share state machines.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="machine library file (default: $PYSTATOR_DB or the user data directory)",
    )
    parser.add_argument("--open", action="store_true", help="open the designer in a browser")
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another Host name to answer to (repeatable); loopback names always work",
    )
    parser.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="an origin (http://host:port) whose pages may call the REST API (repeatable)",
    )
    return parser.parse_args(argv)


def origin_of(host: str, port: int, allowed_hosts: list[str]) -> str:
    """The address the designer's links point to: ``--host``, or for a wildcard listen
    address the first ``--allowed-host`` (else 127.0.0.1)."""
    if host in ("0.0.0.0", "::", ""):
        host = allowed_hosts[0] if allowed_hosts else "127.0.0.1"
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import uvicorn

    from ui.app import create_app

    db_path = (args.db or default_db_path()).expanduser()
    origin = origin_of(args.host, args.port, args.allowed_host)
    app = create_app(
        db_path,
        origin=origin,
        allowed_hosts=[args.host, *args.allowed_host],
        allowed_origins=args.allowed_origin,
    )
    url = origin + "/"
    print(f"pystator-ui: library {db_path}\npystator-ui: serving {url}", flush=True)
    if args.open:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
