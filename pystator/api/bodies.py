"""Request bodies within bounds: a byte limit for every body, JSON limits for JSON bodies.

:class:`RequestLimits` counts the bytes of every request body as they arrive, whether the
client declared a ``Content-Length`` or sent it in chunks: a declared body over the limit is
refused before it is read, a chunked one as soon as the count passes it (the rest is never
read). JSON bodies sent to the REST API are read whole (within the limit) and checked with
:func:`pystator.limits.load_json` before any route parses them, so nesting, integer length
and lone surrogates get a located 422 instead of a parser crash deep inside the framework.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pystator.limits import JsonInputError, load_json

__all__ = ["MAX_REQUEST_BYTES", "BodyTooLarge", "RequestLimits", "json_error"]

# A JSON body may escape every character of a 1 MB machine; anything beyond this is refused.
MAX_REQUEST_BYTES = 32_000_000
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit (answered as 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is over {limit // 1_000_000} MB.")


def json_error(status: int, message: str, issues: list[dict[str, Any]] | None = None) -> Response:
    """The REST API's one error shape: ``{"error": {"status", "message", "issues"?}}``."""
    error: dict[str, Any] = {"status": status, "message": message}
    if issues is not None:
        error["issues"] = issues
    return JSONResponse({"error": error}, status_code=status)


def _is_json(headers: Headers) -> bool:
    kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")


class RequestLimits:
    """ASGI middleware: at most ``max_bytes`` per body; API JSON bodies within JSON limits.

    ``json_paths`` says which paths' JSON bodies are checked (the REST API's); ``too_large``
    makes the answer to a declared oversized body (plain text unless told otherwise; JSON
    on the API's paths).
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_REQUEST_BYTES,
        json_paths: Callable[[str], bool] = lambda path: True,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.json_paths = json_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path = str(scope.get("path", ""))
        api = self.json_paths(path)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(api)(scope, receive, send)
            return
        if api and scope.get("method") in _UNSAFE and _is_json(headers):
            await self._checked_json(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _too_large(self, api: bool) -> Response:
        message = f"The request body is over {self.max_bytes // 1_000_000} MB."
        if api:
            return json_error(413, message)
        return PlainTextResponse(f"This request is too large: {message}", status_code=413)

    def _counting(self, receive: Receive) -> Receive:
        total = 0

        async def counted() -> Message:
            nonlocal total
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        return counted

    async def _checked_json(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        total = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_bytes:
                await self._too_large(True)(scope, receive, send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        if body.strip():
            try:
                load_json(body, "the request body", max_chars=self.max_bytes)
            except JsonInputError as error:
                issue = {
                    "severity": "error",
                    "message": str(error),
                    "path": f"body.{error.path}" if error.path else "body",
                    "line": error.line,
                    "column": error.column,
                    "code": "json",
                }
                await json_error(422, f"The request body is refused: {error}", [issue])(
                    scope, receive, send
                )
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
