"""Who may talk to a local server: which Host names it answers, which pages may write.

A server on 127.0.0.1 is reachable by every page the person's browser opens. Two rules keep
other sites out:

- **Host allowlist** (:class:`HostGuard`). A DNS-rebinding page makes the browser send
  requests to 127.0.0.1 under the attacker's name (``Host: evil.example``) and read the
  answers as its own. Requests whose Host is not one of the loopback names or a name the
  server was configured with are refused before any route runs.
- **Same origin for writes** (:func:`cross_site_problem`). A page on another site (another
  port counts) can make the browser send forms and ``fetch`` requests. Browsers say where a
  request comes from: ``Sec-Fetch-Site`` (``same-origin``, ``same-site``, ``cross-site`` or
  ``none`` for what the person typed) and ``Origin``. A state-changing request is accepted
  only from the server's own origin or an origin it was configured to trust. ``Origin:
  null`` (sent by our own pages too, because they use ``Referrer-Policy: no-referrer``)
  decides nothing; ``Sec-Fetch-Site`` then does. A request with neither header comes from a
  program, not a page: the REST API then accepts only ``application/json`` bodies (which a
  page can only send to another origin after a CORS preflight that we never grant), and the
  designer's pages also need their per-browser token.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "LOCAL_HOSTS",
    "SAFE_METHODS",
    "ApiCors",
    "HostGuard",
    "allowed_host_names",
    "cross_site_problem",
    "host_name",
    "own_origin",
]

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


def host_name(host: str) -> str:
    """The name in a Host header or ``--host`` value, without port or IPv6 brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host  # a bare name, or an IPv6 address without brackets


def allowed_host_names(extra: Iterable[str] = ()) -> frozenset[str]:
    """The loopback names plus ``extra`` (wildcard listen addresses name no host)."""
    names = {host_name(h) for h in extra} - _WILDCARD_HOSTS
    return frozenset(LOCAL_HOSTS) | names


class HostGuard:
    """ASGI middleware answering 400 to HTTP requests for a Host this server is not."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = allowed_host_names(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = HTTPConnection(scope).headers.get("host", "")
            if host_name(host) not in self.allowed:
                names = ", ".join(sorted(self.allowed))
                body = (
                    f"This server does not answer to the name {host or '(none)'!r}; it answers "
                    f"to {names}. Start it with --allowed-host NAME to add a name."
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def own_origin(connection: HTTPConnection) -> str:
    """The origin a page of this server has (its Host is already on the allowlist)."""
    return f"{connection.url.scheme}://{connection.headers.get('host', '')}".lower()


def cross_site_problem(
    connection: HTTPConnection, allowed_origins: Iterable[str] = ()
) -> str | None:
    """Why a request looks like another site's doing (a sentence), or None if it does not."""
    origin = connection.headers.get("origin", "").strip().lower()
    if origin and origin != "null":
        if origin == own_origin(connection) or origin in {o.lower() for o in allowed_origins}:
            return None
        return f"it was sent by a page on {origin}"
    site = connection.headers.get("sec-fetch-site", "").lower()
    if site in ("", "same-origin", "none"):
        return None
    return "it was sent by a page on another site"


class ApiCors:
    """CORS for the REST API's paths only, for origins the server was told to trust.

    Without configured origins nothing is added: a page elsewhere then cannot get a
    preflight answer, so its browser never sends it a JSON write.
    """

    def __init__(self, app: ASGIApp, origins: Iterable[str], prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["content-type"],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(self.prefix):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
