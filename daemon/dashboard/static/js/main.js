// The page: one EventSource (/events) drives every view; nothing reloads.
import { h } from "./dom.js";
import { renderOpportunities } from "./opportunities.js";
import { renderPositions, renderPnl } from "./positions.js";
import { drawFunding, initCharts, loadFunding, setSeries } from "./charts.js";
import { initHalt, renderHalt } from "./halt.js";

const state = { selected: null, basis: {}, funding: {}, equity: [], fundingLoaded: 0 };
const live = document.getElementById("live");
const banner = document.getElementById("banner");
const HISTORY = 720;

function push(list, point) {
  list.push(point);
  if (list.length > HISTORY) list.splice(0, list.length - HISTORY);
}

function select(o) {
  state.selected = o;
  document.getElementById("chart-subject").textContent = `${o.type} ${o.symbol}`;
  setSeries("chart-basis", state.basis[o.key] || []);
  state.fundingLoaded = Date.now();
  loadFunding(o, state.funding[o.key] || []);
  for (const tr of document.querySelectorAll("#opportunities tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.key === o.key);
  }
}

function renderSteps(status) {
  const steps = (((status || {}).watchdog || {}).steps || []).slice(-12).reverse();
  document.getElementById("risk-steps").replaceChildren(...steps.map((s) =>
    h("li", {}, `${new Date(s.ts_ms).toISOString().slice(11, 19)}  ${s.pair_id || ""}  ${s.step}  ${s.detail || ""}`)));
}

function onSnapshot(snap) {
  const status = snap.status;
  const errors = Object.entries(snap.errors || {});
  banner.hidden = errors.length === 0;
  banner.textContent = errors.map(([k, v]) => `${k}: ${v}`).join(" · ");
  if (status) document.getElementById("version").textContent = `v${status.version} · pid ${status.pid}`;
  renderHalt(status);
  const opps = snap.opportunities || [];
  for (const o of opps) {
    if (typeof o.basis_bps === "number") push(state.basis[o.key] ||= [], [snap.ts_ms, o.basis_bps]);
    if (typeof o.funding_rate === "number") push(state.funding[o.key] ||= [], [snap.ts_ms, o.funding_rate]);
  }
  const eq = status?.watchdog?.equity_usdt;
  if (typeof eq === "number") push(state.equity, [snap.ts_ms, eq]);
  if (state.selected) state.selected = opps.find((o) => o.key === state.selected.key) || state.selected;
  renderOpportunities(opps, state.selected?.key, select);
  renderPositions(snap.positions || [], status);
  renderPnl(snap.positions || [], snap.totals);
  renderSteps(status);
  if (!state.selected && opps.length) select(opps[0]);
  else if (state.selected) {
    setSeries("chart-basis", state.basis[state.selected.key] || []);
    if (Date.now() - state.fundingLoaded > 30000) select(state.selected);
    else drawFunding(state.funding[state.selected.key] || []);
  }
  setSeries("chart-equity", state.equity);
  live.textContent = `live ${new Date(snap.ts_ms).toISOString().slice(11, 19)} UTC`;
  live.className = "badge ok";
  document.body.dataset.snapshots = String(Number(document.body.dataset.snapshots || 0) + 1);
}

function connect() {
  const es = new EventSource("/events");
  es.addEventListener("history", (ev) => {
    const hist = JSON.parse(ev.data);
    state.equity = hist.equity || [];
    state.basis = hist.basis || {};
    state.funding = hist.funding || {};
  });
  es.addEventListener("snapshot", (ev) => onSnapshot(JSON.parse(ev.data)));
  es.onerror = () => { live.textContent = "reconnecting"; live.className = "badge off"; };
}

initCharts();
initHalt();
connect();
