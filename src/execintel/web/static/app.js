// execintel dashboard: sign in with an emailed link, run the reports your roles allow, watch each run, read the
// history. It talks only to this server's JSON API (described in docs/web.md and published at /openapi.json).
//
// Safety rules this file keeps: every value from the server reaches the page through textContent or a text node
// (report titles and triggers come from a manifest, so they are untrusted text); no HTML-string sinks, no inline
// handlers (the page's Content-Security-Policy forbids them anyway); the only requests are same-origin fetches.

const POLL_MS = 1500;
const FINAL = new Set(["ok", "failed", "held", "interrupted"]);

const byId = (id) => document.getElementById(id);

/** The CSRF token of this session (from GET /api/me); sent on every state-changing request. */
let csrfToken = null;
/** Bumped whenever the session ends, so that requests and timers of the old session stop touching the page. */
let session = 0;
/** The report rows on the page, by report id. */
const rows = new Map();

/** A new element with attributes and children; strings become text nodes, never markup. */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or null. */
function retryAfterSeconds(header) {
  if (!header) return null;
  if (/^\s*\d+\s*$/.test(header)) return Number(header);
  const when = Date.parse(header);
  return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

/** One request to this server: {status, data, retryAfter}; status 0 when the server could not be reached. */
async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method, headers, credentials: "same-origin", cache: "no-store", redirect: "error",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { status: 0, data: null, retryAfter: null };
  }
  let data = null;
  if ((response.headers.get("Content-Type") || "").includes("json")) {
    try { data = await response.json(); } catch { data = null; }
  }
  return { status: response.status, data, retryAfter: retryAfterSeconds(response.headers.get("Retry-After")) };
}

/** The server's sentence from an error body, or the fallback (FastAPI's 422 detail is a list, not a sentence). */
function detail(data, fallback) {
  return data && typeof data.detail === "string" && data.detail.trim() ? data.detail : fallback;
}

function unreachable() {
  return "Cannot reach the server. Check your connection and try again.";
}

function waitText(seconds, what) {
  return seconds === null ? `${what} later.` : `${what} in ${seconds} second${seconds === 1 ? "" : "s"}.`;
}

/** A time from the server as the reader's local date and time, in a <time> element. */
function timeElement(iso) {
  const when = new Date(iso);
  const text = Number.isNaN(when.getTime())
    ? String(iso)
    : when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  return el("time", { datetime: String(iso) }, text);
}

/** Set a live region's text only when it changes, so screen readers announce news, not every poll. */
function say(node, text, tone = "") {
  if (node.textContent !== text) node.textContent = text;
  if (tone) node.dataset.tone = tone; else delete node.dataset.tone;
}

// ---------------------------------------------------------------------------------------------- signed out

function showSignIn(message, tone = "") {
  byId("dashboard").hidden = true;
  byId("who").hidden = true;
  byId("portfolio").hidden = true;
  byId("signin").hidden = false;
  say(byId("signin-status"), message, tone);
}

async function requestLink(event) {
  event.preventDefault();
  const form = event.currentTarget;
  if (form.dataset.busy) return;
  const input = byId("email");
  const status = byId("signin-status");
  const email = input.value.trim();
  if (!email || !input.checkValidity()) {
    input.setAttribute("aria-invalid", "true");
    say(status, "Enter your email address, like name@example.com.", "error");
    input.focus();
    return;
  }
  input.removeAttribute("aria-invalid");
  form.dataset.busy = "1";
  say(status, "Sending…");
  const answer = await api("POST", "/api/auth/magic-link", { email });
  delete form.dataset.busy;
  if (answer.status === 202) {
    const message = answer.data && typeof answer.data.message === "string" ? answer.data.message : "";
    say(status, message || "If that address belongs to a stakeholder, a sign-in link is on its way.");
  } else if (answer.status === 429) {
    say(status, waitText(answer.retryAfter, "Too many requests; try again"), "error");
  } else if (answer.status === 422) {
    input.setAttribute("aria-invalid", "true");
    say(status, detail(answer.data, "Enter a valid email address, like name@example.com."), "error");
  } else if (answer.status === 0) {
    say(status, unreachable(), "error");
  } else {
    say(status, detail(answer.data, `Could not send the link: the server answered ${answer.status}.`), "error");
  }
}

/** Forget the session: stop every poll, clear what it showed, show the sign-in form with a message. */
function endSession(message, tone = "") {
  session += 1;
  csrfToken = null;
  for (const row of rows.values()) clearTimeout(row.timer);
  rows.clear();
  byId("reports").replaceChildren();
  byId("history-rows").replaceChildren();
  for (const id of ["who-name", "who-email", "who-roles", "portfolio"]) {
    byId(id).textContent = "";
    byId(id).removeAttribute("title");
  }
  showSignIn(message, tone);
}

async function signOut() {
  const button = byId("sign-out");
  if (button.dataset.busy) return;
  button.dataset.busy = "1";
  const answer = await api("POST", "/auth/logout");
  delete button.dataset.busy;
  if (answer.status === 204 || answer.status === 200 || answer.status === 401) {
    endSession("You are signed out.");
    byId("signin-title").focus();
  } else {
    say(byId("notice"), answer.status === 0 ? unreachable()
      : detail(answer.data, `Could not sign out: the server answered ${answer.status}.`), "error");
  }
}

// ----------------------------------------------------------------------------------------------- signed in

/** Text from the server in an element that may clip it, the whole text in its tooltip. */
function showText(node, text) {
  node.textContent = text;
  node.title = text;
}

function showDashboard(me) {
  csrfToken = typeof me.csrf_token === "string" ? me.csrf_token : null;
  // the title attribute holds the whole name where the page shows its first three lines
  showText(byId("who-name"), String(me.name || me.id || ""));
  byId("who-email").textContent = String(me.email || "");
  byId("who-roles").textContent = Array.isArray(me.roles) && me.roles.length ? me.roles.join(", ") : "none";
  showText(byId("portfolio"), String(me.portfolio || ""));
  byId("portfolio").hidden = !me.portfolio;
  byId("who").hidden = false;
  byId("signin").hidden = true;
  byId("dashboard").hidden = false;
  say(byId("signin-status"), "");
}

/** Handle an answer every signed-in request may get; true when it was handled (the session is over). */
function sessionLost(answer) {
  if (answer.status !== 401) return false;
  endSession("Your session has ended. Sign in again.", "error");
  return true;
}

async function refreshReports() {
  const mine = session;
  const answer = await api("GET", "/api/reports");
  if (mine !== session || sessionLost(answer)) return;
  if (answer.status !== 200 || !answer.data || !Array.isArray(answer.data.reports)) {
    say(byId("notice"), answer.status === 0 ? unreachable()
      : detail(answer.data, `Could not load your reports: the server answered ${answer.status}.`), "error");
    return;
  }
  renderReports(answer.data.reports);
}

function renderReports(reports) {
  const list = byId("reports");
  const seen = new Set();
  reports.forEach((report, index) => {
    const id = String(report.id);
    seen.add(id);
    let row = rows.get(id);
    if (!row) {
      row = makeRow(id);
      rows.set(id, row);
    }
    // move a row only when it is out of place: moving a node takes the keyboard focus away from its button
    if (list.children[index] !== row.node) list.insertBefore(row.node, list.children[index] || null);
    updateRow(row, report);
  });
  for (const [id, row] of rows) {
    if (!seen.has(id)) {
      clearTimeout(row.timer);
      row.node.remove();
      rows.delete(id);
    }
  }
  byId("reports-empty").hidden = reports.length > 0;
}

function makeRow(id) {
  const title = el("h3");
  const when = el("p", { class: "latest-when" });
  const runTitle = el("span", { class: "visually-hidden" });
  const run = el("button", { type: "button", class: "run" }, "Run now", runTitle);
  const latestTitle = el("span", { class: "visually-hidden" });
  const latest = el("a", { class: "latest", target: "_blank", rel: "noopener noreferrer",
                           href: `/api/reports/${encodeURIComponent(id)}/latest` }, "Latest", latestTitle);
  const line = el("p");
  const deliveries = el("ul", { class: "deliveries" });
  const status = el("div", { class: "run-status", role: "status", "aria-live": "polite" }, line, deliveries);
  const node = el("li", { class: "report", "data-report": id },
                  title, when, el("div", { class: "actions" }, run, latest), status);
  const row = { id, node, title, when, run, runTitle, latest, latestTitle, status, line, deliveries,
                runId: null, timer: null, busy: false, finished: new Set() };
  run.addEventListener("click", () => runNow(row));
  return row;
}

function updateRow(row, report) {
  const title = String(report.title || row.id);
  row.title.textContent = title;
  row.runTitle.textContent = `: ${title}`;
  row.latestTitle.textContent = `: ${title} (opens in a new tab)`;
  row.run.hidden = !report.can_run;
  const latest = report.latest && typeof report.latest === "object" ? report.latest : null;
  row.latest.hidden = !latest;
  if (latest && latest.generated) row.when.replaceChildren("Latest from ", timeElement(latest.generated));
  else row.when.replaceChildren(latest ? "" : "Not run yet.");
  // a run this row saw finish is not followed again, even if the list still calls it running for a moment
  const running = typeof report.running === "string" ? report.running : "";
  if (running && row.runId === null && !row.finished.has(running)) follow(row, running);
}

function setBusy(row, busy) {
  row.busy = busy;
  // aria-disabled, not disabled: a disabled button would drop the keyboard focus of whoever pressed it
  if (busy) row.run.setAttribute("aria-disabled", "true"); else row.run.removeAttribute("aria-disabled");
}

function tell(row, text, tone = "") {
  row.deliveries.replaceChildren();
  say(row.line, text);
  if (tone) row.status.dataset.tone = tone; else delete row.status.dataset.tone;
}

async function runNow(row) {
  if (row.busy) return;
  const mine = session;
  setBusy(row, true);
  tell(row, "Starting the run…");
  const answer = await api("POST", `/api/reports/${encodeURIComponent(row.id)}`);
  if (mine !== session || sessionLost(answer)) return;
  if (answer.status === 202 && answer.data && typeof answer.data.run_id === "string") {
    follow(row, answer.data.run_id);
    return;
  }
  setBusy(row, false);
  const { status, data } = answer;
  if (status === 409 && data && typeof data.run_id === "string") {
    tell(row, `${detail(data, "This report is already running.")} Following that run.`);
    follow(row, data.run_id);
  } else if (status === 403) {
    tell(row, detail(data, "Your roles do not allow you to run this report."), "error");
  } else if (status === 409) {
    tell(row, detail(data, "This report is already running."), "error");
  } else if (status === 503) {
    tell(row, `${detail(data, "The server is busy.")} ${waitText(answer.retryAfter, "Try again")}`, "error");
  } else if (status === 404) {
    tell(row, detail(data, "This report no longer exists."), "error");
  } else if (status === 0) {
    tell(row, unreachable(), "error");
  } else {
    tell(row, detail(data, `Could not start the run: the server answered ${status}.`), "error");
  }
}

/** Poll a run every POLL_MS until its status is final, showing its progress in the row. */
function follow(row, runId) {
  if (row.runId === runId) return;
  clearTimeout(row.timer);
  row.runId = runId;
  setBusy(row, true);
  const mine = session;
  const tick = async () => {
    const answer = await api("GET", `/api/runs/${encodeURIComponent(runId)}`);
    if (mine !== session || row.runId !== runId || sessionLost(answer)) return;
    if (answer.status === 200 && answer.data) {
      const run = answer.data;
      if (FINAL.has(run.status)) {
        finish(row, run);
        return;
      }
      tell(row, run.status === "queued" ? "Run queued…" : "Running…");
    } else if (answer.status === 404) {
      row.finished.add(runId);
      row.runId = null;
      setBusy(row, false);
      tell(row, "That run is no longer visible to you.", "error");
      return;
    } else {
      tell(row, "Lost contact with the server; still trying…", "error");
    }
    row.timer = setTimeout(tick, POLL_MS);
  };
  tick();
}

function finish(row, run) {
  row.finished.add(row.runId);
  row.runId = null;
  setBusy(row, false);
  const bad = run.status !== "ok";
  const words = ["Run finished: ", el("span", { class: `state state-${cssWord(run.status)}` }, String(run.status))];
  if (run.error) words.push(` (${run.error})`);
  row.line.replaceChildren(...words);
  if (bad) row.status.dataset.tone = "error"; else delete row.status.dataset.tone;
  const items = (Array.isArray(run.deliveries) ? run.deliveries : []).map((d) => {
    const state = el("span", { class: `state state-${cssWord(d.state)}` }, String(d.state));
    const parts = [`${d.recipient}: `, state];
    if (Array.isArray(run.reports) && run.reports.length > 1) parts.unshift(`${d.report} → `);
    if (d.reason) parts.push(` (${d.reason})`);
    return el("li", {}, ...parts);
  });
  row.deliveries.replaceChildren(...items);
  refreshReports();
  refreshHistory();
}

/** A status word made safe for a class name (the styles know the documented ones). */
function cssWord(word) {
  return String(word).toLowerCase().replace(/[^a-z0-9-]/g, "") || "unknown";
}

// ------------------------------------------------------------------------------------------------- history

async function refreshHistory() {
  const mine = session;
  const answer = await api("GET", "/api/history?limit=50");
  if (mine !== session || sessionLost(answer)) return;
  if (answer.status !== 200 || !answer.data || !Array.isArray(answer.data.runs)) {
    say(byId("notice"), answer.status === 0 ? unreachable()
      : detail(answer.data, `Could not load the history: the server answered ${answer.status}.`), "error");
    return;
  }
  const cells = (run) => {
    const when = run.started || run.finished;
    return [
      ["When", when ? timeElement(when) : "not started"],
      ["Reports", Array.isArray(run.reports) ? run.reports.join(", ") : ""],
      ["Status", el("span", { class: `state state-${cssWord(run.status)}` }, String(run.status))],
      ["Trigger", String(run.trigger || "")],
    ];
  };
  byId("history-rows").replaceChildren(...answer.data.runs.map((run) =>
    el("tr", {}, ...cells(run).map(([label, value]) => el("td", { "data-label": label }, value)))));
  byId("history-empty").hidden = answer.data.runs.length > 0;
  byId("history").hidden = answer.data.runs.length === 0;
}

// ------------------------------------------------------------------------------------------------ start up

async function start() {
  byId("signin-form").addEventListener("submit", requestLink);
  byId("sign-out").addEventListener("click", signOut);
  const answer = await api("GET", "/api/me");
  if (answer.status === 200 && answer.data) {
    showDashboard(answer.data);
    await Promise.all([refreshReports(), refreshHistory()]);
  } else if (answer.status === 401) {
    showSignIn("");
  } else {
    showSignIn(answer.status === 0 ? unreachable()
      : `The server answered ${answer.status}. Reload the page to try again.`, "error");
  }
  document.body.dataset.ready = "1";
}

start();
