"""The one change pystator makes to the vendored Mermaid bundle, and how to check it.

Mermaid 12.3.0's ``getConfig()`` returns a fresh two-level deep copy of its whole
configuration (every diagram type's settings and the theme's few hundred variables) on
every call, and drawing a state diagram calls it thousands of times: profiled in
headless Chromium on the 30-state bench machine, 39% of ``mermaid.render`` was spent in
that copy. The patch keeps the last copy and hands it out again until the configuration
object itself is replaced (``initialize``, a directive, and the reset at the start of
every render all replace it), which halves the render time here (about 700 ms to 320 ms
for the 30-state machine) and draws the same SVG for every example and the bench machine
(``tests/browser/test_mermaid_patch.py`` renders each with both bundles and compares).

What it changes: within one render every caller now gets the same copy, so a caller that
wrote into it would be seen by the next. Mermaid's configuration object itself is never
written in place (only replaced), so the kept copy is never stale; and the state-diagram
code writes nothing into its copy. Two other diagram types do (kanban sets
``htmlLabels``, the ER renderer sets ``flowchart.nodeSpacing``/``rankSpacing``): the
designer draws neither, and the patch is checked for state diagrams only.

The patched file is vendored under its own name (``mermaid-12.3.0-p1.min.js``) so a
browser that cached the stock file under the immutable header still fetches it. To
re-vendor: ``npm pack mermaid@12.3.0``, then ``python -m ui.mermaid_patch
package/dist/mermaid.min.js`` (checks the stock file's SHA-256, writes the patched file
and its ``.gz``/``.br`` copies into ``static/vendor``).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

__all__ = ["ORIGINAL", "PATCHED", "PATCHED_NAME", "STOCK_SHA256", "apply", "revert"]

STOCK_SHA256 = "336df803d87a38b70a01e736e666c8f7601d2ce42f5e47c8fafe5d721074b9a3"
PATCHED_NAME = "mermaid-12.3.0-p1.min.js"
ORIGINAL = b'ri=i(()=>Bh({},Uee),"getConfig")'
PATCHED = b'ri=i(()=>(ri.__s===Uee?ri.__c:(ri.__s=Uee,ri.__c=Bh({},Uee))),"getConfig")'


def apply(stock: bytes) -> bytes:
    """The patched bundle; refuses any file but Mermaid 12.3.0's ``dist/mermaid.min.js``."""
    digest = hashlib.sha256(stock).hexdigest()
    if digest != STOCK_SHA256:  # the exact file holds ORIGINAL once (the test checks)
        raise ValueError(f"not the Mermaid 12.3.0 bundle this patch is for (sha256 {digest})")
    return stock.replace(ORIGINAL, PATCHED)


def revert(patched: bytes) -> bytes:
    """The stock bundle back from the patched one (the test checks its SHA-256)."""
    if patched.count(PATCHED) != 1:
        raise ValueError("the patched getConfig is missing")
    return patched.replace(PATCHED, ORIGINAL)


if __name__ == "__main__":  # python -m ui.mermaid_patch path/to/stock/mermaid.min.js
    from ui.assets import compress_vendored
    from ui.paths import STATIC_DIR

    if len(sys.argv) != 2:
        sys.exit("usage: python -m ui.mermaid_patch package/dist/mermaid.min.js (Mermaid 12.3.0's)")

    vendor = STATIC_DIR / "vendor"
    target = vendor / PATCHED_NAME
    target.write_bytes(apply(Path(sys.argv[1]).read_bytes()))
    for path in [target, *compress_vendored(vendor)]:
        print(f"{path}  {path.stat().st_size:,} bytes")
