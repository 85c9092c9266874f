// Alerts: the open list, a badge, a sound for critical ones, acknowledge (GET /api/v1/alerts, `alert` updates).
// command.js calls init({map, state, select}), snapshot(snapshot), update(update).
import { RevFeed, api, el, may, nameOf, settings, t } from "./common.js";

const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };

const alerts = {
  open: new Map(), // id -> Alert (neither acknowledged nor cleared)
  loaded: false,
  beeps: 0, // critical alerts announced by sound (or that would have been, had audio been allowed)
  played: 0, // beeps the browser actually played
  audioArmed: false,
};

let ctx = null;
let nodes = null;
let loading = null;
let audio = null; // an AudioContext, created on the first click or key (browsers need a gesture)

// -- sound -----------------------------------------------------------------------------------------

function armAudio() {
  if (audio) return;
  try {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    audio = new Context();
    alerts.audioArmed = true;
    if (audio.state === "suspended") audio.resume().catch(() => {});
  } catch {
    audio = null; // no sound here: the badge still flashes
  }
}

/** Two short tones (no audio file); silent if the browser does not allow sound yet. */
function beep() {
  alerts.beeps += 1;
  if (!audio || audio.state !== "running") return;
  try {
    const start = audio.currentTime + 0.01;
    for (const [offset, pitch] of [
      [0, 880],
      [0.22, 660],
    ]) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = pitch;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.25, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.18);
      osc.connect(gain).connect(audio.destination);
      osc.start(start + offset);
      osc.stop(start + offset + 0.2);
    }
    alerts.played += 1;
  } catch {
    /* say nothing */
  }
}

// -- text ------------------------------------------------------------------------------------------

function squadName(alert) {
  const squad = alert.squad_id ? ctx.state.squads.get(alert.squad_id)?.data : null;
  return squad ? nameOf(squad) || squad.code : alert.params?.squad_code || "";
}

/** The server's message is Chinese: in English, the kind's text filled from the alert's params (their
 * ``*_en`` variants where the server gives them), else the kind with what the alert is about. */
export function messageOf(alert) {
  if (settings.lang !== "en") return alert.message;
  const params = { ...(alert.params || {}) };
  for (const [name, value] of Object.entries(params)) if (name.endsWith("_en") && value) params[name.slice(0, -3)] = value;
  if (alert.kind === "escalation_due") {
    params.what = t(params.kind === "referral" ? "alert.what.referral" : "alert.what.assistance");
    params.state = t(params.overdue ? "alert.state.overdue" : "alert.state.due_soon");
  }
  if (!params.region && alert.region) params.region = nameOf(alert.region);
  if (!params.township && alert.region) params.township = nameOf(alert.region);
  const text = t(`alert.text.${alert.kind}`, params);
  if (!text.startsWith("alert.text.") && !/\{\w+\}/.test(text)) return text;
  const about = [];
  if (alert.region) about.push(nameOf(alert.region));
  const squad = squadName(alert);
  if (squad) about.push(squad);
  if (alert.incident_id) about.push(t("alert.incident", { id: alert.incident_id }));
  const kind = t(`alert.kind.${alert.kind}`);
  const head = kind.startsWith("alert.kind.") ? alert.kind : kind;
  return about.length ? `${head}: ${about.join(" · ")}` : head;
}

function clock(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString(settings.lang === "en" ? "en-GB" : "zh-CN", { hour: "2-digit", minute: "2-digit" });
}

// -- the panel ---------------------------------------------------------------------------------------

function build(panel) {
  const badge = el("span", { class: "alert-badge", id: "alert-badge", dataset: { count: "0" } }, "0");
  const heading = el("h2", { id: "alerts-title" }, t("alert.title"), " ", badge);
  const list = el("ul", { class: "alerts", id: "alerts", "aria-labelledby": "alerts-title" });
  const empty = el("p", { class: "muted small alerts-empty", id: "alerts-empty" }, t("alert.none"));
  const status = el("p", { class: "message small", id: "alerts-message", role: "status" });
  const live = el("p", { class: "visually-hidden", id: "alerts-live", "aria-live": "assertive" });
  panel.replaceChildren(heading, list, empty, status, live);
  panel.setAttribute("role", "region");
  panel.setAttribute("aria-labelledby", "alerts-title");
  nodes = { panel, badge, list, empty, status, live };

  list.addEventListener("click", (event) => {
    const ack = event.target.closest("button[data-ack]");
    if (ack) {
      acknowledge(Number(ack.dataset.ack), ack);
      return;
    }
    const link = event.target.closest("button[data-incident-id]");
    if (link) ctx.select(Number(link.dataset.incidentId));
  });
}

function sorted() {
  return [...alerts.open.values()].sort(
    (a, b) => (SEVERITY_ORDER[a.severity] ?? 9) - (SEVERITY_ORDER[b.severity] ?? 9) || new Date(b.raised_at) - new Date(a.raised_at)
  );
}

function render() {
  if (!nodes) return;
  const items = sorted();
  const critical = items.filter((a) => a.severity === "critical").length;
  nodes.badge.textContent = String(items.length);
  nodes.badge.dataset.count = String(items.length);
  nodes.badge.dataset.critical = String(critical);
  nodes.badge.className = `alert-badge${critical ? " critical" : items.length ? " open" : ""}`;
  nodes.badge.setAttribute("aria-label", t("alert.count", { n: items.length }));
  nodes.empty.hidden = items.length > 0;
  nodes.list.replaceChildren(
    ...items.map((alert) =>
      el(
        "li",
        { class: `alert ${alert.severity}`, dataset: { alertId: alert.id, kind: alert.kind, severity: alert.severity } },
        el("span", { class: `severity ${alert.severity}` }, t(`alert.severity.${alert.severity}`)),
        " ",
        el("time", { datetime: alert.raised_at, class: "small" }, clock(alert.raised_at)),
        " ",
        el("span", { class: "alert-message" }, messageOf(alert)),
        el(
          "span",
          { class: "alert-actions" },
          alert.incident_id
            ? el("button", { type: "button", class: "link", dataset: { incidentId: alert.incident_id } }, t("alert.incident", { id: alert.incident_id }))
            : null,
          may("dispatch") ? el("button", { type: "button", class: "ack", dataset: { ack: alert.id } }, t("alert.ack")) : null
        )
      )
    )
  );
}

let renderPending = false;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    render();
  });
}

/** Keep ``alert`` in the open list (or drop it); a new critical one beeps and is announced. */
function upsert(alert, { announce }) {
  const isOpen = !alert.acknowledged_at && !alert.cleared_at;
  const known = alerts.open.has(alert.id);
  if (!isOpen) {
    alerts.open.delete(alert.id);
    return;
  }
  alerts.open.set(alert.id, alert);
  if (!known && announce && alert.severity === "critical") {
    beep();
    if (nodes) nodes.live.textContent = `${t("alert.severity.critical")}: ${messageOf(alert)}`;
  }
}

async function acknowledge(id, button) {
  button.disabled = true;
  nodes.status.textContent = "";
  nodes.status.className = "message small";
  try {
    const alert = await api("POST", `/alerts/${id}/ack`);
    upsert(alert, { announce: false });
    nodes.status.textContent = t("alert.acked");
    nodes.status.className = "message small ok";
  } catch (error) {
    button.disabled = false;
    nodes.status.textContent = t("alert.ack_failed", { message: error.message });
    nodes.status.className = "message small error";
    if (error.status === 404 || error.status === 409) load(); // gone or already acknowledged: the list was stale
  }
  render();
}

/** GET /alerts; updates arriving meanwhile are applied after it (they are newer). */
async function load() {
  if (loading) return loading;
  feed.hold();
  const first = !alerts.loaded;
  loading = api("GET", "/alerts")
    .then((answer) => {
      const before = new Set(alerts.open.keys());
      alerts.open.clear();
      // on a reload, critical alerts raised while the connection was down are new to this screen
      for (const alert of answer.alerts) upsert(alert, { announce: !first && !before.has(alert.id) });
      alerts.loaded = true;
      feed.release();
      render();
    })
    .catch((error) => {
      feed.discard();
      console.warn("alerts", error.message);
      if (nodes && !alerts.loaded) nodes.empty.textContent = t("alert.unavailable");
    })
    .finally(() => {
      loading = null;
    });
  return loading;
}

const feed = new RevFeed((u) => {
  if (u.data) upsert(u.data, { announce: true });
  scheduleRender();
});

function applyUpdate(u) {
  feed.push(u);
}

// -- the panel's interface ---------------------------------------------------------------------------

export function init(context) {
  ctx = context;
  const panel = document.getElementById("alerts-panel");
  if (panel) build(panel);
  ctx.state.alerts = alerts; // for the browser tests
  for (const type of ["pointerdown", "keydown"]) document.addEventListener(type, armAudio, { capture: true, passive: true });
  load();
}

let snapshots = 0;
export function snapshot() {
  snapshots += 1;
  if (snapshots > 1) load(); // caught up after a lost connection
}

export function update(u) {
  if (u.type === "alert") applyUpdate(u);
}
