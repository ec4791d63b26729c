// pystator-ui glue: Mermaid rendering after swaps, editor comforts, small conveniences.
// Everything a page shows is computed by the server; this file only wires the browser.
(function () {
  "use strict";

  // ---- Mermaid ---------------------------------------------------------------------
  // Renders are chained on one promise so two never overlap (Mermaid keeps global state
  // while it lays out a diagram).
  var mermaidQueue = Promise.resolve();
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
      return window.mermaid.run({ nodes: nodes, suppressErrors: true }).catch(function (error) {
        nodes.forEach(function (node) {
          node.setAttribute("data-processed", "error");
          node.classList.add("diagram-error");
          node.textContent = "The diagram could not be drawn: " + (error && error.message ? error.message : error);
        });
      });
    });
    return mermaidQueue;
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

  function updateGutter() {
    var parts = editorParts();
    if (!parts || !parts.gutter) return;
    var count = parts.textarea.value.split("\n").length;
    var marks = markedLines();
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
  }

  function onEditorKey(event) {
    var ta = event.target;
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

  // The dirty marker compares the text with what was last loaded or saved.
  var savedText = null;
  function updateDirty() {
    var parts = editorParts();
    var marker = document.getElementById("dirty");
    if (!parts || !marker) return;
    if (savedText === null) savedText = parts.textarea.value;
    marker.hidden = parts.textarea.value === savedText;
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

  function simVisible() {
    var view = document.getElementById("sim-view");
    return !!(view && !view.hidden && document.getElementById("sim-form"));
  }

  function typingInField(target) {
    if (!target || !target.closest) return false;
    return !!target.closest("input, textarea, select, [contenteditable]");
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
    if (!simVisible() || typingInField(event.target) || event.altKey) return;
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
      updateDirty();
      parts.textarea.addEventListener("keydown", onEditorKey);
      parts.textarea.addEventListener("input", function () { updateGutter(); updateDirty(); });
      parts.textarea.addEventListener("scroll", function () {
        if (parts.gutter) parts.gutter.scrollTop = parts.textarea.scrollTop;
      });
      window.addEventListener("beforeunload", function (event) {
        if (savedText !== null && parts.textarea.value !== savedText) event.preventDefault();
      });
    }
    document.querySelectorAll("[data-dropzone]").forEach(wireDropzone);
    if (darkQuery && darkQuery.addEventListener) darkQuery.addEventListener("change", rerenderForTheme);
  });

  document.addEventListener("keydown", saveShortcut);
  document.addEventListener("keydown", simShortcut);
  document.addEventListener("keydown", simEnter);

  document.addEventListener("click", function (event) {
    var tab = event.target.closest(".tabs [data-tab]");
    if (tab) {
      event.preventDefault();
      showTab(tab.getAttribute("data-tab"));
      return;
    }
    var jump = event.target.closest(".issue-jump[data-line]");
    if (jump) {
      jumpTo(parseInt(jump.getAttribute("data-line"), 10), parseInt(jump.getAttribute("data-column") || "1", 10));
      return;
    }
    var copy = event.target.closest("[data-copy]");
    if (copy) copyFrom(copy);
  });

  // The textarea is never swapped, so cursor and scroll survive every response; the
  // pieces around it are redrawn here.
  document.addEventListener("htmx:afterSettle", function () {
    renderDiagrams();
    updateGutter();
    var status = document.getElementById("save-status");
    var parts = editorParts();
    if (status && parts && status.getAttribute("data-saved") === "true") {
      savedText = parts.textarea.value;
      status.setAttribute("data-saved", "seen");
    }
    updateDirty();
    var share = document.getElementById("share-result");
    if (share) share.hidden = false;
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
