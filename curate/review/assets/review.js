"use strict";
// curate review: the grid, the cluster and change views, decisions by click and keyboard.
const S = JSON.parse(document.getElementById("settings").textContent);
const $ = (id) => document.getElementById(id);
const main = $("main");
const state = { view: "grid", rows: new Map(), order: [], total: 0, loading: null, selected: new Set(),
  anchor: null, revision: -1, version: -1, pending: 0, loaded: 0,
  latest: -1, inflight: 0, mine: new Set(), gen: 0 };

function api(path, params) {
  const q = new URLSearchParams(params || {});
  return fetch(path + "?" + q.toString(), { headers: { "X-Review-Token": S.token } }).then((r) => {
    if (!r.ok) throw new Error(path + ": " + r.status);
    return r.json();
  });
}
// Decisions reach the server one after another, in the order they were made (two keys pressed quickly
// sent two requests at once, and the server could write the second first).
let posted = Promise.resolve();
function post(path, body) {
  state.inflight++;
  const send = () => fetch(path, { method: "POST", body: JSON.stringify(body || {}),
    headers: { "X-Review-Token": S.token, "Content-Type": "application/json" } }).then((r) => r.json());
  const done = posted.then(send, send).finally(() => { state.inflight--; });
  posted = done.catch(() => {});
  return done;
}
function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}
function params(offset, limit) {
  const p = { view: state.view, sort: $("sort").value, offset: offset, limit: limit };
  for (const s of document.querySelectorAll("#filters select")) if (s.value) p["f." + s.dataset.col] = s.value;
  return p;
}

function caption(card, r) {
  card.className = "card " + (r.status || "") + (state.selected.has(r.sha256) ? " sel" : "");
  card.querySelectorAll(".l, .m").forEach((n) => n.remove());
  card.append(el("div", { class: "l" }, r.label || "(no label)"));
  const bits = [r.status === "ok" ? "" : r.status, r.split, r.source,
    r.label_quality == null ? "" : "quality " + r.label_quality.toFixed(2),
    r.suggested_label && r.suggested_label !== r.label ? "suggested " + r.suggested_label : "",
    r.off_topic == null ? "" : "off-topic " + r.off_topic.toFixed(2),
    r.prediction && r.prediction !== r.label ? "predicted " + r.prediction + " (" + r.confidence.toFixed(2) + ")" : "",
    r.keeper ? "keeper" : (r.distance == null ? "" : "distance " + r.distance),
    r.dup_conflict ? "mixed-label copy" : ""];
  card.append(el("div", { class: "m" }, bits.filter(Boolean).join(" · ")));
}
function makeCard(r) {
  const card = el("div", { "data-sha": r.sha256 });
  const img = el("img", { loading: "lazy", alt: r.label || "", src: "/thumb/" + r.sha256 + "?token=" + S.token });
  card.append(img);
  caption(card, r);
  card.addEventListener("click", (ev) => select(r.sha256, ev));
  card.addEventListener("dblclick", () => window.open("/image/" + r.sha256 + "?token=" + S.token, "_blank", "noopener"));
  return card;
}
function remember(r) { state.rows.set(r.sha256, r); state.order.push(r.sha256); }

// A reload (another view, sort or filter; rows changed underneath) starts a new generation that loads
// at once; a page of rows an older generation asked for is dropped when it arrives.
async function loadMore() {
  if (state.loading === state.gen || state.view === "changes" || state.loaded >= state.total) return;
  const gen = state.gen;
  let stale = false;
  state.loading = gen;
  try {
    if (state.view === "clusters") {
      const got = await api("/api/clusters", { offset: state.loaded, limit: 48,
        mixed: (document.querySelector("#filters select[data-col=dup_conflict]") || {}).value || "" });
      stale = gen !== state.gen;
      if (!stale) {
        state.total = got.total; state.loaded += got.clusters.length;
        for (const c of got.clusters) {
          const box = el("div", { class: "cluster" });
          box.append(el("div", {}, "cluster " + c.id + (c.mixed ? " · mixed labels" : "") + " · " + c.rows.length + " images"));
          const row = el("div", { class: "row" });
          for (const r of c.rows) { r.cluster = c.id; remember(r); row.append(makeCard(r)); }
          box.append(row); main.append(box);
        }
      }
    } else {
      const got = await api("/api/rows", params(state.loaded, 120));
      stale = gen !== state.gen;
      if (!stale) {
        state.total = got.total; state.loaded += got.rows.length;
        for (const r of got.rows) { remember(r); main.append(makeCard(r)); }
      }
    }
    if (!stale) $("count").textContent = state.total + (state.view === "clusters" ? " clusters" : " images");
  } finally { if (state.loading === gen) state.loading = null; }
  if (stale) return;
  if (state.loaded < state.total && $("more").getBoundingClientRect().top < window.innerHeight) setTimeout(loadMore, 0);
}

async function reload() {
  const scroll = window.scrollY;
  state.gen++;
  state.rows.clear(); state.order = []; state.total = Infinity; state.loaded = 0;
  main.replaceChildren();
  if (state.view === "changes") return showChanges();
  await loadMore();
  window.scrollTo(0, scroll);
}
async function showChanges() {
  const list = await api("/api/changes");
  const table = el("table", { class: "changes" });
  table.append(el("tr", {}, ""));
  table.firstChild.append(...["#", "time", "action", "value", "rows", "state"].map((h) => el("th", {}, h)));
  for (const d of list) {
    const tr = el("tr");
    const what = d.undone ? "undone" : d.saved ? "saved" : "pending";
    for (const v of [d.id, d.time, d.action + (d.undoes ? " #" + d.undoes : ""), d.value || "",
      d.rows.map((r) => r.sha256.slice(0, 10)).join(" "), what]) tr.append(el("td", {}, String(v)));
    table.append(tr);
  }
  main.replaceChildren(table);
  $("count").textContent = list.length + " decisions";
}

function select(sha, ev) {
  if (ev && ev.shiftKey && state.anchor) {
    const a = state.order.indexOf(state.anchor), b = state.order.indexOf(sha);
    for (const s of state.order.slice(Math.min(a, b), Math.max(a, b) + 1)) state.selected.add(s);
  } else if (ev && (ev.ctrlKey || ev.metaKey)) {
    if (state.selected.has(sha)) state.selected.delete(sha); else state.selected.add(sha);
  } else { state.selected.clear(); state.selected.add(sha); }
  state.anchor = sha;
  for (const c of main.querySelectorAll(".card")) c.classList.toggle("sel", state.selected.has(c.dataset.sha));
}
function advance() {
  if (state.selected.size !== 1) return;
  const i = state.order.indexOf([...state.selected][0]);
  if (i >= 0 && i + 1 < state.order.length) {
    select(state.order[i + 1]);
    const card = main.querySelector('.card[data-sha="' + state.order[i + 1] + '"]');
    if (card) card.scrollIntoView({ block: "nearest" });
  }
}
function apply(rows, key) {
  for (const change of rows) {
    const r = state.rows.get(change.sha256);
    if (!r) continue;
    Object.assign(r, change[key]);
    const card = main.querySelector('.card[data-sha="' + change.sha256 + '"]');
    if (card) caption(card, r);
  }
}
function noted(res) {
  if (res.decision) state.mine.add(res.revision);
  if (res.undone) state.mine.add(res.revision);
  status(res);
  settle(res.revision);
}
// Each decision, undo or re-read of the file adds one to the server's revision. Once no request of
// this tab is in flight, a revision this tab did not cause means another tab (or command) changed rows.
function settle(revision) {
  state.latest = Math.max(state.latest, revision);
  if (state.inflight > 0) return false;
  let others = false;
  for (let r = state.revision + 1; r <= state.latest; r++) if (state.revision !== -1 && !state.mine.has(r)) others = true;
  state.revision = state.latest;
  if (others) reload();
  return others;
}
async function decide(action, value) {
  const shas = [...state.selected];
  if (!shas.length) return;
  if (action !== "keeper") advance();  // the next key goes to the next card, before the server answers
  if (action === "accept" && state.view === "mistakes") {  // accept the model's prediction
    for (const s of shas) {
      const r = state.rows.get(s);
      if (!r || !r.prediction) continue;
      const res = await post("/api/decide", { action: "label", shas: [s], value: r.prediction });
      if (res.decision) apply(res.decision.rows, "set");
      noted(res);
    }
    return;
  }
  const res = await post("/api/decide", { action: action, shas: shas, value: value || null });
  if (res.decision) apply(res.decision.rows, "set");
  noted(res);
  if (action === "keeper" && res.decision) return reload();
}
async function undo() {
  const res = await post("/api/undo", {});
  if (res.undone) apply(res.undone.rows, res.undone.action === "undo" ? "set" : "was");
  noted(res);
}
function status(s) {
  state.pending = s.pending;
  $("saving").textContent = s.pending ? s.pending + " not saved yet" : "all saved";
  $("error").textContent = s.error || "";
  $("nchanges").textContent = s.decisions;
}
async function poll() {
  try {
    const s = await api("/api/state");
    const changed = state.version !== -1 && s.version !== state.version;
    state.version = s.version;
    status(s);
    if (changed) await loadFacets();
    if (!settle(s.revision) && changed) await reload();
  } catch (e) { $("error").textContent = "server not answering"; }
}

async function loadFacets() {
  const facets = await api("/api/facets");
  const box = $("filters");
  const kept = {};
  for (const s of box.querySelectorAll("select")) kept[s.dataset.col] = s.value;
  box.replaceChildren();
  for (const [col, values] of Object.entries(facets)) {
    const s = el("select", { "data-col": col, "aria-label": col });
    s.append(el("option", { value: "" }, col + ": any"));
    for (const [v, n] of values) s.append(el("option", { value: v }, col + (col === "off_topic" ? " < " : ": ") + v + " (" + n + ")"));
    s.value = kept[col] || "";
    s.addEventListener("change", reload);
    box.append(s);
  }
}

function keys(ev) {
  if (ev.target.tagName === "SELECT" || ev.target.tagName === "INPUT") return;
  if ((ev.ctrlKey || ev.metaKey) && ev.key === "z") { ev.preventDefault(); return undo(); }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (/^[1-9]$/.test(ev.key) && S.classes[Number(ev.key) - 1]) return decide("label", S.classes[Number(ev.key) - 1]);
  const acts = { a: "accept", x: "reject", Delete: "reject", r: "restore", k: "keeper" };
  if (acts[ev.key]) return decide(acts[ev.key]);
  if (ev.key === "u") return undo();
}

function init() {
  for (const c of S.classes) $("picker").append(el("option", { value: c }, c));
  $("setlabel").addEventListener("click", () => decide("label", $("picker").value));
  $("undo").addEventListener("click", undo);
  for (const b of document.querySelectorAll("[data-act]")) b.addEventListener("click", () => decide(b.dataset.act));
  if (S.mistakes) document.querySelector('[data-view="mistakes"]').hidden = false;
  for (const b of document.querySelectorAll("#views button")) {
    b.addEventListener("click", () => {
      state.view = b.dataset.view; state.selected.clear();
      for (const o of document.querySelectorAll("#views button")) o.classList.toggle("on", o === b);
      reload();
    });
  }
  $("sort").addEventListener("change", reload);
  document.addEventListener("keydown", keys);
  new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) loadMore(); })
    .observe($("more"));
  loadFacets().then(reload);
  poll();
  setInterval(poll, 1500);
}
init();
