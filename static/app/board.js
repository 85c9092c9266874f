// The squad board: every squad with status, since when, current task, position age, zone, officers on duty;
// filter, sort, kept live. command.js calls init({map, state, select}), snapshot(snapshot), update(update).
//
// 10,000 squads: only the rows in view are in the DOM (a fixed row height, two spacer rows), a pool of
// rows is refilled on scroll, one listener on the table (delegation), work batched per animation frame.
import { api, el, may, nameOf, t } from "./common.js";

const ROW_HEIGHT = 28; // px, as .board-table tbody tr in app.css
const OVERSCAN = 8; // rows drawn beyond the visible ones on each side
const STALE_MINUTES = 15; // a last position older than this is marked stale (as ALERT_STALE_POSITION_MINUTES)
const STATUSES = ["available", "busy", "returning", "out_of_service", "off_duty"];
// Set by hand (PUT /api/v1/squads/<id>/status); busy (on a task) follows the tasks. Out of service needs a reason.
const BY_HAND = ["available", "returning", "out_of_service", "off_duty"];
const REASONS = ["vessel_fault", "meal", "training", "leave"];
const FORCES = ["comprehensive", "professional", "maritime"];
const ASSIGNED = new Set(["scheduled", "dispatched", "acknowledged", "en_route", "on_scene"]);
const STATUS_ORDER = { busy: 0, available: 1, returning: 2, out_of_service: 3, off_duty: 4 };
const OPEN_KEY = "dispatch.board.open";

// The fields of a snapshot squad the board shows beyond what command.js keeps up to date itself.
const STATUS_FIELDS = ["status_since", "status_reason", "task_id", "incident_id", "officers_on_duty", "certified_on_duty"];
const FIXED_FIELDS = ["name", "name_en", "code", "zone", "station_region", "force"];

const COLUMNS = [
  { key: "squad", label: "board.col.squad" },
  { key: "status", label: "board.col.status" },
  { key: "since", label: "board.col.since" },
  { key: "task", label: "board.col.task" },
  { key: "position", label: "board.col.position" },
  { key: "zone", label: "board.col.zone" },
  { key: "station", label: "board.col.station" },
  { key: "officers", label: "board.col.officers" },
];

const board = {
  open: false,
  rows: [], // the squads shown, filtered and sorted (entries of state.squads)
  filter: { zone: "", force: "", status: "" },
  sort: { key: "status", dir: 1 },
  dirty: false, // filter/sort again at the next frame
  drawPending: false,
  zones: new Map(), // code -> zone (for the filter's options)
};

let ctx = null; // {map, state, select}
let nodes = null;

// -- time ------------------------------------------------------------------------------------------

function hmm(seconds) {
  const total = Math.max(0, Math.floor(seconds / 60));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

/** "47 分钟前" under an hour, then "3 小时前", then "2 天前". */
export function ago(iso, now = Date.now()) {
  const seconds = (now - new Date(iso).getTime()) / 1000;
  if (seconds < 60) return t("board.just_now");
  if (seconds < 3600) return t("board.minutes_ago", { n: Math.floor(seconds / 60) });
  if (seconds < 86400) return t("board.hours", { n: Math.floor(seconds / 3600) });
  return t("board.days", { n: Math.floor(seconds / 86400) });
}

function time(iso) {
  return iso ? new Date(iso).getTime() : NaN;
}

// -- derived values ----------------------------------------------------------------------------------

function currentTask(data) {
  if (!data.task_id) return null;
  const task = ctx.state.tasks.get(data.task_id)?.data;
  return { id: data.task_id, incident_id: data.incident_id ?? task?.incident_id ?? null, state: task?.state ?? null };
}

const SORT_VALUE = {
  squad: (d) => nameOf(d) || d.code || "",
  status: (d) => STATUS_ORDER[d.status] ?? 9,
  since: (d) => -time(d.status_since) || 0, // longest in its state first
  task: (d) => (d.incident_id ? d.incident_id : Infinity),
  position: (d) => time(d.last_position_at) || 0, // the oldest fix first
  zone: (d) => (d.zone ? nameOf(d.zone) : "\uffff"),
  station: (d) => (d.station_region ? nameOf(d.station_region) : "\uffff"),
  officers: (d) => d.officers_on_duty ?? -1,
};

const collator = new Intl.Collator(document.documentElement.lang || undefined, { numeric: true });

function compare(a, b) {
  if (typeof a === "string" || typeof b === "string") return collator.compare(String(a), String(b));
  return a - b;
}

function refilter() {
  const { zone, force, status } = board.filter;
  const value = SORT_VALUE[board.sort.key];
  const dir = board.sort.dir;
  const rows = [];
  for (const entry of ctx.state.squads.values()) {
    const d = entry.data;
    if (zone && (d.zone?.code || "") !== zone) continue;
    if (force && d.force !== force) continue;
    if (status && d.status !== status) continue;
    rows.push({ entry, key: value(d), name: d.code || "" });
  }
  rows.sort((a, b) => dir * compare(a.key, b.key) || collator.compare(a.name, b.name));
  board.rows = rows.map((r) => r.entry);
}

// -- the panel -----------------------------------------------------------------------------------------

function select(name, options) {
  const box = el("select", { name, dataset: { filter: name } }, el("option", { value: "" }, t("board.filter.all")));
  for (const [value, label] of options) box.append(el("option", { value }, label));
  return el("label", { class: "board-filter" }, t(`board.filter.${name}`), " ", box);
}

function build(panel) {
  const toggle = el(
    "button",
    { id: "board-toggle", type: "button", "aria-expanded": "false", "aria-controls": "board-body", "aria-keyshortcuts": "B" },
    t("board.toggle"),
    " ",
    el("kbd", {}, "B")
  );
  const summary = el("span", { id: "board-summary", class: "board-summary" });
  const zoneFilter = select("zone", []);
  const head = el(
    "tr",
    {},
    COLUMNS.map((c) =>
      el(
        "th",
        { scope: "col", dataset: { col: c.key } },
        el("button", { type: "button", class: "sort", dataset: { sort: c.key } }, t(c.label))
      )
    )
  );
  const top = el("tr", { class: "pad", "aria-hidden": "true" }, el("td", { colspan: COLUMNS.length }));
  const bottom = el("tr", { class: "pad", "aria-hidden": "true" }, el("td", { colspan: COLUMNS.length }));
  const body = el("tbody", {}, top, bottom);
  const table = el("table", { class: "board-table", id: "board-table" }, el("caption", { class: "visually-hidden" }, t("board.title")), el("thead", {}, head), body);
  const scroller = el("div", { class: "board-scroll", id: "board-scroll", tabindex: 0, role: "region", "aria-label": t("board.table") }, table);
  const empty = el("p", { class: "muted board-empty", hidden: true }, t("board.empty"));
  const count = el("span", { class: "board-count muted", id: "board-count", "aria-live": "polite" });
  const filters = el(
    "div",
    { class: "board-filters" },
    zoneFilter,
    select(
      "force",
      FORCES.map((f) => [f, t(`force.${f}`)])
    ),
    select(
      "status",
      STATUSES.map((s) => [s, t(`squad.status.${s}`)])
    ),
    count
  );
  const statusForm = buildStatusForm();
  const bodyNode = el("div", { id: "board-body", class: "board-body", hidden: true }, filters, statusForm, scroller, empty);
  panel.replaceChildren(el("div", { class: "board-bar" }, toggle, summary), bodyNode);
  panel.setAttribute("aria-label", t("board.title"));

  nodes = { panel, toggle, summary, zoneSelect: zoneFilter.querySelector("select"), head, top, bottom, body, scroller, empty, count, bodyNode, pool: [] };

  toggle.addEventListener("click", () => setOpen(!board.open));
  filters.addEventListener("change", (event) => {
    const name = event.target.dataset.filter;
    if (!name) return;
    board.filter[name] = event.target.value;
    nodes.scroller.scrollTop = 0;
    invalidate();
  });
  head.addEventListener("click", (event) => {
    const key = event.target.closest("button[data-sort]")?.dataset.sort;
    if (!key) return;
    board.sort = { key, dir: board.sort.key === key ? -board.sort.dir : 1 };
    invalidate();
  });
  body.addEventListener("click", (event) => {
    const link = event.target.closest("button[data-incident-id]");
    if (link) ctx.select(Number(link.dataset.incidentId));
    const change = event.target.closest("button[data-set-status]");
    if (change) openStatusForm(Number(change.dataset.setStatus));
  });
  scroller.addEventListener("scroll", scheduleDraw, { passive: true });
  new ResizeObserver(scheduleDraw).observe(scroller);
}

// -- the status control: a squad's status set from the board --------------------------------------------

function buildStatusForm() {
  const status = el("select", { name: "status" }, BY_HAND.map((s) => el("option", { value: s }, t(`squad.status.${s}`))));
  const reason = el("select", { name: "reason" }, REASONS.map((r) => el("option", { value: r }, t(`squad.reason.${r}`))));
  const reasonLabel = el("label", { class: "status-reason" }, t("board.status.reason"), " ", reason);
  const error = el("p", { class: "error", role: "alert", id: "status-form-error" });
  const form = el(
    "form",
    { id: "status-form", class: "status-form", hidden: true },
    el("strong", { class: "status-form-squad" }),
    " ",
    el("label", {}, t("board.status.to"), " ", status),
    " ",
    reasonLabel,
    " ",
    el("button", { type: "submit" }, t("board.status.set")),
    " ",
    el("button", { type: "button", class: "status-cancel" }, t("board.status.cancel")),
    error
  );
  const showReason = () => {
    reasonLabel.hidden = status.value !== "out_of_service";
  };
  status.addEventListener("change", showReason);
  form.querySelector(".status-cancel").addEventListener("click", () => {
    form.hidden = true;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { status: status.value };
    if (status.value === "out_of_service") body.reason = reason.value;
    try {
      const answer = await api("PUT", `/squads/${form.dataset.squadId}/status`, body);
      const entry = ctx.state.squads.get(answer.id);
      if (entry && (entry.rev ?? 0) < answer.event_id) {
        Object.assign(entry.data, { status: answer.status, status_reason: answer.status_reason, status_since: answer.status_since });
        entry.rev = answer.event_id;
      }
      form.hidden = true;
      invalidate();
    } catch (e) {
      const err = e.body?.error;
      error.textContent =
        err?.code === "illegal_status"
          ? t("board.status.refused", { allowed: err.allowed.length ? err.allowed.map((s) => t(`squad.status.${s}`)).join(", ") : t("board.none") })
          : e.message;
    }
  });
  form.showReason = showReason;
  return form;
}

function openStatusForm(squadId) {
  const entry = ctx.state.squads.get(squadId);
  if (!entry) return;
  const form = document.getElementById("status-form");
  form.dataset.squadId = String(squadId);
  form.querySelector(".status-form-squad").textContent = nameOf(entry.data) || entry.data.code;
  const current = entry.data.status;
  form.elements.status.value = BY_HAND.includes(current) ? current : "available";
  form.querySelector("#status-form-error").textContent = "";
  form.showReason();
  form.hidden = false;
  form.elements.status.focus();
}

function setOpen(open) {
  board.open = open;
  nodes.bodyNode.hidden = !open;
  nodes.panel.classList.toggle("open", open);
  nodes.toggle.setAttribute("aria-expanded", String(open));
  try {
    localStorage.setItem(OPEN_KEY, open ? "1" : "0");
  } catch {
    /* private mode: not remembered */
  }
  ctx.map.invalidateSize();
  if (open) invalidate();
}

function onKey(event) {
  if (event.key !== "b" && event.key !== "B") return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.closest?.("input, textarea, select, [contenteditable='true']")) return;
  event.preventDefault();
  setOpen(!board.open);
  if (board.open) nodes.scroller.focus({ preventScroll: true });
}

// -- drawing ---------------------------------------------------------------------------------------------

function invalidate() {
  board.dirty = true;
  scheduleDraw();
}

function scheduleDraw() {
  if (board.drawPending) return;
  board.drawPending = true;
  requestAnimationFrame(() => {
    board.drawPending = false;
    draw();
  });
}

function makeRow() {
  const cells = COLUMNS.map((c) => el("td", { class: `c-${c.key}` }));
  const statusText = el("span", { class: "status-text" });
  // its text is drawn by CSS (::after), so the cell reads as the status alone; the label says what it does
  const setStatus = el("button", { type: "button", class: "link status-set", title: t("board.status.change"), hidden: !may("set_squad_status") });
  cells[1].append(el("span", { class: "status-mark", "aria-hidden": "true" }), statusText, setStatus);
  const row = el("tr", {}, cells);
  row.cellsByKey = Object.fromEntries(COLUMNS.map((c, i) => [c.key, cells[i]]));
  row.statusText = statusText;
  row.setStatus = setStatus;
  return row;
}

function fillRow(row, data, index, now) {
  const c = row.cellsByKey;
  row.dataset.squadId = data.id;
  row.dataset.status = data.status;
  row.className = `squad-row s-${data.status}${index % 2 ? " odd" : ""}`;
  c.squad.textContent = nameOf(data) || data.code;
  c.squad.title = data.code || "";
  c.squad.dataset.force = data.force;
  c.status.className = `c-status st-${data.status} f-${data.force}`;
  row.statusText.textContent = data.status_reason
    ? `${t(`squad.status.${data.status}`)} (${t(`squad.reason.${data.status_reason}`)})`
    : t(`squad.status.${data.status}`);
  row.setStatus.dataset.setStatus = String(data.id);
  row.setStatus.setAttribute("aria-label", t("board.status.change_label", { squad: nameOf(data) || data.code }));
  c.since.textContent = data.status_since ? hmm((now - time(data.status_since)) / 1000) : t("board.none");
  c.since.title = data.status_since ? new Date(data.status_since).toLocaleString() : "";
  const task = currentTask(data);
  if (task?.incident_id) {
    const link = el("button", { type: "button", class: "link", dataset: { incidentId: task.incident_id } }, t("board.incident", { id: task.incident_id }));
    c.task.replaceChildren(link, task.state ? ` ${t(`task.state.${task.state}`)}` : "");
  } else {
    c.task.textContent = t("board.none");
  }
  if (data.last_position_at) {
    const stale = now - time(data.last_position_at) > STALE_MINUTES * 60 * 1000;
    c.position.textContent = ago(data.last_position_at, now);
    c.position.classList.toggle("stale", stale);
    c.position.title = stale ? t("board.stale") : "";
    c.position.dataset.stale = stale ? "1" : "0";
  } else {
    c.position.textContent = t("board.no_position"); // never reported one (shown at its station)
    c.position.classList.remove("stale");
    c.position.title = "";
    c.position.dataset.stale = "0";
  }
  c.zone.textContent = data.zone ? nameOf(data.zone) : t("board.none");
  c.station.textContent = data.station_region ? nameOf(data.station_region) : t("board.none");
  const on = data.officers_on_duty;
  c.officers.textContent = on === undefined || on === null ? t("board.none") : `${on} / ${data.certified_on_duty ?? 0}`;
  c.officers.title = on === undefined || on === null ? "" : t("board.officers_title", { on, certified: data.certified_on_duty ?? 0 });
}

function draw() {
  if (board.dirty) {
    board.dirty = false;
    refilter();
    refreshSummary();
    refreshZones();
    for (const th of nodes.head.children) {
      const key = th.dataset.col;
      th.setAttribute("aria-sort", key === board.sort.key ? (board.sort.dir > 0 ? "ascending" : "descending") : "none");
    }
  }
  if (!board.open) return;
  const total = board.rows.length;
  const scrollTop = nodes.scroller.scrollTop;
  const height = nodes.scroller.clientHeight || 300;
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(total, Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
  const count = Math.max(0, last - first);
  const pool = nodes.pool;
  while (pool.length < count) pool.push(makeRow());
  const now = Date.now();
  const fragment = document.createDocumentFragment();
  for (let i = 0; i < count; i += 1) {
    fillRow(pool[i], board.rows[first + i].data, first + i, now);
    fragment.append(pool[i]);
  }
  for (let i = count; i < pool.length; i += 1) pool[i].remove();
  nodes.top.style.height = `${first * ROW_HEIGHT}px`;
  nodes.bottom.style.height = `${(total - last) * ROW_HEIGHT}px`;
  nodes.top.after(fragment);
  nodes.empty.hidden = total > 0;
  nodes.count.textContent = t("board.count", { shown: total, total: ctx.state.squads.size });
  nodes.panel.dataset.rendered = String(count);
}

function refreshSummary() {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const entry of ctx.state.squads.values()) counts[entry.data.status] = (counts[entry.data.status] || 0) + 1;
  nodes.summary.replaceChildren(
    ...STATUSES.map((s) => el("span", { class: `board-tally st-${s}`, dataset: { status: s } }, el("span", { class: "status-mark", "aria-hidden": "true" }), `${t(`squad.status.${s}`)} ${counts[s]}`))
  );
}

function refreshZones() {
  let added = false;
  for (const entry of ctx.state.squads.values()) {
    const zone = entry.data.zone;
    if (zone?.code && !board.zones.has(zone.code)) {
      board.zones.set(zone.code, zone);
      added = true;
    }
  }
  if (!added) return;
  const box = nodes.zoneSelect;
  const chosen = box.value;
  const zones = [...board.zones.values()].sort((a, b) => collator.compare(nameOf(a), nameOf(b)));
  box.replaceChildren(el("option", { value: "" }, t("board.filter.all")), ...zones.map((z) => el("option", { value: z.code }, nameOf(z))));
  box.value = chosen;
}

// -- the panel's interface ---------------------------------------------------------------------------

export function init(context) {
  ctx = context;
  const panel = document.getElementById("board-panel");
  if (!panel) return;
  build(panel);
  board.refresh = invalidate;
  board.setOpen = setOpen;
  ctx.state.board = board; // for the browser tests
  document.addEventListener("keydown", onKey);
  setInterval(scheduleDraw, 20_000); // the ages move on
  let open = false;
  try {
    open = localStorage.getItem(OPEN_KEY) === "1";
  } catch {
    /* not remembered */
  }
  if (open) setOpen(true);
}

export function snapshot(snap) {
  if (!nodes) return;
  for (const s of snap.squads) {
    const entry = ctx.state.squads.get(s.id);
    if (!entry) continue;
    for (const field of FIXED_FIELDS) if (s[field] !== undefined) entry.data[field] = s[field];
    if ((s.rev ?? 0) >= entry.rev) for (const field of STATUS_FIELDS) if (s[field] !== undefined) entry.data[field] = s[field];
    if ((s.position_rev ?? 0) >= entry.posRev) entry.data.last_position_at = s.last_position_at;
  }
  invalidate();
}

export function update(u) {
  if (!nodes) return;
  if (u.type === "squad") {
    invalidate();
  } else if (u.type === "position") {
    const entry = ctx.state.squads.get(u.id);
    if (entry && u.data?.time) entry.data.last_position_at = u.data.time;
    if (board.sort.key === "position") invalidate();
    else scheduleDraw();
  } else if (u.type === "task") {
    const task = u.data;
    const entry = ctx.state.squads.get(task?.squad_id ?? task?.squad?.id); // live updates carry task.squad
    if (!entry) return;
    if (ASSIGNED.has(task.state)) {
      entry.data.task_id = task.id;
      entry.data.incident_id = task.incident_id ?? null;
    } else if (entry.data.task_id === task.id) {
      entry.data.task_id = null;
      entry.data.incident_id = null;
    }
    if (board.sort.key === "task") invalidate();
    else scheduleDraw();
  }
}
