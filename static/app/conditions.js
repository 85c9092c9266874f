// Transport conditions: sailings suspended (大风停航), active and coming, set and lifted from the command centre
// (GET/POST /api/v1/transport/suspensions, DELETE .../<id>, the piers and links of GET /transport/network; live
// as `suspension` updates). command.js calls init({map, state, select}), snapshot(snapshot), update(update).
// Times are shown and entered in China time (Asia/Shanghai), whatever the browser's own zone.
import { api, el, may, settings, t } from "./common.js";

const CHINA_OFFSET = "+08:00";

const conditions = {
  suspensions: new Map(), // id -> suspension (active or coming)
  network: null,
  loaded: false,
  updates: 0,
};

let ctx = null;
let nodes = null;

// -- China time --------------------------------------------------------------------------------------

/** "12-09 14:00" in China time. */
function china(iso) {
  const shifted = new Date(new Date(iso).getTime() + 8 * 3600 * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(shifted.getUTCMonth() + 1)}-${pad(shifted.getUTCDate())} ${pad(shifted.getUTCHours())}:${pad(shifted.getUTCMinutes())}`;
}

/** A datetime-local value ("2026-12-09T09:00") for a moment, in China time. */
function chinaInput(date) {
  return new Date(date.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 16);
}

/** The RFC 3339 time of a datetime-local value read as China time. */
function fromChinaInput(value) {
  return value ? `${value}:00${CHINA_OFFSET}` : "";
}

// -- text ----------------------------------------------------------------------------------------------

function pierName(pier) {
  if (!pier) return "";
  return settings.lang === "en" && pier.name_en ? pier.name_en : pier.name;
}

function linkName(link) {
  return `${pierName(link.from)} – ${pierName(link.to)}`;
}

function whatOf(s) {
  if (s.scope === "link" && s.link) return linkName(s.link);
  if (s.scope === "pier" && s.pier) return t("cond.pier_all", { pier: pierName(s.pier) });
  return t("cond.county_all", { county: settings.lang === "en" && s.county?.name_en ? s.county.name_en : s.county?.name || "" });
}

function vesselsOf(s) {
  return s.vessels.map((v) => t(`cond.vessel.${v}`)).join(t("cond.and"));
}

function reasonOf(s) {
  const kind = t(`cond.reason.${s.reason.kind}`);
  const force = s.reason.wind_force != null ? t("cond.force", { n: s.reason.wind_force }) : "";
  return [kind, force, s.reason.text].filter(Boolean).join(" · ");
}

// -- the panel ------------------------------------------------------------------------------------------

function option(value, text) {
  return el("option", { value }, text);
}

function build(panel) {
  const count = el("span", { class: "count", id: "cond-count" }, "");
  const heading = el("h2", { id: "cond-title" }, t("cond.title"), " ", count);
  const list = el("ul", { class: "suspensions", id: "suspensions", "aria-labelledby": "cond-title" });
  const empty = el("p", { class: "muted small", id: "suspensions-empty" }, t("cond.none"));
  const status = el("p", { class: "message small", id: "cond-message", role: "status", "aria-live": "polite" });

  const scope = el("select", { name: "scope", id: "cond-scope" }, ["county", "link", "pier"].map((s) => option(s, t(`cond.scope.${s}`))));
  const link = el("select", { name: "link", id: "cond-link" });
  const pier = el("select", { name: "pier", id: "cond-pier" });
  const vessels = ["ferry", "boat"].map((v) =>
    el("label", { class: "inline" }, el("input", { type: "checkbox", name: "vessels", value: v, checked: v === "ferry" }), " ", t(`cond.vessel.${v}`))
  );
  const now = new Date();
  const from = el("input", { type: "datetime-local", name: "from", id: "cond-from", value: chinaInput(now), required: true });
  const until = el("input", { type: "datetime-local", name: "until", id: "cond-until", value: chinaInput(new Date(now.getTime() + 4 * 3600 * 1000)), required: true });
  const kind = el("select", { name: "kind", id: "cond-kind" }, ["wind", "fog", "typhoon", "other"].map((k) => option(k, t(`cond.reason.${k}`))));
  const force = el("input", { type: "number", name: "wind_force", id: "cond-force", min: "0", max: "17", step: "1", inputmode: "numeric" });
  const text = el("input", { name: "text", id: "cond-text", maxlength: "500", required: true, autocomplete: "off" });
  const error = el("p", { class: "field-error", id: "cond-error", "aria-live": "polite" });
  const linkRow = el("label", { id: "cond-link-row", hidden: true }, t("cond.link"), " ", link);
  const pierRow = el("label", { id: "cond-pier-row", hidden: true }, t("cond.pier"), " ", pier);
  const form = el(
    "form",
    { id: "cond-form", class: "cond-form", novalidate: true },
    el("label", {}, t("cond.scope"), " ", scope),
    linkRow,
    pierRow,
    el("fieldset", { class: "inline" }, el("legend", {}, t("cond.vessels")), vessels),
    el("label", {}, t("cond.from"), " ", from),
    el("label", {}, t("cond.until"), " ", until),
    el("label", {}, t("cond.reason"), " ", kind),
    el("label", {}, t("cond.wind_force"), " ", force),
    el("label", {}, t("cond.text"), " ", text),
    error,
    el("button", { type: "submit", class: "primary", id: "cond-submit" }, t("cond.set"))
  );
  const details = el("details", { id: "cond-new", hidden: !may("dispatch") }, el("summary", {}, t("cond.new")), form);
  panel.replaceChildren(heading, list, empty, details, status);
  panel.setAttribute("role", "region");
  panel.setAttribute("aria-labelledby", "cond-title");
  nodes = { panel, count, list, empty, status, form, scope, link, pier, from, until, kind, force, text, error, linkRow, pierRow };

  scope.addEventListener("change", showScope);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-lift]");
    if (button) lift(Number(button.dataset.lift), button);
  });
}

function showScope() {
  nodes.linkRow.hidden = nodes.scope.value !== "link";
  nodes.pierRow.hidden = nodes.scope.value !== "pier";
}

function fillPickers() {
  const network = conditions.network;
  if (!network || !nodes) return;
  nodes.link.replaceChildren(...network.links.map((l) => option(l.code, linkName(l))));
  nodes.pier.replaceChildren(...network.piers.map((p) => option(p.code, pierName(p))));
}

function render() {
  if (!nodes) return;
  const items = [...conditions.suspensions.values()].sort((a, b) => a.from.localeCompare(b.from) || a.id - b.id);
  nodes.list.replaceChildren(
    ...items.map((s) =>
      el(
        "li",
        { class: `suspension ${s.state}`, dataset: { id: String(s.id), state: s.state } },
        el("strong", {}, whatOf(s)),
        " ",
        el("span", { class: "badge" }, t(`cond.state.${s.state}`)),
        el("br"),
        el("span", { class: "small" }, `${vesselsOf(s)} · ${china(s.from)} – ${china(s.until)}`),
        el("br"),
        el("span", { class: "small muted" }, reasonOf(s)),
        " ",
        may("dispatch") ? el("button", { type: "button", class: "small", dataset: { lift: String(s.id) } }, t("cond.lift")) : null
      )
    )
  );
  nodes.empty.hidden = items.length > 0;
  nodes.count.textContent = items.length ? String(items.length) : "";
}

async function load() {
  try {
    const [list, network] = await Promise.all([api("GET", "/transport/suspensions"), conditions.network || api("GET", "/transport/network")]);
    conditions.network = network;
    conditions.suspensions = new Map(list.suspensions.map((s) => [s.id, s]));
    conditions.loaded = true;
    fillPickers();
    render();
  } catch (error) {
    if (nodes) nodes.status.textContent = t("cond.unavailable");
  }
}

function fieldLabel(field) {
  const key = `cond.field.${(field || "").split(/[.[]/)[0]}`;
  const label = t(key);
  return label === key ? field || "" : label;
}

async function submit() {
  nodes.error.textContent = "";
  const scope = nodes.scope.value;
  const body = {
    scope,
    from: fromChinaInput(nodes.from.value),
    until: fromChinaInput(nodes.until.value),
    reason: { kind: nodes.kind.value, text: nodes.text.value.trim() },
  };
  if (scope === "link") body.link = nodes.link.value;
  if (scope === "pier") body.pier = nodes.pier.value;
  const vessels = [...nodes.form.querySelectorAll("input[name=vessels]:checked")].map((box) => box.value);
  if (vessels.length) body.vessels = vessels;
  if (nodes.force.value !== "") body.reason.wind_force = Number(nodes.force.value);
  try {
    const item = await api("POST", "/transport/suspensions", body);
    put(item);
    nodes.status.textContent = t("cond.saved", { what: whatOf(item) });
    nodes.text.value = "";
  } catch (error) {
    const detail = error.body?.error;
    nodes.error.textContent = detail ? `${fieldLabel(detail.field)}: ${detail.message}` : error.message;
  }
}

async function lift(id, button) {
  button.disabled = true;
  try {
    const item = await api("DELETE", `/transport/suspensions/${id}`);
    put(item);
    nodes.status.textContent = t("cond.lifted", { what: whatOf(item) });
  } catch (error) {
    button.disabled = false;
    nodes.status.textContent = t("cond.lift_failed", { message: error.body?.error?.message || error.message });
  }
}

function put(item) {
  if (item.state === "active" || item.state === "coming") conditions.suspensions.set(item.id, item);
  else conditions.suspensions.delete(item.id);
  render();
}

// -- the panel's interface -------------------------------------------------------------------------------

export function init(context) {
  ctx = context;
  const panel = document.getElementById("conditions-panel");
  if (panel) build(panel);
  ctx.state.conditions = conditions; // for the browser tests
  load();
}

let snapshots = 0;
export function snapshot() {
  snapshots += 1;
  if (snapshots > 1) load(); // caught up after a lost connection
}

export function update(u) {
  if (u.type !== "suspension") return;
  conditions.updates += 1;
  put(u.data);
}
