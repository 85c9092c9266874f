// Live 1+X coverage: townships shaded when uncovered (GET /api/v1/coverage, `coverage` updates).
// command.js calls init({map, state, select}), snapshot(snapshot), update(update), planChanged(plan).
//
// Also the map's place names: a permanent label per township at its reference point (the polygon's
// bounds centre until the coverage answer gives the reference point).
import { RevFeed, api, el, nameOf, settings, t } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";
const MAX_LISTED = 6; // townships named in the box on the map (the rest counted)
const HATCH_ID = "coverage-hatch";
// Uncovered: diagonal hatching and a dark dashed outline (not a colour alone; readable by everyone).
const UNCOVERED_STYLE = { color: "#1d2733", weight: 3, dashArray: "6 4", fillColor: `url(#${HATCH_ID})`, fillOpacity: 1, opacity: 0.9 };

const coverage = {
  townships: new Map(), // region code -> township item of GET /coverage
  uncovered: 0,
  computedAt: null,
  loaded: false,
  failed: false,
  fetches: 0,
};

let ctx = null;
let shadeLayer = null; // uncovered townships (SVG: the hatch is an SVG pattern)
let labelLayer = null; // place names
let polygons = new Map(); // region code -> GeoJSON feature
const labels = new Map(); // region code -> marker
let box = null; // the compact list on the map
let loading = null; // the GET in flight

function hmm(seconds) {
  const total = Math.max(0, Math.round(seconds / 60));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

function addHatchPattern() {
  if (document.getElementById(HATCH_ID)) return;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("width", "0");
  svg.setAttribute("height", "0");
  svg.setAttribute("aria-hidden", "true");
  svg.classList.add("svg-defs");
  const pattern = document.createElementNS(SVG, "pattern");
  pattern.id = HATCH_ID;
  for (const [name, value] of Object.entries({ width: 8, height: 8, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }))
    pattern.setAttribute(name, value);
  const ground = document.createElementNS(SVG, "rect");
  for (const [name, value] of Object.entries({ width: 8, height: 8, fill: "#E69F00", "fill-opacity": 0.28 })) ground.setAttribute(name, value);
  const line = document.createElementNS(SVG, "rect");
  for (const [name, value] of Object.entries({ width: 3, height: 8, fill: "#1d2733", "fill-opacity": 0.55 })) line.setAttribute(name, value);
  pattern.append(ground, line);
  const defs = document.createElementNS(SVG, "defs");
  defs.append(pattern);
  svg.append(defs);
  document.body.append(svg);
}

// -- place names ---------------------------------------------------------------------------------------

function boundsCentre(feature) {
  const bounds = L.geoJSON(feature).getBounds();
  return bounds.isValid() ? bounds.getCenter() : null;
}

/** A place name as a label: English names without "Town"/"Township" (the map is small). */
function labelText(name) {
  return settings.lang === "en" ? name.replace(/\s+(Township|Town|Subdistrict|Street)$/i, "") : name;
}

function placeLabel(code, name, latlng) {
  if (!latlng) return;
  let marker = labels.get(code);
  if (!marker) {
    const icon = L.divIcon({ className: "place-label", html: "", iconSize: null });
    marker = L.marker(latlng, { icon, pane: "placeLabels", interactive: false, keyboard: false });
    marker.addTo(labelLayer);
    labels.set(code, marker);
  } else {
    marker.setLatLng(latlng);
  }
  const node = marker.getElement();
  if (node) {
    node.replaceChildren(el("span", { title: name }, labelText(name))); // textContent (the divIcon's html stays empty)
    node.dataset.region = code;
  }
  scheduleDeclutter();
}

const GRID_PX = 64; // cells of the overlap check

/** Hide the labels that would overlap one already shown (uncovered townships first), among those in
 * view. One pass of writes, one of reads (a single layout, not one per label: with a thousand
 * townships the per-label way took 0.4 s of the first render), then overlaps by a grid of cells. */
function declutter() {
  const view = ctx.map.getBounds().pad(0.1);
  const entries = [];
  for (const [code, marker] of labels) {
    const node = marker.getElement();
    if (!node?.firstChild) continue;
    const visible = view.contains(marker.getLatLng());
    node.classList.toggle("hidden-label", !visible);
    if (visible) entries.push([code, node]);
  }
  const uncoveredFirst = (code) => (coverage.townships.get(code)?.covered === false ? 0 : 1);
  entries.sort(([a], [b]) => uncoveredFirst(a) - uncoveredFirst(b));
  const boxes = entries.map(([, node]) => node.firstChild.getBoundingClientRect()); // reads only
  const grid = new Map();
  const cells = (box) => {
    const out = [];
    for (let x = Math.floor(box.left / GRID_PX); x <= Math.floor(box.right / GRID_PX); x += 1)
      for (let y = Math.floor(box.top / GRID_PX); y <= Math.floor(box.bottom / GRID_PX); y += 1) out.push(`${x}:${y}`);
    return out;
  };
  entries.forEach(([, node], index) => {
    const box = boxes[index];
    const near = cells(box);
    const overlaps = near.some((cell) =>
      (grid.get(cell) || []).some((o) => box.left < o.right + 2 && box.right > o.left - 2 && box.top < o.bottom && box.bottom > o.top)
    );
    if (overlaps) {
      node.classList.add("hidden-label");
      return;
    }
    for (const cell of near) (grid.get(cell) || grid.set(cell, []).get(cell)).push(box);
  });
}

let declutterPending = false;
function scheduleDeclutter() {
  if (declutterPending) return;
  declutterPending = true;
  requestAnimationFrame(() => {
    declutterPending = false;
    declutter();
  });
}

async function loadPlaces() {
  const collection = await (ctx.regions || api("GET", "/regions")); // the page's own request when it made one
  polygons = new Map(
    collection.features.filter((f) => f.geometry && ["township", "street"].includes(f.properties.level)).map((f) => [f.properties.code, f])
  );
  for (const [code, feature] of polygons) {
    if (coverage.townships.get(code)?.reference_point) continue; // the coverage answer placed it
    const p = feature.properties;
    placeLabel(code, nameOf({ name: p.name ?? p.name_zh, name_en: p.name_en }), boundsCentre(feature));
  }
  redraw();
}

// -- coverage --------------------------------------------------------------------------------------------

function regionName(item) {
  return nameOf(item.region);
}

function applyItem(item) {
  const code = item.region.code;
  coverage.townships.set(code, item);
  if (item.reference_point) {
    const [lon, lat] = item.reference_point.coordinates;
    placeLabel(code, regionName(item), L.latLng(lat, lon));
  }
}

function redraw() {
  if (!shadeLayer) return;
  shadeLayer.clearLayers();
  const uncovered = [...coverage.townships.values()].filter((item) => !item.covered);
  coverage.uncovered = uncovered.length;
  for (const item of uncovered) {
    const feature = polygons.get(item.region.code);
    if (!feature) continue;
    const layer = L.geoJSON(feature, { pane: "coverage", renderer: svgRenderer, style: UNCOVERED_STYLE, interactive: true });
    layer.regionCode = item.region.code;
    layer.bindTooltip(() => el("div", {}, describe(item)), { sticky: true });
    shadeLayer.addLayer(layer);
  }
  for (const [code, marker] of labels) marker.getElement()?.classList.toggle("uncovered", coverage.townships.get(code)?.covered === false);
  scheduleDeclutter();
  renderBox(uncovered);
}

/** "枸杞乡（最佳 1:36 > 目标 0:45）" */
function describe(item) {
  const target = hmm(item.target_minutes * 60);
  if (!item.best) return t("coverage.item_none", { name: regionName(item), target });
  return t("coverage.item", { name: regionName(item), best: hmm(item.best.eta_seconds), target });
}

function renderBox(uncovered) {
  if (!box) return;
  const node = box.getContainer();
  node.dataset.uncovered = String(uncovered.length);
  if (coverage.failed && !coverage.loaded) {
    node.replaceChildren(el("span", { class: "muted" }, t("coverage.unavailable")));
    return;
  }
  if (!coverage.loaded) {
    node.replaceChildren();
    return;
  }
  node.classList.toggle("has-uncovered", uncovered.length > 0);
  if (!uncovered.length) {
    node.replaceChildren(el("span", { class: "covered" }, t("coverage.all_covered")));
    return;
  }
  uncovered.sort((a, b) => collator.compare(regionName(a), regionName(b)));
  const shown = uncovered.slice(0, MAX_LISTED);
  const more = uncovered.length - shown.length;
  node.replaceChildren(
    el("strong", {}, `${t("coverage.uncovered")} (${uncovered.length})`),
    el("ul", {}, ...shown.map((item) => el("li", { class: "coverage-item", dataset: { region: item.region.code } }, describe(item)))),
    ...(more > 0 ? [el("span", { class: "small" }, t("coverage.more", { n: more }))] : [])
  );
}

const collator = new Intl.Collator(document.documentElement.lang || undefined);

/** GET /coverage; updates arriving meanwhile are applied after it (they are newer). */
async function load() {
  if (loading) return loading;
  feed.hold();
  coverage.fetches += 1;
  loading = api("GET", "/coverage")
    .then((answer) => {
      coverage.townships.clear();
      for (const item of answer.townships) {
        applyItem(item);
        if (item.rev !== undefined) feed.revs.set(item.id, item.rev); // an older update arriving late is dropped
      }
      coverage.computedAt = answer.computed_at;
      coverage.plan = answer.plan;
      coverage.loaded = true;
      coverage.failed = false;
      feed.release();
      redraw();
    })
    .catch((error) => {
      feed.discard();
      coverage.failed = true;
      console.warn("coverage", error.message);
      redraw();
    })
    .finally(() => {
      loading = null;
    });
  return loading;
}

const feed = new RevFeed((u) => {
  if (u.data?.region) applyItem(u.data);
  scheduleRedraw();
});

function applyUpdate(u) {
  feed.push(u);
}

let redrawPending = false;
function scheduleRedraw() {
  if (redrawPending) return;
  redrawPending = true;
  requestAnimationFrame(() => {
    redrawPending = false;
    redraw();
  });
}

let svgRenderer = null;

// -- the panel's interface -------------------------------------------------------------------------

export function init(context) {
  ctx = context;
  const { map } = ctx;
  addHatchPattern();
  map.createPane("coverage").style.zIndex = 370; // above the zones (360), under the markers (400)
  const labelPane = map.createPane("placeLabels");
  labelPane.style.zIndex = 380;
  labelPane.style.pointerEvents = "none";
  svgRenderer = L.svg({ pane: "coverage" });
  shadeLayer = L.layerGroup().addTo(map);
  labelLayer = L.layerGroup().addTo(map);
  box = L.control({ position: "bottomleft" }); // above the legend, over the open sea west of the islands
  box.onAdd = () => el("div", { class: "coverage-box", id: "coverage-box", role: "status", "aria-label": t("coverage.title") });
  box.addTo(map);
  map.on("zoomend moveend", scheduleDeclutter);
  ctx.state.coverage = coverage; // for the browser tests
  loadPlaces().catch((error) => console.warn("regions", error.message));
  load();
}

let snapshots = 0;
export function snapshot() {
  snapshots += 1;
  if (snapshots > 1) load(); // caught up after a lost connection: the coverage may have changed meanwhile
}

export function update(u) {
  if (u.type === "coverage") applyUpdate(u);
}

export function planChanged(plan) {
  load();
  const at = plan?.effective_at ? new Date(plan.effective_at).getTime() - Date.now() : 0;
  if (at > 0 && at < 24 * 3600 * 1000) setTimeout(load, at + 1000); // the zones (and targets) switch then
}
