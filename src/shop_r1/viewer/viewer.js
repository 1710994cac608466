// shop-r1 session viewer. Reads the JSON embedded in #shop-r1-data and renders one pane per file.
// Everything from the data goes into the page through textContent (never innerHTML), and a page's own
// HTML only into a sandboxed iframe (no scripts, no forms), so a hostile log cannot run code here.
// The URL fragment holds the position, 1-based: #a=<visit>.<step>&b=<visit>.<step> (b: --compare file).
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("shop-r1-data").textContent);
  const KEYS = ["a", "b"];
  const HIGHLIGHT_ATTR = "data-shop-r1-target";
  // Simplified pages carry no styles; a few defaults keep them readable and show what is clickable.
  const PAGE_CSS = "body { font: 14px system-ui, sans-serif; margin: 8px; } h1 { font-size: 18px; }"
    + " h2 { font-size: 15px; margin: 4px 0; } a[name], button[name] { color: #0645ad; margin: 0 .35em; }"
    + " a[name] { text-decoration: underline; } ";
  const panes = data.panes.map(function (pane, index) {
    return { key: KEYS[index], data: pane, session: 0, step: 0, el: null };
  });
  let active = 0;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // A CSS string literal for an attribute selector: names come from logs and may hold quotes.
  function cssString(value) {
    return '"' + String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\a ") + '"';
  }

  function clamp(pane) {
    const sessions = pane.data.sessions;
    pane.session = Math.min(Math.max(pane.session, 0), sessions.length - 1);
    const steps = sessions[pane.session].steps;
    pane.step = Math.min(Math.max(pane.step, 0), steps.length - 1);
  }

  function readHash() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    panes.forEach(function (pane) {
      const value = params.get(pane.key);
      if (!value) return;
      const parts = value.split(".");
      pane.session = (parseInt(parts[0], 10) || 1) - 1;
      pane.step = (parseInt(parts[1], 10) || 1) - 1;
      clamp(pane);
    });
  }

  function writeHash() {
    const hash = panes.map(function (p) { return p.key + "=" + (p.session + 1) + "." + (p.step + 1); }).join("&");
    history.replaceState(null, "", "#" + hash);
  }

  function move(pane, delta) {
    const steps = pane.data.sessions[pane.session].steps;
    const next = pane.step + delta;
    if (next >= steps.length && pane.session + 1 < pane.data.sessions.length) {
      pane.session += 1; pane.step = 0;  // past the end of a visit: the next visit
    } else if (next < 0 && pane.session > 0) {
      pane.session -= 1; pane.step = pane.data.sessions[pane.session].steps.length - 1;
    } else {
      pane.step = next;
    }
    clamp(pane); update(pane);
  }

  function jumpSession(pane, delta) {
    pane.session += delta; pane.step = 0; clamp(pane); update(pane);
  }

  function actionLine(action) {
    let line = action.type;
    if (action.name) line += " " + action.name;
    if (action.text) line += " \u201c" + action.text + "\u201d";
    return line;
  }

  function build(pane, index) {
    const root = el("section", "pane");
    root.dataset.pane = pane.key;
    const shown = pane.data.sessions.length;
    const total = pane.data.total;
    root.appendChild(el("h2", "pane-title", pane.data.label + (shown < total ? " (first " + shown + " of " + total + " visits)" : " (" + total + " visits)")));
    const visits = el("div", "controls");
    const prevVisit = el("button", "prev-visit", "\u25c0 visit");
    const select = el("select", "visit-select");
    pane.data.sessions.forEach(function (session, i) {
      const option = el("option", null, (i + 1) + ". " + session.id + " (" + session.steps.length + " steps)");
      option.value = String(i);
      select.appendChild(option);
    });
    const nextVisit = el("button", "next-visit", "visit \u25b6");
    visits.append(prevVisit, select, nextVisit);
    const steps = el("div", "controls");
    const prev = el("button", "prev-step", "\u25c0 prev");
    const counter = el("span", "step-counter");
    const next = el("button", "next-step", "next \u25b6");
    steps.append(prev, counter, next);
    const sessionMeta = el("div", "session-meta");
    const url = el("div", "url");
    const action = el("div", "action");
    action.append(el("strong", null, "action: "), el("code", "action-type"), document.createTextNode(" "),
                  el("code", "action-name"), document.createTextNode(" "), el("code", "action-text"));
    const rationale = el("div", "rationale");
    const meta = el("div", "meta");
    const status = el("div", "highlight-status");
    const frameBox = el("div", "frame-box");
    const timeline = el("ol", "timeline");
    root.append(visits, steps, sessionMeta, url, action, rationale, meta, status, frameBox, timeline);
    prevVisit.onclick = function () { jumpSession(pane, -1); };
    nextVisit.onclick = function () { jumpSession(pane, 1); };
    select.onchange = function () { pane.session = parseInt(select.value, 10); pane.step = 0; update(pane); };
    prev.onclick = function () { move(pane, -1); };
    next.onclick = function () { move(pane, 1); };
    root.addEventListener("mousedown", function () { setActive(index); });
    pane.el = { root: root, select: select, counter: counter, sessionMeta: sessionMeta, url: url, rationale: rationale,
                meta: meta, status: status, frameBox: frameBox, timeline: timeline,
                type: action.querySelector(".action-type"), name: action.querySelector(".action-name"),
                text: action.querySelector(".action-text") };
    return root;
  }

  function setActive(index) {
    active = index;
    panes.forEach(function (p, i) { p.el.root.classList.toggle("active", i === index); });
  }

  function markTarget(pane, frame, name) {
    const status = pane.el.status;
    let doc = null;
    try { doc = frame.contentDocument; } catch (err) { doc = null; }
    if (!doc) { status.textContent = "acted on: " + name + " (highlighted by name; page not inspectable)"; return; }
    const target = doc.querySelector("[name=" + cssString(name) + "]");
    if (!target) {
      status.textContent = "acted on: " + name + " \u2014 no element with this name on the page";
      status.classList.add("missing");
      return;
    }
    target.setAttribute(HIGHLIGHT_ATTR, "");
    target.scrollIntoView({ block: "center" });
    const label = (target.innerText || target.textContent || target.getAttribute("placeholder") || "").trim().replace(/\s+/g, " ");
    status.textContent = "highlighted: " + name + (label ? " \u2014 \u201c" + label.slice(0, 80) + "\u201d" : "");
  }

  function showPage(pane, step) {
    const box = pane.el.frameBox;
    const status = pane.el.status;
    box.textContent = "";
    status.textContent = ""; status.classList.remove("missing");
    if (!step.html) {
      box.appendChild(el("div", "no-page", "no page recorded for this step (history-only log)"));
      if (step.action.name) status.textContent = "acted on: " + step.action.name;
      return;
    }
    const frame = document.createElement("iframe");
    // No allow-scripts: the page's own scripts never run. allow-same-origin only lets this viewer find
    // and mark the element acted on.
    frame.setAttribute("sandbox", "allow-same-origin");
    frame.setAttribute("title", "page as the shopper saw it");
    let style = "[" + HIGHLIGHT_ATTR + "]";
    if (step.action.name) style += ", [name=" + cssString(step.action.name) + "]";
    const css = style + " { outline: 3px solid #d55e00 !important; outline-offset: 2px;"
      + " background: #fff3e0 !important; }";
    frame.srcdoc = "<!DOCTYPE html><style>" + PAGE_CSS + css + "</style>" + step.html;
    if (step.action.name) frame.addEventListener("load", function () { markTarget(pane, frame, step.action.name); });
    box.appendChild(frame);
  }

  function update(pane) {
    const session = pane.data.sessions[pane.session];
    const step = session.steps[pane.step];
    const e = pane.el;
    e.select.value = String(pane.session);
    e.counter.textContent = "step " + (pane.step + 1) + " / " + session.steps.length;
    e.sessionMeta.textContent = "visit " + session.id + (session.user ? " \u00b7 user " + session.user : "")
      + (session.persona ? " \u00b7 " + session.persona : "");
    e.url.textContent = step.url || "";
    e.type.textContent = step.action.type;
    e.name.textContent = step.action.name || "";
    e.text.textContent = step.action.text ? "\u201c" + step.action.text + "\u201d" : "";
    e.rationale.textContent = step.rationale ? "\u201c" + step.rationale + "\u201d" : "(no rationale)";
    const metaParts = Object.keys(step.meta || {}).filter(function (k) { return typeof step.meta[k] !== "object"; })
      .map(function (k) { return k + ": " + step.meta[k]; });
    e.meta.textContent = metaParts.join(" \u00b7 ");
    e.timeline.textContent = "";
    session.steps.forEach(function (s, i) {
      const item = el("li", i === pane.step ? "current" : "", actionLine(s.action));
      item.onclick = function () { pane.step = i; update(pane); };
      e.timeline.appendChild(item);
    });
    showPage(pane, step);
    writeHash();
  }

  document.documentElement.style.setProperty("--panes", String(panes.length));
  const main = document.querySelector("main");
  panes.forEach(function (pane, i) { main.appendChild(build(pane, i)); });
  readHash();
  setActive(0);
  panes.forEach(update);
  window.addEventListener("hashchange", function () { readHash(); panes.forEach(update); });
  document.addEventListener("keydown", function (event) {
    if (event.target && event.target.tagName === "SELECT") return;
    const pane = panes[active];
    if (event.key === "ArrowRight") move(pane, 1);
    else if (event.key === "ArrowLeft") move(pane, -1);
    else if (event.key === "]") jumpSession(pane, 1);
    else if (event.key === "[") jumpSession(pane, -1);
    else if ((event.key === "1" || event.key === "2") && panes[Number(event.key) - 1]) setActive(Number(event.key) - 1);
    else return;
    event.preventDefault();
  });
})();
