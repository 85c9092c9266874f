// A squad's tablet: token sign-in, its open tasks, lifecycle buttons, and an offline queue.
//
// Every action and position fix goes into a queue kept in localStorage and is sent in order;
// when the network is away the queue waits, and the screen shows how much is waiting.
// Field time: an action carries the moment it was tapped (occurred_at, ISO with offset) and a
// client action_id (a UUID): a retry sends the same id, and the server answers its first answer.
// Offline start: /tablet-sw.js keeps the shell; the answers the tablet reads with its token
// (its tasks, regions, zones, matters) are kept in the "dispatch-tablet-data" cache (200s only).
// Evidence (photos, videos, documents) waits in IndexedDB and uploads in chunks after the steps
// and positions (evidence-queue.js).
import { ApiError, api, banner, el, nameOf, settings, t, useToken } from "./common.js";
import { EvidenceQueue, Refused, forgetAll as forgetEvidence } from "./evidence-queue.js";

const KEY = "dispatch.tablet.";
const store = {
  get(name, fallback = null) {
    const raw = localStorage.getItem(KEY + name);
    return raw === null ? fallback : JSON.parse(raw);
  },
  set(name, value) {
    localStorage.setItem(KEY + name, JSON.stringify(value));
  },
  remove(name) {
    localStorage.removeItem(KEY + name);
  },
  clear(keep = []) {
    for (const name of Object.keys(localStorage)) {
      if (name.startsWith(KEY) && !keep.includes(name.slice(KEY.length))) localStorage.removeItem(name);
    }
  },
};

const params = new URLSearchParams(location.search);
const FIX_INTERVAL_MS = Number(params.get("interval") || 5000);
const REFERENCE_EVERY_MS = 15 * 60 * 1000; // regions, zones, matters: at sign-in, then after a sync at most this often
const DATA_CACHE = "dispatch-tablet-data";
const TERMINAL = new Set(["completed", "declined", "cancelled"]);
const NEXT = {
  scheduled: ["acknowledged", "en_route", "declined"],
  dispatched: ["acknowledged", "declined"],
  acknowledged: ["en_route", "declined"],
  en_route: ["on_scene"],
  on_scene: ["completed"],
};

const tablet = { token: null, squad: null, socket: null, flushing: false, position: null, errors: [], tasks: [], routes: new Map() };
window.squadTablet = tablet; // for the browser tests (tablet.addFix: a fix as the GPS would give it)

const $ = (id) => document.getElementById(id);

// -- field time -----------------------------------------------------------------------------------

/** ``date`` as RFC 3339 with the device's offset: 2026-12-07T11:19:53.120+08:00. */
export function fieldTime(date = new Date()) {
  const pad = (n, w = 2) => String(Math.trunc(Math.abs(n))).padStart(w, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}` +
    `${sign}${pad(offset / 60)}:${pad(offset % 60)}`
  );
}

function newActionId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const clock = (iso) =>
  new Date(iso).toLocaleTimeString(settings.lang === "en" ? "en-GB" : "zh-CN", { hour: "2-digit", minute: "2-digit", second: "2-digit" });

// -- answers kept for an offline start ------------------------------------------------------------

/** GET ``path`` with the token; a 200 is kept for offline, a network failure answers the kept copy.
 * A 401 (or any refusal) is thrown, never kept. */
let keptFresh = false; // whether the last kept() answer came from the server

const KEPT = /^\/(regions|zones|matters|tablet\/tasks|tasks\/\d+\/route)$/; // nothing else is ever kept

async function kept(path) {
  if (!KEPT.test(path)) throw new Error(`not kept: ${path}`);
  const url = `/api/v1${path}`;
  try {
    const data = await api("GET", path);
    keptFresh = true;
    if (window.caches) {
      const cache = await caches.open(DATA_CACHE);
      await cache.put(url, new Response(JSON.stringify(data), { headers: { "Content-Type": "application/json" } }));
    }
    return data;
  } catch (error) {
    if (error instanceof ApiError || !window.caches) throw error;
    const copy = await (await caches.open(DATA_CACHE)).match(url);
    if (!copy) throw error;
    keptFresh = false;
    return copy.json();
  }
}

async function forgetKept() {
  if (window.caches) await caches.delete(DATA_CACHE);
}

// -- the queue ------------------------------------------------------------------------------------

function queue() {
  return store.get("queue", []);
}

function saveQueue(items) {
  store.set("queue", items);
  renderQueue();
}

function enqueue(item) {
  const items = queue();
  items.push(item);
  saveQueue(items);
  flush();
}

function renderQueue() {
  const items = queue();
  const files = waitingEvidence();
  const count = items.length + files.length;
  $("pending").textContent = String(count);
  $("pending").dataset.count = String(count);
  $("queue").replaceChildren(
    ...items.slice(0, 20).map((item) => {
      if (item.kind === "transition")
        return el("li", { dataset: { actionId: item.action_id } }, `${clock(item.occurred_at)} #${item.task_id} → ${t(`task.state.${item.to}`)}`, item.note ? ` · ${item.note}` : "");
      if (item.kind === "status") return el("li", { dataset: { actionId: item.action_id } }, `${clock(item.occurred_at)} ${t("tablet.status")} → ${statusText(item.status, item.reason)}`);
      return el("li", {}, `${clock(item.fix.time)} ${t("tablet.gps")}`);
    }),
    ...files.map((item) =>
      el("li", { class: "evidence-queued", dataset: { actionId: item.action_id } }, `${clock(item.occurred_at)} #${item.task_id} ${evidenceKind(item.media_type)} ${item.name} · ${evidenceState(item)}`)
    )
  );
}

function online(isOnline) {
  const net = $("net");
  net.textContent = isOnline ? t("tablet.online") : t("tablet.offline");
  net.className = `net ${isOnline ? "on" : "off"}`;
}

// -- refusals: shown in the user's language, the note kept ----------------------------------------

function refusals() {
  return store.get("refused", []);
}

function renderRefused() {
  const items = refusals();
  $("refused-box").hidden = items.length === 0;
  $("refused").replaceChildren(
    ...items.map((item, index) =>
      el(
        "li",
        { class: "refused-item", dataset: { actionId: item.action_id, taskId: item.task_id } },
        el("p", { class: "refused-why" }, item.text),
        item.note ? el("p", { class: "refused-note" }, `${t("tablet.note_kept")}: `, el("q", {}, item.note)) : null,
        el("div", { class: "refused-actions" },
          item.note ? el("button", { type: "button", class: "copy-note", onclick: () => reuseNote(item) }, t("tablet.note_reuse")) : null,
          el("button", { type: "button", class: "dismiss", onclick: () => dismissRefused(index) }, t("tablet.dismiss"))
        )
      )
    )
  );
}

function reuseNote(item) {
  $("note").value = [$("note").value.trim(), item.note].filter(Boolean).join("\n");
  $("note").focus();
}

function dismissRefused(index) {
  const items = refusals();
  items.splice(index, 1);
  store.set("refused", items);
  renderRefused();
}

/** Why the server refused ``item`` for good, in the page's language. */
async function refusalText(item, error) {
  const step = t(`task.state.${item.to}`);
  const code = error.body?.error?.code;
  const field = error.body?.error?.field;
  if (error.status === 409) {
    let state = null;
    try {
      state = (await api("GET", `/tasks/${item.task_id}`)).state;
    } catch {
      /* the state comes with the next sync */
    }
    if (state === "cancelled") return t("tablet.refused_cancelled", { step, id: item.task_id });
    if (state) return t("tablet.refused_state", { step, id: item.task_id, state: t(`task.state.${state}`) });
    return t("tablet.refused_conflict", { step, id: item.task_id });
  }
  if (error.status === 403) return t("tablet.refused_forbidden", { step, id: item.task_id });
  if (error.status === 404) return t("tablet.refused_gone", { step, id: item.task_id });
  if (field === "occurred_at") return t("tablet.refused_time", { step, id: item.task_id, time: clock(item.occurred_at) });
  return t("tablet.refused_other", { step, id: item.task_id, code: code || error.status });
}

async function refuse(item, error) {
  tablet.errors.push({ item, error: error.body });
  const text = item.kind === "status" ? statusRefusal(item, error) : await refusalText(item, error);
  const items = refusals();
  items.unshift({ action_id: item.action_id, task_id: item.task_id, to: item.to, note: item.note || null, text, at: fieldTime() });
  store.set("refused", items.slice(0, 20));
  renderRefused();
  message(text, "error");
}

// -- sending --------------------------------------------------------------------------------------

const isRefusal = (error) =>
  error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429;

/** Send what waits, oldest first; stop at the first network failure and try again later (the same
 * action_id: the server answers a repeat with its first answer). */
async function flush() {
  if (tablet.flushing || !tablet.squad || !tablet.token) return;
  tablet.flushing = true;
  let sent = 0;
  let refused = 0;
  try {
    for (;;) {
      const items = queue();
      if (!items.length) break;
      const head = items[0];
      let taken = 1;
      try {
        if (head.kind === "transition") {
          // sent_at: the device's clock now, so the server can judge it (a retry keeps action_id and occurred_at)
          const body = { to: head.to, action_id: head.action_id, occurred_at: head.occurred_at, sent_at: fieldTime() };
          if (head.reason) body.reason = head.reason;
          if (head.note) body.note = head.note;
          if (head.location) body.location = head.location;
          const task = await api("POST", `/tasks/${head.task_id}/transition`, body);
          mergeTask(task);
        } else if (head.kind === "status") {
          const body = { status: head.status };
          if (head.reason) body.reason = head.reason;
          const answer = await api("PUT", `/squads/${tablet.squad.id}/status`, body);
          signedInAs({ ...tablet.squad, status: answer.status, status_reason: answer.status_reason });
        } else {
          const fixes = [];
          while (fixes.length < items.length && items[fixes.length].kind === "fix" && fixes.length < 500) {
            fixes.push(items[fixes.length].fix);
          }
          taken = fixes.length;
          await api("POST", `/squads/${tablet.squad.id}/positions`, { fixes });
        }
        sent += taken;
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          authFailed(error);
          return;
        }
        if (isRefusal(error)) {
          // The server refused it for good (the dispatcher cancelled meanwhile, say): say so, keep the note.
          refused += 1;
          if (head.kind === "transition" || head.kind === "status") await refuse(head, error);
          else tablet.errors.push({ item: head, error: error.body });
        } else {
          online(false);
          break; // network or server away: keep the queue, retry later
        }
      }
      online(true);
      // Items are only ever appended while we send: drop exactly what was sent.
      saveQueue(queue().slice(taken));
    }
  } finally {
    tablet.flushing = false;
  }
  if (sent) sync();
  else if (refused) render();
  if (!queue().length && tablet.token) pumpEvidence();
}

setInterval(flush, 3000);
window.addEventListener("online", () => {
  online(true);
  flush();
  sync();
});
window.addEventListener("offline", () => online(false));

// -- tasks: the server's, with the steps still queued applied on top ------------------------------

function effective(task) {
  let state = task.state;
  for (const item of queue()) if (item.kind === "transition" && item.task_id === task.id) state = item.to;
  return { ...task, state };
}

function openTasks() {
  return tablet.tasks.map(effective).filter((task) => !TERMINAL.has(task.state));
}

const touched = new Map(); // task id -> when an answer or a message last updated it (performance.now())

/** A task as the server answered it (a transition, a socket message): merged into the list. */
function mergeTask(task) {
  touched.set(task.id, performance.now());
  const index = tablet.tasks.findIndex((x) => x.id === task.id);
  if (index >= 0) tablet.tasks[index] = { ...tablet.tasks[index], ...task, incident: task.incident || tablet.tasks[index].incident };
  else tablet.tasks.unshift(task);
  store.set("tasks", tablet.tasks);
}

/** The list a sync read (asked at ``asked``): a task updated since by an answer or a message keeps that. */
function setTasks(tasks, asked = 0) {
  const newer = tablet.tasks.filter((x) => (touched.get(x.id) ?? -1) > asked);
  for (const task of newer) {
    const index = tasks.findIndex((x) => x.id === task.id);
    if (index >= 0) tasks[index] = { ...tasks[index], ...task, incident: tasks[index].incident || task.incident };
    else tasks.unshift(task);
  }
  tablet.tasks = tasks;
  store.set("tasks", tasks);
}

function currentTask() {
  const open = openTasks();
  const chosen = store.get("current_id");
  return open.find((task) => task.id === chosen) || open[0] || null;
}

function render() {
  const task = currentTask();
  showTask(task);
  if (tablet.squad) renderStatus();
  const others = openTasks().filter((x) => x.id !== task?.id);
  $("others-box").hidden = others.length === 0;
  $("others").replaceChildren(
    ...others.map((x) =>
      el(
        "li",
        { dataset: { taskId: x.id } },
        el(
          "button",
          { type: "button", class: "other-task", onclick: () => choose(x.id) },
          `${priorityText(x.incident)} #${x.incident_id ?? x.joint_inspection_id} · ${t(`task.state.${x.state}`)}`,
          x.incident?.address ? ` · ${x.incident.address}` : ""
        )
      )
    )
  );
  const synced = store.get("synced_at");
  $("synced").textContent = synced ? t("tablet.synced", { time: clock(synced) }) : "";
}

function choose(taskId) {
  store.set("current_id", taskId);
  render();
  if (!tablet.routes.has(taskId)) loadRoute(currentTask());
  window.scrollTo({ top: 0 });
}

const priorityText = (incident) => (incident?.priority ? `P${incident.priority}` : "");

function deadlineText(deadline) {
  if (!deadline) return { text: "—", overdue: false };
  const left = Math.round((new Date(deadline).getTime() - Date.now()) / 60000);
  const abs = Math.abs(left);
  const hm = `${Math.floor(abs / 60)}:${String(abs % 60).padStart(2, "0")}`;
  return left < 0 ? { text: t("tablet.overdue", { hm }), overdue: true } : { text: t("tablet.left", { hm }), overdue: false };
}

function matterName(matter) {
  const known = tablet.matters?.get(matter.code);
  if (settings.lang === "en" && known?.name_en) return known.name_en;
  return matter.name || known?.name || known?.name_zh || matter.code;
}

function showTask(task) {
  if (!task) {
    $("task").hidden = true;
    $("no-task").hidden = false;
    return;
  }
  $("no-task").hidden = true;
  $("task").hidden = false;
  $("task").dataset.taskId = task.id;
  $("task").dataset.state = task.state;
  const incident = task.incident || store.get(`incident.${task.incident_id}`) || {};
  $("task-priority").textContent = priorityText(incident);
  $("task-priority").className = `prio p${incident.priority || 0}`;
  $("task-priority").hidden = !incident.priority;
  $("task-head").textContent = `#${task.incident_id ?? task.joint_inspection_id} · ${t(`task.kind.${task.kind}`)}`;
  $("task-matters").textContent = (incident.matters || []).map(matterName).join("、") || "—";
  const deadline = deadlineText(incident.sla_deadline);
  $("task-deadline").textContent = deadline.text;
  $("task-deadline").className = deadline.overdue ? "overdue" : "";
  $("task-address").textContent = [incident.address, incident.region ? nameOf(incident.region) : null].filter(Boolean).join(" · ") || "—";
  $("task-desc").textContent = incident.description || "";
  $("task-state").textContent = t(`task.state.${task.state}`);
  const allowed = new Set(NEXT[task.state] || []);
  for (const button of document.querySelectorAll(".lifecycle button")) {
    button.disabled = !allowed.has(button.dataset.to);
  }
  drawTaskMap(task, incident);
  renderEvidence(task);
}

setInterval(() => {
  const task = currentTask();
  if (!task) return;
  const deadline = deadlineText((task.incident || store.get(`incident.${task.incident_id}`) || {}).sla_deadline);
  $("task-deadline").textContent = deadline.text;
  $("task-deadline").className = deadline.overdue ? "overdue" : "";
}, 30_000);

let taskMap = null;
let taskLayer = null;
let landDrawn = false;
let lastDrawn = null;

async function drawLand() {
  if (landDrawn || !taskMap) return;
  landDrawn = true;
  try {
    const regions = await kept("/regions");
    L.geoJSON(
      regions.features.filter((f) => f.geometry && f.properties.level !== "county"),
      { pane: "land", style: { color: "#5a6b5a", weight: 1, fillColor: "#f3efe0", fillOpacity: 1 }, interactive: false }
    ).addTo(taskMap);
  } catch (error) {
    landDrawn = false; // offline and never kept: with the network
    if (error instanceof ApiError && error.status === 401) authFailed(error);
  }
}

async function drawTaskMap(task, incident) {
  if (!task.incident_id) return;
  if (!incident.location) {
    try {
      const full = await api("GET", `/incidents/${task.incident_id}`);
      incident = { id: full.id, description: full.description, address: full.address, location: full.location, priority: full.priority };
      store.set(`incident.${task.incident_id}`, incident);
      if (currentTask()?.id === task.id) {
        $("task-address").textContent = incident.address || "—";
        $("task-desc").textContent = incident.description || "";
      }
    } catch {
      return; // offline: the map comes with the network
    }
  }
  if (!taskMap) {
    taskMap = L.map("task-map", { attributionControl: false, keyboard: false });
    $("task-map").classList.add("sea");
    if (settings.tile_url) L.tileLayer(settings.tile_url, { maxZoom: 18 }).addTo(taskMap);
    taskMap.createPane("land").style.zIndex = 350; // under the markers, whenever it arrives
    taskLayer = L.layerGroup().addTo(taskMap);
  }
  drawLand();
  const route = tablet.routes.get(task.id);
  renderRoute(route);
  const drawn = `${task.id}:${tablet.position}:${route?.computed_at}`;
  if (drawn === lastDrawn) return;
  lastDrawn = drawn;
  taskLayer.clearLayers();
  const [lon, lat] = incident.location.coordinates;
  const target = L.circleMarker([lat, lon], { radius: 10, color: "#d7191c", fillOpacity: 0.9 }).addTo(taskLayer);
  const points = [target.getLatLng()];
  for (const leg of route?.legs || []) {
    // The legs as the server's travel model has them: road, pier, ferry, road (or a boat); never a line across the water.
    const line = [leg.from.coordinates, leg.to.coordinates].map(([x, y]) => L.latLng(y, x));
    L.polyline(line, { ...(LEG_STYLE[leg.mode] || { color: "#333" }), className: `leg leg-${leg.mode}`, interactive: false }).addTo(taskLayer);
    points.push(...line);
  }
  if (tablet.position) {
    const here = L.latLng(tablet.position[1], tablet.position[0]);
    L.circleMarker(here, { radius: 7, color: "#0b5cad", fillOpacity: 0.9 }).addTo(taskLayer);
    points.push(here);
  }
  taskMap.invalidateSize();
  taskMap.fitBounds(L.latLngBounds(points).pad(0.3), { maxZoom: 15, animate: false });
}

const LEG_STYLE = {
  land: { color: "#0b5cad", weight: 4 },
  ferry: { color: "#006d77", weight: 4, dashArray: "8 8" },
  boat: { color: "#008b8b", weight: 3, dashArray: "2 6" },
};

const hhmm = (iso) => new Date(iso).toLocaleTimeString(settings.lang === "en" ? "en-GB" : "zh-CN", { hour: "2-digit", minute: "2-digit" });

/** The route's legs in words on the card: "road to 沈家湾码头 · ferry 10:30 沈家湾 → 泗礁 · road". */
function renderRoute(route) {
  const box = $("task-route");
  if (route === undefined) {
    box.textContent = "—";
    return;
  }
  if (route === null) {
    box.textContent = t("tablet.route_none");
    return;
  }
  const legs = route.legs.map((leg, index) => {
    const last = index === route.legs.length - 1; // the last leg ends at the scene, whatever its name
    const to = last ? null : nameOf(leg.to);
    if (leg.mode === "ferry") return t("tablet.leg_ferry", { depart: hhmm(leg.depart_at), from: nameOf(leg.from), to: to || "" });
    return t(`tablet.leg_${leg.mode === "boat" ? "boat" : "land"}`, { to: to || t("tablet.leg_scene") });
  });
  box.replaceChildren(
    el("span", { class: "eta" }, t("tablet.route_eta", { min: Math.max(1, Math.round(route.eta_seconds / 60)) })),
    el("ol", { class: "legs" }, ...legs.map((text, i) => el("li", { class: `leg-${route.legs[i].mode}` }, text)))
  );
}

/** The current task's route, read again at each sync (kept for an offline start with the task). */
async function loadRoute(task) {
  if (!task?.incident_id || TERMINAL.has(task.state)) return;
  try {
    const answer = await kept(`/tasks/${task.id}/route`);
    tablet.routes.set(task.id, answer.route);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return authFailed(error);
    return; // offline and never read: the card says "—"
  }
  if (currentTask()?.id === task.id) render();
}

function act(to) {
  const task = currentTask();
  if (!task) return;
  const reason = $("reason").value.trim();
  if (to === "declined" && !reason) return message(t("tablet.reason_required"), "error");
  const note = $("note").value.trim();
  const item = { kind: "transition", task_id: task.id, to, action_id: newActionId(), occurred_at: fieldTime() };
  if (to === "declined") item.reason = reason;
  if (note) item.note = note;
  if (tablet.position) item.location = { type: "Point", coordinates: tablet.position };
  $("note").value = "";
  $("reason").value = "";
  message("");
  store.set("current_id", task.id);
  enqueue(item); // the queue carries it to the server; the screen shows the step at once
  render();
}

for (const button of document.querySelectorAll(".lifecycle button")) {
  button.addEventListener("click", () => act(button.dataset.to));
}

// -- the squad's status: set from the tablet (queued like a step), on the record, live on /command --

const STATUS_CHOICES = [
  ["available", null],
  ["returning", null],
  ["out_of_service", "vessel_fault"],
  ["out_of_service", "meal"],
  ["out_of_service", "training"],
  ["out_of_service", "leave"],
  ["off_duty", null],
];

const statusText = (status, reason) => (reason ? `${t(`squad.status.${status}`)} · ${t(`squad.reason.${reason}`)}` : t(`squad.status.${status}`));

/** The squad's status as the tablet shows it: the server's, with what is still queued on top. */
function effectiveStatus() {
  let status = tablet.squad?.status || "available";
  let reason = tablet.squad?.status_reason || null;
  for (const item of queue()) {
    if (item.kind === "status") [status, reason] = [item.status, item.reason || null];
  }
  if (openTasks().length && status === "available") status = "busy"; // a task holds the squad
  return [status, reason];
}

function renderStatus() {
  const select = $("squad-status");
  const [status, reason] = effectiveStatus();
  const choices = STATUS_CHOICES.map(([s, r]) => el("option", { value: r ? `${s}:${r}` : s }, statusText(s, r)));
  if (status === "busy") choices.unshift(el("option", { value: "busy", disabled: true }, t("squad.status.busy")));
  select.replaceChildren(...choices);
  select.value = reason ? `${status}:${reason}` : status;
  select.dataset.status = status;
}

function statusRefusal(item, error) {
  const details = error.body?.error?.details || error.body?.error || {};
  const allowed = (details.allowed || []).map((s) => t(`squad.status.${s}`)).join("、") || "—";
  const now = details.status ? t(`squad.status.${details.status}`) : "—";
  return t("tablet.status_refused", { status: statusText(item.status, item.reason), now, allowed });
}

$("squad-status").addEventListener("change", (event) => {
  const [status, reason] = event.target.value.split(":");
  enqueue({ kind: "status", status, reason: reason || null, action_id: newActionId(), occurred_at: fieldTime() });
  renderStatus();
});

// -- evidence from the scene: kept on the tablet, uploaded in chunks when the link allows ----------

const evidence = new EvidenceQueue({
  token: () => tablet.token,
  newId: newActionId,
  yieldTo: () => queue().length > 0, // steps and positions first: they are small and they are the record
  onChange: () => {
    renderQueue();
    renderEvidence(currentTask());
  },
  onStored: (item, stored) => {
    const task = tablet.tasks.find((x) => x.id === item.task_id);
    if (!task) return;
    const others = (task.evidence || []).filter((x) => x.sha256 !== stored.sha256);
    mergeTask({ id: task.id, evidence: [...others, { ...stored, occurred_at: item.occurred_at, file_name: item.name }] });
  },
});
tablet.evidenceQueue = evidence; // for the browser tests

const waitingEvidence = () => evidence.items.filter((x) => x.state !== "refused");

function evidenceKind(type) {
  if (type.startsWith("image/")) return t("tablet.evidence_photo");
  if (type.startsWith("video/")) return t("tablet.evidence_video");
  return t("tablet.evidence_file");
}

function sizeText(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

function refusedWhy(refusal) {
  if (refusal.status === 413 || refusal.field === "size") return t("tablet.evidence_too_large");
  if (refusal.status === 415 || refusal.field === "media_type") return t("tablet.evidence_bad_type");
  if (refusal.status === 404) return t("tablet.evidence_gone");
  if (refusal.status === 403) return t("tablet.evidence_forbidden");
  return t("tablet.evidence_other", { code: refusal.code || refusal.status });
}

function evidenceState(item) {
  if (item.state === "refused") return t("tablet.evidence_refused", { why: refusedWhy(item.refusal || {}) });
  const sent = evidence.progress.get(item.action_id) || 0;
  if (sent > 0) return t("tablet.evidence_uploading", { pct: Math.floor((100 * sent) / item.size) });
  return t("tablet.evidence_waiting");
}

const thumbs = new Map(); // action_id -> an object URL of the photo kept on the tablet

function thumb(item) {
  if (!thumbs.has(item.action_id)) thumbs.set(item.action_id, URL.createObjectURL(item.blob));
  return thumbs.get(item.action_id);
}

function renderEvidence(task) {
  const list = $("evidence-list");
  for (const [actionId, url] of thumbs) {
    if (!evidence.items.some((x) => x.action_id === actionId)) {
      URL.revokeObjectURL(url);
      thumbs.delete(actionId);
    }
  }
  if (!task) return list.replaceChildren();
  const local = evidence.items.filter((x) => x.task_id === task.id);
  const stored = (task.evidence || []).filter((x) => !local.some((y) => y.sha256 === x.sha256));
  const rows = [
    ...stored.map((x) =>
      el(
        "li",
        { class: "evidence-item", dataset: { state: "stored", sha256: x.sha256 } },
        el("span", {}, `${evidenceKind(x.media_type)} ${x.file_name || ""}`.trim()),
        el("span", { class: "size" }, sizeText(x.size)),
        x.occurred_at ? el("span", {}, clock(x.occurred_at)) : null,
        el("span", { class: "state" }, t("tablet.evidence_stored")),
        el("button", { type: "button", class: "view", onclick: () => viewEvidence(x) }, t("tablet.evidence_view"))
      )
    ),
    ...local.map((item) => {
      const sent = evidence.progress.get(item.action_id) || 0;
      return el(
        "li",
        { class: "evidence-item", dataset: { state: item.state === "refused" ? "refused" : "waiting", actionId: item.action_id } },
        item.media_type.startsWith("image/") && item.blob ? el("img", { src: thumb(item), alt: item.name }) : null,
        el("span", {}, `${evidenceKind(item.media_type)} ${item.name}`),
        el("span", { class: "size" }, sizeText(item.size)),
        item.resized ? el("span", { class: "muted small" }, t("tablet.evidence_resized")) : null,
        el("span", { class: "state", role: "status" }, evidenceState(item)),
        item.state !== "refused" ? el("progress", { max: String(item.size), value: String(sent), "aria-label": item.name }) : null,
        item.state === "refused" ? el("button", { type: "button", class: "dismiss", onclick: () => evidence.dismiss(item.action_id) }, t("tablet.dismiss")) : null
      );
    }),
  ];
  list.replaceChildren(...(rows.length ? rows : [el("li", { class: "muted" }, t("tablet.evidence_none"))]));
}

/** Open a stored item: fetched with the tablet's token (a link would not carry it). */
async function viewEvidence(item) {
  try {
    const response = await fetch(`/api/v1/evidence/${item.sha256}`, { headers: { Authorization: `Bearer ${tablet.token}` } });
    if (response.status === 401) return authFailed(new ApiError(401, await response.json().catch(() => null)));
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const url = URL.createObjectURL(await response.blob());
    window.open(url, "_blank", "noopener");
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch {
    message(t("tablet.offline"), "error");
  }
}

async function addEvidence(input, camera) {
  const task = currentTask();
  const files = [...input.files];
  input.value = "";
  if (!task || !files.length) return;
  let added = 0;
  for (const file of files) {
    // a photo just taken: now; a file chosen: when it was last written (a photo: when it was taken)
    const taken = camera || !file.lastModified ? new Date() : new Date(Math.min(file.lastModified, Date.now()));
    try {
      await evidence.add(task.id, file, fieldTime(taken));
      added += 1;
    } catch {
      message(t("tablet.evidence_unreadable"), "error");
    }
  }
  if (added) message(t("tablet.evidence_added"));
  flush(); // steps first, then the files
}

function pumpEvidence() {
  if (!tablet.token || !tablet.squad) return;
  evidence.pump().catch((error) => {
    if (error instanceof Refused && error.status === 401) authFailed(new ApiError(401, error.body));
  });
}

$("evidence-camera").addEventListener("change", (event) => addEvidence(event.target, true));
$("evidence-file").addEventListener("change", (event) => addEvidence(event.target, false));

// -- syncing: the squad's tasks (and now and then the reference layers) ---------------------------

let syncing = null;

/** Read the squad's tasks (kept for an offline start); the reference layers at sign-in and after a
 * sync when they are older than REFERENCE_EVERY_MS. */
let syncAgain = false;

function sync({ reference = false } = {}) {
  if (!tablet.token) return Promise.resolve();
  if (syncing) {
    syncAgain = true; // asked after the one in flight began: read once more when it ends
    return syncing;
  }
  syncing = (async () => {
    try {
      const asked = performance.now();
      const answer = await kept("/tablet/tasks");
      if (answer.squad && (!tablet.squad || tablet.squad.id === answer.squad.id)) signedInAs({ ...tablet.squad, ...answer.squad });
      const fresh = keptFresh;
      setTasks(answer.tasks || [], asked);
      if (fresh) store.set("synced_at", fieldTime());
      loadRoute(currentTask());
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return authFailed(error);
    }
    if (reference || Date.now() - store.get("reference_at", 0) > REFERENCE_EVERY_MS) {
      try {
        await Promise.all([kept("/regions"), kept("/zones"), loadMatters()]);
        store.set("reference_at", Date.now());
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return authFailed(error);
      }
      drawLand();
    }
    render();
  })().finally(() => {
    syncing = null;
    if (syncAgain && tablet.token) {
      syncAgain = false;
      sync();
    }
  });
  return syncing;
}

async function loadMatters() {
  const answer = await kept("/matters");
  const list = Array.isArray(answer) ? answer : answer.matters || answer.features?.map((f) => f.properties) || [];
  tablet.matters = new Map(list.map((m) => [m.code, m]));
}

// -- messages from the server: deduplicated by seq, acknowledged once stored ----------------------

function onTask(msg) {
  const last = store.get("last_seq", 0);
  if (msg.seq > last) {
    const task = msg.task;
    const known = tablet.tasks.some((x) => x.id === task.id);
    const wasCurrent = currentTask()?.id === task.id;
    mergeTask(task);
    if (task.state === "cancelled" && wasCurrent) banner(t("tablet.cancelled"), "warn");
    store.set("last_seq", msg.seq);
    // a new task: its incident (priority, matters, deadline) comes with the list; a task ended: the
    // squad's status (available again, or still held by another task) comes with it too
    if (!known || TERMINAL.has(task.state)) sync();
    render();
  }
  tablet.socket.emit("ack", { seq: msg.seq });
}

// -- positions: the browser's geolocation or a simulated track ------------------------------------

let fixCounter = 0;
let watchId = null;

function addFix(lon, lat, accuracy = 10, speed = null) {
  tablet.position = [lon, lat];
  fixCounter += 1;
  const fix = {
    id: `${tablet.squad.id}-${Date.now()}-${fixCounter}`,
    lon: Math.round(lon * 1e6) / 1e6,
    lat: Math.round(lat * 1e6) / 1e6,
    crs: "wgs84",
    time: new Date().toISOString(),
    accuracy,
  };
  if (speed !== null) fix.speed = speed;
  enqueue({ kind: "fix", fix });
}

/** Demo mode: head for the task's place at ~30 km/h, or patrol around the station. */
function simulatedStep() {
  if (!tablet.position) return;
  const task = currentTask();
  const incident = task && (task.incident || store.get(`incident.${task.incident_id}`));
  const [lon, lat] = tablet.position;
  const step = (8.3 * FIX_INTERVAL_MS) / 1000; // metres
  let heading;
  if (incident?.location && ["en_route", "acknowledged"].includes(task.state)) {
    const [tl, ta] = incident.location.coordinates;
    heading = Math.atan2(ta - lat, (tl - lon) * Math.cos((lat * Math.PI) / 180));
  } else {
    tablet.patrolHeading = (tablet.patrolHeading ?? Math.random() * 2 * Math.PI) + (Math.random() - 0.5) * 0.6;
    heading = tablet.patrolHeading;
  }
  const dLat = (step * Math.sin(heading)) / 111320;
  const dLon = (step * Math.cos(heading)) / (111320 * Math.cos((lat * Math.PI) / 180));
  addFix(lon + dLon, lat + dLat, 8, 8.3);
}

tablet.addFix = (lon, lat) => addFix(lon, lat);

let simTimer = null;
function positionSource(source) {
  store.set("positions", source);
  $("position-source").value = source;
  if (watchId !== null) navigator.geolocation.clearWatch(watchId);
  watchId = null;
  clearInterval(simTimer);
  simTimer = null;
  if (source === "gps" && navigator.geolocation) {
    let lastSent = 0;
    watchId = navigator.geolocation.watchPosition(
      (p) => {
        if (Date.now() - lastSent < FIX_INTERVAL_MS) return;
        lastSent = Date.now();
        addFix(p.coords.longitude, p.coords.latitude, p.coords.accuracy, p.coords.speed);
      },
      () => {},
      { enableHighAccuracy: true, maximumAge: 5000 }
    );
  } else if (source === "sim") {
    simTimer = setInterval(simulatedStep, FIX_INTERVAL_MS);
  }
}
$("position-source").addEventListener("change", (e) => positionSource(e.target.value));

// -- sign in / out --------------------------------------------------------------------------------

function message(text, kind = "ok") {
  $("tablet-message").textContent = text || "";
  $("tablet-message").className = `message ${kind}`;
}

/** Back to the sign-in screen with ``reason``. ``keepWork`` keeps the queue and the refusals: the same
 * squad signing in again sends them (another squad's sign-in drops them). */
function signOut(reason, { keepWork = false } = {}) {
  tablet.socket?.disconnect();
  tablet.socket = null;
  tablet.squad = null;
  tablet.token = null;
  tablet.tasks = [];
  useToken(null);
  store.clear(keepWork ? ["queue", "refused", "squad"] : []);
  forgetKept();
  positionSource("off");
  store.remove("positions");
  $("signed-in").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = reason || "";
  $("net").textContent = "";
  renderQueue();
  document.body.dataset.ready = "1";
}

/** A 401 from the API (or the socket's refusal): the sign-in screen, saying why. */
function authFailed(error) {
  const code = error?.body?.error?.code || error?.code;
  const text = code === "token_revoked" || /revoked/i.test(error?.message || "") ? t("tablet.token_revoked") : t("tablet.bad_token");
  signOut(text, { keepWork: true });
}

function signedInAs(squad) {
  tablet.squad = squad;
  store.set("squad", squad);
  if (!tablet.position && squad.position) tablet.position = squad.position;
  $("signin").hidden = true;
  $("signed-in").hidden = false;
  $("squad-name").textContent = nameOf(squad);
  $("squad-name").dataset.squadId = squad.id;
  renderStatus();
}

async function squadInfo(squadId) {
  const cached = store.get("squad");
  if (cached?.id === squadId && cached.position) return cached;
  try {
    const squads = await api("GET", "/squads");
    const feature = squads.features.find((f) => f.properties.id === squadId);
    return { ...cached, ...feature.properties, position: feature.geometry.coordinates };
  } catch {
    return cached?.id === squadId ? cached : { id: squadId, code: String(squadId) };
  }
}

let lastProbe = 0;

function connect(token) {
  tablet.token = token;
  useToken(token); // every API call of the tablet acts as its squad
  const socket = io("/squad", {
    transports: ["websocket"],
    auth: (cb) => cb({ token, last_seq: store.get("last_seq", 0) }),
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });
  tablet.socket = socket;
  let refusals = 0;
  /** The server turned the socket away (or closed it): ask the API whether the token still holds.
   * A 401 is the sign-in screen, saying why; anything else, try the socket again shortly. */
  const refused = (text, code) => {
    online(false);
    refusals += 1;
    if (code === "token_revoked") return authFailed({ body: { error: { code } } });
    const again = () =>
      setTimeout(() => {
        if (tablet.socket === socket && !socket.connected) socket.connect();
      }, 1500);
    api("GET", "/tablet/tasks").then(
      () => {
        // The socket reads the token from the database, the API may remember it a few seconds longer.
        if (/unauthori[sz]ed|revoked|token/i.test(text) && refusals >= 3) authFailed({ message: text });
        else again();
      },
      (error) => {
        if (error instanceof ApiError && error.status === 401) authFailed(error);
        else again();
      }
    );
  };
  socket.on("connect_error", (error) => {
    if (socket.active) {
      // A network failure: Socket.IO tries again by itself. Now and then ask the API about the token.
      online(false);
      if (navigator.onLine && Date.now() - lastProbe > 10_000) {
        lastProbe = Date.now();
        sync();
      }
      return;
    }
    refused(String(error.message), error.data?.code);
  });
  socket.on("connect", () => {
    refusals = 0;
  });
  socket.on("disconnect", (reason) => {
    online(false);
    if (reason === "io server disconnect") refused(reason); // a revoked token's socket is closed by the server
  });
  socket.on("welcome", async ({ squad_id: squadId }) => {
    online(true);
    const previous = store.get("squad");
    if (previous && previous.id !== squadId) {
      // Another squad's tablet before: its queue and refusals are not ours to send.
      store.clear(["token"]);
      await forgetEvidence();
      evidence.items = [];
      renderQueue();
      renderRefused();
    }
    const squad = await squadInfo(squadId);
    if (tablet.socket !== socket) return; // signed out meanwhile
    store.set("token", token);
    signedInAs(squad);
    if (!tablet.started) {
      tablet.started = true;
      positionSource(params.get("positions") || store.get("positions") || "gps");
    }
    await sync({ reference: true });
    document.body.dataset.ready = "1";
    flush();
  });
  socket.on("task", onTask);
}

$("signin").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  if (!token) return;
  $("signin-error").textContent = "";
  tablet.socket?.disconnect();
  store.remove("last_seq");
  store.remove("tasks");
  store.remove("current_id");
  tablet.tasks = [];
  connect(token);
});
// Steps still queued and refusals stay on the device: the same squad's next sign-in sends and shows
// them (another squad's sign-in drops them); the tasks and the kept answers go.
$("signout").addEventListener("click", () => signOut("", { keepWork: true }));

// -- the service worker: the shell for an offline start -------------------------------------------

tablet.worker = navigator.serviceWorker
  ? navigator.serviceWorker.register("/tablet-sw.js", { scope: "/tablet" }).then(() => navigator.serviceWorker.ready).catch(() => null)
  : Promise.resolve(null);

// -- start ----------------------------------------------------------------------------------------

renderQueue();
renderRefused();
evidence.load().catch(() => null); // what waited when the tablet was closed
const saved = store.get("token");
if (saved) {
  // Signed in before: work offline from what is kept until the server answers.
  const squad = store.get("squad");
  tablet.tasks = store.get("tasks", []);
  tablet.token = saved;
  useToken(saved); // before anything asks the API
  if (squad) {
    signedInAs(squad);
    render();
  }
  connect(saved);
  if (!navigator.onLine) document.body.dataset.ready = "1";
  // Offline: the kept answers (tasks, matters) as the last sync left them.
  sync().then(() => {
    if (!navigator.onLine) document.body.dataset.ready = "1";
  });
} else {
  $("signin").hidden = false;
}
online(navigator.onLine);
