// The command centre: live map, open incidents with SLA countdowns, jurisdiction, recommendations, dispatch.
// Follows /command without gaps: subscribe first, load the snapshot, apply only updates with a newer rev.
import { api, banner, baseMap, el, loadRegions, may, nameOf, settings, t, zoneColour } from "./common.js";
import * as calltaking from "./calltaking.js";
import { errorText, eta, fieldOf, hm } from "./calltaking.js";
// Panels of their own modules, each fed the snapshot and the updates of its types (see each module's header).
import * as alerts from "./alerts.js";
import * as board from "./board.js";
import * as conditions from "./conditions.js";
import * as coverage from "./coverage.js";
import * as roster from "./roster.js";

const PANELS = [board, coverage, alerts, conditions, roster];

// Okabe-Ito (safe under deuteranopia/protanopia): squads' force by outline, their status by fill (available:
// the force's colour, busy: a dark centre, off duty: hollow), incidents by priority (P1 the darkest, labelled).
const FORCE_COLOUR = { comprehensive: "#0072B2", professional: "#CC79A7", maritime: "#009E73" };
const STATUS_FILL = { available: null, busy: "#000000", off_duty: "#ffffff" };
const PRIORITY_COLOUR = { 1: "#D55E00", 2: "#E69F00", 3: "#F0E442" };
// The queue: open and dispatched, and resolved ones awaiting the dispatcher's close.
const QUEUE = new Set(["open", "dispatched", "resolved"]);

const state = {
  squads: new Map(), // id -> {data, rev, posRev, marker}
  incidents: new Map(), // id -> {data, rev, marker}
  tasks: new Map(), // id -> {data, rev}
  selected: null,
  ready: false,
  buffered: [],
  recommendations: [],
  firstRenderMs: null,
  connected: false,
  frames: 0,
};
window.commandCentre = state; // for the browser tests and the render benchmark

const map = baseMap("map");
const renderer = L.canvas({ padding: 0.3 });
const zonesLayer = L.layerGroup().addTo(map);
const squadsLayer = L.layerGroup().addTo(map);
const incidentsLayer = L.layerGroup().addTo(map);
const routeLayer = L.layerGroup().addTo(map);

// -- squads ---------------------------------------------------------------------------------------

function squadStyle(squad) {
  const colour = FORCE_COLOUR[squad.force] || "#333";
  return { radius: 5, color: colour, weight: 2, fillColor: STATUS_FILL[squad.status] || colour, fillOpacity: 0.9 };
}

function squadPopup(squad) {
  return el(
    "div",
    { class: "popup" },
    el("strong", {}, squad.name || squad.code),
    el("br"),
    `${t(`force.${squad.force}`)} · ${t(`squad.status.${squad.status}`)}`
  );
}

function placeSquad(entry) {
  const { data } = entry;
  if (!data.location) return; // no position reported yet
  const [lon, lat] = data.location.coordinates;
  if (!entry.marker) {
    entry.marker = L.circleMarker([lat, lon], { renderer, ...squadStyle(data) });
    entry.marker.squadId = data.id;
    entry.marker.on("click", () => entry.marker.bindPopup(squadPopup(entry.data)).openPopup());
    squadsLayer.addLayer(entry.marker);
  } else {
    entry.marker.setLatLng([lat, lon]);
    entry.marker.setStyle(squadStyle(data));
  }
}

// -- incidents ------------------------------------------------------------------------------------

function incidentLonLat(data) {
  return data.location.coordinates; // one form everywhere: a GeoJSON Point (dispatch/shapes.py)
}

function placeIncident(entry) {
  const [lon, lat] = incidentLonLat(entry.data);
  const style = {
    renderer,
    radius: 8,
    color: "#222",
    weight: entry.data.id === state.selected ? 3 : 1,
    fillColor: PRIORITY_COLOUR[entry.data.priority] || "#999",
    fillOpacity: 0.95,
  };
  if (!entry.marker) {
    entry.marker = L.circleMarker([lat, lon], style);
    entry.marker.on("click", () => select(entry.data.id));
    incidentsLayer.addLayer(entry.marker);
  } else {
    entry.marker.setLatLng([lat, lon]);
    entry.marker.setStyle(style);
  }
}

function removeIncident(id) {
  const entry = state.incidents.get(id);
  if (entry?.marker) incidentsLayer.removeLayer(entry.marker);
  state.incidents.delete(id);
}

const listNode = document.getElementById("incidents");
const STATUS_ORDER = { open: 0, dispatched: 0, resolved: 1 }; // awaiting close: after those in hand

/** A matter's name from GET /matters once loaded (the snapshot carries codes). */
const regionNames = new Map(); // a township's Chinese name (the snapshot's) -> its feature's properties

function regionLabel(name) {
  return name ? nameOf(regionNames.get(name) || { name }) : "";
}

function matterNames(codes) {
  return (codes || []).map((m) => (typeof m === "string" ? m : m.code)).join(", ");
}

function queueItems() {
  return [...state.incidents.values()]
    .map((e) => e.data)
    .sort(
      (a, b) =>
        (STATUS_ORDER[a.status] ?? 2) - (STATUS_ORDER[b.status] ?? 2) ||
        a.priority - b.priority ||
        new Date(a.sla_deadline) - new Date(b.sla_deadline)
    );
}

function renderIncidentList() {
  const items = queueItems();
  const focused = document.activeElement?.closest?.("li.incident")?.dataset.incidentId;
  listNode.replaceChildren(
    ...items.map((incident) =>
      el(
        "li",
        {
          class: `incident p${incident.priority} status-${incident.status}${incident.id === state.selected ? " selected" : ""}`,
          dataset: { incidentId: incident.id, status: incident.status },
          tabindex: incident.id === (state.cursor ?? state.selected ?? items[0]?.id) ? 0 : -1,
          "aria-current": incident.id === state.selected ? "true" : null,
          onclick: () => select(incident.id),
          onfocus: () => {
            state.cursor = incident.id;
          },
        },
        el("span", { class: `badge prio p${incident.priority}` }, t(`queue.priority.${incident.priority}`)),
        el("span", { class: `status st-${incident.status}` }, t(`queue.status.${incident.status}`)),
        el("span", { class: "sla", dataset: { deadline: incident.sla_deadline, status: incident.status } }, ""),
        el("div", { class: "desc" }, `#${incident.id} ${incident.description || ""}`),
        el("div", { class: "matters small muted" }, [regionLabel(incident.region), matterNames(incident.matters)].filter(Boolean).join(" · "))
      )
    )
  );
  if (focused) listNode.querySelector(`li[data-incident-id='${focused}']`)?.focus({ preventScroll: true });
  document.getElementById("incident-count").textContent = items.length ? `(${items.length})` : "";
  document.getElementById("incidents-empty").hidden = items.length > 0;
  tickCountdowns();
}

/** "时限 0:42" while there is time, "超时 1:30" past it (h:mm, never seconds, never a sign). */
export function slaText(deadline, now = Date.now()) {
  const left = Math.round((new Date(deadline).getTime() - now) / 1000);
  if (left < 0) return { text: `${t("queue.overdue")} ${hm(-left)}`, overdue: true, urgent: false };
  return { text: `${t("queue.sla")} ${hm(left)}`, overdue: false, urgent: left < 15 * 60 };
}

function tickCountdowns() {
  const now = Date.now();
  for (const node of document.querySelectorAll(".sla[data-deadline]")) {
    if (node.dataset.status === "resolved") {
      node.textContent = t("queue.awaiting_close");
      node.classList.remove("overdue", "urgent");
      continue;
    }
    const c = slaText(node.dataset.deadline, now);
    node.textContent = c.text;
    node.classList.toggle("overdue", c.overdue);
    node.classList.toggle("urgent", c.urgent);
  }
}
setInterval(tickCountdowns, 1000);

let listPending = false;
function scheduleList() {
  if (listPending) return;
  listPending = true;
  requestAnimationFrame(() => {
    listPending = false;
    renderIncidentList();
  });
}

// -- updates by rev -------------------------------------------------------------------------------

function applyUpdate(update) {
  const { type, id, rev, data } = update;
  if (type === "position") {
    const entry = state.squads.get(id);
    if (!entry || (rev ?? 0) <= entry.posRev) return;
    entry.posRev = rev;
    entry.data.location = data.location;
    placeSquad(entry);
  } else if (type === "squad") {
    const entry = state.squads.get(id);
    if (!entry || (rev ?? 0) <= entry.rev) return;
    entry.rev = rev;
    Object.assign(entry.data, data);
    placeSquad(entry);
  } else if (type === "incident") {
    const entry = state.incidents.get(id);
    if (entry && (rev ?? 0) <= entry.rev) return;
    if (!QUEUE.has(data.status)) {
      removeIncident(id);
    } else if (entry) {
      entry.rev = rev;
      Object.assign(entry.data, data);
      placeIncident(entry);
    } else {
      const fresh = { data: { ...data }, rev: rev ?? 0 };
      state.incidents.set(id, fresh);
      placeIncident(fresh);
    }
    scheduleList();
    if (id === state.selected) scheduleDetailReload();
  } else if (type === "task") {
    const entry = state.tasks.get(id);
    if (entry && (rev ?? 0) <= entry.rev) return;
    state.tasks.set(id, { data, rev: rev ?? 0 });
    if (data.incident_id === state.selected) scheduleDetailReload();
  } else if (type === "plan") {
    planChanged(data);
    coverage.planChanged?.(data);
  }
  for (const panel of PANELS) panel.update?.(update);
}

function onFrame(frame) {
  state.frames += 1;
  if (!state.ready) {
    state.buffered.push(frame);
    return;
  }
  for (const update of frame.updates) applyUpdate(update);
}

// -- the published plan switches when it takes effect ---------------------------------------------

async function loadZones(prefetched) {
  const zones = prefetched || (await api("GET", "/zones"));
  zonesLayer.clearLayers();
  zones.features.forEach((feature, index) => {
    if (!feature.geometry) return;
    const layer = L.geoJSON(feature, {
      pane: "zones",
      style: { color: zoneColour(index), weight: 2, fillColor: zoneColour(index), fillOpacity: 0.12 },
      interactive: false,
    });
    zonesLayer.addLayer(layer);
  });
  state.zonePlan = zones.features[0]?.properties.plan?.code || null;
}

const DAY_MS = 24 * 3600 * 1000;

/** Reload the zones when a published plan takes effect (timers beyond ~24 days overflow: re-arm daily). */
function planChanged(plan) {
  const at = plan.effective_at ? new Date(plan.effective_at).getTime() : Date.now();
  const wait = at - Date.now();
  if (wait > DAY_MS) {
    setTimeout(() => planChanged(plan), DAY_MS);
    return;
  }
  setTimeout(() => loadZones().catch(console.error), Math.max(0, wait) + 500);
}

/** Plans published earlier for a later time: switch when they take effect, even without a frame. */
async function watchScheduledPlans() {
  const { plans } = await api("GET", "/plans");
  for (const plan of plans) {
    if (plan.status === "published" && plan.effective_at && new Date(plan.effective_at).getTime() > Date.now()) planChanged(plan);
  }
}

// -- snapshot and connection ----------------------------------------------------------------------

async function loadSnapshot(prefetched) {
  const snapshot = prefetched || (await api("GET", "/command/snapshot"));
  for (const s of snapshot.squads) {
    // the squads' township and zone come by code, named once in the snapshot (one shared object each)
    s.station_region = snapshot.regions?.[s.station_region] ?? null;
    s.zone = snapshot.zones?.[s.zone] ?? null;
  }
  const seenSquads = new Set();
  for (const s of snapshot.squads) {
    seenSquads.add(s.id);
    const entry = state.squads.get(s.id);
    if (!entry) {
      const fresh = { data: { ...s }, rev: s.rev ?? 0, posRev: s.position_rev ?? 0 };
      state.squads.set(s.id, fresh);
      placeSquad(fresh);
    } else {
      if ((s.rev ?? 0) >= entry.rev) {
        entry.rev = s.rev ?? 0;
        entry.data.status = s.status;
      }
      if ((s.position_rev ?? 0) >= entry.posRev) {
        entry.posRev = s.position_rev ?? 0;
        entry.data.location = s.location;
      }
      placeSquad(entry);
    }
  }
  const open = new Set(snapshot.incidents.map((i) => i.id));
  for (const id of [...state.incidents.keys()]) if (!open.has(id)) removeIncident(id);
  for (const i of snapshot.incidents) applyUpdate({ type: "incident", id: i.id, rev: (i.rev ?? 0) - 0.5, data: i });
  for (const task of snapshot.tasks) {
    const entry = state.tasks.get(task.id);
    if (!entry || (task.rev ?? 0) > entry.rev) state.tasks.set(task.id, { data: { ...entry?.data, ...task }, rev: task.rev ?? 0 });
  }
  for (const panel of PANELS) panel.snapshot?.(snapshot);
  return snapshot;
}

/** Snapshot, then the frames that arrived meanwhile (older revs are ignored by applyUpdate). */
async function catchUp(prefetched) {
  state.ready = false;
  await loadSnapshot(prefetched);
  const frames = state.buffered;
  state.buffered = [];
  state.ready = true;
  for (const frame of frames) for (const update of frame.updates) applyUpdate(update);
  renderIncidentList();
  if (state.selected) showDetail(state.selected).catch(console.error);
}

const socket = io("/command", { transports: ["websocket"], reconnectionDelay: 500, reconnectionDelayMax: 3000 });
state.socket = socket;
socket.on("frame", onFrame);
socket.on("connect", () => {
  const wasDown = state.connected === false && state.everConnected;
  state.connected = true;
  state.everConnected = true;
  if (wasDown) {
    banner(t("conn.back"), "ok");
    Promise.all([catchUp(), loadZones(), watchScheduledPlans()]) // a plan may have switched meanwhile
      .then(() => banner(null))
      .catch(console.error);
  }
});
socket.on("disconnect", () => {
  state.connected = false;
  state.ready = false; // buffer until the snapshot has been reloaded
  banner(t("conn.lost"), "warn");
});

// -- selection: the incident's live state, its tasks, recommendations and every action ------------
// The detail is always GET /incidents/<id> as it is now: reloaded on any live update of the incident
// or of one of its tasks, after every act, and on a 409 (the screen was stale). The buttons are
// exactly the server's `actions` (the incident's) and each task's `actions`.

const detail = {
  none: document.getElementById("detail-none"),
  body: document.getElementById("detail-body"),
  head: document.getElementById("detail-head"),
  facts: document.getElementById("detail-facts"),
  tasks: document.getElementById("tasks"),
  recs: document.getElementById("recommendations"),
  recsBlock: document.getElementById("recs-block"),
  actions: document.getElementById("incident-actions"),
  message: document.getElementById("detail-message"),
};
// Before the server answered `actions` (an older server): what the status allowed then.
const FALLBACK_ACTIONS = { open: ["dispatch", "joint"], dispatched: ["dispatch", "joint"] };
const HELD = new Set(["scheduled", "dispatched", "acknowledged", "en_route", "on_scene"]);

function message(text, kind = "ok") {
  detail.message.textContent = text || "";
  detail.message.className = text ? `message ${kind}` : "message";
}

function incidentActions(incident) {
  return incident.actions || FALLBACK_ACTIONS[incident.status] || [];
}

function fmtTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(settings.lang === "en" ? "en-GB" : "zh-CN", {
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  });
}

function renderHead(incident) {
  const slaNode = el("span", { class: "sla", dataset: { deadline: incident.sla_deadline, status: incident.status } });
  const inQueue = QUEUE.has(incident.status);
  const parts = [
    el("span", { class: `badge prio p${incident.priority}` }, t(`queue.priority.${incident.priority}`)),
    " ",
    el("strong", {}, `#${incident.id}`),
    " ",
    el("span", { class: `status st-${incident.status}`, id: "detail-status", dataset: { status: incident.status } }, t(`queue.status.${incident.status}`)),
    inQueue ? " " : null,
    inQueue ? slaNode : null,
    el("span", { class: "detail-desc" }, incident.description || ""),
  ];
  detail.head.replaceChildren(...parts.filter((part) => part !== null)); // replaceChildren writes null as "null"
  detail.head.dataset.status = incident.status;
  const facts = [];
  if (incident.source) facts.push(`${t("call.source")}: ${t(`call.source.${incident.source}`)}`);
  if (incident.reported_at) facts.push(`${t("detail.reported")}: ${fmtTime(incident.reported_at)}`);
  if (incident.matters?.length) facts.push(`${t("detail.matters")}: ${incident.matters.map((m) => `${m.code} ${calltaking.matterName(m)}`).join(settings.lang === "en" ? "; " : "、")}`);
  if (incident.caller) facts.push(`${t("detail.caller")}: ${[incident.caller.name, incident.caller.phone].filter(Boolean).join(" ")}`);
  const outcome = [];
  if (incident.duplicate_of) outcome.push(el("span", { class: "fact-strong", id: "detail-duplicate-of" }, t("detail.duplicate_of", { id: incident.duplicate_of })));
  if (incident.outcome)
    outcome.push(
      el("span", { class: "fact-strong", id: "detail-outcome", dataset: { outcome: incident.outcome } }, `${t("detail.outcome")}: ${t(`outcome.${incident.outcome}`)}${incident.outcome_note ? ` (${incident.outcome_note})` : ""}`)
    );
  if (incident.cancel_reason) outcome.push(el("span", { class: "fact-strong", id: "detail-cancel-reason" }, `${t("detail.cancel_reason")}: ${incident.cancel_reason}`));
  detail.facts.replaceChildren(facts.join(" · "), ...outcome.flatMap((node) => [el("br"), node]));
  tickCountdowns();
}

function renderJurisdiction(incident) {
  const j = incident.jurisdiction;
  document.getElementById("j-region").textContent = j ? nameOf(j.region) : "—";
  document.getElementById("j-zone").textContent = j?.zone ? `${nameOf(j.zone)}${j.zone.hub ? ` (${t("planner.hub")} ${nameOf(j.zone.hub)})` : ""}` : "—";
  document.getElementById("j-authority").textContent = j ? nameOf(j.authority) : "—";
  document.getElementById("j-basis").textContent = j?.basis || "—";
}

function squadLabel(task) {
  if (task.squad) return nameOf(task.squad);
  const known = state.squads.get(task.squad_id)?.data;
  return known ? nameOf(known) : `#${task.squad_id}`;
}

function renderTasks() {
  const incident = state.selectedIncident;
  const tasks = incident && incident.id === state.selected ? [...incident.tasks] : [];
  tasks.sort((a, b) => a.id - b.id);
  if (!tasks.length) {
    detail.tasks.replaceChildren(el("li", { class: "muted" }, t("detail.no_tasks")));
    return;
  }
  detail.tasks.replaceChildren(
    ...tasks.map((task) =>
      el(
        "li",
        { class: `task state-${task.state}`, dataset: { taskId: task.id, state: task.state, squadId: task.squad?.id ?? task.squad_id } },
        el("span", { class: "task-squad" }, squadLabel(task)),
        " — ",
        el("span", { class: `state ${task.state}` }, t(`task.state.${task.state}`)),
        task.superseded_by ? el("span", { class: "superseded small" }, ` ${t("detail.superseded", { id: task.superseded_by })}`) : null,
        // A superseded task's reason is the server's own sentence; "reassigned (task #n)" says it.
        task.reason && !task.superseded_by
          ? el("div", { class: "reason" }, t(["declined", "cancelled"].includes(task.state) ? "detail.reason" : "detail.task_note", { reason: task.reason }))
          : null,
        (task.actions || []).length
          ? el(
              "span",
              { class: "task-actions" },
              task.actions.map((action) =>
                el(
                  "button",
                  { type: "button", class: "mini-action", dataset: { taskAction: action }, onclick: () => taskAction(task, action) },
                  t(action === "cancel" ? "action.cancel_task" : `action.${action}`)
                )
              )
            )
          : null
      )
    )
  );
}

/** Squads that declined this incident, or hold a task of it: never ticked for it. */
function excludedSquads() {
  const out = new Set();
  for (const task of state.selectedIncident?.tasks || []) {
    const squadId = task.squad?.id ?? task.squad_id;
    if (task.state === "declined" || HELD.has(task.state)) out.add(squadId);
  }
  return out;
}

function declinedSquads() {
  return new Set((state.selectedIncident?.tasks || []).filter((task) => task.state === "declined").map((task) => task.squad?.id ?? task.squad_id));
}

function drawLegs(recommendation) {
  routeLayer.clearLayers();
  if (!recommendation) return;
  for (const leg of recommendation.legs) {
    const line = [leg.from.coordinates, leg.to.coordinates].map(([lon, lat]) => [lat, lon]);
    const style = {
      land: { color: "#0b5cad", weight: 4 },
      ferry: { color: "#006d77", weight: 4, dashArray: "8 8" },
      boat: { color: "#008b8b", weight: 3, dashArray: "2 6" },
    }[leg.mode] || { color: "#333" };
    const polyline = L.polyline(line, { ...style, className: `leg leg-${leg.mode}` });
    polyline.legMode = leg.mode;
    routeLayer.addLayer(polyline);
  }
}

function renderRecommendations() {
  const recs = state.recommendations;
  const canDispatch = incidentActions(state.selectedIncident || {}).includes("dispatch");
  detail.recsBlock.hidden = !canDispatch;
  if (!canDispatch) {
    drawLegs(null);
    return;
  }
  if (!recs.length) {
    detail.recs.replaceChildren(el("li", { class: "muted" }, t("detail.no_recommendations")));
    drawLegs(null);
    return;
  }
  const excluded = excludedSquads();
  const declined = declinedSquads();
  // The dispatcher's own ticks survive a live reload; until then the best squad not excluded.
  let ticks = state.ticks?.incident === state.selected ? state.ticks.ids : null;
  if (!ticks) {
    const first = recs.find((rec) => !excluded.has(rec.squad.id));
    ticks = new Set(first ? [first.squad.id] : []);
  }
  detail.recs.replaceChildren(
    ...recs.map((rec) => {
      const id = rec.squad.id;
      const checkbox = el("input", {
        type: "checkbox",
        value: id,
        checked: ticks.has(id) && !excluded.has(id),
        "aria-label": nameOf(rec.squad),
        onchange: () => {
          state.ticks = { incident: state.selected, ids: new Set(checkedSquads()) };
        },
      });
      const modes = [...new Set(rec.legs.map((leg) => t(`mode.${leg.mode}`)))].join(" + ");
      return el(
        "li",
        {
          class: `recommendation${declined.has(id) ? " declined" : ""}`,
          dataset: { squadId: id, declined: declined.has(id) ? "1" : null },
          onmouseenter: () => drawLegs(rec),
          onclick: () => drawLegs(rec),
        },
        el(
          "label",
          {},
          checkbox,
          el("strong", {}, nameOf(rec.squad)),
          " ",
          el("span", { class: "eta" }, `${t("detail.eta")} ${eta(rec.eta_seconds)}`),
          " ",
          el("span", { class: "mode small" }, modes),
          rec.covers_place ? el("span", { class: "tag" }, t("detail.covers")) : null,
          declined.has(id) ? el("span", { class: "tag warn" }, t("detail.declined_here")) : null
        )
      );
    })
  );
  drawLegs(recs[0]);
}

function renderActions(incident) {
  const allowed = new Set(incidentActions(incident));
  for (const button of detail.actions.querySelectorAll("button[data-action]")) button.hidden = !allowed.has(button.dataset.action);
}

function renderDetail(incident) {
  state.selectedIncident = incident;
  detail.none.hidden = true;
  detail.body.hidden = false;
  renderHead(incident);
  renderJurisdiction(incident);
  document.getElementById("case-map").href = `/maps/incidents/${incident.id}`;
  for (const task of incident.tasks) {
    const entry = state.tasks.get(task.id);
    if (!entry || !entry.data.squad) state.tasks.set(task.id, { data: task, rev: entry?.rev ?? 0 });
  }
  renderTasks();
  renderRecommendations();
  renderActions(incident);
}

async function showDetail(id) {
  const wantsRecs = (incident) => incidentActions(incident).includes("dispatch") || (incident.tasks || []).some((task) => (task.actions || []).includes("reassign"));
  const incident = await api("GET", `/incidents/${id}`);
  if (state.selected !== id) return;
  const recs = wantsRecs(incident)
    ? await api("GET", `/incidents/${id}/recommendations?limit=8`).catch(() => ({ recommendations: [] }))
    : { recommendations: [] };
  if (state.selected !== id) return;
  state.recommendations = recs.recommendations || [];
  renderDetail(incident);
  state.detailLoaded = id;
  state.detailLoads = (state.detailLoads || 0) + 1;
}

let reloadTimer = null;
function scheduleDetailReload() {
  clearTimeout(reloadTimer);
  const id = state.selected;
  reloadTimer = setTimeout(() => {
    if (id === state.selected) showDetail(id).catch((error) => message(errorText(error), "error"));
  }, 120);
}

function select(id, { keepCall = false } = {}) {
  if (!keepCall) calltaking.close();
  if (state.selected !== id) state.ticks = null;
  state.selected = id;
  state.cursor = id;
  state.detailLoaded = null;
  message("");
  for (const entry of state.incidents.values()) placeIncident(entry);
  renderIncidentList();
  listNode.querySelector(`li[data-incident-id='${id}']`)?.scrollIntoView({ block: "nearest" });
  const entry = state.incidents.get(id);
  if (entry) {
    const [lon, lat] = incidentLonLat(entry.data);
    map.panTo([lat, lon]);
  }
  showDetail(id).catch((error) => message(errorText(error), "error"));
}

function checkedSquads() {
  return [...detail.recs.querySelectorAll("input[type=checkbox]:checked")].map((box) => Number(box.value));
}

/** The server refused: its reason in the user's language; a 409 means this screen was stale. */
function refused(error, target = null) {
  const text = errorText(error);
  if (target) target.textContent = text;
  else message(text, "error");
  if (error.status === 409 && state.selected) {
    state.ticks = null;
    showDetail(state.selected).catch(console.error);
  }
}

async function dispatchChecked() {
  if (!incidentActions(state.selectedIncident || {}).includes("dispatch") || state.detailLoaded !== state.selected) return;
  const ids = checkedSquads();
  if (!ids.length) return message(t("detail.select_squad"), "error");
  try {
    const result = await api("POST", `/incidents/${state.selected}/dispatch`, { squad_ids: ids });
    for (const task of result.tasks) {
      const entry = state.tasks.get(task.id);
      if (!entry) state.tasks.set(task.id, { data: task, rev: 0 });
    }
    state.ticks = null;
    message(t("detail.dispatched"), "ok");
    await showDetail(state.selected);
  } catch (error) {
    refused(error);
  }
}

document.getElementById("dispatch").addEventListener("click", dispatchChecked);

document.getElementById("joint").addEventListener("click", async () => {
  const id = state.selected;
  try {
    const { proposals } = await api("GET", "/joint-inspections/proposals");
    const proposal = proposals.find((p) => p.incident_id === id);
    let body = null;
    if (proposal) {
      // The fields POST /joint-inspections takes (a proposal also carries its reason and squad details).
      const fields = ["target", "slot", "squad_ids", "lead_squad_id", "request_ids", "incident_id", "domains"];
      body = Object.fromEntries(fields.filter((f) => proposal[f] !== undefined).map((f) => [f, proposal[f]]));
    } else {
      const ids = checkedSquads();
      if (!ids.length) return message(t("detail.select_squad"), "error");
      const incident = state.selectedIncident;
      const start = new Date(Date.now() + 15 * 60 * 1000);
      body = {
        target: { name: (incident.address || incident.description || `#${id}`).slice(0, 200), location: incident.location },
        slot: { start: start.toISOString(), end: new Date(start.getTime() + 2 * 3600 * 1000).toISOString() },
        squad_ids: ids,
        incident_id: id,
      };
    }
    await api("POST", "/joint-inspections", body);
    message(t("detail.joint_created"), "ok");
  } catch (error) {
    refused(error);
  }
});

// -- the action dialog: close (outcome, note), cancel / reopen (reason), duplicate, task acts -------

const dialog = {
  node: document.getElementById("action-dialog"),
  form: document.getElementById("dialog-form"),
  title: document.getElementById("dialog-title"),
  fields: document.getElementById("dialog-fields"),
  error: document.getElementById("dialog-error"),
  confirm: null,
  opener: null,
};
const OUTCOMES = ["resolved_on_site", "rectified", "referred", "no_violation", "unfounded", "duplicate", "handled_elsewhere"];

function field(labelKey, control, name) {
  return el("label", { class: "dialog-field" }, t(labelKey), control, el("span", { class: "field-error", id: `dialog-err-${name}` }));
}

function textArea(name, { required = false, max = 500 } = {}) {
  return el("textarea", { name, rows: 3, maxlength: max, required, "aria-describedby": `dialog-err-${name}` });
}

/** Open the dialog: ``build`` gives its fields, ``run(form)`` acts (throws ApiError to show). */
function openDialog(titleText, build, run) {
  dialog.opener = document.activeElement;
  dialog.title.textContent = titleText;
  dialog.fields.replaceChildren(...build());
  dialog.error.textContent = "";
  dialog.confirm = run;
  dialog.node.showModal();
  dialog.fields.querySelector("select, textarea, input")?.focus();
}

function closeDialog() {
  if (dialog.node.open) dialog.node.close();
}

dialog.node.addEventListener("close", () => {
  dialog.confirm = null;
  dialog.opener?.focus?.();
});
document.getElementById("dialog-back").addEventListener("click", closeDialog);
dialog.form.addEventListener("input", (event) => {
  const name = event.target.name === "of_pick" ? "of" : event.target.name;
  const note = name && dialog.fields.querySelector(`#dialog-err-${name}`);
  if (note) note.textContent = ""; // the complaint goes once the field is touched
});
dialog.form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!dialog.confirm) return;
  for (const node of dialog.fields.querySelectorAll(".field-error")) node.textContent = "";
  dialog.error.textContent = "";
  const values = Object.fromEntries(new FormData(dialog.form).entries());
  const button = document.getElementById("dialog-confirm");
  button.disabled = true;
  try {
    const done = await dialog.confirm(values);
    if (done === false) return; // a value the dialog itself refused (shown beside its field)
    closeDialog();
    if (done) message(done, "ok");
    state.ticks = null;
    await showDetail(state.selected);
  } catch (error) {
    const name = fieldOf(error);
    const target = (name && dialog.fields.querySelector(`#dialog-err-${name}`)) || dialog.error;
    refused(error, target);
  } finally {
    button.disabled = false;
  }
});

function needs(values, name, key) {
  if ((values[name] || "").trim()) return true;
  dialog.fields.querySelector(`#dialog-err-${name}`).textContent = t(key);
  return false;
}

const ACTS = {
  close: (incident) =>
    openDialog(
      t("action.close_title", { id: incident.id }),
      () => [
        field("action.outcome", el("select", { name: "outcome", required: true }, el("option", { value: "" }, t("action.pick_outcome")), OUTCOMES.map((code) => el("option", { value: code }, t(`outcome.${code}`)))), "outcome"),
        field("action.note", textArea("note", { max: 2000 }), "note"),
      ],
      async (values) => {
        if (!needs(values, "outcome", "action.pick_outcome")) return false;
        const note = (values.note || "").trim();
        await api("POST", `/incidents/${incident.id}/close`, note ? { outcome: values.outcome, note } : { outcome: values.outcome });
        return t("action.done.close");
      }
    ),
  cancel: (incident) => reasonDialog(incident, "cancel", `/incidents/${incident.id}/cancel`),
  reopen: (incident) => reasonDialog(incident, "reopen", `/incidents/${incident.id}/reopen`),
  undo_duplicate: (incident) => reasonDialog(incident, "undo_duplicate", `/incidents/${incident.id}/undo-duplicate`, { optional: true }),
  mark_duplicate: (incident) => {
    const candidates = [...state.incidents.values()].map((e) => e.data).filter((i) => i.id !== incident.id);
    openDialog(
      t("action.mark_duplicate_title", { id: incident.id }),
      () => [
        field(
          "action.duplicate_of",
          el("select", { name: "of_pick" }, el("option", { value: "" }, "—"), candidates.map((i) => el("option", { value: i.id }, `#${i.id} ${(i.description || "").slice(0, 40)}`))),
          "of_pick"
        ),
        field("action.duplicate_id", el("input", { name: "of", inputmode: "numeric", autocomplete: "off", "aria-describedby": "dialog-err-of" }), "of"),
      ],
      async (values) => {
        const of = Number.parseInt(values.of || values.of_pick, 10);
        if (!Number.isInteger(of) || of <= 0) {
          dialog.fields.querySelector("#dialog-err-of").textContent = t("action.pick_duplicate");
          return false;
        }
        await api("POST", `/incidents/${incident.id}/duplicate`, { of });
        return t("action.done.mark_duplicate");
      }
    );
  },
  attach_call: (incident) => calltaking.open(incident),
};

function reasonDialog(incident, action, path, { optional = false } = {}) {
  openDialog(
    t(`action.${action}_title`, { id: incident.id }),
    () => [field(optional ? "action.reason_optional" : "action.reason", textArea("reason", { required: !optional }), "reason")],
    async (values) => {
      const reason = (values.reason || "").trim();
      if (!optional && !needs(values, "reason", "action.reason_required")) return false;
      await api("POST", path, optional && !reason ? {} : { reason });
      return t(`action.done.${action}`);
    }
  );
}

function taskAction(task, action) {
  if (action === "cancel") {
    openDialog(
      t("action.cancel_task_title", { squad: squadLabel(task) }),
      () => [field("action.reason", textArea("reason", { required: true }), "reason")],
      async (values) => {
        if (!needs(values, "reason", "action.reason_required")) return false;
        await api("POST", `/tasks/${task.id}/transition`, { to: "cancelled", reason: values.reason.trim() });
        return t("action.done.cancel_task");
      }
    );
  } else if (action === "reassign") {
    const excluded = excludedSquads();
    const options = state.recommendations.filter((rec) => !excluded.has(rec.squad.id));
    openDialog(
      t("action.reassign_title", { squad: squadLabel(task) }),
      () => [
        options.length
          ? el(
              "fieldset",
              { class: "dialog-field squads" },
              el("legend", {}, t("action.pick_squad")),
              options.map((rec, index) =>
                el(
                  "label",
                  { class: "squad-choice", dataset: { squadId: rec.squad.id } },
                  el("input", { type: "radio", name: "squad_id", value: rec.squad.id, checked: index === 0 }),
                  ` ${nameOf(rec.squad)} · ${t("detail.eta")} ${eta(rec.eta_seconds)}`
                )
              ),
              el("span", { class: "field-error", id: "dialog-err-squad_id" })
            )
          : el("p", { class: "muted" }, t("action.no_squad")),
        field("action.note", textArea("note", { max: 2000 }), "note"),
      ],
      async (values) => {
        if (!values.squad_id) {
          dialog.error.textContent = t("action.no_squad");
          return false;
        }
        const body = { squad_id: Number(values.squad_id) };
        if ((values.note || "").trim()) body.note = values.note.trim();
        await api("POST", `/tasks/${task.id}/reassign`, body);
        return t("action.done.reassign");
      }
    );
  }
}

detail.actions.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  const incident = state.selectedIncident;
  if (!button || !incident || ["dispatch", "joint"].includes(button.dataset.action)) return;
  ACTS[button.dataset.action]?.(incident);
});

// -- keyboard: the queue by arrows, Enter opens, D dispatches, N takes a call, Escape closes ------

function typing(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.tagName === "INPUT") return !["checkbox", "radio", "button", "submit"].includes(target.type); // a ticked squad, then D
  return target.isContentEditable || ["TEXTAREA", "SELECT"].includes(target.tagName);
}

function moveCursor(step) {
  const items = [...listNode.querySelectorAll("li.incident")];
  if (!items.length) return;
  const current = items.findIndex((li) => Number(li.dataset.incidentId) === (state.cursor ?? state.selected));
  const next = items[Math.min(items.length - 1, Math.max(0, current < 0 ? 0 : current + step))];
  state.cursor = Number(next.dataset.incidentId);
  for (const li of items) li.tabIndex = li === next ? 0 : -1;
  next.focus();
  next.scrollIntoView({ block: "nearest" });
}

document.addEventListener("keydown", (event) => {
  if (dialog.node.open) return; // the dialog has its own keys (Escape closes it)
  const inMap = event.target instanceof Element && event.target.closest("#map");
  if (event.key === "Escape" && calltaking.isOpen()) {
    event.preventDefault();
    calltaking.close();
    document.getElementById("tab-call").focus();
    return;
  }
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !calltaking.isOpen()) {
    event.preventDefault();
    dispatchChecked();
    return;
  }
  if (typing(event.target) || inMap || event.altKey || event.ctrlKey || event.metaKey) return;
  const onQueue = event.target instanceof Element && event.target.closest("#incidents");
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    if (calltaking.isOpen()) return;
    event.preventDefault();
    moveCursor(event.key === "ArrowDown" ? 1 : -1);
  } else if (event.key === "Enter" && onQueue) {
    event.preventDefault();
    select(Number(event.target.closest("li.incident").dataset.incidentId));
  } else if (event.key === "d" || event.key === "D") {
    if (calltaking.isOpen()) return;
    event.preventDefault();
    dispatchChecked();
  } else if ((event.key === "n" || event.key === "N") && may("intake")) {
    event.preventDefault();
    calltaking.open();
  }
});

document.getElementById("tab-call").addEventListener("click", () => calltaking.open());
document.getElementById("tab-call").hidden = !may("intake"); // a supervisor reads the queue, takes no calls
document.getElementById("tab-queue").addEventListener("click", () => calltaking.close());
document.getElementById("call-close").addEventListener("click", () => calltaking.close());

// -- legend: force by outline colour, status by fill, incidents by priority -----------------------

const legend = L.control({ position: "bottomleft" });
function swatch(className, border, fill) {
  const node = el("span", { class: className, "aria-hidden": "true" }); // colours through the CSSOM (CSP)
  if (border) node.style.borderColor = border;
  if (fill) node.style.background = fill;
  return node;
}
const legendItem = (mark, text) => el("span", { class: "legend-item" }, mark, text);
legend.onAdd = () =>
  el(
    "div",
    { class: "legend", id: "legend" },
    el(
      "div",
      {},
      el("strong", {}, `${t("legend.force")} `),
      Object.entries(FORCE_COLOUR).map(([force, colour]) => legendItem(swatch("dot", colour, "#ffffff"), t(`force.${force}`)))
    ),
    el(
      "div",
      {},
      el("strong", {}, `${t("legend.status")} `),
      Object.entries(STATUS_FILL).map(([status, fill]) => legendItem(swatch("dot", "#0072B2", fill || "#0072B2"), t(`squad.status.${status}`)))
    ),
    el(
      "div",
      {},
      el("strong", {}, `${t("legend.priority")} `),
      Object.entries(PRIORITY_COLOUR).map(([p, colour]) => legendItem(swatch("dot big", "#222", colour), `P${p}`)),
      legendItem(el("span", { class: "swatch-uncovered", "aria-hidden": "true" }), t("legend.uncovered"))
    )
  );
legend.addTo(map);

// -- start: layers, subscribe, snapshot; measure the first render ---------------------------------

async function start() {
  const regions = api("GET", "/regions"); // once for the page: the map, the place names, the call form
  for (const panel of PANELS) panel.init?.({ map, state, select, regions });
  calltaking.init({ map, select, message });
  // The loads run in parallel, the snapshot at once. Updates committed between its read and the
  // subscription would fall in between: when it was asked before the socket was up, it is read
  // again once the socket is (catchUp: the revs keep what is newer), after the first render.
  const subscribedFirst = socket.connected;
  const zones = api("GET", "/zones");
  const snapshot = api("GET", "/command/snapshot");
  await Promise.all([
    regions.then((collection) => {
      calltaking.setRegions(collection);
      for (const f of collection.features) regionNames.set(f.properties.name, f.properties);
      scheduleList();
      return loadRegions(map, { collection });
    }),
    zones.then(loadZones),
    snapshot.then(catchUp),
  ]);
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  state.firstRenderMs = Math.round(performance.now());
  if (!subscribedFirst) {
    const again = () => catchUp().catch(console.error);
    if (socket.connected) again();
    else socket.once("connect", again);
  }
  watchScheduledPlans().catch(console.error);
  calltaking.loadMatters().catch(console.error); // the matters' names in the page's language
  document.getElementById("first-render").textContent = `${state.firstRenderMs} ms (${state.squads.size})`;
  document.body.dataset.ready = "1";
}

start().catch((error) => {
  console.error(error);
  banner(error.message, "error");
});
