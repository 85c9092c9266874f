// Call-taking on /command: a caller on the line, the form, the check before filing (jurisdiction,
// priority, SLA, possible duplicates: POST /incidents/preview stores nothing), then file it
// (POST /incidents) or attach the call to an incident already in hand (POST /incidents/<id>/calls).
// command.js calls init({map, select, message}) once, setRegions(collection) when the townships
// are loaded, open() and close(). Also the helpers both share: hm, errorText, fieldOf.
import { ApiError, api, el, nameOf, settings, t } from "./common.js";

// The server's INCIDENT_SOURCES (dispatch/store/models.py), in the order a call-taker meets them.
export const SOURCES = ["hotline_12345", "police_110", "walk_in", "patrol", "complaint", "grid", "supervision"];
const PREVIEW_DELAY_MS = 350;

/** "1:36" for 96 minutes (hours:minutes, never seconds, never a sign). */
export function hm(seconds) {
  const total = Math.floor(Math.abs(seconds) / 60);
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

/** An ETA: "34 分钟" below an hour, "1:36" from an hour on. */
export function eta(seconds) {
  const m = Math.max(1, Math.ceil(seconds / 60));
  return m >= 60 ? hm(m * 60) : `${m} ${t("detail.minutes")}`;
}

/** The server's refusal in the user's language, by its code; the raw message only as a fallback. */
export function errorText(error) {
  if (!(error instanceof ApiError)) return t("error.network");
  const code = error.body?.error?.code || (error.status === 403 ? "forbidden" : error.status === 401 ? "unauthorized" : "");
  const key = `error.${code}`;
  const text = t(key);
  if (code && text !== key) return text;
  return t("error.generic", { message: error.body?.error?.message || `HTTP ${error.status}` });
}

/** The field an error names: its first path segment ("location.coordinates" -> "location"). */
export function fieldOf(error) {
  const field = error?.body?.error?.field;
  return field ? String(field).split(/[.[]/)[0] : null;
}

// -- GCJ-02 / BD-09 to WGS84, only to put the marker where the typed point is (the server converts
// the coordinates it is sent with ?crs=).
const A = 6378245.0;
const EE = 0.00669342162296594323;

function outOfChina(lon, lat) {
  return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

function delta(lon, lat) {
  const x = lon - 105.0;
  const y = lat - 35.0;
  let dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  dLat += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  dLat += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0;
  dLat += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0;
  let dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  dLon += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0;
  dLon += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0;
  dLon += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0;
  const radLat = (lat / 180.0) * Math.PI;
  const magic = 1 - EE * Math.sin(radLat) ** 2;
  const sqrtMagic = Math.sqrt(magic);
  return [
    (dLon * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * Math.PI),
    (dLat * 180.0) / (((A * (1 - EE)) / (magic * sqrtMagic)) * Math.PI),
  ];
}

function gcjToWgs(lon, lat) {
  if (outOfChina(lon, lat)) return [lon, lat];
  const [dLon, dLat] = delta(lon, lat);
  return [lon - dLon, lat - dLat];
}

function bdToGcj(lon, lat) {
  const xPi = (Math.PI * 3000.0) / 180.0;
  const x = lon - 0.0065;
  const y = lat - 0.006;
  const z = Math.sqrt(x * x + y * y) - 0.00002 * Math.sin(y * xPi);
  const theta = Math.atan2(y, x) - 0.000003 * Math.cos(x * xPi);
  return [z * Math.cos(theta), z * Math.sin(theta)];
}

function toWgs(lon, lat, crs) {
  if (crs === "gcj02") return gcjToWgs(lon, lat);
  if (crs === "bd09") return gcjToWgs(...bdToGcj(lon, lat));
  return [lon, lat];
}

// -- the form -------------------------------------------------------------------------------------

const form = document.getElementById("call-view");
const fields = {
  source: form.elements.source,
  callerName: form.elements.caller_name,
  callerPhone: form.elements.caller_phone,
  matterSearch: document.getElementById("matter-search"),
  matters: form.elements.matters,
  description: form.elements.description,
  lon: form.elements.lon,
  lat: form.elements.lat,
  crs: form.elements.crs,
  township: document.getElementById("township-search"),
};
const chips = document.getElementById("matter-chips");
const previewBox = document.getElementById("call-preview");
const fileButton = document.getElementById("call-file");
const callMessage = document.getElementById("call-message");

const call = {
  open: false,
  matters: [], // every matter of GET /matters
  chosen: [], // codes in the order picked: the lead first
  reportedAt: null,
  preview: null, // the last preview answer
  previewKey: null, // the body it answered
  previewing: null,
  townships: [], // {code, name, name_en, point: [lon, lat]}
  marker: null,
  busy: false,
};
window.callTaking = call; // for the browser tests

let ctx = { map: null, select: () => {}, message: () => {} };

export function init(context) {
  ctx = context;
  for (const code of SOURCES) fields.source.append(el("option", { value: code }, t(`call.source.${code}`)));
  ctx.map.on("click", (event) => {
    if (!call.open) return;
    fields.crs.value = "wgs84";
    fields.lon.value = event.latlng.lng.toFixed(6);
    fields.lat.value = event.latlng.lat.toFixed(6);
    fields.township.value = "";
    placeChanged();
  });
  form.addEventListener("input", (event) => {
    if (event.target === fields.matterSearch) return filterMatters();
    if (event.target === fields.township) return;
    if (event.target === fields.lon || event.target === fields.lat) placeChanged(false);
    schedulePreview();
  });
  form.addEventListener("change", (event) => {
    if (event.target === fields.matters) matterSelectionChanged();
    if (event.target === fields.crs) placeChanged(false);
    if (event.target === fields.township) placeAtTownship();
    schedulePreview();
  });
  fields.matterSearch.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault(); // Enter in the search picks the first match
    const first = [...fields.matters.options].find((o) => !o.hidden && !o.selected);
    if (first) {
      first.selected = true;
      matterSelectionChanged();
      schedulePreview();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    file();
  });
  document.getElementById("call-preview-button").addEventListener("click", () => runPreview(true));
  document.getElementById("call-reset").addEventListener("click", () => reset());
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      file();
    }
  });
}

/** A matter's name in the page's language (GET /matters), or the name the incident carries. */
export function matterName(matter) {
  const known = call.matters.find((m) => m.code === matter.code);
  return known ? nameOf(known) : matter.name || "";
}

export async function loadMatters() {
  if (call.matters.length) return;
  const { matters } = await api("GET", "/matters");
  call.matters = matters;
  fields.matters.replaceChildren(
    ...matters.map((m) => el("option", { value: m.code, title: m.code }, `${m.code} ${nameOf(m)}`))
  );
  filterMatters();
}

async function loadTownships() {
  try {
    const coverage = await api("GET", "/coverage");
    const fromCoverage = coverage.townships
      .filter((tw) => tw.reference_point)
      .map((tw) => ({ ...tw.region, point: tw.reference_point.coordinates }));
    if (fromCoverage.length) call.townships = fromCoverage;
  } catch {
    // no coverage yet: the regions' polygons (setRegions) stand in
  }
  renderTownships();
}

/** The townships of GET /regions: each placed at a point inside its polygon. */
export function setRegions(collection) {
  if (call.townships.length && call.townships[0].fromCoverage !== false) return;
  call.townships = collection.features
    .filter((f) => f.geometry && ["township", "street"].includes(f.properties.level))
    .map((f) => ({ ...f.properties, point: pointInside(f.geometry), fromCoverage: false }));
  renderTownships();
}

function ringContains(ring, [x, y]) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** A point inside the largest polygon: its bounds centre when inside, else the middle of the
 * widest inside run of the horizontal line through that centre. */
function pointInside(geometry) {
  const polygons = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  let best = null;
  let bestArea = -1;
  for (const polygon of polygons) {
    const xs = polygon[0].map((c) => c[0]);
    const ys = polygon[0].map((c) => c[1]);
    const area = (Math.max(...xs) - Math.min(...xs)) * (Math.max(...ys) - Math.min(...ys));
    if (area > bestArea) [best, bestArea] = [polygon, area];
  }
  const xs = best[0].map((c) => c[0]);
  const ys = best[0].map((c) => c[1]);
  const centre = [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
  const inside = (p) => ringContains(best[0], p) && !best.slice(1).some((hole) => ringContains(hole, p));
  if (inside(centre)) return centre;
  const steps = 200;
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let run = null;
  let start = null;
  for (let i = 0; i <= steps; i++) {
    const x = x0 + ((x1 - x0) * i) / steps;
    if (inside([x, centre[1]])) start ??= x;
    else if (start !== null) {
      if (!run || x - start > run[1] - run[0]) run = [start, x];
      start = null;
    }
  }
  return run ? [(run[0] + run[1]) / 2, centre[1]] : best[0][0];
}

function renderTownships() {
  const list = document.getElementById("township-list");
  list.replaceChildren(
    ...call.townships.flatMap((tw) => [el("option", { value: tw.name }), tw.name_en ? el("option", { value: tw.name_en }) : null])
  );
}

function placeAtTownship() {
  const wanted = fields.township.value.trim().toLowerCase();
  if (!wanted) return;
  const found =
    call.townships.find((tw) => [tw.name, tw.name_en].some((n) => n && n.toLowerCase() === wanted)) ||
    call.townships.find((tw) => [tw.name, tw.name_en].some((n) => n && n.toLowerCase().includes(wanted)));
  showFieldError("township", found ? null : t("call.township_none"));
  if (!found) return;
  fields.township.value = nameOf(found);
  fields.crs.value = "wgs84";
  fields.lon.value = found.point[0].toFixed(6);
  fields.lat.value = found.point[1].toFixed(6);
  placeChanged();
}

function typedPlace() {
  const lon = Number.parseFloat(fields.lon.value);
  const lat = Number.parseFloat(fields.lat.value);
  if (!Number.isFinite(lon) || !Number.isFinite(lat)) return null;
  return [lon, lat];
}

function placeChanged(pan = true) {
  const place = typedPlace();
  if (!place) {
    if (call.marker) call.marker.remove();
    call.marker = null;
    return;
  }
  const [lon, lat] = toWgs(...place, fields.crs.value);
  if (!call.marker) {
    call.marker = L.marker([lat, lon], { title: t("call.place"), keyboard: false }).addTo(ctx.map);
  } else call.marker.setLatLng([lat, lon]);
  if (pan) ctx.map.panTo([lat, lon]);
  showFieldError("lon", null);
  schedulePreview();
}

// -- matters: search, several, the lead first -----------------------------------------------------

function filterMatters() {
  const words = fields.matterSearch.value.trim().toLowerCase();
  for (const option of fields.matters.options) {
    const matter = call.matters.find((m) => m.code === option.value);
    const hay = `${matter.code} ${matter.name} ${matter.name_en || ""}`.toLowerCase();
    option.hidden = words !== "" && !hay.includes(words);
  }
}

function matterSelectionChanged() {
  const selected = new Set([...fields.matters.selectedOptions].map((o) => o.value));
  call.chosen = call.chosen.filter((code) => selected.has(code));
  for (const code of selected) if (!call.chosen.includes(code)) call.chosen.push(code);
  renderChips();
}

function setChosen(codes) {
  call.chosen = codes;
  for (const option of fields.matters.options) option.selected = codes.includes(option.value);
  renderChips();
  schedulePreview();
}

function renderChips() {
  chips.replaceChildren(
    ...call.chosen.map((code, index) => {
      const matter = call.matters.find((m) => m.code === code);
      return el(
        "li",
        { class: `chip${index === 0 ? " lead" : ""}`, dataset: { code } },
        index === 0 ? el("span", { class: "lead-tag" }, t("call.lead")) : null,
        el("span", {}, `${code} ${nameOf(matter)}`),
        index > 0
          ? el("button", { type: "button", class: "mini", title: t("call.make_lead"), "aria-label": `${t("call.make_lead")} ${code}`, onclick: () => setChosen([code, ...call.chosen.filter((c) => c !== code)]) }, "↑")
          : null,
        el("button", { type: "button", class: "mini", title: t("call.remove"), "aria-label": `${t("call.remove")} ${code}`, onclick: () => setChosen(call.chosen.filter((c) => c !== code)) }, "×")
      );
    })
  );
  showFieldError("matters", null);
}

// -- preview, file, attach ------------------------------------------------------------------------

function body({ forPreview = false } = {}) {
  const place = typedPlace();
  const description = fields.description.value.trim();
  const caller = {};
  if (fields.callerName.value.trim()) caller.name = fields.callerName.value.trim();
  if (fields.callerPhone.value.trim()) caller.phone = fields.callerPhone.value.trim();
  const result = {
    source: fields.source.value,
    matters: call.chosen,
    // The preview only places and matches the call: a description still being typed must not hold
    // it back (nothing is stored). Filing sends what was typed, and the server checks it.
    description: forPreview && !description ? "…" : description,
    reported_at: call.reportedAt,
  };
  if (place) result.location = { type: "Point", coordinates: place };
  if (Object.keys(caller).length) result.caller = caller;
  return result;
}

function ready() {
  return call.chosen.length > 0 && typedPlace() !== null;
}

function previewKeyOf(payload) {
  return JSON.stringify([payload.source, payload.matters, payload.location, payload.caller, fields.crs.value]);
}

let previewTimer = null;
function schedulePreview() {
  clearTimeout(previewTimer);
  // A change event fired by leaving a field unchanged (a click on "File" blurs the last input) must
  // not disable the button under the pointer: only a different call needs a new check.
  if (call.preview && ready() && previewKeyOf(body({ forPreview: true })) === call.previewKey) {
    fileButton.disabled = false;
    return;
  }
  fileButton.disabled = true;
  if (!call.open || !ready()) {
    if (!ready()) renderPreview(null);
    return;
  }
  previewTimer = setTimeout(() => runPreview(false), PREVIEW_DELAY_MS);
}

async function runPreview(explicit) {
  if (!ready()) {
    if (explicit) {
      if (!call.chosen.length) showFieldError("matters", t("call.need_matters"));
      if (!typedPlace()) showFieldError("lon", t("call.need_place"));
    }
    return null;
  }
  const payload = body({ forPreview: true });
  const key = previewKeyOf(payload);
  if (key === call.previewKey && call.preview) {
    fileButton.disabled = false;
    return call.preview;
  }
  previewBox.dataset.state = "loading";
  const request = api("POST", `/incidents/preview?crs=${fields.crs.value}`, payload);
  call.previewing = request;
  try {
    const answer = await request;
    if (call.previewing !== request) return null; // a later one is on its way
    call.preview = answer;
    call.previewKey = key;
    clearFieldErrors();
    renderPreview(answer);
    fileButton.disabled = false;
    previewBox.scrollIntoView({ block: "nearest" }); // the duplicates in sight before filing
    return answer;
  } catch (error) {
    if (call.previewing !== request) return null;
    call.preview = null;
    call.previewKey = null;
    renderPreview(null);
    showError(error);
    return null;
  }
}

function line(label, value, attrs = {}) {
  return [el("dt", {}, label), el("dd", attrs, value ?? "—")];
}

function renderPreview(answer) {
  const box = previewBox;
  if (!answer) {
    box.dataset.state = "empty";
    box.replaceChildren(el("p", { class: "muted small" }, t("call.preview_hint")));
    return;
  }
  box.dataset.state = "ready";
  const j = answer.jurisdiction || {};
  const zone = j.zone ? `${nameOf(j.zone)}${j.zone.hub ? ` (${t("planner.hub")} ${nameOf(j.zone.hub)})` : ""}` : "—";
  const due = answer.sla_deadline ? new Date(answer.sla_deadline).toLocaleTimeString(settings.lang === "en" ? "en-GB" : "zh-CN", { hour: "2-digit", minute: "2-digit" }) : "";
  const dupes = answer.possible_duplicates || [];
  const dupeList = dupes.length
    ? el(
        "ul",
        { class: "duplicates", id: "pv-duplicates" },
        dupes.map((d) =>
          el(
            "li",
            { dataset: { incidentId: d.id } },
            el(
              "span",
              { class: "dupe-text" },
              t("call.duplicate_item", {
                id: d.id,
                distance: Math.round(d.distance_m ?? 0),
                status: t(`queue.status.${d.status}`),
              }),
              d.shared_matters?.length ? ` · ${t("call.shared")} ${d.shared_matters.join(", ")}` : ""
            ),
            " ",
            el("button", { type: "button", class: "link", dataset: { show: d.id }, onclick: () => ctx.select(d.id, { keepCall: true }) }, t("call.show")),
            " ",
            el("button", { type: "button", class: "attach", dataset: { attach: d.id }, onclick: () => attach(d.id) }, t("call.attach", { id: d.id }))
          )
        )
      )
    : el("p", { class: "muted small", id: "pv-duplicates" }, t("call.no_duplicates"));
  // The duplicates first: whether to file at all is the first decision.
  box.replaceChildren(
    el("h3", {}, `${t("call.duplicates")} (${answer.possible_duplicates_total ?? dupes.length})`),
    dupeList,
    el("h3", {}, t("call.preview_title")),
    el(
      "dl",
      { class: "jurisdiction" },
      line(t("detail.jurisdiction"), j.region ? nameOf(j.region) : "—", { id: "pv-region" }),
      line(t("detail.zone"), zone, { id: "pv-zone" }),
      line(t("detail.authority"), j.authority ? nameOf(j.authority) : "—", { id: "pv-authority" }),
      line(t("call.priority"), el("span", { class: `badge prio p${answer.priority}` }, t(`queue.priority.${answer.priority}`)), { id: "pv-priority" }),
      line(t("call.sla"), `${hm((answer.sla_minutes || 0) * 60)}${due ? ` (${t("call.due", { time: due })})` : ""}`, { id: "pv-sla" })
    )
  );
}

function clearFieldErrors() {
  for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

const FIELD_OF = {
  source: "source",
  matters: "matters",
  location: "lon",
  lon: "lon",
  lat: "lon",
  description: "description",
  caller: "caller",
  reported_at: "general",
  external_id: "general",
  address: "general",
};

function showFieldError(name, text) {
  const node = document.getElementById(`err-${name}`);
  if (!node) return;
  node.textContent = text || "";
  const input = { matters: fields.matters, lon: fields.lon, description: fields.description, source: fields.source, caller: fields.callerPhone, township: fields.township }[name];
  if (input) {
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
}

function showError(error) {
  const field = fieldOf(error);
  const name = FIELD_OF[field] || "general";
  showFieldError(name, errorText(error));
  callMessage.textContent = "";
}

async function file() {
  if (call.busy) return;
  callMessage.textContent = "";
  const preview = await runPreview(true);
  if (!preview) return;
  if (!fields.description.value.trim()) {
    showFieldError("description", t("call.need_description"));
    fields.description.focus();
    return;
  }
  call.busy = true;
  try {
    const incident = await api("POST", `/incidents?crs=${fields.crs.value}`, body());
    reset();
    close();
    ctx.select(incident.id);
    ctx.message(t("call.filed", { id: incident.id }), "ok");
  } catch (error) {
    showError(error);
  } finally {
    call.busy = false;
  }
}

async function attach(incidentId) {
  if (call.busy) return;
  if (!fields.description.value.trim()) {
    showFieldError("description", t("call.need_description"));
    fields.description.focus();
    return;
  }
  call.busy = true;
  const { source, description, caller, reported_at } = body();
  try {
    await api("POST", `/incidents/${incidentId}/calls`, { source, description, caller, reported_at });
    reset();
    close();
    ctx.select(incidentId);
    ctx.message(t("call.attached", { id: incidentId }), "ok");
  } catch (error) {
    showError(error);
  } finally {
    call.busy = false;
  }
}

export function reset() {
  form.reset();
  fields.crs.value = "wgs84";
  call.chosen = [];
  call.preview = null;
  call.previewKey = null;
  call.reportedAt = new Date().toISOString();
  renderChips();
  filterMatters();
  clearFieldErrors();
  renderPreview(null);
  fileButton.disabled = true;
  if (call.marker) call.marker.remove();
  call.marker = null;
}

/** Open the form (a call comes in); ``attachTo`` (an incident's detail) prefills its place and
 * matters, so the preview offers it to attach the call to. */
export async function open(attachTo = null) {
  const tab = document.getElementById("tab-call");
  if (!call.open) {
    call.open = true;
    if (!call.reportedAt) reset();
    form.hidden = false;
    document.getElementById("queue-view").hidden = true;
    tab.setAttribute("aria-selected", "true");
    document.getElementById("tab-queue").setAttribute("aria-selected", "false");
    ctx.map.getContainer().classList.add("picking");
  }
  fields.source.focus();
  await Promise.all([loadMatters(), call.townships.length && call.townships[0].fromCoverage !== false ? null : loadTownships()]);
  if (attachTo?.location) {
    fields.crs.value = "wgs84";
    [fields.lon.value, fields.lat.value] = attachTo.location.coordinates.map((c) => c.toFixed(6));
    setChosen((attachTo.matters || []).map((m) => m.code ?? m));
    placeChanged();
  }
}

export function close() {
  if (!call.open) return;
  call.open = false;
  form.hidden = true;
  document.getElementById("queue-view").hidden = false;
  document.getElementById("tab-call").setAttribute("aria-selected", "false");
  document.getElementById("tab-queue").setAttribute("aria-selected", "true");
  ctx.map.getContainer().classList.remove("picking");
  if (call.marker) call.marker.remove();
  call.marker = null;
}

export function isOpen() {
  return call.open;
}
