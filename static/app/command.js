// The command centre: live map, open incidents with SLA countdowns, jurisdiction, recommendations, dispatch.
// Follows /command without gaps: subscribe first, load the snapshot, apply only updates with a newer rev.
import { api, banner, baseMap, countdown, el, loadRegions, minutes, nameOf, settings, t, zoneColour } from "./common.js";
// Panels of their own modules, each fed the snapshot and the updates of its types (see each module's header).
import * as alerts from "./alerts.js";
import * as board from "./board.js";
import * as coverage from "./coverage.js";

const PANELS = [board, coverage, alerts];

// Okabe-Ito (safe under deuteranopia/protanopia): squads' force by outline, their status by fill (available:
// the force's colour, busy: a dark centre, off duty: hollow), incidents by priority (P1 the darkest, labelled).
const FORCE_COLOUR = { comprehensive: "#0072B2", professional: "#CC79A7", maritime: "#009E73" };
const STATUS_FILL = { available: null, busy: "#000000", off_duty: "#ffffff" };
const PRIORITY_COLOUR = { 1: "#D55E00", 2: "#E69F00", 3: "#F0E442" };
const OPEN = new Set(["open", "dispatched"]);

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

function renderIncidentList() {
  const items = [...state.incidents.values()]
    .map((e) => e.data)
    .sort((a, b) => a.priority - b.priority || new Date(a.sla_deadline) - new Date(b.sla_deadline));
  listNode.replaceChildren(
    ...items.map((incident) =>
      el(
        "li",
        {
          class: `incident p${incident.priority}${incident.id === state.selected ? " selected" : ""}`,
          dataset: { incidentId: incident.id, status: incident.status },
          tabindex: 0,
          onclick: () => select(incident.id),
        },
        el("span", { class: `badge p${incident.priority}` }, `P${incident.priority}`),
        el("span", { class: "status" }, t(`incident.status.${incident.status}`)),
        el("span", { class: "sla", dataset: { deadline: incident.sla_deadline } }, ""),
        el("div", { class: "desc" }, `#${incident.id} ${incident.description || ""}`),
        el("div", { class: "matters small muted" }, (incident.matters || []).join(", "))
      )
    )
  );
  document.getElementById("incident-count").textContent = items.length ? `(${items.length})` : "";
  document.getElementById("incidents-empty").hidden = items.length > 0;
  tickCountdowns();
}

function tickCountdowns() {
  const now = Date.now();
  for (const node of listNode.querySelectorAll(".sla")) {
    const c = countdown(node.dataset.deadline, now);
    node.textContent = c.overdue ? `${t("incident.overdue")} ${c.text}` : `${t("incident.sla")} ${c.text}`;
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
    if (!OPEN.has(data.status)) {
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
    if (id === state.selected) refreshDetailHead();
  } else if (type === "task") {
    const entry = state.tasks.get(id);
    if (entry && (rev ?? 0) <= entry.rev) return;
    state.tasks.set(id, { data, rev: rev ?? 0 });
    if (data.incident_id === state.selected) renderTasks();
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

// -- selection: jurisdiction, tasks, recommendations, dispatch ------------------------------------

const detail = {
  none: document.getElementById("detail-none"),
  body: document.getElementById("detail-body"),
  head: document.getElementById("detail-head"),
  tasks: document.getElementById("tasks"),
  recs: document.getElementById("recommendations"),
  message: document.getElementById("detail-message"),
};

function message(text, kind = "ok") {
  detail.message.textContent = text || "";
  detail.message.className = `message ${kind}`;
}

function refreshDetailHead() {
  const entry = state.incidents.get(state.selected);
  const incident = entry?.data || state.selectedIncident;
  if (!incident) return;
  detail.head.textContent = `#${incident.id} P${incident.priority} · ${t(`incident.status.${incident.status}`)} · ${incident.description || ""}`;
}

function renderTasks() {
  const tasks = [...state.tasks.values()].map((e) => e.data).filter((task) => task.incident_id === state.selected);
  tasks.sort((a, b) => a.id - b.id);
  detail.tasks.replaceChildren(
    ...tasks.map((task) =>
      el(
        "li",
        { dataset: { taskId: task.id, state: task.state } },
        `${task.squad ? nameOf(task.squad) : `#${task.squad_id}`} — `,
        el("span", { class: `state ${task.state}` }, t(`task.state.${task.state}`))
      )
    )
  );
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
  if (!recs.length) {
    detail.recs.replaceChildren(el("li", { class: "muted" }, t("detail.no_recommendations")));
    drawLegs(null);
    return;
  }
  detail.recs.replaceChildren(
    ...recs.map((rec, index) => {
      const checkbox = el("input", { type: "checkbox", value: rec.squad.id, checked: index === 0 });
      const modes = [...new Set(rec.legs.map((leg) => t(`mode.${leg.mode}`)))].join(" + ");
      return el(
        "li",
        { class: "recommendation", dataset: { squadId: rec.squad.id }, onmouseenter: () => drawLegs(rec), onclick: () => drawLegs(rec) },
        el(
          "label",
          {},
          checkbox,
          el("strong", {}, nameOf(rec.squad)),
          " ",
          el("span", { class: "eta" }, `${t("detail.eta")} ${minutes(rec.eta_seconds)} ${t("detail.minutes")}`),
          " ",
          el("span", { class: "mode small" }, modes),
          rec.covers_place ? el("span", { class: "tag" }, t("detail.covers")) : null
        )
      );
    })
  );
  drawLegs(recs[0]);
}

async function showDetail(id) {
  const [incident, recs] = await Promise.all([
    api("GET", `/incidents/${id}`),
    api("GET", `/incidents/${id}/recommendations?limit=8`).catch(() => ({ recommendations: [] })),
  ]);
  if (state.selected !== id) return;
  state.selectedIncident = incident;
  detail.none.hidden = true;
  detail.body.hidden = false;
  refreshDetailHead();
  const j = incident.jurisdiction;
  document.getElementById("j-region").textContent = j ? nameOf(j.region) : "—";
  document.getElementById("j-zone").textContent = j?.zone ? `${nameOf(j.zone)} (${t("planner.hub")} ${nameOf(j.zone.hub)})` : "—";
  document.getElementById("j-authority").textContent = j ? nameOf(j.authority) : "—";
  document.getElementById("j-basis").textContent = j?.basis || "—";
  document.getElementById("case-map").href = `/maps/incidents/${id}`;
  for (const task of incident.tasks) {
    const entry = state.tasks.get(task.id);
    if (!entry || !entry.data.squad) state.tasks.set(task.id, { data: task, rev: entry?.rev ?? 0 });
  }
  renderTasks();
  state.recommendations = recs.recommendations || [];
  renderRecommendations();
  state.detailLoaded = id;
}

function select(id) {
  state.selected = id;
  state.detailLoaded = null;
  message("");
  for (const entry of state.incidents.values()) placeIncident(entry);
  renderIncidentList();
  const entry = state.incidents.get(id);
  if (entry) {
    const [lon, lat] = incidentLonLat(entry.data);
    map.panTo([lat, lon]);
  }
  showDetail(id).catch((error) => message(error.message, "error"));
}

function checkedSquads() {
  return [...detail.recs.querySelectorAll("input[type=checkbox]:checked")].map((box) => Number(box.value));
}

document.getElementById("dispatch").addEventListener("click", async () => {
  const ids = checkedSquads();
  if (!ids.length) return message(t("detail.select_squad"), "error");
  try {
    const result = await api("POST", `/incidents/${state.selected}/dispatch`, { squad_ids: ids });
    for (const task of result.tasks) {
      const entry = state.tasks.get(task.id);
      if (!entry) state.tasks.set(task.id, { data: task, rev: 0 });
    }
    renderTasks();
    message(t("detail.dispatched"), "ok");
  } catch (error) {
    message(error.message, "error");
  }
});

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
    message(error.message, "error");
  }
});

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
  for (const panel of PANELS) panel.init?.({ map, state, select });
  // The three loads run in parallel; the snapshot only once subscribed (so no update falls in between).
  const subscribed = new Promise((resolve) => {
    if (socket.connected) resolve();
    socket.once("connect", resolve);
    setTimeout(resolve, 3000); // no websocket (a proxy?): start anyway, the banner tells
  });
  const regions = api("GET", "/regions");
  const zones = api("GET", "/zones");
  const snapshot = subscribed.then(() => api("GET", "/command/snapshot"));
  await Promise.all([
    regions.then((collection) => loadRegions(map, { collection })),
    zones.then(loadZones),
    snapshot.then(catchUp),
  ]);
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  state.firstRenderMs = Math.round(performance.now());
  watchScheduledPlans().catch(console.error);
  document.getElementById("first-render").textContent = `${state.firstRenderMs} ms (${state.squads.size})`;
  document.body.dataset.ready = "1";
}

start().catch((error) => {
  console.error(error);
  banner(error.message, "error");
});
