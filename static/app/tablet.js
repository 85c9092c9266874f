// A squad's tablet: token sign-in, the current task, lifecycle buttons, and an offline queue.
// Every action and position fix goes into a queue kept in localStorage and is sent in order;
// when the network is away the queue waits, and the screen shows how much is waiting.
import { ApiError, api, banner, el, nameOf, settings, t, useToken } from "./common.js";

const KEY = "dispatch.tablet.";
const store = {
  get(name, fallback = null) {
    const raw = localStorage.getItem(KEY + name);
    return raw === null ? fallback : JSON.parse(raw);
  },
  set(name, value) {
    localStorage.setItem(KEY + name, JSON.stringify(value));
  },
  clear() {
    for (const name of Object.keys(localStorage)) if (name.startsWith(KEY)) localStorage.removeItem(name);
  },
};

const params = new URLSearchParams(location.search);
const FIX_INTERVAL_MS = Number(params.get("interval") || 5000);
const TERMINAL = new Set(["completed", "declined", "cancelled"]);
const NEXT = {
  scheduled: ["acknowledged", "en_route", "declined"],
  dispatched: ["acknowledged", "declined"],
  acknowledged: ["en_route", "declined"],
  en_route: ["on_scene"],
  on_scene: ["completed"],
};

const tablet = { token: null, squad: null, socket: null, flushing: false, position: null, errors: [] };
window.squadTablet = tablet; // for the browser tests (tablet.addFix: a fix as the GPS would give it)

const $ = (id) => document.getElementById(id);

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
  items.push({ ...item, queued_at: new Date().toISOString(), key: `${Date.now()}-${Math.random().toString(36).slice(2, 8)}` });
  saveQueue(items);
  flush();
}

function renderQueue() {
  const items = queue();
  $("pending").textContent = String(items.length);
  $("pending").dataset.count = String(items.length);
  $("queue").replaceChildren(
    ...items.slice(0, 20).map((item) =>
      el("li", {}, item.kind === "transition" ? `${item.task_id} → ${t(`task.state.${item.to}`)}` : `${t("tablet.gps")} ${item.fix.time}`)
    )
  );
}

function online(isOnline) {
  const net = $("net");
  net.textContent = isOnline ? t("tablet.online") : t("tablet.offline");
  net.className = `net ${isOnline ? "on" : "off"}`;
}

/** Send what waits, oldest first; stop at the first network failure and try again later. */
async function flush() {
  if (tablet.flushing || !tablet.squad) return;
  tablet.flushing = true;
  try {
    for (;;) {
      const items = queue();
      if (!items.length) break;
      const head = items[0];
      let taken = 1;
      try {
        if (head.kind === "transition") {
          const body = { to: head.to };
          if (head.reason) body.reason = head.reason;
          if (head.note) body.note = head.note;
          if (head.location) body.location = head.location;
          const task = await api("POST", `/tasks/${head.task_id}/transition`, body);
          if (queue().filter((i) => i.kind === "transition").length <= 1) showTask(task);
        } else {
          const fixes = [];
          while (fixes.length < items.length && items[fixes.length].kind === "fix" && fixes.length < 500) {
            fixes.push(items[fixes.length].fix);
          }
          taken = fixes.length;
          await api("POST", `/squads/${tablet.squad.id}/positions`, { fixes }, { token: tablet.token });
        }
      } catch (error) {
        if (error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 408 && error.status !== 429) {
          // The server refused it for good (an illegal transition, say): drop it and say so.
          message(`${t("tablet.refused")}: ${error.message}`, "error");
          tablet.errors.push({ item: head, error: error.body });
          if (error.status === 401) return signOut(t("tablet.bad_token"));
        } else {
          online(false);
          break; // network or server away: keep the queue, retry later
        }
      }
      online(true);
      const rest = queue();
      // Items are only ever appended while we send: drop exactly what was sent.
      saveQueue(rest.slice(taken));
    }
  } finally {
    tablet.flushing = false;
  }
}

setInterval(flush, 3000);
window.addEventListener("online", () => {
  online(true);
  flush();
});
window.addEventListener("offline", () => online(false));

// -- the current task -----------------------------------------------------------------------------

function message(text, kind = "ok") {
  $("tablet-message").textContent = text || "";
  $("tablet-message").className = `message ${kind}`;
}

let taskMap = null;
let taskLayer = null;

async function drawTaskMap(task) {
  if (!task.incident_id) return;
  let incident = store.get(`incident.${task.incident_id}`);
  if (!incident) {
    try {
      incident = await api("GET", `/incidents/${task.incident_id}`);
      store.set(`incident.${task.incident_id}`, {
        id: incident.id,
        description: incident.description,
        address: incident.address,
        location: incident.location,
        priority: incident.priority,
      });
    } catch {
      return; // offline: the map comes with the network
    }
  }
  $("task-desc").textContent = [incident.address, incident.description].filter(Boolean).join(" · ");
  if (!taskMap) {
    taskMap = L.map("task-map", { attributionControl: false });
    $("task-map").classList.add("sea");
    if (settings.tile_url) L.tileLayer(settings.tile_url, { maxZoom: 18 }).addTo(taskMap);
    taskLayer = L.layerGroup().addTo(taskMap);
    taskMap.createPane("land").style.zIndex = 350; // under the markers, whenever it arrives
    try {
      const regions = await api("GET", "/regions");
      L.geoJSON(
        regions.features.filter((f) => f.geometry && f.properties.level !== "county"),
        { pane: "land", style: { color: "#5a6b5a", weight: 1, fillColor: "#f3efe0", fillOpacity: 1 }, interactive: false }
      ).addTo(taskMap);
    } catch {
      /* offline: markers only */
    }
  }
  taskLayer.clearLayers();
  const [lon, lat] = incident.location.coordinates;
  const target = L.circleMarker([lat, lon], { radius: 10, color: "#d7191c", fillOpacity: 0.9 }).addTo(taskLayer);
  const points = [target.getLatLng()];
  if (tablet.position) {
    const here = L.latLng(tablet.position[1], tablet.position[0]);
    L.circleMarker(here, { radius: 7, color: "#0b5cad", fillOpacity: 0.9 }).addTo(taskLayer);
    L.polyline([here, target.getLatLng()], { color: "#0b5cad", dashArray: "6 6" }).addTo(taskLayer);
    points.push(here);
  }
  taskMap.fitBounds(L.latLngBounds(points).pad(0.5), { maxZoom: 15 });
}

function showTask(task, { fromServer = false } = {}) {
  if (!task || TERMINAL.has(task.state)) {
    store.set("task", null);
    $("task").hidden = true;
    $("no-task").hidden = false;
    return;
  }
  const current = store.get("task");
  const waiting = queue().some((i) => i.kind === "transition" && i.task_id === task.id);
  if (fromServer && waiting && current?.id === task.id) return; // our own queued steps are newer
  store.set("task", task);
  $("no-task").hidden = true;
  $("task").hidden = false;
  $("task").dataset.taskId = task.id;
  $("task").dataset.state = task.state;
  $("task-head").textContent = `#${task.incident_id ?? task.joint_inspection_id} · ${t(`task.kind.${task.kind}`)}`;
  $("task-state").textContent = t(`task.state.${task.state}`);
  const allowed = new Set(NEXT[task.state] || []);
  for (const button of document.querySelectorAll(".lifecycle button")) {
    button.disabled = !allowed.has(button.dataset.to);
  }
  drawTaskMap(task);
}

function act(to) {
  const task = store.get("task");
  if (!task) return;
  const reason = $("reason").value.trim();
  if (to === "declined" && !reason) return message(t("tablet.reason_required"), "error");
  const note = $("note").value.trim();
  const item = { kind: "transition", task_id: task.id, to };
  if (to === "declined") item.reason = reason;
  if (note) item.note = note;
  if (tablet.position) item.location = { type: "Point", coordinates: tablet.position };
  $("note").value = "";
  $("reason").value = "";
  message("");
  // Show the step at once; the queue carries it to the server.
  showTask({ ...task, state: to });
  enqueue(item);
}

for (const button of document.querySelectorAll(".lifecycle button")) {
  button.addEventListener("click", () => act(button.dataset.to));
}

// -- messages from the server: deduplicated by seq, acknowledged once stored ----------------------

function onTask(message) {
  const last = store.get("last_seq", 0);
  if (message.seq > last) {
    const current = store.get("task");
    const task = message.task;
    if (TERMINAL.has(task.state)) {
      if (current?.id === task.id) {
        showTask(null);
        if (task.state === "cancelled") banner(t("tablet.cancelled"), "warn");
      }
    } else {
      showTask(task, { fromServer: true });
    }
    store.set("last_seq", message.seq);
  }
  tablet.socket.emit("ack", { seq: message.seq });
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
  const task = store.get("task");
  const incident = task && store.get(`incident.${task.incident_id}`);
  const [lon, lat] = tablet.position;
  const step = (8.3 * FIX_INTERVAL_MS) / 1000; // metres
  let heading;
  if (incident && ["en_route", "acknowledged"].includes(task.state)) {
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

function signOut(reason) {
  tablet.socket?.disconnect();
  tablet.socket = null;
  tablet.squad = null;
  store.clear();
  $("signed-in").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = reason || "";
  positionSource("off");
  store.clear();
}

async function squadInfo(squadId) {
  const cached = store.get("squad");
  if (cached?.id === squadId) return cached;
  const squads = await api("GET", "/squads");
  const feature = squads.features.find((f) => f.properties.id === squadId);
  const squad = { ...feature.properties, position: feature.geometry.coordinates };
  store.set("squad", squad);
  return squad;
}

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
  socket.on("connect_error", (error) => {
    if (String(error.message).includes("unauthorized")) signOut(t("tablet.bad_token"));
    else online(false);
  });
  socket.on("disconnect", () => online(false));
  socket.on("welcome", async ({ squad_id: squadId }) => {
    online(true);
    try {
      tablet.squad = await squadInfo(squadId);
    } catch (error) {
      message(error.message, "error");
      return;
    }
    store.set("token", token);
    if (!tablet.position) tablet.position = tablet.squad.position;
    $("signin").hidden = true;
    $("signed-in").hidden = false;
    $("squad-name").textContent = nameOf(tablet.squad);
    $("squad-name").dataset.squadId = squadId;
    if (!tablet.started) {
      tablet.started = true;
      positionSource(params.get("positions") || store.get("positions") || "gps");
    }
    showTask(store.get("task"));
    document.body.dataset.ready = "1";
    flush();
  });
  socket.on("task", onTask);
}

$("signin").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  if (token) {
    store.clear();
    connect(token);
  }
});
$("signout").addEventListener("click", () => signOut());

renderQueue();
const saved = store.get("token");
if (saved) {
  // Signed in before: work offline from what is stored until the server answers.
  const squad = store.get("squad");
  if (squad) {
    tablet.squad = squad;
    tablet.position = squad.position;
    $("signed-in").hidden = false;
    $("squad-name").textContent = nameOf(squad);
    showTask(store.get("task"));
  }
  connect(saved);
} else {
  $("signin").hidden = false;
}
online(navigator.onLine);
