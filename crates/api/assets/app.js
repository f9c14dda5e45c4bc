// dora-events dashboard: plain JavaScript over the JSON API, no framework and no build step.
// Sections: helpers · filters and URL · keys · drill-down · live events · pipeline · views.
"use strict";

// ---------------------------------------------------------------- helpers

const $ = (id) => document.getElementById(id);

/** Builds an element: el("td", {class: "x"}, "text", child). Text is never parsed as HTML. */
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// ---------------------------------------------------------------- access

/** The read token, asked for once when the server wants one and kept for this browser session. */
const TOKEN_KEY = "dora-events-read-token";
const readToken = () => sessionStorage.getItem(TOKEN_KEY);

/** Request headers with the read token, when there is one. */
function withToken(headers) {
  const token = readToken();
  return token ? { ...headers, authorization: `Bearer ${token}` } : { ...headers };
}

/** Shows the token form (once) after the server refused a request for want of a read token. */
function askForToken(detail) {
  const form = $("token-form");
  say("token-status", detail, "error");
  if (!form.hidden) return;
  form.hidden = false;
  $("token-input").focus();
}

function useToken(event) {
  event.preventDefault();
  const token = $("token-input").value.trim();
  if (!token) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  location.reload();
}

/** GET with the read token; a 401 or 403 asks for a token. Throws on network errors. */
async function authorizedFetch(path, headers) {
  let response;
  try {
    response = await fetch(path, { headers: withToken(headers) });
  } catch (error) {
    throw new Error(`the server did not answer (${error.message})`);
  }
  if (response.status === 401 || response.status === 403) {
    askForToken(readToken() ? "The server refused this token: enter a read token." : "This server needs a read token.");
  }
  return response;
}

/** GET a JSON document; an error answer becomes an Error with the problem's detail. */
async function getJSON(path) {
  const response = await authorizedFetch(path, { accept: "application/json" });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const problem = await response.json();
      detail = problem.detail || problem.title || detail;
    } catch (_) { /* not problem+json */ }
    throw new Error(`${response.status} ${detail}`);
  }
  return response.json();
}

/** Loads an image through fetch (so the read token goes with it) into `img`. */
async function loadImage(img, path, onFailure) {
  try {
    const response = await authorizedFetch(path, { accept: "image/svg+xml" });
    if (!response.ok) throw new Error(String(response.status));
    const url = URL.createObjectURL(await response.blob());
    img.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
    img.src = url;
  } catch (_) {
    onFailure();
  }
}

/**
 * A server-sent event stream read with fetch, so that it can carry the read token (EventSource
 * cannot send headers). The same surface as EventSource: readyState, addEventListener, close;
 * it reconnects after an error, as EventSource does.
 */
class TokenEventSource {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;

  constructor(url) {
    this.url = url;
    this.readyState = TokenEventSource.CONNECTING;
    this.listeners = {};
    this.controller = null;
    this.connect();
  }

  addEventListener(name, listener) {
    (this.listeners[name] = this.listeners[name] || []).push(listener);
  }

  emit(name, data) {
    for (const listener of this.listeners[name] || []) listener({ type: name, data });
  }

  close() {
    this.readyState = TokenEventSource.CLOSED;
    if (this.controller) this.controller.abort();
    clearTimeout(this.retry);
  }

  async connect() {
    this.controller = new AbortController();
    try {
      const response = await fetch(this.url, { headers: withToken({ accept: "text/event-stream" }), signal: this.controller.signal });
      if (response.status === 401 || response.status === 403) {
        askForToken(readToken() ? "The server refused this token: enter a read token." : "This server needs a read token.");
        this.readyState = TokenEventSource.CLOSED;
        this.emit("error");
        return;
      }
      if (!response.ok || !response.body) throw new Error(String(response.status));
      this.readyState = TokenEventSource.OPEN;
      this.emit("open");
      await this.read(response.body.pipeThrough(new TextDecoderStream()).getReader());
    } catch (_) { /* reconnect below */ }
    if (this.readyState === TokenEventSource.CLOSED) return;
    this.readyState = TokenEventSource.CONNECTING;
    this.emit("error");
    this.retry = setTimeout(() => this.connect(), 3000);
  }

  /** Splits the stream into events (blank-line separated; "event:" and "data:" fields). */
  async read(reader) {
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") name = text;
          else if (field === "data") data.push(text);
        }
        if (data.length) this.emit(name, data.join("\n"));
      }
    }
  }
}

const generations = {};
/** Starts a load of `name`; the returned function tells whether it is still the latest one
 * (a slow answer to an older filter must not overwrite the newer one). */
function latest(name) {
  const mine = (generations[name] = (generations[name] || 0) + 1);
  return () => generations[name] === mine;
}

/** Shows a message in a status element; kind "error" marks it as an alert. */
function say(id, text, kind) {
  const node = $(id);
  node.textContent = text || "";
  node.className = kind || "";
}

const DAY = 86400;

/** Seconds as a short duration: "45 s", "12 min", "1.5 h", "2.3 d". */
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const round = (n) => String(Math.round(n * 10) / 10);
  if (seconds < 60) return `${round(seconds)} s`;
  if (seconds < 3600) return `${round(seconds / 60)} min`;
  if (seconds < DAY) return `${round(seconds / 3600)} h`;
  return `${round(seconds / DAY)} d`;
}

const percent = (ratio) => (ratio === null || ratio === undefined ? "–" : `${Math.round(ratio * 1000) / 10} %`);
const number = (n) => (n === null || n === undefined ? "–" : String(Math.round(n * 100) / 100));

/** "2024-01-02 13:00" (UTC) for an RFC 3339 time. */
function when(time) {
  if (!time) return "–";
  const d = new Date(time);
  return isNaN(d) ? String(time) : d.toISOString().slice(0, 16).replace("T", " ");
}

const isoDate = (date) => date.toISOString().slice(0, 10);

// ---------------------------------------------------------------- filters and URL

const DIMENSIONS = ["service", "environment", "team"];
const PRESETS = ["30", "90", "180"];
const filters = { service: "", environment: "", team: "", days: "90", from: "", to: "" };

/** Reads the filters from the page's query string (shared links open the same view). */
function readURL() {
  const query = new URLSearchParams(location.search);
  for (const name of DIMENSIONS) filters[name] = query.get(name) || "";
  filters.from = query.get("from") || "";
  filters.to = query.get("to") || "";
  filters.days = PRESETS.includes(query.get("days")) ? query.get("days") : "90";
}

function writeURL() {
  const query = new URLSearchParams();
  for (const name of DIMENSIONS) if (filters[name]) query.set(name, filters[name]);
  if (filters.from || filters.to) {
    if (filters.from) query.set("from", filters.from);
    if (filters.to) query.set("to", filters.to);
  } else if (filters.days !== "90") {
    query.set("days", filters.days);
  }
  const search = query.toString();
  history.pushState(null, "", `${location.pathname}${search ? "?" + search : ""}${location.hash}`);
}

/** The API's query for the current filters: a preset is the last N days through today. */
function scopeQuery() {
  const query = new URLSearchParams();
  if (filters.from || filters.to) {
    if (filters.from) query.set("from", filters.from);
    if (filters.to) query.set("to", filters.to);
  } else {
    const today = new Date();
    query.set("from", isoDate(new Date(today.getTime() - (Number(filters.days) - 1) * DAY * 1000)));
    query.set("to", isoDate(today));
  }
  for (const name of DIMENSIONS) if (filters[name]) query.set(name, filters[name]);
  return query;
}

/** Puts the filters into the form controls. */
function showFilters() {
  for (const name of DIMENSIONS) {
    const select = $(`filter-${name}`);
    if (filters[name] && ![...select.options].some((o) => o.value === filters[name])) {
      select.append(el("option", { value: filters[name] }, filters[name]));
    }
    select.value = filters[name];
  }
  const custom = Boolean(filters.from || filters.to);
  $("filter-window").value = custom ? "custom" : filters.days;
  // A preset shows its dates too; editing one of them makes the window custom.
  const query = scopeQuery();
  $("filter-from").value = custom ? filters.from : query.get("from");
  $("filter-to").value = custom ? filters.to : query.get("to");
}

/** Fills the service, environment and team options from GET /api/v1/dimensions. */
async function loadDimensions() {
  try {
    const dims = await getJSON("/api/v1/dimensions");
    for (const name of DIMENSIONS) {
      const select = $(`filter-${name}`);
      const all = select.options[0];
      select.replaceChildren(all, ...(dims[`${name}s`] || []).map((v) => el("option", { value: v }, v)));
    }
    say("filters-status", "");
  } catch (error) {
    say("filters-status", `Filter choices are unavailable: ${error.message}.`, "error");
  }
  showFilters();
}

function onFilterChange(event) {
  const target = event.target;
  if (DIMENSIONS.includes(target.name)) filters[target.name] = target.value;
  if (target.id === "filter-window") {
    if (target.value === "custom") {
      const query = scopeQuery(); // start the custom window from the preset it replaces
      filters.from = query.get("from");
      filters.to = query.get("to");
    } else {
      filters.days = target.value;
      filters.from = filters.to = "";
    }
  }
  if (target.id === "filter-from" || target.id === "filter-to") {
    filters.from = $("filter-from").value;
    filters.to = $("filter-to").value;
  }
  writeURL();
  showFilters();
  drill.offset = 0;
  refresh();
}

/** "2024-01-01 – 2024-01-14 · service web · all environments · all teams", from an answer. */
function scopeText(window, applied) {
  let to = new Date(window.to);
  // A window ending at midnight runs through the day before: show that day, as the form does.
  if (to.getUTCHours() + to.getUTCMinutes() + to.getUTCSeconds() === 0) to = new Date(to - DAY * 1000);
  const day = (d) => (typeof d === "string" ? when(d).replace(" 00:00", "") : isoDate(d));
  const parts = [`${day(window.from)} – ${day(to)} (UTC)`];
  const names = { service: ["service", "all services"], environment: ["environment", "all environments"], team: ["team", "all teams"] };
  for (const name of DIMENSIONS) {
    const values = (applied && applied[name]) || [];
    parts.push(values.length ? `${names[name][0]} ${values.join(", ")}` : names[name][1]);
  }
  const production = (applied && applied.production_environments) || [];
  parts.push(production.length ? `production = ${production.join(", ")}` : "every environment counts as production");
  return parts.join(" · ");
}

// ---------------------------------------------------------------- keys

/** The five keys: API name, chart path, title, which drill-down list explains it, what a sample is. */
const KEYS = [
  { name: "deployment_frequency", path: "deployment-frequency", title: "Deployment frequency", list: "deployments", sample: "production deployments" },
  { name: "lead_time", path: "lead-time", title: "Change lead time", list: "changes", sample: "changes deployed to production" },
  { name: "change_failure_rate", path: "change-failure-rate", title: "Change failure rate", list: "deployments", sample: "production deployments" },
  { name: "recovery_time", path: "recovery-time", title: "Failed deployment recovery time", list: "deployments", sample: "recovered failed deployments" },
  { name: "rework_rate", path: "rework-rate", title: "Deployment rework rate", list: "deployments", sample: "production deployments" },
];

/** The headline value, its unit and the details under it, per key. */
function describe(name, key) {
  switch (name) {
    case "deployment_frequency":
      return {
        value: String(key.value), unit: key.value === 1 ? "deployment" : "deployments",
        details: [
          `${number(key.deploy_days_per_week)} deploy days per week (median of ${key.complete_weeks ?? 0} complete weeks)`,
          `mean ${number(key.mean_deploy_days_per_week)} · deploy days: ${key.deploy_days ?? 0} · rollbacks: ${key.rollbacks ?? 0} · failed rollouts: ${key.failed_rollouts ?? 0}`,
        ],
      };
    case "lead_time":
      return {
        value: duration(key.value), unit: "median",
        details: [`p90 ${duration(key.p90)}`,
          `excluded: ${key.excluded_clock_skew ?? 0} clock skew, ${key.excluded_no_timestamp ?? 0} without a timestamp`],
      };
    case "change_failure_rate":
      return {
        value: percent(key.value), unit: "of deployments",
        details: [`${key.failed_deployments ?? 0} of ${key.sample_size} deployments needed intervention`,
          `incident ${key.reasons?.incident ?? 0} · rolled back ${key.reasons?.rolled_back ?? 0} · failed rollout ${key.reasons?.failed_rollout ?? 0}`,
          `unattributed incidents: ${key.unattributed_incidents ?? 0}`],
      };
    case "recovery_time":
      return {
        value: duration(key.value), unit: "median",
        details: [`${key.failed_deployments ?? 0} failed deployments, ${key.open ?? 0} not recovered yet`],
      };
    case "rework_rate":
      return {
        value: percent(key.value), unit: "of deployments",
        details: [`${key.rework_deployments ?? 0} of ${key.sample_size} deployments were rework`,
          `rollbacks: ${key.rollbacks ?? 0} · during an incident: ${key.during_incident ?? 0}`],
      };
  }
  return { value: String(key.value), unit: key.unit, details: [] };
}

/** The thresholds a level came from, in words. */
function thresholdText(name, t) {
  if (!t) return "No DORA levels for this key (set thresholds.rework_rate to grade it).";
  if ("elite_at_least" in t) {
    return `elite ≥ ${number(t.elite_at_least)} · high ≥ ${number(t.high_at_least)} (median) · medium ≥ ${number(t.medium_at_least)} (mean) deploy days per week · else low`;
  }
  if ("elite_below_seconds" in t) {
    return `elite < ${duration(t.elite_below_seconds)} · high < ${duration(t.high_below_seconds)} · medium < ${duration(t.medium_below_seconds)} · else low`;
  }
  return `elite ≤ ${percent(t.elite_at_most)} · high ≤ ${percent(t.high_at_most)} · medium ≤ ${percent(t.medium_at_most)} · else low`;
}

function keyCard(spec, key, scope, query) {
  const d = describe(spec.name, key);
  const chartQuery = new URLSearchParams(query);
  chartQuery.set("bucket", "week");
  const chartPath = `/api/v1/charts/${spec.path}.svg?${chartQuery}`;
  const chart = el("img", {
    "data-src": chartPath, alt: `${spec.title} per week`, class: "chart", "data-testid": "chart",
  });
  const missing = () => chart.replaceWith(el("p", { class: "error chart-missing" }, "Trend chart unavailable."));
  chart.addEventListener("error", missing);
  loadImage(chart, chartPath, missing);
  const level = key.level || "none";
  return el("article", { class: "card key", id: `key-${spec.name}`, "data-testid": `key-${spec.name}`, "aria-labelledby": `key-${spec.name}-title` },
    el("h3", { id: `key-${spec.name}-title` }, spec.title),
    el("p", { class: "value" },
      el("data", { value: key.value ?? "", "data-testid": "value" }, d.value), " ", el("span", { class: "unit" }, d.unit),
      " ", el("span", { class: `level level-${level}`, "data-testid": "level" }, key.level || "no level")),
    d.details.map((text) => el("p", { class: "detail" }, text)),
    el("p", { class: "thresholds", "data-testid": "thresholds" }, thresholdText(spec.name, key.thresholds)),
    el("p", { class: "sample", "data-testid": "sample" }, `Sample: ${key.sample_size} ${spec.sample}`),
    el("p", { class: "scope" }, scope),
    chart,
    el("p", {}, el("a", { href: `#drill/${spec.list}`, "data-testid": "drill-link" }, `Show the ${spec.list} behind it`)));
}

/**
 * What an answer leaves out, when it matters: answered from older numbers (stale), or events
 * received more than ten seconds ago and not counted yet. Empty otherwise.
 */
function freshnessText(answer) {
  const behind = answer.freshness || {};
  const waiting = behind.behind_cdevents || 0;
  if (!answer.stale && !(waiting > 0 && (behind.behind_seconds || 0) >= 10)) return "";
  const events = waiting === 1 ? "1 event" : `${waiting} events`;
  const age = duration(behind.behind_seconds || 0);
  if (answer.stale) {
    return waiting > 0
      ? `Not quite current: these numbers leave out ${events} still being counted (the oldest arrived ${age} ago).`
      : "Not quite current: these numbers are being brought up to date.";
  }
  return `Still counting ${events} (the oldest arrived ${age} ago): the numbers will change.`;
}

async function loadKeys() {
  const query = scopeQuery();
  const current = latest("keys");
  say("keys-status", "Loading…");
  try {
    const report = await getJSON(`/api/v1/dora?${query}`);
    if (!current()) return;
    const scope = scopeText(report.window, report.filters);
    $("keys-scope").textContent = scope;
    $("keys").replaceChildren(...KEYS.map((spec) => keyCard(spec, report.keys[spec.name] || {}, scope, query)));
    const lag = freshnessText(report);
    say("keys-status", lag, lag ? "note" : undefined);
  } catch (error) {
    if (!current()) return;
    $("keys").replaceChildren();
    say("keys-status", `Could not load the keys: ${error.message}`, "error");
  }
}

// ---------------------------------------------------------------- drill-down

const drill = { list: "deployments", offset: 0, limit: 25 };

const joined = (values) => (values && values.length ? values.join(", ") : "–");

/** A deployment's recovery in words. */
function recoveryText(r) {
  if (!r) return "–";
  if (r.status === "recovered") {
    const by = r.by.kind === "deployment" ? `deployment #${r.by.deployment_id}` : "incidents resolved";
    return `recovered in ${duration(r.seconds)} (${by}, ${when(r.recovered_at)})`;
  }
  if (r.status === "open") return `open since ${when(r.started_at)}`;
  return `invalid times (${when(r.started_at)} → ${when(r.recovered_at)})`;
}

function reworkText(r) {
  if (!r) return "–";
  return r.kind === "during_incident" ? `during incident ${r.incident_id}` : "rollback";
}

/** Columns per list: header and cell of one item. */
const COLUMNS = {
  deployments: [
    ["Deployment", (d) => [el("strong", {}, d.cdevent_id || `#${d.id}`), ` #${d.id}`]],
    ["At", (d) => when(d.at)],
    ["Service", (d) => d.service],
    ["Environment", (d) => (d.production ? d.environment : `${d.environment} (not production)`)],
    ["Team", (d) => d.team || "–"],
    ["Kind", (d) => (d.failed ? `${d.kind}, failed` : d.kind)],
    ["Revision / artifact", (d) => [d.revision || "–", d.artifact_id ? el("small", {}, " ", d.artifact_id) : null]],
    ["Shipped changes", (d) => joined(d.changes)],
    ["Incidents", (d) => joined(d.incidents)],
    ["Rollback", (d) => (d.rolled_back_by ? `rolled back by #${d.rolled_back_by}` : d.rolls_back ? `rolls back #${d.rolls_back}` : "–")],
    ["Intervention", (d) => joined((d.intervention || []).map((r) => r.replace(/_/g, " ")))],
    ["Recovery", (d) => recoveryText(d.recovery)],
    ["Rework", (d) => reworkText(d.rework)],
  ],
  changes: [
    ["Change", (c) => el("strong", {}, c.id)],
    ["Service", (c) => c.service || "–"],
    ["Repository", (c) => c.repository || "–"],
    ["Started", (c) => (c.started_at ? `${when(c.started_at)} (${c.start_source})` : "–")],
    ["First production deployment", (c) => (c.first_production_deployment ? `#${c.first_production_deployment}` : "–")],
    ["Deployed", (c) => when(c.deployed_at)],
    ["Lead time", (c) => (c.excluded ? `excluded (${c.excluded.replace(/_/g, " ")})` : el("data", { value: c.lead_time_seconds ?? "" }, duration(c.lead_time_seconds)))],
    ["Deployments", (c) => joined((c.deployments || []).map((id) => `#${id}`))],
    ["Skewed commits", (c) => String(c.skewed_commits ?? 0)],
  ],
  incidents: [
    ["Incident", (i) => el("strong", {}, i.id)],
    ["Service", (i) => i.service || "–"],
    ["Environment", (i) => i.environment || "–"],
    ["Detected", (i) => when(i.detected_at)],
    ["Resolved", (i) => (i.resolved_at ? when(i.resolved_at) : "open")],
    ["Duration", (i) => (i.resolved_at ? duration((new Date(i.resolved_at) - new Date(i.detected_at)) / 1000) : "–")],
    ["Failed deployment", (i) => (i.deployment ? `#${i.deployment}` : "–")],
    ["Attributed by", (i) => (i.rule ? i.rule.replace(/_/g, " ") : "–")],
    ["Status", (i) => i.status.replace(/_/g, " ")],
  ],
};

async function loadDrill() {
  for (const button of document.querySelectorAll("[data-list]")) {
    button.setAttribute("aria-pressed", String(button.dataset.list === drill.list));
  }
  const columns = COLUMNS[drill.list];
  const query = scopeQuery();
  query.set("limit", drill.limit);
  query.set("offset", drill.offset);
  const current = latest("drill");
  say("drill-status", "Loading…");
  try {
    const page = await getJSON(`/api/v1/${drill.list}?${query}`);
    if (!current()) return;
    $("drill-caption").textContent = `${drill.list[0].toUpperCase()}${drill.list.slice(1)}, newest first · ${scopeText(page.window, page.filters)}`;
    $("drill-table").tHead.replaceChildren(el("tr", {}, columns.map(([title]) => el("th", { scope: "col" }, title))));
    $("drill-table").tBodies[0].replaceChildren(...page.items.map((item) =>
      el("tr", { "data-testid": "drill-row", "data-id": item.cdevent_id || item.id },
        columns.map(([, cell], i) => el(i === 0 ? "th" : "td", i === 0 ? { scope: "row" } : {}, cell(item))))));
    const last = page.offset + page.items.length;
    $("drill-range").textContent = page.total ? `${page.offset + 1}–${last} of ${page.total}` : `No ${drill.list} in this window`;
    $("drill-prev").disabled = page.offset === 0;
    $("drill-next").disabled = last >= page.total;
    const lag = freshnessText(page);
    say("drill-status", lag, lag ? "note" : undefined);
  } catch (error) {
    if (!current()) return;
    $("drill-table").tBodies[0].replaceChildren();
    $("drill-range").textContent = "";
    say("drill-status", `Could not load the ${drill.list}: ${error.message}`, "error");
  }
}

// ---------------------------------------------------------------- live events

const live = { source: null, paused: false, held: [], max: 200 };

/** One event row (live or history) with its full JSON behind a disclosure. */
function eventRow(item, first) {
  return el("tr", { "data-testid": "event-row", "data-id": item.id, "data-kind": item.kind },
    el("td", {}, first),
    el("td", {}, item.kind === "cdevent" ? "CDEvent" : "CloudEvent"),
    el("td", {}, when(item.time), item.received_at ? el("small", {}, ` stored ${when(item.received_at)}`) : null),
    el("td", {}, item.type),
    el("td", {}, item.source),
    el("td", {}, item.id, item.transformer ? el("small", {}, ` by ${item.transformer}`) : null,
      item.origin ? el("small", {}, ` from ${item.origin}`) : null),
    el("td", {}, item.event_bytes
      ? el("small", {}, `${item.event_bytes} bytes: too large for the live feed, the history shows it`)
      : el("details", {}, el("summary", {}, "JSON"), el("pre", {}, JSON.stringify(item.event, null, 2)))));
}

function eventFilters() {
  const query = new URLSearchParams();
  for (const name of ["kind", "type", "source"]) {
    const value = $(`live-${name}`).value.trim();
    if (value) query.set(name, value);
  }
  return query;
}

function showLive(item) {
  const list = $("live-list");
  list.prepend(eventRow(item, new Date().toISOString().slice(11, 19)));
  while (list.rows.length > live.max) list.lastChild.remove();
}

function liveStatus() {
  if (live.paused) say("live-status", `Paused: ${live.held.length} new events held.`);
  else if (!live.source) say("live-status", "Not connected.");
  else if (live.source.readyState === TokenEventSource.OPEN) say("live-status", "Connected: events appear as they arrive.", "ok");
  else if (live.source.readyState === TokenEventSource.CONNECTING) say("live-status", "Connecting…");
  else say("live-status", "The live stream is unavailable (the server refused GET /api/v1/events/stream).", "error");
}

function connectLive() {
  if (live.source) live.source.close();
  const source = new TokenEventSource(`/api/v1/events/stream?${eventFilters()}`);
  live.source = source;
  const receive = (message) => {
    let item;
    try { item = JSON.parse(message.data); } catch (_) { return; }
    if (live.paused) {
      live.held.push(item);
      if (live.held.length > live.max) live.held.shift();
      liveStatus();
    } else {
      showLive(item);
    }
  };
  source.addEventListener("cloudevent", receive);
  source.addEventListener("cdevent", receive);
  source.addEventListener("lagged", (message) => {
    say("live-status", `Some events were skipped because the view fell behind (${message.data || "unknown number"}); see the history.`, "error");
  });
  source.addEventListener("open", liveStatus);
  source.addEventListener("error", liveStatus);
  liveStatus();
}

function togglePause() {
  live.paused = !live.paused;
  $("live-pause").setAttribute("aria-pressed", String(live.paused));
  $("live-pause").textContent = live.paused ? "Resume" : "Pause";
  if (!live.paused) live.held.splice(0).forEach(showLive);
  liveStatus();
}

/** GET /api/v1/events, newest first; `more` pages on with next_before. */
const historyPage = { before: null };
async function loadHistory(more) {
  const query = eventFilters();
  query.set("kind", $("history-kind").value);
  query.set("limit", "50");
  if (more && historyPage.before !== null) query.set("before", historyPage.before);
  const current = latest("history");
  say("history-status", "Loading…");
  try {
    const page = await getJSON(`/api/v1/events?${query}`);
    if (!current()) return;
    if (!more) $("history-list").replaceChildren();
    $("history-list").append(...page.items.map((item) => eventRow(item, item.seq)));
    historyPage.before = page.next_before ?? null;
    $("history-more").hidden = historyPage.before === null;
    say("history-status", $("history-list").rows.length ? "" : "No stored events match.");
  } catch (error) {
    if (!current()) return;
    $("history-more").hidden = true;
    say("history-status", `Could not load the history: ${error.message}`, "error");
  }
}

// ---------------------------------------------------------------- pipeline health

const LABELS = {
  raw_events: "Raw CloudEvents stored", cdevents: "CDEvents stored", deployments: "Deployments",
  failures: "Failed transformations", last_raw_seq: "Last raw sequence", last_cdevent_seq: "Last CDEvent sequence",
  router_cursor: "Router cursor", deployments_cursor: "Calculator cursor",
  router_lag: "Router lag (raw events not routed)", deployments_lag: "Calculator lag (CDEvents not processed)",
  received: "Events received and stored", duplicates: "Duplicates (already stored)", rejected: "Requests rejected",
};

function stats(id, entries) {
  $(id).replaceChildren(...entries.map(([name, value]) =>
    el("div", { "data-testid": `stat-${name}` }, el("dt", {}, LABELS[name] || name.replace(/_/g, " ")), el("dd", {}, String(value)))));
}

const failuresPage = { offset: 0, limit: 50 };
async function loadPipeline() {
  try {
    const state = await getJSON("/api/v1/pipeline");
    stats("pipeline-stages", Object.entries(state).filter(([, v]) => typeof v !== "object"));
    const ingest = state.ingest;
    $("pipeline-rejected").hidden = !ingest;
    if (ingest) {
      say("pipeline-ingest-status", "");
      stats("pipeline-ingest", [["received", ingest.received], ["duplicates", ingest.duplicates],
        ["rejected", Object.values(ingest.rejected || {}).reduce((a, b) => a + b, 0)]]);
      const reasons = Object.entries(ingest.rejected || {});
      $("pipeline-rejected").tBodies[0].replaceChildren(...(reasons.length
        ? reasons.map(([reason, n]) => el("tr", {}, el("th", { scope: "row" }, reason), el("td", {}, String(n))))
        : [el("tr", {}, el("td", { colspan: 2 }, "No event was rejected."))]));
    } else {
      $("pipeline-ingest").replaceChildren();
      $("pipeline-rejected").tBodies[0].replaceChildren();
      say("pipeline-ingest-status", "This server does not report ingest counters.");
    }
    $("pipeline-updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
    say("pipeline-status", "");
  } catch (error) {
    say("pipeline-status", `Could not load the pipeline state: ${error.message}`, "error");
  }
  await loadFailures(false);
}

async function loadFailures(more) {
  failuresPage.offset = more ? failuresPage.offset + failuresPage.limit : 0;
  try {
    const page = await getJSON(`/api/v1/failures?limit=${failuresPage.limit}&offset=${failuresPage.offset}`);
    const rows = page.items.map((f) => el("tr", { "data-testid": "failure-row" },
      el("td", {}, when(f.failed_at)), el("td", {}, f.transformer), el("td", {}, f.event_type),
      el("td", {}, f.event_source), el("td", {}, f.event_id), el("td", {}, f.reason)));
    if (more) $("failures-table").tBodies[0].append(...rows);
    else $("failures-table").tBodies[0].replaceChildren(...rows);
    $("failures-more").hidden = page.items.length < failuresPage.limit;
    say("failures-status", $("failures-table").tBodies[0].rows.length ? "" : "No failed transformations.");
  } catch (error) {
    say("failures-status", `Could not load the failures: ${error.message}`, "error");
  }
}

// ---------------------------------------------------------------- views

let view = "keys";
let pipelineTimer = null;

/** The view (and drill-down list) come from the hash: #keys, #drill/changes, #live, #pipeline. */
function route() {
  const [name, list] = location.hash.slice(1).split("/");
  view = ["keys", "drill", "live", "pipeline"].includes(name) ? name : "keys";
  if (view === "drill" && COLUMNS[list] && list !== drill.list) {
    drill.list = list;
    drill.offset = 0;
  }
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
  for (const tab of document.querySelectorAll("[data-view]")) {
    if (tab.dataset.view === view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  $("filters").hidden = !(view === "keys" || view === "drill");
  clearInterval(pipelineTimer);
  if (view === "live") {
    if (!live.source) connectLive();
    if (!$("history-list").rows.length) loadHistory(false);
  } else if (live.source) {
    live.source.close(); // the server tails the store only while someone watches
    live.source = null;
  }
  if (view === "pipeline") pipelineTimer = setInterval(loadPipeline, 5000);
  refresh();
}

/** Reloads what the current view shows. */
function refresh() {
  if (view === "keys") loadKeys();
  if (view === "drill") loadDrill();
  if (view === "pipeline") loadPipeline();
}

function start() {
  $("token-form").addEventListener("submit", useToken);
  readURL();
  showFilters();
  loadDimensions();
  $("filters").addEventListener("change", onFilterChange);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  for (const button of document.querySelectorAll("[data-list]")) {
    button.addEventListener("click", () => { location.hash = `#drill/${button.dataset.list}`; });
  }
  $("drill-prev").addEventListener("click", () => { drill.offset = Math.max(0, drill.offset - drill.limit); loadDrill(); });
  $("drill-next").addEventListener("click", () => { drill.offset += drill.limit; loadDrill(); });
  $("drill-limit").addEventListener("change", (event) => { drill.limit = Number(event.target.value); drill.offset = 0; loadDrill(); });
  $("live-filters").addEventListener("change", () => { connectLive(); loadHistory(false); });
  $("live-filters").addEventListener("submit", (event) => event.preventDefault());
  $("live-pause").addEventListener("click", togglePause);
  $("live-clear").addEventListener("click", () => $("live-list").replaceChildren());
  $("history-kind").addEventListener("change", () => loadHistory(false));
  $("history-reload").addEventListener("click", () => loadHistory(false));
  $("history-more").addEventListener("click", () => loadHistory(true));
  $("pipeline-refresh").addEventListener("click", loadPipeline);
  $("failures-more").addEventListener("click", () => loadFailures(true));
  window.addEventListener("hashchange", route);
  window.addEventListener("popstate", () => { readURL(); showFilters(); refresh(); });
  route();
}

start();
