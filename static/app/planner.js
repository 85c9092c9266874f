// The coverage-zone planner: assign townships to zones, pick hubs, draw outlines; validation while editing
// (computed by the server in PostGIS, drawn on the map); save with the version (409 on a stale one), compare, publish.
import { ApiError, api, baseMap, el, loadRegions, nameOf, t, zoneColour } from "./common.js";

const $ = (id) => document.getElementById(id);
const state = { plans: [], plan: null, zones: [], townships: [], issues: [], dirty: false, validations: 0 };
window.planner = state; // for the browser tests

const map = baseMap("map");
state.map = map;
let townshipLayer = null;
const drawnLayer = L.layerGroup().addTo(map);
const issueLayer = L.layerGroup().addTo(map);

function message(text, kind = "ok") {
  $("planner-message").textContent = text || "";
  $("planner-message").className = `message ${kind}`;
}

const editable = () => state.plan?.status === "draft";

function zoneOfTownship(code) {
  return state.zones.find((z) => z.members.includes(code)) || null;
}

function townshipName(code) {
  return nameOf(state.townships.find((tw) => tw.code === code)) || code;
}

// -- rendering ------------------------------------------------------------------------------------

function renderMap() {
  if (townshipLayer) {
    townshipLayer.setStyle((feature) => {
      const zone = zoneOfTownship(feature.properties.code);
      const index = state.zones.indexOf(zone);
      return zone
        ? { color: "#40513b", weight: 1, fillColor: zoneColour(index), fillOpacity: 0.55 }
        : { color: "#b02a37", weight: 2, fillColor: "#ffffff", fillOpacity: 0.9 };
    });
  }
  drawnLayer.clearLayers();
  state.zones.forEach((zone, index) => {
    if (zone.geometry) {
      L.geoJSON(zone.geometry, { style: { color: zoneColour(index), weight: 3, dashArray: "6 4", fillOpacity: 0.1 }, interactive: false }).addTo(
        drawnLayer
      );
    }
  });
  issueLayer.clearLayers();
  for (const issue of state.issues) {
    if (!issue.geometry) continue;
    L.geoJSON(issue.geometry, {
      style: { color: "#d00000", weight: 3, dashArray: "4 4", fillColor: "#d00000", fillOpacity: 0.25 },
      pointToLayer: (_, latlng) => L.circleMarker(latlng, { radius: 9, color: "#d00000" }),
      interactive: false,
    }).addTo(issueLayer);
  }
}

function townshipOptions(selected, allowNone) {
  const options = allowNone ? [el("option", { value: "", selected: !selected }, t("planner.unassigned"))] : [];
  return options.concat(state.townships.map((tw) => el("option", { value: tw.code, selected: tw.code === selected }, nameOf(tw))));
}

function renderZones() {
  $("zones").replaceChildren(
    ...state.zones.map((zone, index) => {
      const hub = el("select", { disabled: !editable(), dataset: { zone: zone.code } }, townshipOptions(zone.hub, false));
      hub.addEventListener("change", () => {
        zone.hub = hub.value;
        edited();
      });
      const draw = el("button", { type: "button", disabled: !editable(), title: t("planner.draw") }, "✎");
      draw.addEventListener("click", () => startDrawing(zone));
      const swatch = el("span", { class: "swatch", style: `color:${zoneColour(index)}` }, "■ ");
      return el("tr", { dataset: { zone: zone.code } }, el("td", {}, swatch, nameOf(zone), zone.geometry ? " ✎" : ""), el("td", {}, hub), el("td", {}, draw));
    })
  );
}

function renderTownships() {
  $("townships").replaceChildren(
    ...state.townships.map((tw) => {
      const current = zoneOfTownship(tw.code);
      const select = el(
        "select",
        { disabled: !editable(), dataset: { township: tw.code } },
        el("option", { value: "", selected: !current }, t("planner.unassigned")),
        state.zones.map((z) => el("option", { value: z.code, selected: current === z }, nameOf(z)))
      );
      select.addEventListener("change", () => assign(tw.code, select.value));
      return el("tr", { dataset: { township: tw.code } }, el("td", {}, nameOf(tw)), el("td", {}, select));
    })
  );
}

function renderIssues() {
  const node = $("issues");
  node.dataset.count = String(state.issues.length);
  node.dataset.validations = String(state.validations);
  if (!state.issues.length) {
    node.replaceChildren(el("li", { class: "ok", dataset: { kind: "none" } }, t("planner.valid")));
    return;
  }
  node.replaceChildren(
    ...state.issues.map((issue) => {
      const where = issue.region ? townshipName(issue.region.code) : issue.zones ? issue.zones.join(" / ") : issue.zone || "";
      return el(
        "li",
        { class: "error", dataset: { kind: issue.kind, region: issue.region?.code, zone: issue.zone } },
        `${t(`issue.${issue.kind}`)}: ${where}`
      );
    })
  );
}

function renderInfo() {
  const plan = state.plan;
  if (!plan) return;
  const status = t(`planner.status.${plan.status}`);
  $("plan-info").textContent = `${nameOf(plan)} · ${status} · v${plan.version}${plan.effective_at ? ` · ${plan.effective_at}` : ""}`;
  $("plan-info").dataset.status = plan.status;
  $("plan-info").dataset.version = String(plan.version);
  for (const id of ["save", "publish", "add-zone", "effective-at"]) $(id).disabled = !editable();
  $("print").href = `/maps/plan/${encodeURIComponent(plan.code)}`;
}

function renderAll() {
  renderInfo();
  renderZones();
  renderTownships();
  renderIssues();
  renderMap();
}

// -- editing --------------------------------------------------------------------------------------

function assign(code, zoneCode) {
  for (const zone of state.zones) zone.members = zone.members.filter((m) => m !== code);
  const zone = state.zones.find((z) => z.code === zoneCode);
  if (zone) {
    zone.members.push(code);
    zone.geometry = null; // an explicit assignment replaces a drawn outline
  }
  edited();
}

let validateTimer = null;
function edited() {
  state.dirty = true;
  renderAll();
  clearTimeout(validateTimer);
  validateTimer = setTimeout(validateNow, 250);
}

function body() {
  return state.zones.map((z) => {
    const zone = { code: z.code, name: z.name, name_en: z.name_en || z.name, hub: z.hub, members: z.members };
    if (z.target_minutes) zone.target_minutes = z.target_minutes; // kept: the coverage target of its townships
    if (z.geometry) zone.geometry = z.geometry;
    return zone;
  });
}

async function validateNow() {
  try {
    const sent = body();
    const result = await api("POST", `/plans/${state.plan.id}/validate`, { zones: sent });
    if (JSON.stringify(sent) !== JSON.stringify(body())) return; // edited meanwhile: the next answer counts
    state.issues = result.issues;
    // Drawn outlines: show the townships the server takes into them.
    for (const zone of state.zones) {
      const derived = result.zones.find((z) => z.code === zone.code);
      if (zone.geometry && derived) zone.members = derived.members;
    }
    renderTownships();
    state.validations += 1;
    renderIssues();
    renderMap();
  } catch (error) {
    message(error.message, "error");
  }
}

function startDrawing(zone) {
  message(t("planner.draw"));
  map.pm.enableDraw("Polygon", { snappable: true });
  map.once("pm:create", (event) => {
    const geometry = event.layer.toGeoJSON().geometry;
    map.removeLayer(event.layer);
    zone.geometry = geometry;
    zone.members = []; // the server takes the townships lying mostly inside the outline
    edited();
  });
}

$("add-zone").addEventListener("click", () => {
  const n = state.zones.length + 1;
  const free = state.townships.find((tw) => !zoneOfTownship(tw.code)) || state.townships[0];
  state.zones.push({ code: `zone-${n}`, name: `片区${n}`, name_en: `Zone ${n}`, hub: free.code, members: [], geometry: null });
  edited();
});

// -- loading, saving, comparing, publishing -------------------------------------------------------

function take(plan) {
  state.plan = plan;
  state.townships = plan.townships;
  state.zones = plan.zones.map((z) => ({ ...z, members: [...z.members], geometry: z.drawn ? z.geometry : null }));
  state.issues = plan.issues;
  state.dirty = false;
  $("conflict").hidden = true;
  $("changes").replaceChildren();
  renderAll();
}

async function loadPlans(selectId) {
  state.plans = (await api("GET", "/plans")).plans;
  $("plan-select").replaceChildren(
    ...state.plans.map((p) =>
      el("option", { value: p.id, selected: p.id === selectId }, `${p.code} (${t(`planner.status.${p.status}`)}${p.in_effect ? " ✓" : ""})`)
    )
  );
  const id = selectId ?? state.plans.find((p) => p.status === "draft")?.id ?? state.plans.find((p) => p.in_effect)?.id ?? state.plans[0]?.id;
  if (id !== undefined) {
    $("plan-select").value = String(id);
    take(await api("GET", `/plans/${id}`));
  }
}

$("plan-select").addEventListener("change", async () => take(await api("GET", `/plans/${$("plan-select").value}`)));

$("new-draft").addEventListener("click", async () => {
  try {
    const plan = await api("POST", "/plans", {});
    await loadPlans(plan.id);
  } catch (error) {
    message(error.message, "error");
  }
});

$("save").addEventListener("click", async () => {
  try {
    const plan = await api("PUT", `/plans/${state.plan.id}`, { version: state.plan.version, zones: body() });
    take(plan);
    message(t("planner.saved"), "ok");
  } catch (error) {
    if (error instanceof ApiError && error.body?.error?.code === "version_conflict") {
      const { yours, current } = error.body.error;
      $("conflict-text").textContent = t("planner.conflict", { yours, current });
      $("conflict").hidden = false;
    } else {
      message(error.message, "error");
    }
  }
});

$("reload").addEventListener("click", async () => take(await api("GET", `/plans/${state.plan.id}`)));

$("compare").addEventListener("click", async () => {
  const diff = await api("GET", `/plans/${state.plan.id}/compare`);
  const lines = [
    ...diff.townships.map((c) => `${nameOf(c.region)}: ${c.from ?? "—"} → ${c.to ?? "—"}`),
    ...diff.zones_added.map((z) => `+ ${z}`),
    ...diff.zones_removed.map((z) => `− ${z}`),
    ...diff.hubs_changed.map((h) => `${h.zone} ${t("planner.hub")}: ${townshipName(h.from)} → ${townshipName(h.to)}`),
    ...diff.outlines_changed.map((z) => `${z} ✎`),
  ];
  $("changes").replaceChildren(...(lines.length ? lines : [t("planner.no_changes")]).map((line) => el("li", {}, line)));
  if (state.dirty) $("changes").prepend(el("li", { class: "muted" }, `(${t("planner.save")}?)`));
});

$("publish").addEventListener("click", async () => {
  const local = $("effective-at").value;
  const payload = { version: state.plan.version };
  if (local) payload.effective_at = new Date(local).toISOString();
  try {
    const plan = await api("POST", `/plans/${state.plan.id}/publish`, payload);
    await loadPlans(plan.id);
    message(t("planner.published"), "ok");
  } catch (error) {
    message(error.message, "error");
  }
});

async function start() {
  const { layer } = await loadRegions(map, {
    onEachFeature: (feature, layer) => layer.bindTooltip(el("span", {}, nameOf(feature.properties)), { sticky: true }),
  });
  townshipLayer = layer;
  state.townshipLayer = layer;
  await loadPlans();
  document.body.dataset.ready = "1";
}

start().catch((error) => message(error.message, "error"));
