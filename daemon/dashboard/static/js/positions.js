// Pairs as GET /v1/positions gives them: each leg's size and price, the watchdog's liquidation
// distance (a gauge) and ladder level (GET /v1/status, watchdog.pairs), residual, PnL, actions.
import { h, cell, num, coins, pct, signClass, replaceRows, DASH } from "./dom.js";
import { act } from "./api.js";
import { confirmAction } from "./dialog.js";

const tbody = document.querySelector("#positions tbody");
const pnlBody = document.querySelector("#pnl tbody");
const pnlFoot = document.querySelector("#pnl tfoot");
const none = document.getElementById("no-positions");
const DONE = new Set(["closed", "detached"]);
const EXECUTIONS = ["chase", "taker", "batches"];

// the view's figure (percent of price); JSON has no infinity, the watchdog's status says "inf"
function distanceOf(leg, riskLeg) {
  if (typeof leg.liq_distance_pct === "number") return leg.liq_distance_pct;
  if (riskLeg?.distance === "inf") return Infinity;
  return typeof riskLeg?.distance === "number" ? riskLeg.distance * 100 : null;
}

function gauge(distancePct, level) {
  if (distancePct === Infinity) {
    return h("span", { title: "no liquidation price: the leg cannot be liquidated" },
      h("span", { class: "gauge" }, h("span", { style: { width: "100%" } })), "∞");
  }
  if (typeof distancePct !== "number") return h("span", { class: "muted" }, DASH);
  const width = Math.max(0, Math.min(100, distancePct));
  const cls = level === "ok" || !level ? "gauge" : level === "warn" || level === "collateral" ? "gauge warn" : "gauge bad";
  return h("span", {}, h("span", { class: cls, title: `${num(distancePct)}% to liquidation` },
    h("span", { style: { width: `${width}%` } })), pct(distancePct, 1));
}

function riskLegs(status, pid) {
  return (((status || {}).watchdog || {}).pairs || {})[pid]?.legs || [];
}

function riskLegOf(risk, leg) {
  const want = leg.market === "spot_margin" ? "margin" : "perp";
  return risk.find((r) => r.leg === want && r.venue === leg.venue);
}

const OPS = {
  increase: (p) => ({
    heading: `Increase ${p.id}`, message: `Adds to both legs of ${p.type} ${p.symbol}.`,
    specs: [{ name: "notional_usd", label: "add (USD notional)", type: "number", value: 500, min: 1 },
            { name: "execution", label: "execution", type: "select", value: p.execution || "chase", options: EXECUTIONS }],
    body: (v) => ({ notional_usd: v.notional_usd, execution: v.execution }),
  }),
  decrease: (p) => ({
    heading: `Decrease ${p.id}`, message: `Reduces both legs of ${p.type} ${p.symbol} in proportion.`,
    specs: [{ name: "fraction", label: "fraction (0-1]", type: "number", value: 0.25, min: 0.001, max: 1, step: 0.001 },
            { name: "execution", label: "execution", type: "select", value: p.execution || "chase", options: EXECUTIONS }],
    body: (v) => ({ fraction: v.fraction, execution: v.execution, confirm: true }),
  }),
  close: (p) => ({
    heading: `Close ${p.id}`, message: `Unwinds both legs of ${p.type} ${p.symbol} (${num(p.notional_usd)} USD).`,
    specs: [{ name: "execution", label: "execution", type: "select", value: p.execution || "chase", options: EXECUTIONS }],
    body: (v) => ({ execution: v.execution, confirm: true }),
  }),
  liquidate: (p) => ({
    heading: `Liquidate ${p.id}`, message: `Unwinds both legs of ${p.type} ${p.symbol} at market now.`,
    specs: [], body: () => ({ confirm: true }),
  }),
};

function operate(op, p) {
  const spec = OPS[op](p);
  confirmAction({ heading: spec.heading, message: spec.message, specs: spec.specs,
                  confirmLabel: op[0].toUpperCase() + op.slice(1),
                  run: (v) => act(`positions/${encodeURIComponent(p.id)}/${op}`, spec.body(v)) });
}

function legLines(p, fn) {
  return h("td", { class: "legs" }, (p.legs || []).map((leg) => h("div", {}, fn(leg))));
}

export function renderPositions(positions, status) {
  none.hidden = positions.length > 0;
  replaceRows(tbody, positions.map((p) => {
    const risk = riskLegs(status, p.id);
    const live = !DONE.has(p.state);
    return h("tr", { "data-pid": p.id, "data-state": p.state },
      cell(p.id), cell(p.type), cell(p.symbol),
      cell(p.state + (p.operation?.running ? ` (${p.operation.kind}…)` : "")),
      cell(num(p.notional_usd), "num"),
      legLines(p, (l) => `${l.venue} ${l.market} ${l.side}  ${coins(l.qty)} @ ${num(l.avg_price)}`),
      legLines(p, (l) => gauge(distanceOf(l, riskLegOf(risk, l)), riskLegOf(risk, l)?.level)),
      legLines(p, (l) => {
        const level = riskLegOf(risk, l)?.level;
        return h("span", { class: level ? `level-${level}` : "muted" }, level || DASH);
      }),
      h("td", { class: "num", title: `tolerance ${coins(p.residual_tolerance)}` },
        `${coins(p.residual_base)} ${p.hedged ? "hedged" : "OUT OF BUDGET"}`),
      h("td", {}, live ? Object.keys(OPS).map((op) =>
        h("button", { "data-op": op, class: op === "increase" ? "" : "danger",
                      onclick: () => operate(op, p) }, op[0].toUpperCase() + op.slice(1) + "…")) : ""));
  }));
}

function pnlCells(c, apr) {
  return [c.funding, c.interest, c.fees, c.basis, c.net]
    .map((x) => cell(num(x), signClass(x))).concat([cell(apr === undefined ? "" : pct(apr === null ? null : apr * 100), "num")]);
}

export function renderPnl(positions, totals) {
  replaceRows(pnlBody, positions.map((p) =>
    h("tr", { "data-pid": p.id }, cell(p.id), cell(p.symbol),
      pnlCells(p.contributions || {}, p.pnl?.realised_net_apr ?? null))));
  pnlFoot.replaceChildren(h("tr", {}, cell("TOTAL"), cell(`${num(totals?.notional_usd)} USD live`),
    pnlCells(totals || {}, undefined)));
}
