// One confirmation dialog for every action: a title, what will happen, optional fields, and the
// admin API's answer (an error stays in the dialog; success closes it and shows a toast).
import { h } from "./dom.js";
import { describe } from "./api.js";

const dlg = document.getElementById("confirm-dialog");
const title = document.getElementById("dlg-title");
const text = document.getElementById("dlg-text");
const fields = document.getElementById("dlg-fields");
const error = document.getElementById("dlg-error");
const ok = document.getElementById("dlg-ok");
const toastEl = document.getElementById("toast");
let pending = null;

export function toast(message, bad = false) {
  toastEl.textContent = message;
  toastEl.className = bad ? "toast bad" : "toast";
  toastEl.hidden = false;
  clearTimeout(toastEl._timer);
  toastEl._timer = setTimeout(() => { toastEl.hidden = true; }, 6000);
}

// field specs: {name, label, type: "number"|"select", value, options, min, max, step}
function fieldEl(f) {
  const id = `dlg-${f.name}`;
  const input = f.type === "select"
    ? h("select", { id, name: f.name }, f.options.map((o) => h("option", { value: o, selected: o === f.value }, o)))
    : h("input", { id, name: f.name, type: "number", value: f.value, min: f.min, max: f.max,
                   step: f.step ?? "any", required: true });
  return h("label", {}, f.label, input);
}

function values(specs) {
  const out = {};
  for (const f of specs) {
    const v = document.getElementById(`dlg-${f.name}`).value;
    out[f.name] = f.type === "select" ? v : Number(v);
  }
  return out;
}

// run(values) -> Promise<{ok, status, body}> (an api.act result)
export function confirmAction({ heading, message, specs = [], confirmLabel = "Confirm", run }) {
  title.textContent = heading;
  text.textContent = message;
  fields.replaceChildren(...specs.map(fieldEl));
  error.hidden = true;
  ok.textContent = confirmLabel;
  ok.disabled = false;
  pending = { specs, run };
  dlg.showModal();
}

ok.addEventListener("click", async (ev) => {
  ev.preventDefault();
  if (!pending) return;
  const form = document.getElementById("confirm-form");
  if (!form.reportValidity()) return;
  ok.disabled = true;
  try {
    const result = await pending.run(values(pending.specs));
    if (result.ok) {
      dlg.close("ok");
      pending = null;
      toast(describe(result));
    } else {
      error.textContent = describe(result);
      error.hidden = false;
    }
  } catch (e) {
    error.textContent = `request failed: ${e}`;
    error.hidden = false;
  } finally {
    ok.disabled = false;
  }
});

dlg.addEventListener("close", () => { pending = null; });
