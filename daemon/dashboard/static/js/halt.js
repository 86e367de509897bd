// The halt state (GET /v1/status, watchdog.halt) and POST /v1/halt | /v1/resume with confirmation.
import { act } from "./api.js";
import { confirmAction } from "./dialog.js";

const badge = document.getElementById("halt-badge");
const mode = document.getElementById("halt-mode");

export function renderHalt(status) {
  const halt = ((status || {}).watchdog || {}).halt || {};
  const m = (status && status.halt) || "none";
  badge.textContent = `halt: ${m}` + (halt.reason && m !== "none" ? ` (${halt.reason})` : "");
  badge.className = `badge ${m}`;
}

export function initHalt() {
  document.getElementById("halt-btn").addEventListener("click", () => {
    const m = mode.value;
    confirmAction({
      heading: `Halt: ${m}`,
      message: { no_new: "No opens or increases until resumed.",
                 reduce_only: "Only reductions until resumed.",
                 flatten: "Unwinds EVERY pair at market." }[m],
      confirmLabel: "Halt",
      run: () => act("halt", { mode: m, reason: "dashboard", confirm: true }),
    });
  });
  document.getElementById("resume-btn").addEventListener("click", () => {
    confirmAction({ heading: "Resume", message: "Lifts the halt: new risk is allowed again.",
                    confirmLabel: "Resume", run: () => act("resume", {}) });
  });
}
