// The action forms of the supervisor's pages (dispatch.http.oversight_desk): each form posts JSON to the
// API route in its data-path as the signed-in person (the session cookie, as /command does), so the rules
// and the record are the domain's. A refusal is worded in the page's language with the rule it applies.
// Text reaches the page through textContent only.

const strings = JSON.parse(document.getElementById("desk-strings").textContent);
const FLASH = "desk-saved";

/** The form's fields as the API's JSON: checked radios only, "true"/"false" as booleans, empty optional fields left out. */
function bodyOf(form) {
  const body = {};
  for (const field of form.elements) {
    if (!field.name || field.type === "submit") continue;
    if (field.type === "radio" && !field.checked) continue;
    if (field.value === "") continue;
    body[field.name] = field.dataset.type === "bool" ? field.value === "true" : field.value;
  }
  return Object.keys(body).length ? body : undefined;
}

/** "Refused (409) · what it means · field: x · rule: the seed's article · server says: ...". */
export function refusal(family, status, data) {
  const error = (data && data.error) || {};
  const meaning = strings.refusals[error.code] || (status === 400 ? strings.refusals.bad_request : "");
  const parts = [`${strings.refused} (${status})`];
  if (meaning) parts.push(meaning);
  if (error.field) parts.push(`${strings.field}: ${error.field}`);
  if (strings.rules[family]) parts.push(`${strings.rule}: ${strings.rules[family]}`);
  if (error.message) parts.push(`${strings.server}: ${error.message}`);
  return parts.join(" · ");
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const answer = form.querySelector(".answer");
  const button = form.querySelector("button[type=submit]");
  const body = bodyOf(form);
  button.disabled = true;
  answer.classList.remove("refused");
  answer.textContent = "";
  let response;
  try {
    response = await fetch(`/api/v1${form.dataset.path}`, {
      method: "POST",
      credentials: "same-origin",
      headers: body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    answer.classList.add("refused");
    answer.textContent = strings.offline;
    button.disabled = false;
    return;
  }
  const data = response.headers.get("Content-Type")?.includes("json") ? await response.json() : null;
  if (response.ok) {
    sessionStorage.setItem(FLASH, form.id);
    window.location.reload();
    return;
  }
  answer.classList.add("refused");
  answer.textContent = refusal(form.dataset.family, response.status, data);
  button.disabled = false;
}

function flash() {
  const saved = sessionStorage.getItem(FLASH);
  if (!saved) return;
  sessionStorage.removeItem(FLASH);
  const note = document.createElement("p");
  note.id = "desk-flash";
  note.className = "saved";
  note.setAttribute("role", "status");
  note.dataset.form = saved;
  note.textContent = strings.saved;
  document.querySelector("main").prepend(note);
}

for (const form of document.querySelectorAll("form.desk")) form.addEventListener("submit", submit);
flash();
document.body.dataset.ready = "1";
