// Shared by the three screens: settings, the string catalogue, the JSON API, safe DOM, the base map.
// Every user-provided string is rendered with textContent, never innerHTML.

export const settings = JSON.parse(document.getElementById("settings").textContent);
const catalogue = JSON.parse(document.getElementById("catalogue").textContent);

/** Whether the signed-in role may do ``action`` (dispatch.accounts.PERMISSIONS, sent as settings.may):
 * a screen shows only the controls of what its user may do. A page without the list (the tablet) shows all. */
export function may(action) {
  return !Array.isArray(settings.may) || settings.may.includes(action);
}

/** The string of ``key`` in the page's language, with {name} placeholders filled. */
export function t(key, values = {}) {
  const text = catalogue[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

/** An element with attributes and text (text goes through textContent). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

let bearer = null;

/** A tablet signs in with its token: every later call carries it (people use their session cookie). */
export function useToken(token) {
  bearer = token;
}

/** JSON over HTTP to /api/v1, as the signed-in person or the tablet's token (the server records who:
 * a page never names its actor). Throws ApiError on 4xx/5xx. */
export async function api(method, path, body, { token } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token || bearer) headers.Authorization = `Bearer ${token || bearer}`;
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.headers.get("Content-Type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** The name to show: English when the page is in English and the entity has one. */
export function nameOf(entity) {
  if (!entity) return "";
  return settings.lang === "en" && entity.name_en ? entity.name_en : entity.name ?? entity.name_zh ?? entity.code ?? "";
}

export function banner(text, kind = "warn") {
  const node = document.getElementById("banner");
  if (!text) {
    node.hidden = true;
    node.textContent = "";
    return;
  }
  node.hidden = false;
  node.className = `banner ${kind}`;
  node.textContent = text;
}

const ZONE_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"];

export function zoneColour(index) {
  return ZONE_COLOURS[index % ZONE_COLOURS.length];
}

/** A Leaflet map with our own base layers (sea, townships); a tile layer only when configured. */
export function baseMap(elementId, options = {}) {
  const map = L.map(elementId, { preferCanvas: true, zoomSnap: 0.25, attributionControl: false, ...options });
  map.getContainer().classList.add("sea");
  if (settings.tile_url) {
    L.tileLayer(settings.tile_url, { attribution: settings.tile_attribution, maxZoom: 18 }).addTo(map);
  }
  // Own panes under the markers, so layers can be drawn in whatever order their data arrives.
  map.createPane("land").style.zIndex = 350;
  map.createPane("zones").style.zIndex = 360;
  map.setView([30.72, 122.5], 10);
  return map;
}

/** Township boundaries from GET /regions, fitted into view. Returns {layer, features}. */
export async function loadRegions(map, { style, onEachFeature, collection } = {}) {
  collection = collection || (await api("GET", "/regions"));
  const features = collection.features.filter((f) => f.geometry && ["township", "street"].includes(f.properties.level));
  const layer = L.geoJSON(features, {
    pane: "land",
    style: style || (() => ({ color: "#5a6b5a", weight: 1, fillColor: "#f3efe0", fillOpacity: 1 })),
    onEachFeature,
  }).addTo(map);
  map.invalidateSize();
  if (features.length) map.fitBounds(layer.getBounds(), { padding: [10, 10], animate: false });
  return { layer, features };
}

export function minutes(seconds) {
  return Math.max(1, Math.ceil(seconds / 60));
}

/** "12:34" left until ``deadline`` (or "-05:10" overdue), with the state. */
export function countdown(deadline, now = Date.now()) {
  const left = Math.round((new Date(deadline).getTime() - now) / 1000);
  const abs = Math.abs(left);
  const h = Math.floor(abs / 3600);
  const m = Math.floor((abs % 3600) / 60);
  const s = abs % 60;
  const pad = (n) => String(n).padStart(2, "0");
  const text = (left < 0 ? "-" : "") + (h ? `${h}:${pad(m)}:${pad(s)}` : `${pad(m)}:${pad(s)}`);
  return { text, overdue: left < 0, urgent: left >= 0 && left < 15 * 60 };
}

/** Live updates of one kind, applied in rev order: held while the list they update is (re)loaded
 * and applied after it (they are newer); an update no newer than the last applied for its id is dropped. */
export class RevFeed {
  constructor(apply) {
    this.apply = apply;
    this.revs = new Map(); // id -> rev of the last update applied
    this.held = null;
  }

  hold() {
    this.held = [];
  }

  release() {
    const held = this.held || [];
    this.held = null;
    for (const update of held) this.push(update);
  }

  discard() {
    this.held = null;
  }

  push(update) {
    if (this.held) {
      this.held.push(update);
      return;
    }
    const last = this.revs.get(update.id);
    if (last !== undefined && update.rev !== undefined && update.rev <= last) return;
    if (update.rev !== undefined) this.revs.set(update.id, update.rev);
    this.apply(update);
  }
}
