// @ts-check
// The read-only operations page: it only ever sends GET requests (mission control, the
// status summary, the deploy report, the live event stream) with the token given in the
// page's address (`/ui#token=ro1.…`); nothing on it changes state.

/**
 * @typedef {"OK" | "MARKET_CLOSED" | "HALTED" | "OFFLINE"} ServiceState
 * @typedef {{ service: string, owner: string | null, market_hours: boolean,
 *   state: ServiceState | null, reason_codes: string[], is_fresh: boolean | null,
 *   since: string | null, last_seen: string | null, last_observed: ServiceState | null }} WatchedService
 * @typedef {{ state: "OK", as_of: string, services: WatchedService[] }} MissionControl
 * @typedef {{ lockdown: boolean, production_locked: boolean, kill_switch: boolean,
 *   safe_to_execute: boolean }} Posture
 * @typedef {{ head_seq: number, head_hash: string, plane: Posture }} Status
 * @typedef {{ status: { state: "OK" | "MARKET_CLOSED" | "HALTED", reason_codes: string[] } }} OpsStatus
 */

const token = new URLSearchParams(location.hash.slice(1)).get("token") ?? "";
/** @type {HeadersInit} */
const auth = { Authorization: `Bearer ${token}` };

/** @param {string} id */
function el(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`no #${id}`);
  return found;
}

/** @param {string} text */
function problem(text) {
  el("problem").textContent = text;
}

/** @param {string} path */
async function getJson(path) {
  const reply = await fetch(path, { method: "GET", headers: auth });
  if (!reply.ok) throw new Error(`${path}: ${reply.status}`);
  return reply.json();
}

/** @param {MissionControl} mc */
function renderServices(mc) {
  const body = el("services").querySelector("tbody");
  if (!body) return;
  const rows = mc.services.map((s) => {
    const tr = document.createElement("tr");
    tr.dataset.service = s.service;
    const state = s.state ?? "UNKNOWN";
    const cells = [
      s.service + (s.owner ? ` (${s.owner})` : ""),
      state,
      s.reason_codes.join(", "),
      s.is_fresh === null ? "—" : s.is_fresh ? "fresh" : "stale",
      s.since ?? "—",
      s.last_seen ?? "—",
    ];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      td.textContent = text;
      if (i === 1) td.className = `state state-${state}`;
      tr.appendChild(td);
    });
    return tr;
  });
  body.replaceChildren(...rows);
}

/**
 * @param {Status} status
 * @param {OpsStatus} ops the status contract: its reasons name readiness NO-GOs, faults and gates
 */
function renderStatus(status, ops) {
  el("head-seq").textContent = String(status.head_seq);
  el("head-hash").textContent = status.head_hash;
  const p = status.plane;
  const words = [
    p.lockdown ? "LOCKDOWN RAISED" : "no lockdown",
    p.production_locked ? "production locked" : "production unlocked",
    p.kill_switch ? "kill switch engaged" : "kill switch released",
    p.safe_to_execute ? "execution open" : "execution closed",
  ];
  const reasons = ops.status.reason_codes;
  const banner = el("posture");
  banner.textContent =
    `status: ${ops.status.state}${reasons.length ? ` (${reasons.join(", ")})` : ""} · posture: ${words.join(" · ")}`;
  const halted = p.lockdown || ops.status.state === "HALTED";
  banner.className = `banner ${halted ? "halted" : p.safe_to_execute ? "open" : "closed"}`;
}

async function refresh() {
  try {
    renderServices(await getJson("/v1/mission-control"));
    renderStatus(await getJson("/v1/status"), await getJson("/ops/status"));
    const deploy = await getJson("/v1/queries/DEPLOY_REPORT");
    el("deploy").textContent = JSON.stringify(deploy.result ?? deploy, null, 2);
    problem("");
  } catch (e) {
    problem(`cannot read the host: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Live events: the SSE stream read with fetch (EventSource cannot send the token). */
async function follow() {
  const list = el("events");
  for (;;) {
    try {
      const reply = await fetch("/v1/events", { method: "GET", headers: auth });
      const reader = reply.body?.getReader();
      if (!reader) throw new Error("no stream");
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split("\n").find((l) => l.startsWith("data:"));
          if (!data) continue;
          const record = JSON.parse(data.slice(5));
          const li = document.createElement("li");
          li.textContent = `#${record.seq} ${record.event?.event?.type ?? "?"} by ${record.actor?.id ?? "?"}`;
          list.prepend(li);
          while (list.children.length > 50) list.lastElementChild?.remove();
        }
      }
    } catch (e) {
      problem(`live events: ${e instanceof Error ? e.message : String(e)}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

refresh();
setInterval(refresh, 1000);
follow();
