// The roster's week grid (issue 29): squads down, seven China days across, each day's shifts of the squad and of its
// officers; add a shift (the squad's or one officer's, with its role), remove one. GET/POST /api/v1/shifts,
// DELETE /api/v1/shifts/<id>. command.js calls init({map, state, select}); R or the button opens it.
// Times are shown and entered in China time (Asia/Shanghai), whatever the browser's own zone.
import { api, el, may, nameOf, t } from "./common.js";

const DAY_MS = 24 * 3600 * 1000;
const CHINA_MS = 8 * 3600 * 1000;

const roster = { open: false, weekStart: null, squads: [], shifts: [], loading: false, error: null };
let nodes = null;

// -- China time --------------------------------------------------------------------------------------

/** Midnight (China) of the Monday of the week holding `date`, as a UTC epoch. */
function mondayOf(date) {
  const local = new Date(date.getTime() + CHINA_MS);
  const day = (local.getUTCDay() + 6) % 7; // Monday 0
  const midnight = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate()) - CHINA_MS;
  return midnight - day * DAY_MS;
}

function chinaParts(ms) {
  const d = new Date(ms + CHINA_MS);
  const pad = (n) => String(n).padStart(2, "0");
  return { date: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`, md: `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`, hm: `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`, weekday: d.getUTCDay() };
}

function iso(ms) {
  const p = chinaParts(ms);
  return `${p.date}T${p.hm}:00+08:00`;
}

// -- loading --------------------------------------------------------------------------------------------

async function load() {
  roster.loading = true;
  const from = roster.weekStart;
  const to = from + 7 * DAY_MS;
  try {
    const answer = await api("GET", `/shifts?from=${encodeURIComponent(iso(from))}&to=${encodeURIComponent(iso(to))}&squads=1`);
    roster.squads = answer.squads || [];
    roster.shifts = answer.shifts;
    roster.error = null;
  } catch (error) {
    roster.error = error.message;
  } finally {
    roster.loading = false;
  }
  draw();
}

// -- drawing ----------------------------------------------------------------------------------------------

function shiftsOf(squad, dayStart) {
  const dayEnd = dayStart + DAY_MS;
  return roster.shifts.filter((s) => s.squad?.id === squad.id && new Date(s.start).getTime() < dayEnd && new Date(s.end).getTime() > dayStart);
}

function shiftChip(shift) {
  const who = shift.officer ? shift.officer.name : t("roster.whole_squad");
  const span = `${chinaParts(new Date(shift.start).getTime()).hm}–${chinaParts(new Date(shift.end).getTime()).hm}`;
  const label = [span, who, shift.role].filter(Boolean).join(" · ");
  return el(
    "li",
    { class: shift.officer ? "shift officer-shift" : "shift squad-shift", dataset: { shiftId: shift.id } },
    el("span", {}, label),
    " ",
    may("edit_rosters") ? el("button", { type: "button", class: "link shift-remove", dataset: { remove: shift.id }, "aria-label": t("roster.remove_label", { what: label }) }, "×") : null
  );
}

function draw() {
  if (!nodes) return;
  const start = roster.weekStart;
  nodes.week.textContent = t("roster.week", { from: chinaParts(start).date, to: chinaParts(start + 6 * DAY_MS).date });
  nodes.error.textContent = roster.error || "";
  nodes.error.hidden = !roster.error;
  const days = [...Array(7).keys()].map((i) => start + i * DAY_MS);
  const head = el(
    "tr",
    {},
    el("th", { scope: "col" }, t("roster.col.squad")),
    days.map((d) => el("th", { scope: "col" }, `${t(`roster.weekday.${chinaParts(d).weekday}`)} ${chinaParts(d).md}`))
  );
  const rows = roster.squads.map((squad) => {
    const onDuty = squad.officers.filter((o) => o.on_duty_now).length;
    return el(
      "tr",
      { dataset: { squadId: squad.id } },
      el("th", { scope: "row" }, el("span", { class: "roster-squad" }, nameOf(squad)), el("span", { class: "muted roster-now" }, t("roster.on_duty_now", { n: onDuty }))),
      days.map((d) =>
        el(
          "td",
          { dataset: { day: chinaParts(d).date } },
          el("ul", { class: "shifts" }, shiftsOf(squad, d).map(shiftChip)),
          may("edit_rosters") ? el("button", { type: "button", class: "link shift-add", dataset: { add: squad.id, day: chinaParts(d).date }, "aria-label": t("roster.add_label", { squad: nameOf(squad), day: chinaParts(d).date }) }, "+") : null
        )
      )
    );
  });
  nodes.table.replaceChildren(el("caption", { class: "visually-hidden" }, t("roster.title")), el("thead", {}, head), el("tbody", {}, rows));
  nodes.empty.hidden = roster.squads.length > 0 || roster.loading;
}

// -- the form: add a shift ----------------------------------------------------------------------------------

function openForm(squadId, day) {
  const squad = roster.squads.find((s) => s.id === squadId);
  if (!squad) return;
  const f = nodes.form;
  f.elements.squad_id.value = String(squadId);
  f.elements.day.value = day;
  f.querySelector(".form-squad").textContent = `${nameOf(squad)} · ${day}`;
  const who = f.elements.officer;
  who.replaceChildren(el("option", { value: "" }, t("roster.whole_squad")), ...squad.officers.map((o) => el("option", { value: String(o.id) }, o.auxiliary ? `${o.name} (${t("roster.auxiliary")})` : o.name)));
  nodes.formError.textContent = "";
  f.hidden = false;
  f.elements.start.focus();
}

async function submit(event) {
  event.preventDefault();
  const f = nodes.form;
  const day = f.elements.day.value;
  const start = `${day}T${f.elements.start.value}:00+08:00`;
  let endMs = new Date(`${day}T${f.elements.end.value}:00+08:00`).getTime();
  if (endMs <= new Date(start).getTime()) endMs += DAY_MS; // a night shift ends the next day
  const body = { start, end: iso(endMs) };
  if (f.elements.officer.value) body.officer_id = Number(f.elements.officer.value);
  else body.squad_id = Number(f.elements.squad_id.value);
  if (f.elements.role.value.trim()) body.role = f.elements.role.value.trim();
  try {
    await api("POST", "/shifts", body);
    f.hidden = true;
    await load();
  } catch (error) {
    const code = error.body?.error?.code;
    nodes.formError.textContent = code && t(`roster.error.${code}`) !== `roster.error.${code}` ? t(`roster.error.${code}`) : error.message;
  }
}

async function remove(shiftId) {
  try {
    await api("DELETE", `/shifts/${shiftId}`);
    await load();
  } catch (error) {
    roster.error = error.message;
    draw();
  }
}

// -- the panel -----------------------------------------------------------------------------------------------

function build(panel) {
  const toggle = el("button", { id: "roster-toggle", type: "button", "aria-expanded": "false", "aria-controls": "roster-body", "aria-keyshortcuts": "R" }, t("roster.toggle"), " ", el("kbd", {}, "R"));
  const week = el("span", { id: "roster-week", class: "roster-week" });
  const prev = el("button", { type: "button", id: "roster-prev" }, t("roster.prev"));
  const next = el("button", { type: "button", id: "roster-next" }, t("roster.next"));
  const table = el("table", { class: "roster-table", id: "roster-table" });
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const empty = el("p", { class: "muted", hidden: true }, t("roster.empty"));
  const formError = el("p", { class: "error", role: "alert", id: "shift-form-error" });
  const form = el(
    "form",
    { id: "shift-form", class: "shift-form", hidden: true, novalidate: true },
    el("input", { type: "hidden", name: "squad_id" }),
    el("input", { type: "hidden", name: "day" }),
    el("strong", { class: "form-squad" }),
    el("label", {}, t("roster.form.officer"), " ", el("select", { name: "officer" })),
    el("label", {}, t("roster.form.start"), " ", el("input", { type: "time", name: "start", value: "08:00", required: true })),
    el("label", {}, t("roster.form.end"), " ", el("input", { type: "time", name: "end", value: "20:00", required: true })),
    el("label", {}, t("roster.form.role"), " ", el("input", { type: "text", name: "role", maxlength: 40, size: 10 })),
    el("button", { type: "submit" }, t("roster.form.add")),
    el("button", { type: "button", class: "form-cancel" }, t("roster.form.cancel")),
    formError
  );
  const body = el("div", { id: "roster-body", class: "roster-body", hidden: true }, el("div", { class: "roster-nav" }, prev, week, next), error, form, el("div", { class: "roster-scroll" }, table), empty);
  panel.replaceChildren(el("div", { class: "board-bar" }, toggle), body);
  panel.setAttribute("aria-label", t("roster.title"));
  nodes = { panel, toggle, week, table, error, empty, form, formError, body };

  toggle.addEventListener("click", () => setOpen(!roster.open));
  prev.addEventListener("click", () => {
    roster.weekStart -= 7 * DAY_MS;
    load();
  });
  next.addEventListener("click", () => {
    roster.weekStart += 7 * DAY_MS;
    load();
  });
  table.addEventListener("click", (event) => {
    const add = event.target.closest("button[data-add]");
    if (add) openForm(Number(add.dataset.add), add.dataset.day);
    const gone = event.target.closest("button[data-remove]");
    if (gone) remove(Number(gone.dataset.remove));
  });
  form.addEventListener("submit", submit);
  form.querySelector(".form-cancel").addEventListener("click", () => {
    form.hidden = true;
  });
}

function setOpen(open) {
  roster.open = open;
  nodes.body.hidden = !open;
  nodes.panel.classList.toggle("open", open);
  nodes.toggle.setAttribute("aria-expanded", String(open));
  if (open) load();
}

function onKey(event) {
  if (event.key !== "r" && event.key !== "R") return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest?.("input, textarea, select, [contenteditable='true']")) return;
  event.preventDefault();
  setOpen(!roster.open);
}

export function init(context) {
  const panel = document.getElementById("roster-panel");
  if (!panel) return;
  roster.weekStart = mondayOf(new Date());
  build(panel);
  context.state.roster = roster; // for the browser tests
  document.addEventListener("keydown", onKey);
}

export function update(u) {
  if (roster.open && u.type === "squad" && (u.data?.officers_on_duty !== undefined || u.data?.status)) {
    const squad = roster.squads.find((s) => s.id === u.id);
    if (squad && u.data.status) squad.status = u.data.status;
  }
}
