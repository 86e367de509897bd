// The dashboard's requests: reads and actions go to /api/v1/..., which the server forwards to
// the daemon's admin API unchanged. Actions carry the page's CSRF token (and the browser's Origin).
const CSRF = document.querySelector('meta[name="basisd-csrf"]').content;

async function answer(resp) {
  let body = null;
  try { body = await resp.json(); } catch { body = null; }
  return { status: resp.status, ok: resp.ok, body };
}

export async function read(path) {
  return answer(await fetch(`/api/v1/${path}`, { headers: { Accept: "application/json" } }));
}

export async function act(path, body) {
  return answer(await fetch(`/api/v1/${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Basisd-CSRF": CSRF },
    body: JSON.stringify(body ?? {}),
  }));
}

export function describe(result) {
  const b = result.body || {};
  if (result.ok) return b.id ? `${b.operation || "open"} ${b.id}: ${b.state}` : "done";
  return `${result.status}: ${b.error || "request failed"}${b.field ? ` (field ${b.field})` : ""}`;
}
