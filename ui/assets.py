"""Static files, with the vendored bundles pre-compressed and cached for good.

Mermaid's bundle is 5.5 MB; compressing it on every request (Starlette's ``GZipMiddleware``)
costs CPU per page load. Instead each vendored file ships beside a brotli (``.br``) and a
gzip (``.gz``) copy made once, when the file is vendored (``python -m ui.assets``; brotli
from PyPI is needed then, never at run time). :class:`AssetFiles` sends the smallest copy
the browser accepts, with ``Content-Encoding`` and ``Vary: Accept-Encoding``; a file whose
name carries its version (``mermaid-12.3.0-p3.min.js``) never changes under that name, so it is
served with an immutable ``Cache-Control`` and a browser asks for it once.
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

__all__ = ["IMMUTABLE", "AssetFiles", "accepted_encodings", "compress_vendored"]

IMMUTABLE = "public, max-age=31536000, immutable"
_VERSIONED = re.compile(r"-\d+\.\d+\.\d+[.-]")
_SUFFIXES = (("br", ".br"), ("gzip", ".gz"))  # preferred first


def accepted_encodings(header: str) -> set[str]:
    """The content codings an ``Accept-Encoding`` header allows (``q=0`` refuses one)."""
    out: set[str] = set()
    for part in header.split(","):
        token, _, params = part.strip().partition(";")
        quality = params.strip().lower()
        if quality.startswith("q="):
            try:
                if float(quality[2:]) == 0:
                    continue
            except ValueError:
                continue
        if token.strip():
            out.add(token.strip().lower())
    return out


class AssetFiles(StaticFiles):
    """``StaticFiles`` that serves pre-compressed copies and caches versioned names."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if not isinstance(response, FileResponse):
            return response
        versioned = bool(_VERSIONED.search(Path(path).name))
        original = Path(str(response.path))
        variants = [(coding, Path(f"{original}{suffix}")) for coding, suffix in _SUFFIXES]
        variants = [(coding, file) for coding, file in variants if file.is_file()]
        if variants:
            response.headers["Vary"] = "Accept-Encoding"
        if versioned:
            response.headers["Cache-Control"] = IMMUTABLE
        if response.status_code != 200:
            return response
        request_headers = Headers(scope=scope)
        accepted = accepted_encodings(request_headers.get("accept-encoding", ""))
        for coding, file in variants:
            if coding in accepted:
                headers = {"Content-Encoding": coding, "Vary": "Accept-Encoding"}
                if versioned:
                    headers["Cache-Control"] = IMMUTABLE
                compressed = FileResponse(
                    file, media_type=response.media_type, headers=headers, stat_result=file.stat()
                )
                if self.is_not_modified(compressed.headers, request_headers):
                    return NotModifiedResponse(compressed.headers)
                return compressed
        return response


def compress_vendored(directory: Path) -> list[Path]:
    """Write the ``.gz`` and ``.br`` copy of every ``.js`` and ``.css`` in ``directory``.

    Needs the ``brotli`` package (a build-time tool). Returns the files written.
    """
    import brotli  # type: ignore[import-untyped,import-not-found,unused-ignore]

    written: list[Path] = []
    for source in sorted(directory.iterdir()):
        if source.suffix not in (".js", ".css"):
            continue
        data = source.read_bytes()
        gz = Path(f"{source}.gz")
        gz.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
        br = Path(f"{source}.br")
        br.write_bytes(brotli.compress(data, quality=11))
        written += [gz, br]
    return written


if __name__ == "__main__":  # python -m ui.assets [directory]
    from ui.paths import STATIC_DIR

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else STATIC_DIR / "vendor"
    for path in compress_vendored(target):
        print(f"{path}  {path.stat().st_size:,} bytes")
