// Tiny DOM and number helpers. Text always goes in as textContent: nothing from the API is HTML.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "style") Object.assign(el.style, v);   // CSSOM: the CSP allows no style attributes
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const DASH = "-";
const isNum = (x) => typeof x === "number" && Number.isFinite(x);

export function num(x, digits = 2) {
  if (!isNum(x)) return DASH;
  const s = x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return s === "-0" || /^-0\.0*$/.test(s) ? s.slice(1) : s;
}

export const pct = (x, digits = 2) => (isNum(x) ? num(x, digits) + "%" : DASH);
export const coins = (x) => (isNum(x) ? num(x, Math.abs(x) >= 1 ? 4 : 6) : DASH);

export function signClass(x) {
  return !isNum(x) || x === 0 ? "num" : x > 0 ? "num pos" : "num neg";
}

export function cell(text, cls = "") {
  return h("td", { class: cls }, text);
}

export function replaceRows(tbody, rows) {
  tbody.replaceChildren(...rows);
}
