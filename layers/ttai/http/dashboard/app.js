// The jobs dashboard: history, the latest report and each run's results, read from /api/v1/jobs.
// Signing in goes through /auth/login: the session then lives in an HttpOnly cookie this page never sees, sent by the
// browser with each same-origin request, and every write echoes the session's CSRF token (its readable cookie) in
// X-CSRF-Token. Everything the API returns is data: it reaches the page only as text, never as markup.

const CSRF_COOKIE = "__Host-ttai_csrf";
const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const PAGE_SIZE = 20;
const RENDERED_MARK = "ttai:history-rendered";

const $ = (id) => document.getElementById(id);

const state = {
  cursors: [null], // the cursor of each page seen so far; the last one is the page shown
  requestSerial: 0,
};

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The session's CSRF token, set with the session at sign-in and cleared at sign-out: also the sign that there is one.
function csrfToken() {
  for (const pair of document.cookie.split(";")) {
    const [name, ...value] = pair.trim().split("=");
    if (name === CSRF_COOKIE) return value.join("=") || null;
  }
  return null;
}

async function api(path, params = {}, method = "GET") {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(name, value);
  }
  const url = query.toString() ? `${path}?${query}` : path;
  const headers = WRITES.has(method) ? { "X-CSRF-Token": csrfToken() ?? "" } : {};
  const response = await fetch(url, { method, headers, credentials: "same-origin" });
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const message = body?.error?.message ?? body?.message ?? response.statusText;
    throw new ApiError(response.status, message);
  }
  return body;
}

// ---------------------------------------------------------------------------------------------- rendering helpers

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function demoBadge() {
  const badge = el("span", "demo data", "badge demo");
  badge.title = "This run worked on demo data, not market data";
  return badge;
}

function formatTime(iso) {
  if (!iso) return "–";
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? String(iso) : `${when.toISOString().slice(0, 19).replace("T", " ")}`;
}

function formatDuration(ms) {
  if (ms === null || ms === undefined) return "–";
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function formatConfidence(value) {
  return value === null || value === undefined ? "–" : `${Math.round(value * 100)} %`;
}

function describeSignal(signal) {
  if (signal && typeof signal === "object" && !Array.isArray(signal)) {
    const name = signal.name ?? signal.type ?? signal.signal;
    const detail = signal.direction ?? signal.strength ?? signal.value;
    if (name !== undefined) return detail === undefined ? String(name) : `${name} (${detail})`;
  }
  return typeof signal === "string" ? signal : JSON.stringify(signal);
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

// ------------------------------------------------------------------------------------------------------ history

function filters() {
  return { type: $("filter-type").value, status: $("filter-status").value };
}

function historyRow(job) {
  const row = document.createElement("tr");
  row.dataset.jobId = String(job.id);
  row.tabIndex = 0;
  row.className = `status-${job.status}`;
  const type = el("td", job.job_type, "job-type");
  if (job.demo) type.append(" ", demoBadge());
  row.append(
    type,
    el("td", job.status, "job-status"),
    el("td", formatTime(job.scheduled_time), "job-scheduled"),
    el("td", job.execution_date, "job-date"),
    el("td", formatDuration(job.duration_ms), "job-duration"),
    el("td", job.symbols_processed, "job-processed"),
    el("td", job.symbols_failed, "job-failed"),
  );
  if (job.error_message) row.title = job.error_message;
  // A failure to load the run shows in the error line like every other request's.
  const open = () => guarded(() => loadDetails(job.id));
  row.addEventListener("click", open);
  row.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      open();
    }
  });
  return row;
}

async function loadHistory() {
  const serial = ++state.requestSerial;
  const table = $("history-table");
  table.dataset.state = "loading";
  const cursor = state.cursors[state.cursors.length - 1];
  const page = await api("/api/v1/jobs/history", { ...filters(), limit: PAGE_SIZE, cursor });
  if (serial !== state.requestSerial) return; // a newer request (filter change, paging) has superseded this one
  const body = table.tBodies[0];
  body.replaceChildren(...page.items.map(historyRow));
  $("history-empty").hidden = page.items.length > 0;
  $("newer").disabled = state.cursors.length <= 1;
  $("older").disabled = !page.next_cursor;
  $("older").dataset.cursor = page.next_cursor ?? "";
  $("page-number").textContent = `page ${state.cursors.length}`;
  table.dataset.state = "ready";
  // The first history on screen since navigation: what make bench times.
  if (!performance.getEntriesByName(RENDERED_MARK).length) performance.mark(RENDERED_MARK);
}

// ---------------------------------------------------------------------------------------------- latest report

function reportBlock(report, job) {
  const block = el("div", undefined, "report");
  if (!report) {
    block.append(el("p", `No report from the ${job.job_type} run of ${job.execution_date} (${job.status}).`));
    return block;
  }
  const heading = el("p", `${report.report_type} report for ${report.report_date}`, "report-heading");
  if (job.demo) heading.append(" ", demoBadge());
  block.append(
    heading,
    el("p", report.summary ?? "(no summary)", "report-summary"),
    el("p", `High-confidence signals: ${report.high_confidence_count}`, "report-high-confidence"),
  );
  return block;
}

async function loadLatest() {
  const holder = $("report");
  try {
    const job = await api("/api/v1/jobs/latest", { type: $("report-type").value });
    holder.replaceChildren(reportBlock(job.report, job));
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    holder.replaceChildren(el("p", `No ${$("report-type").value} run yet.`));
  }
}

// ------------------------------------------------------------------------------------------------------ details

function term(list, name, value) {
  list.append(el("dt", name), el("dd", value));
}

function resultRow(result) {
  const row = document.createElement("tr");
  row.dataset.resultId = String(result.id);
  const symbol = el("td", result.symbol, "result-symbol");
  if (result.demo) symbol.append(" ", demoBadge());
  row.append(
    symbol,
    el("td", result.sentiment ?? "–", "result-sentiment"),
    el("td", formatConfidence(result.confidence), "result-confidence"),
    el("td", result.direction ?? "–", "result-direction"),
    el("td", (result.signals ?? []).map(describeSignal).join(", ") || "–", "result-signals"),
    el("td", result.reasoning ?? "", "result-reasoning"),
    el("td", result.error_message ?? "", "result-error"),
  );
  return row;
}

async function loadDetails(id) {
  const job = await api(`/api/v1/jobs/${encodeURIComponent(id)}`);
  const section = $("details");
  const title = $("details-title");
  title.textContent = `Run ${job.id}: ${job.job_type} on ${job.execution_date}`;
  if (job.demo) title.append(" ", demoBadge());
  const summary = $("details-summary");
  summary.replaceChildren();
  term(summary, "Status", job.status);
  term(summary, "Scheduled (UTC)", formatTime(job.scheduled_time));
  term(summary, "Duration", formatDuration(job.duration_ms));
  term(summary, "Symbols", `${job.symbols_processed} processed, ${job.symbols_successful} succeeded, ${job.symbols_failed} failed`);
  if (job.error_message) term(summary, "Error", job.error_message);
  $("details-report").replaceChildren(job.report ? reportBlock(job.report, job) : el("p", "This run wrote no report."));
  $("results-table").tBodies[0].replaceChildren(...job.results.map(resultRow));
  $("results-note").textContent =
    job.results.length < job.results_total
      ? `The first ${job.results.length} of ${job.results_total} results, by symbol.`
      : `${job.results_total} result${job.results_total === 1 ? "" : "s"}.`;
  section.dataset.jobId = String(job.id);
  section.hidden = false;
  section.scrollIntoView({ block: "nearest" });
}

// ------------------------------------------------------------------------------------------------ the page

function signedIn(yes) {
  $("sign-in").hidden = yes;
  $("board").hidden = !yes;
  $("sign-out").hidden = !yes;
  if (!yes) {
    $("details").hidden = true;
    $("history-table").tBodies[0].replaceChildren();
    $("report").replaceChildren();
  }
}

async function guarded(work) {
  try {
    showError("");
    await work();
  } catch (error) {
    // Reading jobs needs no scope: a 401 or 403 means the session itself was refused (API Gateway denies a session
    // the authorizer does not accept with a 403).
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      signedIn(false);
      showError("Your session has ended (expired or signed out elsewhere): sign in again.");
    } else {
      showError(error instanceof ApiError ? `The API answered ${error.status}: ${error.message}` : String(error));
    }
  }
}

function start() {
  signedIn(true);
  state.cursors = [null];
  guarded(() => Promise.all([loadHistory(), loadLatest()]));
}

async function signOut() {
  const button = $("sign-out");
  button.disabled = true;
  try {
    showError("");
    await api("/auth/logout", {}, "POST"); // ends the session and clears both cookies
    signedIn(false);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) signedIn(false); // already over
    else showError(error instanceof ApiError ? `Signing out failed (${error.status}): ${error.message}` : String(error));
  } finally {
    button.disabled = false;
  }
}

function wire() {
  $("sign-out").addEventListener("click", signOut);
  for (const id of ["filter-type", "filter-status"]) {
    $(id).addEventListener("change", () => {
      state.cursors = [null];
      guarded(loadHistory);
    });
  }
  $("older").addEventListener("click", () => {
    const next = $("older").dataset.cursor;
    if (!next) return;
    state.cursors.push(next);
    guarded(loadHistory);
  });
  $("newer").addEventListener("click", () => {
    if (state.cursors.length <= 1) return;
    state.cursors.pop();
    guarded(loadHistory);
  });
  $("report-type").addEventListener("change", () => guarded(loadLatest));
  if (csrfToken()) start();
  else signedIn(false);
}

wire();
