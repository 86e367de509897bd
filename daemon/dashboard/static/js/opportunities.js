// The scanner's ranking as GET /v1/opportunities gives it (sorted by net APR), with "Open…".
import { h, cell, pct, num, signClass, replaceRows } from "./dom.js";
import { act } from "./api.js";
import { confirmAction } from "./dialog.js";

const tbody = document.querySelector("#opportunities tbody");
const EXECUTIONS = ["chase", "taker", "batches"];

export function venuesText(v) {
  return Object.entries(v || {}).map(([k, name]) => `${k} ${name}`).join(", ");
}

function openDialog(o) {
  confirmAction({
    heading: `Open ${o.type} ${o.symbol}`,
    message: `Both legs are sent together (${venuesText(o.venues)}). Net APR now ${pct(o.net_apr_pct)}, model ${o.model}.`,
    specs: [
      { name: "notional_usd", label: "size (USD notional)", type: "number", value: 1000, min: 1 },
      { name: "execution", label: "execution", type: "select", value: "chase", options: EXECUTIONS },
    ],
    confirmLabel: "Open pair",
    run: (v) => act("positions", { type: o.type, symbol: o.symbol, venues: o.venues,
                                   notional_usd: v.notional_usd, execution: v.execution }),
  });
}

export function renderOpportunities(opps, selectedKey, onSelect) {
  const rows = opps.map((o) => {
    const reasons = (o.reasons || []).join("; ");
    const tr = h("tr", { "data-key": o.key, class: o.key === selectedKey ? "selected" : "",
                         onclick: () => onSelect(o) },
      cell(o.type), cell(o.symbol), cell(venuesText(o.venues)),
      cell(pct(o.funding_apr_pct), signClass(o.funding_apr_pct)),
      cell(pct(o.borrow_apr_pct), "num"), cell(pct(o.fee_apr_pct), "num"),
      cell(pct(o.slippage_apr_pct), "num"),
      cell(pct(o.net_apr_pct), signClass(o.net_apr_pct)),
      cell(pct(o.hold_net_apr_pct), signClass(o.hold_net_apr_pct)),
      cell(num(o.basis_bps, 1), "num"), cell(o.model),
      h("td", { title: reasons }, o.ok ? "yes" : `no${reasons ? ": " + reasons.slice(0, 40) : ""}`),
      h("td", {}, h("button", { class: "open", onclick: (ev) => { ev.stopPropagation(); openDialog(o); } }, "Open…")));
    return tr;
  });
  replaceRows(tbody, rows);
}
