"""The changes pystator makes to the vendored Mermaid bundle, and how to check them.

Each change is one exact expression of Mermaid 12.3.0's ``dist/mermaid.min.js`` replaced
by another (:data:`PATCHES`); :func:`apply` refuses any other file (its SHA-256 is
checked) and :func:`revert` gives the stock file back byte for byte, which the benches and
``tests/browser/test_mermaid_patch.py`` use as the baseline: that test renders every
example and the 30-state bench machine, light and dark, and compares the SVGs: ours against
the stock bundle with ``regionOrder`` only, and that against the stock one wherever there is
no parallel state. Changes 1 and 2 are for speed, profiled in headless Chromium on the
30-state machine; change 3 is for reading.

1. ``getConfig`` (39% of ``mermaid.render`` before the change): Mermaid returned a fresh
   two-level deep copy of its whole configuration (every diagram type's settings and the
   theme's few hundred variables) on every call, and drawing a state diagram calls it
   thousands of times. The patched one keeps the last copy and hands it out again until
   the configuration object itself is replaced (``initialize``, a directive, and the reset
   at the start of every render all replace it). Render time for the 30-state machine went
   from about 700 ms to 320 ms. Within one render every caller now gets the same copy, so a
   caller that wrote into it would be seen by the next. Mermaid's configuration object
   itself is never written in place (only replaced), so the kept copy is never stale; the
   state-diagram code writes nothing into its copy. Two other diagram types do (kanban sets
   ``htmlLabels``, the ER renderer sets ``flowchart.nodeSpacing``/``rankSpacing``): the
   designer draws neither, and the patch is checked for state diagrams only.
2. ``sanitizeText`` (13% of a render after change 1, about 35 ms): every label, state name
   and edge text is passed through DOMPurify twice, and each DOMPurify call parses its
   configuration again (Mermaid hands it a new options object each time, so DOMPurify's
   own reuse never applies) and builds a new HTML document. The 30-state machine makes 383
   such calls per render for 91 different strings. The patched ``sanitizeText`` remembers
   its answer per string, keyed also by everything of the configuration it reads
   (``securityLevel``, ``htmlLabels``, ``flowchart.htmlLabels``); a configuration with its
   own ``dompurifyConfig``, or a value that is not a non-empty string, is not remembered.
   The answer is a pure function of that key (DOMPurify's output depends on its input,
   options and hooks; Mermaid adds its two hooks once, at the first call, and the designer
   adds none), so the memory may outlive a render: an edit redraws with only its new
   strings sanitized. At most 5000 strings are kept (then it starts again). Mermaid's final
   DOMPurify pass over the whole SVG is untouched.
3. ``regionOrder``: a parallel state's regions are drawn in the order they are written, in
   reading order. ELK places them side by side in one layer in whatever order crosses
   fewest edges, or, when no edge leaves or enters them, packs them by size (four or more
   into rows), and none of its options holds that to the written order once an edge
   leaves a region (docs/ui.md lists what was tried). So the patch corrects ELK's answer
   before Mermaid reads it, innermost parallel states first:

   - Regions side by side in one row, or else stacked one above another (as Left to right
     draws them), are moved to their written slots along that axis, keeping the first
     slot's start and ELK's gaps, so the parallel state keeps its size. What is inside a
     region moves with it (ELK gives it relative to the region). An edge with one end in
     a region has its points and label inside the parallel state moved with the region;
     its segment from there to the first point outside may then run slanted.
   - Regions ELK packed into rows, when no edge leaves or enters any of them, are laid out
     again row by row in written order with ELK's gaps, within the space ELK gave them;
     if they do not fit there they stay as ELK put them.
   - Anything else stays as ELK put it: regions in neither arrangement with an edge in or
     out, regions joined by an edge between two of them, and every diagram without a
     parallel state.

   The change sits in a ``try``, so a graph it did not foresee is still drawn (the moves
   are worked out before they are made, and nothing in making them can throw on a graph
   of ELK's shape).

The patched file is vendored under its own name (:data:`PATCHED_NAME`, ``-p3``: the third
set of changes) so a browser that cached an earlier file under the immutable header
fetches it again. To re-vendor: ``npm pack mermaid@12.3.0``, then ``python -m
ui.mermaid_patch package/dist/mermaid.min.js`` (checks the stock file's SHA-256, writes the
patched file and its ``.gz``/``.br`` copies into ``static/vendor``).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

__all__ = ["PATCHED_NAME", "PATCHES", "STOCK_SHA256", "Patch", "apply", "revert"]

STOCK_SHA256 = "336df803d87a38b70a01e736e666c8f7601d2ce42f5e47c8fafe5d721074b9a3"
PATCHED_NAME = "mermaid-12.3.0-p3.min.js"


class Patch(NamedTuple):
    """One expression of the stock bundle (found exactly once) and what replaces it."""

    name: str
    original: bytes
    patched: bytes


_SANITIZE = (
    b"r&&(t.dompurifyConfig?r=oy.sanitize(hcr(r,t),t.dompurifyConfig).toString()"
    b':r=oy.sanitize(hcr(r,t),{FORBID_TAGS:["style"]}).toString(),r)'
)

# Mermaid's ELK step: lay the graph out, then read the positions back into the diagram.
_LAYOUT = b"let h=await TVn(l,s.elkGraph,a.log);"

# Change 3, run on ELK's answer (``g``) before Mermaid reads it. Written out here and
# joined line by line (every line ends a statement or a block), all names local.
_REGION_ORDER = "".join(
    line.strip()
    for line in """
(g=>{try{
const abs=new Map,up=new Map,par=[],edges=[];
const visit=(n,x,y)=>{abs.set(n.id,{x,y});for(const e of n.edges||[])edges.push(e);
const k=n.children||[];for(const c of k){up.set(c.id,n.id);visit(c,x+c.x,y+c.y)}
k.length>1&&k.every(c=>c.shape==="divider")&&par.push(n)};
visit(g,0,0);
const within=(id,a)=>{for(let p=id;p!==void 0;p=up.get(p))if(p===a)return!0;return!1};
const ends=e=>[(e.sources||[])[0]??e.start,(e.targets||[])[0]??e.end];
for(const P of par){
const R=P.children,of=id=>R.find(r=>within(id,r.id)),cross=[];let bad=!1;
for(const e of edges){const[s,t]=ends(e).map(of);if(s&&t&&s!==t)bad=!0;
else if((s||t)&&!within(e.container??"root",(s||t).id))cross.push([e,s||t])}
if(bad)continue;
const row=(a,b,A,B,band)=>{const S=[...R].sort((p,q)=>p[a]-q[a]);
return S.every((c,i)=>!i||c[a]>=S[i-1][a]+S[i-1][A])
&&(!band||Math.max(...R.map(c=>c[b]))<Math.min(...R.map(c=>c[b]+c[B])))&&S};
let a="x",A="width",S=row("x","y","width","height",1);
S||(a="y",A="height",S=row("y","x","height","width",0));
S||(a="x",A="width",S=row("x","y","width","height",0));
if(!S){if(cross.length)continue;
const bands=[];for(const c of[...R].sort((p,q)=>p.y-q.y)){const b=bands[bands.length-1];
b&&c.y<b.end?(b.items.push(c),b.end=Math.max(b.end,c.y+c.height)):bands.push({items:[c],top:c.y,end:c.y+c.height})}
let gx=1/0,gy=1/0;const seen=[];
bands.forEach((b,i)=>{b.items.sort((p,q)=>p.x-q.x).forEach((c,j)=>{seen.push(c);j&&(gx=Math.min(gx,c.x-b.items[j-1].x-b.items[j-1].width))});
i&&(gy=Math.min(gy,b.top-bands[i-1].end))});
if(seen.every((c,i)=>c===R[i]))continue;
gx===1/0&&(gx=gy);gy===1/0&&(gy=gx);if(!(gx>=0&&gy>=0))continue;
const L=Math.min(...R.map(c=>c.x)),T=Math.min(...R.map(c=>c.y)),
W=Math.max(...R.map(c=>c.x+c.width)),H=Math.max(...R.map(c=>c.y+c.height)),at=new Map;
let x=L,y=T,h=0;
for(const c of R){x>L&&x+c.width>W&&(x=L,y+=h+gy,h=0);
at.set(c,[x,y]);x+=c.width+gx;h=Math.max(h,c.height)}
if(y+h>H+.5)continue;
R.forEach(c=>{[c.x,c.y]=at.get(c)});continue}
if(S.every((c,i)=>c===R[i]))continue;
const d=new Map;let at=S[0][a];
R.forEach((c,i)=>{d.set(c,at-c[a]);at+=c[A]+(i+1<S.length?S[i+1][a]-S[i][a]-S[i][A]:0)});
const p=abs.get(P.id);
for(const[e,r]of cross){const o=abs.get(e.container??"root")||{x:0,y:0},k=d.get(r),
mv=(q,w=0,v=0)=>{q&&q.x+o.x+w/2>=p.x&&q.x+o.x+w/2<=p.x+P.width
&&q.y+o.y+v/2>=p.y&&q.y+o.y+v/2<=p.y+P.height&&(q[a]+=k)};
for(const s of e.sections||[]){mv(s.startPoint);(s.bendPoints||[]).forEach(q=>mv(q));mv(s.endPoint)}
for(const l of e.labels||[])mv(l,l.width,l.height)}
R.forEach(c=>c[a]+=d.get(c))}
}catch(ignored){}})(h);
""".splitlines()
).encode()

PATCHES = (
    Patch(
        "getConfig",
        b'ri=i(()=>Bh({},Uee),"getConfig")',
        b'ri=i(()=>(ri.__s===Uee?ri.__c:(ri.__s=Uee,ri.__c=Bh({},Uee))),"getConfig")',
    ),
    Patch(
        "sanitizeText",
        b"Ns=i((r,t)=>" + _SANITIZE + b',"sanitizeText")',
        # The stock body, unchanged, becomes f; only strings are remembered.
        b"Ns=i((r,t)=>{let f=()=>" + _SANITIZE + b";"
        b'if(typeof r!="string"||!r||t.dompurifyConfig)return f();'
        b"let m=Ns.__m||(Ns.__m=new Map),"
        b"k=JSON.stringify([t.securityLevel,t.htmlLabels,t.flowchart?.htmlLabels,r]),v=m.get(k);"
        b'return v===void 0&&(m.size>=5e3&&m.clear(),v=f(),m.set(k,v)),v},"sanitizeText")',
    ),
    Patch("regionOrder", _LAYOUT, _LAYOUT + _REGION_ORDER),
)


def apply(stock: bytes, patches: Iterable[Patch] = PATCHES) -> bytes:
    """The patched bundle; refuses any file but Mermaid 12.3.0's ``dist/mermaid.min.js``.

    ``patches`` picks some of :data:`PATCHES`, so a test can hold one change against the
    stock drawing and the rest against a bundle with that one only.
    """
    digest = hashlib.sha256(stock).hexdigest()
    if digest != STOCK_SHA256:  # the exact file holds each original once (the test checks)
        raise ValueError(f"not the Mermaid 12.3.0 bundle this patch is for (sha256 {digest})")
    for patch in patches:
        stock = stock.replace(patch.original, patch.patched)
    return stock


def revert(patched: bytes) -> bytes:
    """The stock bundle back from the patched one (the test checks its SHA-256)."""
    for patch in PATCHES:
        if patched.count(patch.patched) != 1:
            raise ValueError(f"the patched {patch.name} is missing")
        patched = patched.replace(patch.patched, patch.original)
    return patched


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
