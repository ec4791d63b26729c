// pystator-ui glue: Mermaid rendering after swaps, editor comforts, small conveniences.
// Everything a page shows is computed by the server; this file only wires the browser.
(function () {
  "use strict";

  // ---- Mermaid ---------------------------------------------------------------------
  // Renders are chained on one promise so two never overlap (Mermaid keeps global state
  // while it lays out a diagram).
  var mermaidQueue = Promise.resolve();
  var lastDrawMs = Infinity; // how long the editor's last diagram took to draw

  // The editor's live check runs on the first key after a pause (the picture follows a
  // single edit at once), then waits for the next pause in typing: keys typed meanwhile are
  // checked once, when the pause comes, so a slow layout is not restarted on every key. The
  // pause is short when the last diagram drew quickly (a small machine) and 150 ms otherwise.
  // hx-sync="this:replace" on the editor drops a check still in flight when the next starts.
  var QUICK_DRAW_MS = 120;
  var checkTimer = null;
  var keysSinceCheck = false;
  function scheduleCheck(textarea) {
    function check() { textarea.dispatchEvent(new CustomEvent("pystator-check")); }
    if (checkTimer) {
      clearTimeout(checkTimer);
      keysSinceCheck = true;
    } else {
      check();
      keysSinceCheck = false;
    }
    checkTimer = setTimeout(function () {
      checkTimer = null;
      if (keysSinceCheck) check();
      keysSinceCheck = false;
    }, lastDrawMs <= QUICK_DRAW_MS ? 50 : 150);
  }
  var darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function mermaidTheme() {
    return darkQuery && darkQuery.matches ? "dark" : "neutral";
  }

  function initMermaid() {
    if (!window.mermaid) return false;
    window.mermaid.initialize({
      startOnLoad: false,
      securityLevel: "strict",
      theme: mermaidTheme(),
      fontFamily: getComputedStyle(document.body).fontFamily,
      state: { useMaxWidth: true },
    });
    return true;
  }

  function renderDiagrams() {
    if (!window.mermaid) return mermaidQueue;
    mermaidQueue = mermaidQueue.then(function () {
      // Mermaid cannot lay out a hidden diagram: those wait until their tab is shown.
      var nodes = Array.prototype.slice.call(
        document.querySelectorAll("pre.mermaid:not([data-processed])")
      ).filter(function (node) { return !node.closest("[hidden]"); });
      if (!nodes.length) return undefined;
      nodes.forEach(function (node) {
        if (!node.hasAttribute("data-source")) node.setAttribute("data-source", node.textContent);
      });
      var started = performance.now();
      return window.mermaid.run({ nodes: nodes, suppressErrors: true }).then(function () {
        if (nodes.some(function (node) { return node.closest("#diagram"); })) lastDrawMs = performance.now() - started;
        nodes.forEach(function (node) {
          var svg = node.querySelector("svg");
          if (svg) drawnFrom.set(svg, node.getAttribute("data-source"));
        });
        nodes.forEach(nameRegions);
        nodes.forEach(wireDiagram);
        nodes.forEach(addFoldToggles);
        nodes.forEach(dropPreviousDrawing);
      }).catch(function (error) {
        nodes.forEach(function (node) {
          node.setAttribute("data-processed", "error");
          node.classList.add("diagram-error");
          node.textContent = "The diagram could not be drawn: " + (error && error.message ? error.message : error);
        });
      });
    }).then(applyAllZooms);
    return mermaidQueue;
  }

  // ---- Region names ---------------------------------------------------------------
  // Mermaid draws each region of a parallel state as an unnamed box. The server lists
  // every region's name and the Mermaid ids of its states (data-regions on the <pre>);
  // each box is named after the region whose states lie inside it.
  var SVG_NS = "http://www.w3.org/2000/svg";

  function centreOf(element) {
    var box = element.getBoundingClientRect();
    return { x: box.left + box.width / 2, y: box.top + box.height / 2 };
  }

  function nameRegions(pre) {
    var svg = pre.querySelector("svg");
    var regions;
    try { regions = JSON.parse(pre.getAttribute("data-regions") || "[]"); } catch (ignored) { return; }
    if (!svg || !regions.length) return;
    // A region's box is the cluster drawn as a dashed "divider" rectangle; Mermaid marks
    // every other nesting level "-alt", so the class says nothing about being a region.
    var rects = svg.querySelectorAll("g.statediagram-cluster rect.divider");
    if (!rects.length) return;
    // Each region's states are found and measured once, not once per box (all reads before
    // the labels are written, so the page is laid out once).
    var centres = regions.map(function (region) {
      return elementsFor(svg, { states: region.states }).map(centreOf);
    });
    var areas = Array.prototype.map.call(rects, function (rect) { return rect.getBoundingClientRect(); });
    var named = {};
    Array.prototype.forEach.call(rects, function (rect, index) {
      var area = areas[index];
      var best = -1, most = 0;
      regions.forEach(function (region, r) {
        if (named[r]) return;
        var inside = centres[r].filter(function (c) {
          return c.x >= area.left && c.x <= area.right && c.y >= area.top && c.y <= area.bottom;
        }).length;
        if (inside > most) { best = r; most = inside; }
      });
      if (best < 0) return;
      named[best] = true;
      var label = document.createElementNS(SVG_NS, "text");
      label.setAttribute("class", "region-label");
      label.setAttribute("x", String(parseFloat(rect.getAttribute("x")) + 8));
      label.setAttribute("y", String(parseFloat(rect.getAttribute("y")) + 16));
      label.setAttribute("data-region", regions[best].name);
      label.textContent = regions[best].name;
      rect.parentNode.appendChild(label);
    });
  }

  // ---- The reader's view: direction and collapsed states ------------------------------
  // Kept in this browser, per machine page (localStorage), never on the server: every check
  // and simulator request carries it (diagram_direction, diagram_collapsed) and the server
  // draws the diagram that way. The <pre>'s data-folds lists what can be collapsed or expanded.
  var VIEW_PREFIX = "pystator.diagram-view:";
  // Keyed by the machine's name as the page was opened (the address changes when a shared
  // link becomes a draft, the name does not).
  function viewKey() {
    var holder = document.querySelector("[data-view-key]");
    return VIEW_PREFIX + (holder ? holder.getAttribute("data-view-key") : location.pathname);
  }
  function readView() {
    var view = null;
    try { view = JSON.parse(window.localStorage.getItem(viewKey()) || "null"); } catch (ignored) { view = null; }
    if (!view || typeof view !== "object") view = {};
    return {
      direction: view.direction === "LR" ? "LR" : "TB",
      collapsed: Array.isArray(view.collapsed) ? view.collapsed.filter(function (n) { return typeof n === "string"; }) : [],
    };
  }
  function writeView(view) {
    try {
      if (view.direction === "TB" && !view.collapsed.length) window.localStorage.removeItem(viewKey());
      else window.localStorage.setItem(viewKey(), JSON.stringify(view));
    } catch (ignored) { /* storage off: the view lasts until the next request only */ }
  }
  function isDefaultView(view) { return view.direction === "TB" && !view.collapsed.length; }

  function addViewParameters(event) {
    var path = event.detail && event.detail.path;
    if (path !== "/validate" && path !== "/simulate") return;
    var view = readView();
    event.detail.parameters["diagram_direction"] = view.direction;
    event.detail.parameters["diagram_collapsed"] = JSON.stringify(view.collapsed);
    // A redraw for a new view is not an edit: the server keeps no draft for it.
    var cause = event.detail.triggeringEvent;
    if (cause && cause.type === "diagram-view") event.detail.parameters["view_only"] = "1";
  }

  // Ask the editor's check and the simulator panel (whichever the page has) to redraw.
  function redrawForView() {
    showDirectionButtons();
    document.querySelectorAll("[data-diagram-refresh]").forEach(function (el) {
      el.dispatchEvent(new CustomEvent("diagram-view"));
    });
  }

  function showDirectionButtons() {
    var across = readView().direction === "LR";
    document.querySelectorAll('[data-view-do="direction"]').forEach(function (button) {
      button.setAttribute("aria-pressed", across ? "true" : "false");
    });
  }

  function toggleDirection() {
    var view = readView();
    view.direction = view.direction === "LR" ? "TB" : "LR";
    writeView(view);
    redrawForView();
  }

  function toggleFold(state, collapse) {
    var view = readView();
    view.collapsed = view.collapsed.filter(function (n) { return n !== state; });
    if (collapse) view.collapsed.push(state);
    writeView(view);
    redrawForView();
  }

  // A small +/- button at the top right corner of every compound or parallel state drawn.
  function foldElement(svg, fold) {
    if (!fold.collapsed) return svg.querySelector('g.statediagram-cluster[data-id="' + fold.id + '"]');
    return elementsFor(svg, { states: [fold.id] })[0] || null;
  }
  function addFoldToggles(pre) {
    var svg = pre.querySelector("svg");
    var folds;
    try { folds = JSON.parse(pre.getAttribute("data-folds") || "[]"); } catch (ignored) { return; }
    if (!svg || !folds.length) return;
    folds.forEach(function (fold) {
      var host = foldElement(svg, fold);
      if (!host) return;
      var box = host.getBBox();
      var size = 18;
      var toggle = document.createElementNS(SVG_NS, "g");
      toggle.setAttribute("class", "fold-toggle");
      toggle.setAttribute("role", "button");
      toggle.setAttribute("tabindex", "0");
      toggle.setAttribute("data-fold", fold.state);
      toggle.setAttribute("data-folded", fold.collapsed ? "true" : "false");
      toggle.setAttribute("aria-label", (fold.collapsed ? "Expand " : "Collapse ") + fold.state);
      // On a cluster: inside its title bar, at the right; on a collapsed box: just right of it.
      var x = fold.collapsed ? box.x + box.width + 4 : box.x + box.width - size - 3;
      var y = fold.collapsed ? box.y + (box.height - size) / 2 : box.y + 3;
      toggle.setAttribute("transform", "translate(" + x + "," + y + ")");
      var title = document.createElementNS(SVG_NS, "title");
      title.textContent = (fold.collapsed ? "Expand " : "Collapse ") + fold.state;
      var rect = document.createElementNS(SVG_NS, "rect");
      rect.setAttribute("width", String(size));
      rect.setAttribute("height", String(size));
      rect.setAttribute("rx", "3");
      var sign = document.createElementNS(SVG_NS, "text");
      sign.setAttribute("x", String(size / 2));
      sign.setAttribute("y", String(size / 2));
      sign.textContent = fold.collapsed ? "+" : "\u2212";
      toggle.appendChild(title);
      toggle.appendChild(rect);
      toggle.appendChild(sign);
      host.appendChild(toggle);
    });
  }

  function pressFold(toggle) {
    toggleFold(toggle.getAttribute("data-fold"), toggle.getAttribute("data-folded") !== "true");
  }

  // ---- The last picture stays until the next one is drawn --------------------------------
  // A swap brings a diagram as text; Mermaid needs a moment to draw it. Until it has, the
  // frame shows the drawing it had (inert, aria-hidden) rather than an empty box.
  // When the new text is the very text that drawing was made from (a simulator step only
  // changes what is active, and the server leaves those marks out of the text), the
  // drawing itself is kept: no layout at all, only the marks are put on again.
  var previousDrawings = {};
  var drawnFrom = new WeakMap(); // svg -> the Mermaid text it was drawn from
  function reuseDrawings() {
    var reused = false;
    Object.keys(previousDrawings).forEach(function (key) {
      var svg = previousDrawings[key];
      var frame = document.querySelector('.diagram-frame[data-zoom="' + key + '"]');
      if (!frame || svg.closest(".diagram-frame") === frame) return;
      var pre = frame.querySelector("pre.mermaid:not([data-processed])");
      if (!pre || pre.closest("[hidden]") || drawnFrom.get(svg) !== pre.textContent) return;
      pre.setAttribute("data-source", pre.textContent);
      pre.textContent = "";
      pre.appendChild(svg);
      pre.setAttribute("data-processed", "true");
      unwireDiagram(svg);
      wireDiagram(pre);
      delete previousDrawings[key];
      reused = true;
    });
    if (reused) applyAllZooms();
  }
  function keepDrawings(target) {
    if (!target || !target.querySelectorAll) return;
    var frames = Array.prototype.slice.call(target.querySelectorAll(".diagram-frame[data-zoom]"));
    if (target.matches && target.matches(".diagram-frame[data-zoom]")) frames.push(target);
    frames.forEach(function (frame) {
      var svg = frameSvg(frame) || frame.querySelector(".previous-drawing > svg");
      if (svg) previousDrawings[frame.getAttribute("data-zoom")] = svg;
    });
  }
  function showPreviousDrawings() {
    Object.keys(previousDrawings).forEach(function (key) {
      var svg = previousDrawings[key];
      var frame = document.querySelector('.diagram-frame[data-zoom="' + key + '"]');
      if (!frame || svg.closest(".diagram-frame") === frame) return;
      if (!frame.querySelector("pre.mermaid:not([data-processed])")) return;
      var holder = document.createElement("div");
      holder.className = "previous-drawing";
      holder.setAttribute("aria-hidden", "true");
      holder.setAttribute("inert", "");
      holder.appendChild(svg);
      frame.appendChild(holder);
    });
    previousDrawings = {};
  }
  function dropPreviousDrawing(pre) {
    var frame = pre.closest(".diagram-frame");
    if (!frame) return;
    frame.querySelectorAll(".previous-drawing").forEach(function (el) { el.remove(); });
  }

  // ---- Zoom and pan ----------------------------------------------------------------
  // Each frame (data-zoom="diagram" or "sim") keeps its view in `zoomStates` by that key,
  // so a diagram swapped in by htmx gets the same view after Mermaid draws it. "fit"
  // recomputes on every draw and resize; any zoom or pan switches to a fixed view.
  var zoomStates = {};
  var MIN_SCALE = 0.05;
  var MAX_SCALE = 4;
  var ZOOM_STEP = 1.25;
  var FIT_PAD = 12;
  var PAN_STEP = 60;

  function clampScale(scale) { return Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale)); }

  function frameSvg(frame) { return frame.querySelector("pre.mermaid > svg"); }

  function naturalSize(svg) {
    var box = svg.viewBox && svg.viewBox.baseVal;
    if (box && box.width && box.height) return { w: box.width, h: box.height };
    var rect = svg.getBBox();
    return { w: rect.width || 1, h: rect.height || 1 };
  }

  // Mermaid sizes the SVG to its container (width 100%, max-width); the frame scales it
  // instead, so give it its natural size once.
  function prepareSvg(svg) {
    if (svg.hasAttribute("data-zoom-ready")) return;
    var size = naturalSize(svg);
    svg.setAttribute("width", String(size.w));
    svg.setAttribute("height", String(size.h));
    svg.style.maxWidth = "none";
    svg.style.transformOrigin = "0 0";
    svg.setAttribute("data-zoom-ready", "");
  }

  function fitView(frame, svg) {
    var size = naturalSize(svg);
    var width = frame.clientWidth;
    var height = frame.clientHeight;
    var scale = Math.min((width - 2 * FIT_PAD) / size.w, (height - 2 * FIT_PAD) / size.h, 1);
    scale = Math.max(scale, 0.01);
    return {
      mode: "fit",
      scale: scale,
      x: (width - size.w * scale) / 2,
      y: Math.max(FIT_PAD, (height - size.h * scale) / 2),
    };
  }

  function applyZoom(frame) {
    var key = frame.getAttribute("data-zoom");
    var svg = frameSvg(frame);
    if (!svg || !frame.clientWidth || !frame.clientHeight) return; // not drawn, or hidden
    prepareSvg(svg);
    var view = zoomStates[key];
    if (!view || view.mode === "fit") view = zoomStates[key] = fitView(frame, svg);
    svg.style.transform = "translate(" + view.x + "px, " + view.y + "px) scale(" + view.scale + ")";
    frame.setAttribute("data-scale", view.scale.toFixed(4));
    var bar = document.querySelector('.zoom-bar[data-zoom-for="' + key + '"]');
    var level = bar && bar.querySelector(".zoom-level");
    if (level) level.textContent = Math.round(view.scale * 100) + "%";
  }

  function applyAllZooms() {
    document.querySelectorAll(".diagram-frame[data-zoom]").forEach(applyZoom);
  }

  function currentView(frame) {
    var key = frame.getAttribute("data-zoom");
    var svg = frameSvg(frame);
    if (!svg) return null;
    if (!zoomStates[key]) applyZoom(frame);
    var view = zoomStates[key];
    if (!view) return null;
    view.mode = "manual";
    return view;
  }

  // Zoom by `factor` keeping the point (cx, cy) of the frame where it is.
  function zoomAround(frame, factor, cx, cy) {
    var view = currentView(frame);
    if (!view) return;
    if (cx === undefined) { cx = frame.clientWidth / 2; cy = frame.clientHeight / 2; }
    var scale = clampScale(view.scale * factor);
    view.x = cx - (cx - view.x) * (scale / view.scale);
    view.y = cy - (cy - view.y) * (scale / view.scale);
    view.scale = scale;
    applyZoom(frame);
  }

  function panBy(frame, dx, dy) {
    var view = currentView(frame);
    if (!view) return;
    view.x += dx;
    view.y += dy;
    applyZoom(frame);
  }

  function zoomCommand(frame, command) {
    var key = frame.getAttribute("data-zoom");
    if (command === "in") zoomAround(frame, ZOOM_STEP);
    else if (command === "out") zoomAround(frame, 1 / ZOOM_STEP);
    else if (command === "fit") { zoomStates[key] = { mode: "fit" }; applyZoom(frame); }
    else if (command === "read") readableView(frame);
    else if (command === "focus") focusView(frame);
    else if (command === "actual") {
      var view = currentView(frame);
      if (view) zoomAround(frame, 1 / view.scale);
    }
  }

  // "Readable": the scale at which state names read at READABLE_PX on screen, centred on
  // what matters now (the simulator's active states, else the last state clicked or marked,
  // else the initial state). Fit shows the whole machine; this shows its names.
  var READABLE_PX = 12;
  var focusState = null;
  function labelPx(svg) {
    var label = svg.querySelector("g.node .nodeLabel, g.node text");
    if (!label) return 14;
    return parseFloat(getComputedStyle(label).fontSize) || 14;
  }
  function focusElements(frame, svg) {
    var active = svg.querySelectorAll("g.node.sim-active");
    if (frame.closest("#sim") && active.length) return Array.prototype.slice.call(active);
    if (focusState) {
      var chosen = svg.querySelectorAll('[data-spec="' + focusState + '"]');
      if (chosen.length) return Array.prototype.slice.call(chosen);
    }
    var start = svg.querySelector("g.node.statediagram-state");
    return start ? [start] : [];
  }
  function readableView(frame) {
    var svg = frameSvg(frame);
    if (!svg) return;
    var view = currentView(frame);
    if (!view) return;
    var scale = clampScale(Math.max(view.scale, READABLE_PX / labelPx(svg)));
    zoomAround(frame, scale / view.scale);
    var targets = focusElements(frame, svg);
    if (targets.length) {
      var box = frame.getBoundingClientRect();
      var left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
      targets.forEach(function (el) {
        var r = el.getBoundingClientRect();
        left = Math.min(left, r.left); top = Math.min(top, r.top);
        right = Math.max(right, r.right); bottom = Math.max(bottom, r.bottom);
      });
      panBy(frame, box.left + box.width / 2 - (left + right) / 2, box.top + box.height / 2 - (top + bottom) / 2);
    }
  }

  // "Focus": fit what matters now into the frame. In the simulator that is the active
  // region: the innermost active compound or parallel states with the active states in
  // them; elsewhere the state last clicked (a compound state with all it holds), else the
  // start. Never smaller than Readable, never larger than the actual size (or Readable).
  var FOCUS_MAX = 1;
  function activeRegion(svg) {
    var clusters = Array.prototype.slice.call(svg.querySelectorAll("g.statediagram-cluster.sim-active"));
    var innermost = clusters.filter(function (c) {
      return !clusters.some(function (other) { return other !== c && c.contains(other); });
    });
    var leaves = Array.prototype.slice.call(svg.querySelectorAll("g.node.sim-active"));
    return innermost.concat(leaves);
  }
  function focusView(frame) {
    var svg = frameSvg(frame);
    var view = svg && currentView(frame);
    if (!view) return;
    var targets = frame.closest("#sim") ? activeRegion(svg) : [];
    if (!targets.length) targets = focusElements(frame, svg);
    if (!targets.length) return;
    var left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
    targets.forEach(function (el) {
      var r = el.getBoundingClientRect();
      left = Math.min(left, r.left); top = Math.min(top, r.top);
      right = Math.max(right, r.right); bottom = Math.max(bottom, r.bottom);
    });
    var pad = 4 * FIT_PAD;
    var fit = Math.min((frame.clientWidth - pad) / Math.max(right - left, 1), (frame.clientHeight - pad) / Math.max(bottom - top, 1));
    var readable = READABLE_PX / labelPx(svg);
    var scale = clampScale(Math.max(Math.min(view.scale * fit, Math.max(FOCUS_MAX, readable)), readable));
    var box = frame.getBoundingClientRect();
    zoomAround(frame, scale / view.scale, (left + right) / 2 - box.left, (top + bottom) / 2 - box.top);
    panBy(frame, box.left + box.width / 2 - (left + right) / 2, box.top + box.height / 2 - (top + bottom) / 2);
  }

  function zoomFrameOf(element) {
    var bar = element.closest(".zoom-bar");
    if (bar) return document.querySelector('.diagram-frame[data-zoom="' + bar.getAttribute("data-zoom-for") + '"]');
    return element.closest(".diagram-frame[data-zoom]");
  }

  function onFrameWheel(event) {
    var frame = event.target.closest && event.target.closest(".diagram-frame[data-zoom]");
    if (!frame || !frameSvg(frame)) return;
    var rect = frame.getBoundingClientRect();
    if (event.ctrlKey || event.metaKey) {
      event.preventDefault();
      zoomAround(frame, Math.exp(-event.deltaY * 0.0015), event.clientX - rect.left, event.clientY - rect.top);
      return;
    }
    // A plain wheel pans a diagram larger than its frame, and scrolls the page otherwise.
    var drawn = frameSvg(frame).getBoundingClientRect();
    if (drawn.width <= rect.width + 1 && drawn.height <= rect.height + 1) return;
    event.preventDefault();
    panBy(frame, -(event.shiftKey ? event.deltaY : event.deltaX), event.shiftKey ? 0 : -event.deltaY);
  }

  // A press becomes a pan only once the pointer has moved a few pixels, so a plain click
  // still reaches the state or edge under it (and a pan never counts as a click).
  var drag = null;
  var DRAG_SLOP = 4;
  var pannedAt = 0;
  function onFramePointerDown(event) {
    if (event.button !== 0) return;
    var frame = event.target.closest && event.target.closest(".diagram-frame[data-zoom]");
    if (!frame || !frameSvg(frame) || event.target.closest("a")) return;
    drag = { frame: frame, x: event.clientX, y: event.clientY, id: event.pointerId, moved: false };
  }
  function onFramePointerMove(event) {
    if (!drag || event.pointerId !== drag.id) return;
    if (!drag.moved) {
      if (Math.abs(event.clientX - drag.x) + Math.abs(event.clientY - drag.y) < DRAG_SLOP) return;
      drag.moved = true;
      drag.frame.setPointerCapture(event.pointerId);
      drag.frame.classList.add("panning");
    }
    panBy(drag.frame, event.clientX - drag.x, event.clientY - drag.y);
    drag.x = event.clientX;
    drag.y = event.clientY;
  }
  function onFramePointerUp(event) {
    if (!drag || event.pointerId !== drag.id) return;
    if (drag.moved) pannedAt = Date.now();
    drag.frame.classList.remove("panning");
    drag = null;
  }

  var ZOOM_KEYS = { "+": "in", "=": "in", "-": "out", "_": "out", "0": "fit", "1": "actual", r: "read", R: "read", f: "focus", F: "focus" };
  var PAN_KEYS = { ArrowLeft: [1, 0], ArrowRight: [-1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
  function onFrameKey(event) {
    var frame = event.target.matches && event.target.matches(".diagram-frame[data-zoom]") ? event.target : null;
    if (!frame || event.altKey || event.ctrlKey || event.metaKey) return;
    if (ZOOM_KEYS[event.key]) zoomCommand(frame, ZOOM_KEYS[event.key]);
    else if (PAN_KEYS[event.key]) panBy(frame, PAN_KEYS[event.key][0] * PAN_STEP, PAN_KEYS[event.key][1] * PAN_STEP);
    else return;
    event.preventDefault();
    event.stopImmediatePropagation(); // the simulator's 1-9 shortcuts must not see these keys
  }

  // ---- Marking an issue's element in the diagram ----------------------------------------
  // The server maps spec paths to Mermaid ids (#diagram's data-targets, kept with the last
  // good diagram); this only finds those ids in the drawn SVG.
  var markTimer = null;

  function clearMarks() {
    document.querySelectorAll(".issue-mark").forEach(function (el) { el.classList.remove("issue-mark"); });
    document.querySelectorAll(".diagram.spotlight").forEach(function (el) { el.classList.remove("spotlight"); });
  }

  function targetEntry(target) {
    var holder = document.getElementById("diagram");
    if (!holder || !target) return null;
    var map;
    try { map = JSON.parse(holder.getAttribute("data-targets") || "{}"); } catch (ignored) { return null; }
    return map[target] || map[target.replace(/\.timeout$/, "")] || null;
  }

  function elementsFor(svg, entry) {
    var found = [];
    (entry.edges || []).forEach(function (id) {
      svg.querySelectorAll('[data-id="' + id + '"]').forEach(function (el) { found.push(el); });
    });
    (entry.states || []).forEach(function (id) {
      svg.querySelectorAll('g.statediagram-cluster[data-id="' + id + '"]').forEach(function (el) { found.push(el); });
      var pattern = new RegExp("-state-" + id.replace(/[^A-Za-z0-9_]/g, "") + "-\\d+$");
      svg.querySelectorAll("g.node[id]").forEach(function (el) { if (pattern.test(el.id)) found.push(el); });
    });
    return found;
  }

  // Pan the frame so the marked elements are in view when they are not.
  function bringIntoView(frame, elements) {
    var box = frame.getBoundingClientRect();
    var left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
    elements.forEach(function (el) {
      var r = el.getBoundingClientRect();
      left = Math.min(left, r.left); top = Math.min(top, r.top);
      right = Math.max(right, r.right); bottom = Math.max(bottom, r.bottom);
    });
    if (left >= box.left && right <= box.right && top >= box.top && bottom <= box.bottom) return;
    panBy(frame, box.left + box.width / 2 - (left + right) / 2, box.top + box.height / 2 - (top + bottom) / 2);
  }

  function markTarget(target) {
    var entry = targetEntry(target);
    if (!entry) return 0;
    clearMarks();
    var marked = 0;
    document.querySelectorAll(".diagram-frame[data-zoom]").forEach(function (frame) {
      var svg = frameSvg(frame);
      if (!svg || !frame.clientWidth) return;
      var elements = elementsFor(svg, entry);
      elements.forEach(function (el) { el.classList.add("issue-mark"); });
      if (!elements.length) return;
      marked += elements.length;
      var holder = frame.closest(".diagram");
      if (holder) holder.classList.add("spotlight");
      bringIntoView(frame, elements);
    });
    if (markTimer) clearTimeout(markTimer);
    markTimer = setTimeout(clearMarks, 3500);
    return marked;
  }

  function markIssue(button) {
    var target = button.getAttribute("data-target");
    if (!target || !targetEntry(target)) return;
    if (markTarget(target)) return;
    // Nothing visible to mark (the simulator shows no diagram): show the Diagram tab.
    var view = document.getElementById("diagram-view");
    if (view && view.hidden) {
      showTab("diagram-view");
      mermaidQueue.then(function () { markTarget(target); });
    }
  }

  // ---- The diagram as a control ---------------------------------------------------------
  // The server says what each drawn element is: #diagram's data-targets gives every state's
  // and edge's YAML position ("at"), and the simulator's data-edges says, per edge, which
  // event button takes it now ("do") or why nothing would ("why"). This only tags the SVG
  // elements with those facts; a click presses the same button the panel shows.
  function parseAttr(element, name, fallback) {
    try { return JSON.parse(element.getAttribute(name) || fallback); } catch (ignored) { return JSON.parse(fallback); }
  }

  function targetsMap() {
    var holder = document.getElementById("diagram");
    return holder ? parseAttr(holder, "data-targets", "{}") : {};
  }

  // What wireDiagram put on a drawing, taken off before a kept drawing is wired again.
  var WIRED_CLASSES = ["spec-link", "edge-enabled", "edge-disabled", "edge-covered", "edge-uncovered", "sim-active"];
  var WIRED_ATTRIBUTES = ["data-spec", "data-edge-do", "data-edge-tip"];
  function unwireDiagram(svg) {
    svg.querySelectorAll("." + WIRED_CLASSES.join(",.")).forEach(function (el) {
      WIRED_CLASSES.forEach(function (name) { el.classList.remove(name); });
    });
    svg.querySelectorAll("[" + WIRED_ATTRIBUTES.join("],[") + "]").forEach(function (el) {
      WIRED_ATTRIBUTES.forEach(function (name) { el.removeAttribute(name); });
    });
  }

  function wireDiagram(pre) {
    var svg = pre.querySelector("svg");
    if (!svg) return;
    // The simulator's active states, by the ids the engine gave (data-active).
    var active = (pre.getAttribute("data-active") || "").split(" ").filter(Boolean);
    if (active.length) {
      elementsFor(svg, { states: active }).forEach(function (el) { el.classList.add("sim-active"); });
    }
    if (editorParts()) {
      var map = targetsMap();
      var inSim = !!pre.closest("#sim");
      Object.keys(map).forEach(function (path) {
        var entry = map[path];
        if (!entry.at) return;
        // In the simulator an edge fires its transition; only states lead to the YAML.
        var only = inSim ? { states: entry.states || [] } : entry;
        elementsFor(svg, only).forEach(function (el) {
          el.setAttribute("data-spec", path);
          el.classList.add("spec-link");
        });
      });
    }
    // The Tests tab's data-coverage says, per edge, whether a generated path takes it
    // (pystator.verify's answer, by the engine's edge names) and why not.
    var coverage = parseAttr(pre, "data-coverage", "{}");
    Object.keys(coverage).forEach(function (id) {
      svg.querySelectorAll('[data-id="' + id + '"]').forEach(function (el) {
        el.classList.add(coverage[id].covered ? "edge-covered" : "edge-uncovered");
        el.setAttribute("data-edge-tip", coverage[id].tip || "");
      });
    });
    var edges = parseAttr(pre, "data-edges", "{}");
    Object.keys(edges).forEach(function (id) {
      var control = edges[id];
      svg.querySelectorAll('[data-id="' + id + '"]').forEach(function (el) {
        if (control.do) {
          el.setAttribute("data-edge-do", control.do);
          el.setAttribute("data-edge-tip", control.label || "");
          el.classList.add("edge-enabled");
        } else {
          el.setAttribute("data-edge-tip", control.why || "");
          el.classList.add("edge-disabled");
        }
      });
    });
  }

  function jumpToSpec(path) {
    if (/^states\[\d+\]$/.test(path)) focusState = path;
    var entry = targetEntry(path);
    if (!entry || !entry.at) return;
    jumpTo(entry.at[0], entry.at[1]);
    markTarget(path);
  }

  function fireEdge(element) {
    var value = element.getAttribute("data-edge-do");
    var selector = 'button[name="do"][value="' + value.replace(/["\\]/g, "\\$&") + '"]';
    return clickSim(selector);
  }

  var edgeTip = null;
  function showEdgeTip(element, event) {
    if (!edgeTip) {
      edgeTip = document.createElement("div");
      edgeTip.id = "edge-tip";
      edgeTip.className = "edge-tip";
      edgeTip.setAttribute("role", "tooltip");
      document.body.appendChild(edgeTip);
    }
    edgeTip.textContent = element.getAttribute("data-edge-tip");
    edgeTip.classList.toggle("enabled", element.hasAttribute("data-edge-do"));
    edgeTip.hidden = !edgeTip.textContent;
    var x = Math.min(event.clientX + 14, window.innerWidth - edgeTip.offsetWidth - 8);
    edgeTip.style.left = Math.max(8, x) + "px";
    edgeTip.style.top = (event.clientY + 16) + "px";
  }

  function onDiagramHover(event) {
    var element = event.target.closest && event.target.closest("[data-edge-tip]");
    if (element) showEdgeTip(element, event);
    else if (edgeTip) edgeTip.hidden = true;
  }

  // ---- Structured edits ------------------------------------------------------------------
  // The server edits the text (POST /edit); the answer carries the whole new text. Only the
  // part that changed is replaced, through the browser's own editing command, so the edit is
  // one step on the textarea's undo stack (Ctrl+Z) and fires the usual input event (live
  // check, draft, diagram).
  function replaceEditorText(next) {
    var parts = editorParts();
    if (!parts) return;
    var ta = parts.textarea;
    var old = ta.value;
    if (old === next) return;
    var start = 0;
    while (start < old.length && start < next.length && old[start] === next[start]) start++;
    var end = 0;
    while (end < old.length - start && end < next.length - start &&
           old[old.length - 1 - end] === next[next.length - 1 - end]) end++;
    var back = document.activeElement;
    ta.focus();
    ta.setSelectionRange(start, old.length - end);
    var inserted = next.slice(start, next.length - end);
    var done = false;
    try { done = document.execCommand("insertText", false, inserted); } catch (ignored) { done = false; }
    if (!done || ta.value !== next) {
      ta.value = next;
      ta.dispatchEvent(new Event("input", { bubbles: true }));
    }
    var line = next.slice(0, start).split("\n").length;
    jumpTo(line, 1);
    if (back && back !== ta && back.focus && document.contains(back)) back.focus();
  }

  function applyEditResult() {
    var result = document.querySelector("#edit-result[data-apply]");
    if (!result) return;
    result.removeAttribute("data-apply");
    var text = result.querySelector("textarea.edit-text");
    if (text) replaceEditorText(text.value);
  }

  // "Pick in diagram": the next click on a state sets the source, the one after the target.
  var picking = null;
  function pickStatus(text) {
    var status = document.getElementById("pick-status");
    if (status) status.textContent = text;
  }
  function startPicking() {
    picking = "source";
    document.body.classList.add("picking");
    pickStatus("Click the source state in the diagram (Escape cancels).");
    var frame = document.querySelector("#diagram .diagram-frame");
    if (frame) frame.focus();
  }
  function stopPicking(message) {
    picking = null;
    document.body.classList.remove("picking");
    pickStatus(message || "");
  }
  function pickState(path) {
    var entry = targetEntry(path);
    var select = document.getElementById(picking === "source" ? "edit-source" : "edit-dest");
    if (!entry || !entry.name || !select) return;
    select.value = entry.name;
    if (picking === "source") {
      picking = "dest";
      pickStatus("From " + entry.name + ": now click the target state.");
    } else {
      var from = document.getElementById("edit-source");
      stopPicking("From " + (from ? from.value : "?") + " to " + entry.name + ": name the event and add it.");
      var trigger = document.getElementById("edit-trigger");
      if (trigger) trigger.focus();
    }
  }

  // The edit bar is redrawn with each new diagram; what the person chose or typed stays.
  var keptEdits = null;
  function keepEditBar() {
    var bar = document.getElementById("edit-bar");
    if (!bar) return;
    keptEdits = { open: bar.open, values: {} };
    bar.querySelectorAll("[data-keep]").forEach(function (el) { keptEdits.values[el.id] = el.value; });
  }
  function restoreEditBar() {
    var bar = document.getElementById("edit-bar");
    if (!bar || !keptEdits || bar.hasAttribute("data-restored")) return;
    bar.setAttribute("data-restored", "");
    bar.open = keptEdits.open;
    Object.keys(keptEdits.values).forEach(function (id) {
      var el = document.getElementById(id);
      if (!el) return;
      if (el.tagName === "SELECT" && !Array.prototype.some.call(el.options, function (o) { return o.value === keptEdits.values[id]; })) return;
      el.value = keptEdits.values[id];
    });
  }

  // When the colour scheme changes, redraw every diagram from its kept source text.
  function rerenderForTheme() {
    if (!initMermaid()) return;
    document.querySelectorAll("pre.mermaid[data-source]").forEach(function (node) {
      node.removeAttribute("data-processed");
      node.textContent = node.getAttribute("data-source");
    });
    renderDiagrams();
  }

  // ---- Editor ----------------------------------------------------------------------
  var INDENT = "  ";

  function editorParts() {
    var textarea = document.getElementById("yaml");
    if (!textarea) return null;
    var box = textarea.closest("[data-editor]");
    return { textarea: textarea, gutter: box ? box.querySelector(".gutter") : null };
  }

  function markedLines() {
    var lines = {};
    document.querySelectorAll("#check .issue-jump[data-line]").forEach(function (button) {
      var item = button.closest(".issue");
      var severity = item && item.classList.contains("error") ? "error" : "warning";
      var line = button.getAttribute("data-line");
      if (lines[line] !== "error") lines[line] = severity;
    });
    return lines;
  }

  // The line numbers are rebuilt only when the number of lines or the marked lines change
  // (typing inside a line changes neither), and at most once a frame while typing: inserting
  // several lines with execCommand (structured edits, the bench) fires an input event per
  // line. Rebuilding sets the gutter's
  // scroll, which makes the browser lay the page out there and then; during a diagram's
  // layout (htmx settles mid-render) that cost lands on the keystroke's critical path.
  var gutterShown = "";
  var gutterFrame = 0;
  function updateGutterSoon() {
    if (gutterFrame) return;
    gutterFrame = requestAnimationFrame(function () { gutterFrame = 0; updateGutter(); });
  }

  function updateGutter() {
    var parts = editorParts();
    if (!parts || !parts.gutter) return;
    var count = parts.textarea.value.split("\n").length;
    var marks = markedLines();
    var shown = count + " " + JSON.stringify(marks);
    if (shown === gutterShown && parts.gutter.childElementCount === count) return;
    gutterShown = shown;
    var html = [];
    for (var i = 1; i <= count; i++) {
      var mark = marks[String(i)];
      html.push(mark ? '<span class="mark-' + mark + '">' + i + "</span>" : "<span>" + i + "</span>");
    }
    parts.gutter.innerHTML = html.join("");
    parts.gutter.scrollTop = parts.textarea.scrollTop;
  }

  function lineStart(value, line) {
    var offset = 0;
    for (var i = 1; i < line; i++) {
      var next = value.indexOf("\n", offset);
      if (next === -1) return value.length;
      offset = next + 1;
    }
    return offset;
  }

  function jumpTo(line, column) {
    var parts = editorParts();
    if (!parts) return;
    var ta = parts.textarea;
    var start = lineStart(ta.value, line);
    var end = ta.value.indexOf("\n", start);
    if (end === -1) end = ta.value.length;
    var pos = Math.min(start + Math.max(column - 1, 0), end);
    ta.focus();
    ta.setSelectionRange(pos, pos);
    var lineHeight = parseFloat(getComputedStyle(ta).lineHeight) || 18;
    ta.scrollTop = Math.max(0, (line - 4) * lineHeight);
    updateGutter();
    if (parts.gutter) parts.gutter.scrollTop = ta.scrollTop;
  }

  // Tab indents inside the editor, as in code editors; Escape releases it so the next Tab
  // (or Shift+Tab) moves focus on, and the hint under the editor says so. Typing anything
  // else takes Tab back.
  var tabReleased = false;
  function setTabReleased(on) {
    tabReleased = on;
    var hint = document.getElementById("editor-keys");
    if (!hint) return;
    hint.textContent = on
      ? "Tab now moves to the next control. Type anything to make Tab indent again."
      : "Tab indents. Press Escape, then Tab, to leave the editor.";
    hint.classList.toggle("released", on);
  }

  function onEditorKey(event) {
    var ta = event.target;
    if (event.key === "Escape") {
      setTabReleased(true);
      return;
    }
    if (tabReleased) {
      if (event.key !== "Tab" && event.key !== "Shift") setTabReleased(false);
      else return;
    }
    if (event.key === "Tab" && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      var start = ta.selectionStart;
      var end = ta.selectionEnd;
      var value = ta.value;
      if (event.shiftKey) {
        var from = value.lastIndexOf("\n", start - 1) + 1;
        if (value.slice(from, from + INDENT.length) === INDENT) {
          ta.setRangeText("", from, from + INDENT.length, "preserve");
          ta.setSelectionRange(Math.max(from, start - INDENT.length), Math.max(from, end - INDENT.length));
        }
      } else {
        ta.setRangeText(INDENT, start, end, "end");
      }
      ta.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }

  // The server keeps the text (an autosaved draft) and decides the "unsaved changes"
  // marker in each answer; typing shows it at once. `sentText` is what the server has, so
  // leaving the page only warns when the last keystrokes have not been sent yet.
  var sentText = null;
  var leaving = false;
  function showDirty() {
    var marker = document.getElementById("dirty");
    if (marker) marker.hidden = false;
  }

  function saveShortcut(event) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "s" || event.key === "S")) {
      var form = document.getElementById("editor");
      if (!form) return;
      event.preventDefault();
      form.requestSubmit();
    }
  }

  // ---- Import drop zone ------------------------------------------------------------
  function wireDropzone(zone) {
    var input = zone.querySelector("input[type=file]");
    if (!input) return;
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      input.files = event.dataTransfer.files;
      zone.querySelector(".dropzone-title").textContent = event.dataTransfer.files[0].name;
      input.form.requestSubmit();
    });
    input.addEventListener("change", function () {
      if (input.files.length) zone.querySelector(".dropzone-title").textContent = input.files[0].name;
    });
  }

  // ---- Copy buttons ----------------------------------------------------------------
  function copyFrom(button) {
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = "value" in source && source.value !== undefined ? source.value : source.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1200);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else if (source.select) {
      source.select();
      document.execCommand("copy");
      done();
    }
  }

  // ---- Simulator --------------------------------------------------------------------
  // The server computes every step; this only maps tabs and keys onto the panel's buttons.
  function showTab(name) {
    document.querySelectorAll(".tabs [data-tab]").forEach(function (tab) {
      var on = tab.getAttribute("data-tab") === name;
      tab.classList.toggle("current", on);
      if (on) tab.setAttribute("aria-current", "page"); else tab.removeAttribute("aria-current");
      var panel = document.getElementById(tab.getAttribute("data-tab"));
      if (panel) panel.hidden = !on;
    });
    renderDiagrams();
  }

  // The Tests tab's results belong to the text they were computed from (their links and
  // downloads carry it): once the editor's text changes, say so rather than rerun them.
  function markVerifyStale() {
    var note = document.querySelector('#verify[data-ran="true"] .verify-stale');
    if (note) note.hidden = false;
  }

  function simVisible() {
    var view = document.getElementById("sim-view");
    return !!(view && !view.hidden && document.getElementById("sim-form"));
  }

  // A key pressed on a control belongs to that control (Space presses a focused button,
  // digits go into a field): the page's own shortcuts only act when no control has focus.
  var CONTROLS = "input, textarea, select, button, a[href], summary, [contenteditable], [tabindex]:not([tabindex='-1'])";
  function onControl(target) {
    if (!target || !target.closest) return false;
    return !!target.closest(CONTROLS);
  }

  function clickSim(selector) {
    var form = document.getElementById("sim-form");
    if (!form || form.classList.contains("htmx-request")) return false;
    var button = form.querySelector(selector);
    if (!button || button.disabled) return false;
    button.click();
    return true;
  }

  function simShortcut(event) {
    if (!simVisible() || onControl(event.target) || event.altKey) return;
    var mod = event.ctrlKey || event.metaKey;
    if (mod && !event.shiftKey && (event.key === "z" || event.key === "Z")) {
      if (clickSim("#sim-undo")) event.preventDefault();
      return;
    }
    if (mod) return;
    if (event.key === " " || event.code === "Space") {
      event.preventDefault();
      clickSim("#sim-fire");
      return;
    }
    if (/^[1-9]$/.test(event.key)) {
      if (clickSim('.event-button[data-key="' + event.key + '"]')) event.preventDefault();
    }
  }

  // Enter in a one-line simulator field presses that field's own button.
  function simEnter(event) {
    if (event.key !== "Enter") return;
    var field = event.target.closest && event.target.closest("#sim-form input[data-enter]");
    if (!field) return;
    event.preventDefault();
    clickSim('button[name="do"][value="' + field.getAttribute("data-enter") + '"]');
  }

  // ---- Wiring ----------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", function () {
    initMermaid();
    renderDiagrams();
    var parts = editorParts();
    if (parts) {
      updateGutter();
      sentText = parts.textarea.value;
      parts.textarea.addEventListener("keydown", onEditorKey);
      parts.textarea.addEventListener("input", function () { updateGutterSoon(); showDirty(); markVerifyStale(); scheduleCheck(parts.textarea); });
      parts.textarea.addEventListener("scroll", function () {
        if (parts.gutter) parts.gutter.scrollTop = parts.textarea.scrollTop;
      });
      window.addEventListener("beforeunload", function (event) {
        if (!leaving && sentText !== null && parts.textarea.value !== sentText) event.preventDefault();
      });
    }
    document.querySelectorAll("[data-dropzone]").forEach(wireDropzone);
    showDirectionButtons();
    if (!isDefaultView(readView())) setTimeout(redrawForView, 0);
    if (darkQuery && darkQuery.addEventListener) darkQuery.addEventListener("change", rerenderForTheme);
  });

  document.addEventListener("keydown", onFrameKey);
  document.addEventListener("keydown", saveShortcut);
  document.addEventListener("wheel", onFrameWheel, { passive: false });
  document.addEventListener("pointerdown", onFramePointerDown);
  document.addEventListener("pointermove", onFramePointerMove);
  document.addEventListener("pointerup", onFramePointerUp);
  document.addEventListener("pointercancel", onFramePointerUp);
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    if (resizeTimer) clearTimeout(resizeTimer);
    resizeTimer = setTimeout(applyAllZooms, 100);
  });
  document.addEventListener("keydown", simShortcut);
  document.addEventListener("keydown", simEnter);

  document.addEventListener("mouseover", onDiagramHover);

  document.addEventListener("htmx:configRequest", addViewParameters);
  document.addEventListener("keydown", function (event) {
    var toggle = (event.key === "Enter" || event.key === " ") && event.target.closest && event.target.closest(".fold-toggle");
    if (!toggle) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    pressFold(toggle);
  }, true);

  document.addEventListener("click", function (event) {
    var fold = event.target.closest && event.target.closest(".fold-toggle");
    if (fold) {
      if (Date.now() - pannedAt > 300) pressFold(fold);
      return;
    }
    var viewButton = event.target.closest && event.target.closest('[data-view-do="direction"]');
    if (viewButton) { toggleDirection(); return; }
    var control = event.target.closest && event.target.closest("[data-edge-tip], [data-spec]");
    if (control && Date.now() - pannedAt > 300) {
      var spec = control.getAttribute("data-spec");
      if (picking && spec && /^states\[\d+\]$/.test(spec)) pickState(spec);
      else if (control.hasAttribute("data-edge-do")) fireEdge(control);
      else if (spec) jumpToSpec(spec);
      return;
    }
    var pick = event.target.closest("[data-pick]");
    if (pick) { startPicking(); return; }
    var dismiss = event.target.closest("[data-edit-dismiss]");
    if (dismiss) {
      var box = dismiss.closest("#edit-result");
      if (box) box.replaceChildren();
      return;
    }
    var tab = event.target.closest(".tabs [data-tab]");
    if (tab) {
      event.preventDefault();
      showTab(tab.getAttribute("data-tab"));
      return;
    }
    var zoomButton = event.target.closest("[data-zoom-do]");
    if (zoomButton) {
      var frame = zoomFrameOf(zoomButton);
      if (frame) zoomCommand(frame, zoomButton.getAttribute("data-zoom-do"));
      return;
    }
    var jump = event.target.closest(".issue-jump");
    if (jump) {
      if (jump.hasAttribute("data-line")) {
        jumpTo(parseInt(jump.getAttribute("data-line"), 10), parseInt(jump.getAttribute("data-column") || "1", 10));
      }
      markIssue(jump);
      return;
    }
    var copy = event.target.closest("[data-copy]");
    if (copy) copyFrom(copy);
  });

  // ---- Focus across swaps ------------------------------------------------------------------
  // A swap replaces the element that had focus (a pressed event button, a field in the
  // simulator panel). Before it, remember which control that was; after it, focus the same
  // control again (same id, or same name and value), or the one now at its place in the tab
  // order of the swapped region, never <body>.
  var FOCUSABLE = "button:not([disabled]), input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled]), a[href], summary, [tabindex]:not([tabindex='-1'])";
  var focusMemory = null;
  function rememberFocus(target) {
    var active = document.activeElement;
    if (!target || !active || active === document.body || !target.contains(active)) return;
    var all = Array.prototype.slice.call(target.querySelectorAll(FOCUSABLE));
    focusMemory = {
      region: target.id,
      id: active.id,
      name: active.getAttribute("name"),
      value: active.getAttribute("value"),
      index: Math.max(0, all.indexOf(active)),
    };
  }
  function restoreFocus() {
    var memory = focusMemory;
    focusMemory = null;
    if (!memory) return;
    var active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return;
    var region = memory.region ? document.getElementById(memory.region) : null;
    var scope = region || document;
    var found = memory.id ? document.getElementById(memory.id) : null;
    if (!found && memory.name) {
      found = Array.prototype.find.call(scope.querySelectorAll("[name]"), function (el) {
        return el.getAttribute("name") === memory.name && el.getAttribute("value") === memory.value &&
          el.matches(FOCUSABLE);
      }) || null;
    }
    if (found && !found.matches(FOCUSABLE)) found = null;
    if (!found && region) {
      var all = region.querySelectorAll(FOCUSABLE);
      found = all[Math.min(memory.index, all.length - 1)] || null;
    }
    if (found) found.focus({ preventScroll: true });
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    rememberFocus(event.detail && event.detail.target);
    keepDrawings(event.detail && event.detail.target);
  });

  // The textarea is never swapped, so cursor and scroll survive every response; the
  // pieces around it are redrawn here.
  document.addEventListener("htmx:afterSettle", function () {
    applyEditResult();
    restoreEditBar();
    restoreFocus();
    showDirectionButtons();
    showPreviousDrawings();
    renderDiagrams();
    updateGutter();
    var share = document.getElementById("share-result");
    if (share) share.hidden = false;
  });

  // Draw a swapped-in diagram as soon as it is in the page, not after htmx's settle delay:
  // the layout is the slow part of every keystroke and every simulator step.
  function drawSwapped() {
    reuseDrawings();
    showPreviousDrawings();
    renderDiagrams();
  }
  document.addEventListener("htmx:afterSwap", drawSwapped);
  document.addEventListener("htmx:oobAfterSwap", drawSwapped);

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail && event.detail.target;
    rememberFocus(target);
    keepDrawings(target);
    if (target && target.id === "edit-bar") keepEditBar();
  });
  document.addEventListener("keydown", function (event) {
    if (picking && event.key === "Escape") stopPicking("Picking cancelled.");
  });

  // Whatever the editor posts (a live check, a save) reaches the server's draft.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var parts = editorParts();
    var elt = event.detail && event.detail.elt;
    if (parts && elt && (elt === parts.textarea || elt.id === "editor")) sentText = parts.textarea.value;
  });
  document.addEventListener("submit", function (event) {
    if (event.target.closest && event.target.closest("[data-discard]")) leaving = true;
  });

  // htmx does not swap error responses; show their message instead of failing silently.
  document.addEventListener("htmx:responseError", function (event) {
    var flash = document.getElementById("flash");
    if (!flash) return;
    var xhr = event.detail.xhr;
    var message = "The request failed (" + xhr.status + ").";
    try {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var found = doc.querySelector(".error-message");
      if (found) message = found.textContent;
    } catch (ignored) { /* keep the generic message */ }
    var p = document.createElement("p");
    p.className = "flash flash-error";
    p.textContent = message;
    flash.replaceChildren(p);
  });
  document.addEventListener("htmx:sendError", function () {
    var flash = document.getElementById("flash");
    if (!flash) return;
    var p = document.createElement("p");
    p.className = "flash flash-error";
    p.textContent = "The designer server cannot be reached. Is pystator-ui still running?";
    flash.replaceChildren(p);
  });
})();
