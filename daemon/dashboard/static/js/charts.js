// Three uPlot charts (vendored, static/vendor/uplot): the selected perp's settled funding with the
// OU fit's mean and stationary band (GET /v1/funding) and the predicted rate as the snapshots
// bring it; the selected opportunity's basis; the account equity (the feed's short history,
// then each live snapshot).
import { read } from "./api.js";

const { uPlot } = window;
const AXIS = { stroke: "#7d8896", grid: { stroke: "#26303b" }, ticks: { stroke: "#26303b" } };
const charts = {};

function make(id, series, extra = {}) {
  const el = document.getElementById(id);
  const opts = {
    width: Math.max(360, el.clientWidth || 420), height: 200,
    scales: { x: { time: true } }, axes: [AXIS, { ...AXIS, size: 80 }],
    series: [{}, ...series], legend: { live: false }, ...extra,
  };
  const data = [[], ...series.map(() => [])];
  charts[id] = new uPlot(opts, data, el);
  return charts[id];
}

export function initCharts() {
  make("chart-funding", [
    { label: "settled bps", stroke: "#58a6ff", width: 1.5, points: { show: true, size: 5 }, spanGaps: true },
    { label: "predicted bps", stroke: "#8b949e", width: 1, spanGaps: true },
    { label: "mean + sd", stroke: "#d2992288", dash: [4, 4] },
    { label: "mean - sd", stroke: "#d2992288", dash: [4, 4] },
    { label: "OU mean", stroke: "#d29922" },
  ], { bands: [{ series: [3, 4], fill: "rgba(210,153,34,0.12)" }] });
  make("chart-basis", [{ label: "basis bps", stroke: "#3fb950", width: 1.5 }]);
  make("chart-equity", [{ label: "equity USDT", stroke: "#a371f7", width: 1.5 }]);
  window.addEventListener("resize", () => {
    for (const [id, c] of Object.entries(charts)) {
      c.setSize({ width: Math.max(360, document.getElementById(id).clientWidth), height: 200 });
    }
  });
}

function columns(points) {
  return [points.map((p) => p[0] / 1000), points.map((p) => p[1])];
}

export function setSeries(id, points) {
  charts[id].setData(columns(points));
}

// the perp whose funding the trade earns: the perp leg, or the short leg of a long/short
export function fundingLeg(o) {
  const v = o.venues || {};
  return { venue: v.perp || v.short, symbol: o.symbol };
}

const funding = { settled: [], fit: null };

// settled (GET /v1/funding) and predicted (the snapshots) on one time axis; the band spans both
export function drawFunding(predicted) {
  const rows = funding.settled.map((p) => [p[0], p[1], null]).concat(predicted.map((p) => [p[0], null, p[1]]));
  rows.sort((a, b) => a[0] - b[0]);
  const fit = funding.fit;
  const flat = (v) => rows.map(() => (fit ? v * 1e4 : null));
  const bps = (v) => (v === null ? null : v * 1e4);
  charts["chart-funding"].setData([
    rows.map((r) => r[0] / 1000), rows.map((r) => bps(r[1])), rows.map((r) => bps(r[2])),
    flat(fit ? fit.mu + fit.sigma_f : 0), flat(fit ? fit.mu - fit.sigma_f : 0), flat(fit ? fit.mu : 0)]);
}

export async function loadFunding(o, predicted) {
  const note = document.getElementById("funding-note");
  const { venue, symbol } = fundingLeg(o);
  const r = await read(`funding?venue=${encodeURIComponent(venue)}&symbol=${encodeURIComponent(symbol)}`);
  funding.settled = r.ok ? r.body.points || [] : [];
  funding.fit = r.ok ? r.body.fit : null;
  drawFunding(predicted);
  if (!r.ok) {
    note.textContent = (r.body && r.body.error) || `HTTP ${r.status}`;
    return;
  }
  const fit = funding.fit;
  note.textContent = `${venue} ${symbol}: ${funding.settled.length} settlements; ` + (fit
    ? `OU mu ${(fit.mu * 1e4).toFixed(2)} bps, sd ${(fit.sigma_f * 1e4).toFixed(2)} bps, half-life ${fit.half_life_hours.toFixed(1)} h (n=${fit.n})`
    : `no OU fit (${r.body.fit_error || "not enough history"}): priced on APR alone`);
}
