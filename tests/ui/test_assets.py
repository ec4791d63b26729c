"""Vendored bundles are served pre-compressed, and versioned names are cached for good."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import brotli
import pytest
from starlette.testclient import TestClient

from ui import mermaid_patch
from ui.assets import IMMUTABLE, accepted_encodings
from ui.mermaid_patch import PATCHED_NAME, STOCK_SHA256
from ui.paths import STATIC_DIR

VENDOR = STATIC_DIR / "vendor"
MERMAID = f"/static/vendor/{PATCHED_NAME}"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip, deflate, br, zstd", {"gzip", "deflate", "br", "zstd"}),
        ("br;q=0, gzip;q=0.5", {"gzip"}),
        ("", set()),
        ("gzip;q=nonsense", set()),
    ],
)
def test_accept_encoding_is_read_with_its_qualities(header: str, expected: set[str]) -> None:
    assert accepted_encodings(header) == expected


@pytest.mark.parametrize(("accept", "coding"), [("gzip, br", "br"), ("gzip", "gzip")])
def test_the_smallest_accepted_copy_is_sent(client: TestClient, accept: str, coding: str) -> None:
    response = client.get(MERMAID, headers={"Accept-Encoding": accept})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == coding
    assert response.headers["content-type"].startswith(
        ("text/javascript", "application/javascript")
    )
    assert response.headers["cache-control"] == IMMUTABLE
    assert response.headers["vary"] == "Accept-Encoding"
    assert int(response.headers["content-length"]) < 1_600_000
    assert response.content == (VENDOR / PATCHED_NAME).read_bytes()


def test_a_browser_that_accepts_no_coding_gets_the_file(client: TestClient) -> None:
    response = client.get(MERMAID, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in response.headers
    assert response.headers["cache-control"] == IMMUTABLE
    assert len(response.content) == (VENDOR / PATCHED_NAME).stat().st_size


def test_a_revalidation_of_the_compressed_copy_is_a_304(client: TestClient) -> None:
    first = client.get(MERMAID, headers={"Accept-Encoding": "br"})
    again = client.get(
        MERMAID, headers={"Accept-Encoding": "br", "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304


def test_our_own_unversioned_files_are_not_cached_for_good(client: TestClient) -> None:
    response = client.get("/static/app.js", headers={"Accept-Encoding": "gzip, br"})
    assert response.status_code == 200
    assert response.headers.get("cache-control") != IMMUTABLE
    assert "content-encoding" not in response.headers


@pytest.mark.parametrize(
    "source", sorted(p for p in VENDOR.iterdir() if p.suffix in (".js", ".css")), ids=str
)
def test_each_compressed_copy_is_of_the_file_it_sits_beside(source: Path) -> None:
    """Re-vendoring a bundle without ``python -m ui.assets`` would serve stale code."""
    data = source.read_bytes()
    assert gzip.decompress(Path(f"{source}.gz").read_bytes()) == data
    assert brotli.decompress(Path(f"{source}.br").read_bytes()) == data


def test_the_vendored_mermaid_is_upstream_plus_our_changes() -> None:
    """Undoing ``ui.mermaid_patch`` gives back Mermaid 12.3.0's file byte for byte."""
    patched = (VENDOR / PATCHED_NAME).read_bytes()
    stock = mermaid_patch.revert(patched)
    assert [p.name for p in mermaid_patch.PATCHES] == ["getConfig", "sanitizeText", "regionOrder"]
    for patch in mermaid_patch.PATCHES:
        assert patched.count(patch.patched) == 1, patch.name
        assert stock.count(patch.original) == 1, patch.name
        assert stock.count(patch.patched) == 0, patch.name
    assert hashlib.sha256(stock).hexdigest() == STOCK_SHA256
    assert STOCK_SHA256 in (VENDOR / "THIRD-PARTY-NOTICES.md").read_text()
    assert mermaid_patch.apply(stock) == patched


def test_the_patch_refuses_a_file_it_was_not_made_for() -> None:
    stock = mermaid_patch.revert((VENDOR / PATCHED_NAME).read_bytes())
    with pytest.raises(ValueError, match=r"not the Mermaid 12\.3\.0 bundle"):
        mermaid_patch.apply(stock + b"\n")
    with pytest.raises(ValueError, match="patched getConfig is missing"):
        mermaid_patch.revert(stock)
    half = mermaid_patch.apply(stock).replace(
        mermaid_patch.PATCHES[1].patched, mermaid_patch.PATCHES[1].original
    )
    with pytest.raises(ValueError, match="patched sanitizeText is missing"):
        mermaid_patch.revert(half)
