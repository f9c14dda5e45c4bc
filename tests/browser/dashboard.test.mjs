// Browser tests of the dashboard at GET /, in Debian's headless Chromium driven by playwright-core.
// Run by scripts/browser-tests.sh, which starts the server (DORA_URL) with fixtures/dora-events.toml
// (production = "production"; teams web -> storefront, api -> platform) and posts
// fixtures/dataset.json. Hand-checked numbers for the window 2024-01-01 to 2024-01-14 (two complete
// ISO weeks):
//
//   web: acme/web#1 created 01-01 08:00, deployed by web-d1 01-01 12:00 (lead 4 h)
//        acme/web#2 created 01-02 00:00, deployed by web-d2 01-02 12:00 (lead 12 h)
//        inc-1 detected 01-02 13:00, resolved 15:00: blamed on web-d2, recovery 2 h
//        web-d3 01-03 12:00; web-s1 to staging 01-03 09:00 (not production: counts nowhere)
//   api: acme/api#1 created 01-08 09:00, deployed by api-d1 01-09 09:00 (lead 24 h)
//        api-d2 01-10 10:00, rolled back by api-d3 01-10 11:00 (recovery 1 h; api-d3 is rework)
//
//   all: 6 deployments, deploy days per week median(3, 2) = 2.5 (high); lead time median 12 h
//        (elite), p90 24 h; failure rate 2/6 = 33.3 % (low); recovery median 1.5 h (high);
//        rework 1/6 = 16.7 %.
//   web: 3 deployments, 1.5 days/week; lead time 8 h; failure 1/3; recovery 2 h; rework 0 %.
//   api: 3 deployments, 1 day/week; lead time 1 d (high: elite is under a day); failure 1/3;
//        recovery 1 h (high: elite is under an hour); rework 1/3.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.DORA_URL;
const artifacts = process.env.BROWSER_ARTIFACTS || "../../target/browser-artifacts";
const WINDOW = "from=2024-01-01&to=2024-01-14";
assert.ok(base, "DORA_URL must name the server under test (see scripts/browser-tests.sh)");
mkdirSync(artifacts, { recursive: true });

let context;
let profile;

/** Polls `check` until it returns a truthy value or the deadline passes (no fixed sleeps). */
async function eventually(check, { timeout = 20000, interval = 100, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

// The server runs with tokens (scripts/browser-tests.sh): the pages get the read token in their
// session storage, as the dashboard keeps it once a user has entered it.
const readToken = process.env.DORA_READ_TOKEN;
const ingestToken = process.env.DORA_INGEST_TOKEN;
assert.ok(readToken && ingestToken, "DORA_READ_TOKEN and DORA_INGEST_TOKEN must be set (see scripts/browser-tests.sh)");
const readHeaders = { authorization: `Bearer ${readToken}` };
const ingestHeaders = { authorization: `Bearer ${ingestToken}` };
const api = async (path) => (await fetch(`${base}${path}`, { headers: readHeaders })).json();

before(async () => {
  // The data set is posted before the tests; wait until the calculators have folded all of it.
  await eventually(async () => (await api(`/api/v1/deployments?${WINDOW}`)).total === 7, { what: "the data set's 7 deployments" });
  profile = mkdtempSync(join(tmpdir(), "dora-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  // Short auto-waits: `eventually` does the polling, against its own deadline.
  context.setDefaultTimeout(2000);
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

pageTest("numbers still being counted say so, and current ones say nothing", "freshness", async (page) => {
  // The real answer, with the freshness of a server 250 events and 42 s behind.
  const real = await api(`/api/v1/dora?${WINDOW}`);
  assert.equal(typeof real.freshness.behind_cdevents, "number", "every answer says how far behind it is");
  await page.route("**/api/v1/dora?*", (route) => route.fulfill({
    status: 200, contentType: "application/json",
    body: JSON.stringify({ ...real, stale: true, freshness: { behind_cdevents: 250, behind_seconds: 42 } }),
  }));
  await page.goto(`${base}/?${WINDOW}`);
  await expectValue(page, "deployment_frequency", "6");
  await eventually(async () => /leave out 250 events still being counted \(the oldest arrived 42 s ago\)/
    .test(await page.locator("#keys-status").textContent()), { what: "the freshness note" });
  assert.equal(await page.locator("#keys-status").getAttribute("class"), "note");
  // Current numbers: no note.
  await page.unroute("**/api/v1/dora?*");
  await page.reload();
  await expectValue(page, "deployment_frequency", "6");
  await eventually(async () => (await page.locator("#keys-status").textContent()) === "", { what: "no note" });
});

/** A test with a fresh page; the page's screenshot is saved as `<shot>.png`, or `failed-<shot>.png`. */
function pageTest(name, shot, body, { withToken = true } = {}) {
  test(name, async () => {
    const page = await context.newPage();
    if (withToken) await page.addInitScript((token) => sessionStorage.setItem("dora-events-read-token", token), readToken);
    const errors = [];
    page.on("pageerror", (error) => errors.push(error.message));
    try {
      await body(page);
      assert.deepEqual(errors, [], "no script errors on the page");
      await page.screenshot({ path: join(artifacts, `${shot}.png`), fullPage: true });
    } catch (error) {
      await page.screenshot({ path: join(artifacts, `failed-${shot}.png`), fullPage: true }).catch(() => {});
      throw error;
    } finally {
      await page.close();
    }
  });
}

const card = (page, key) => page.getByTestId(`key-${key}`);
const valueOf = (page, key) => card(page, key).getByTestId("value");

/** Waits until a key shows `text`; returns the exact number behind it (the data element's value). */
async function expectValue(page, key, text) {
  await eventually(async () => (await valueOf(page, key).textContent()) === text,
    { timeout: 10000, what: `${key} = ${text} (shows ${await valueOf(page, key).textContent().catch(() => "nothing")})` });
  return valueOf(page, key).getAttribute("value");
}

pageTest("the keys show the hand-checked numbers, levels, thresholds and trend charts", "keys", async (page) => {
  await page.goto(`${base}/?${WINDOW}`);
  assert.equal(await expectValue(page, "deployment_frequency", "6"), "6");
  assert.match(await card(page, "deployment_frequency").textContent(), /2\.5 deploy days per week/);
  assert.equal(await expectValue(page, "lead_time", "12 h"), "43200");
  assert.match(await card(page, "lead_time").textContent(), /p90 1 d/);
  assert.equal(await expectValue(page, "change_failure_rate", "33.3 %"), String(2 / 6));
  assert.equal(await expectValue(page, "recovery_time", "1.5 h"), "5400");
  assert.equal(await expectValue(page, "rework_rate", "16.7 %"), String(1 / 6));
  const levels = {};
  for (const key of ["deployment_frequency", "lead_time", "change_failure_rate", "recovery_time", "rework_rate"]) {
    levels[key] = await card(page, key).getByTestId("level").textContent();
    // Every number carries the window and filters it came from, and its sample size.
    assert.match(await card(page, key).textContent(), /2024-01-01 – 2024-01-14 \(UTC\) · all services · all environments · all teams/);
    assert.match(await card(page, key).getByTestId("sample").textContent(), /Sample: \d/);
  }
  assert.deepEqual(levels, {
    deployment_frequency: "high", lead_time: "elite", change_failure_rate: "low", recovery_time: "high", rework_rate: "no level",
  });
  assert.match(await card(page, "change_failure_rate").getByTestId("thresholds").textContent(), /elite ≤ 5 % · high ≤ 10 % · medium ≤ 15 %/);
  assert.match(await card(page, "lead_time").getByTestId("thresholds").textContent(), /elite < 1 d · high < 7 d · medium < 30 d/);
  // Trend charts: server-side SVG, one per key, loaded with the same filters.
  const charts = page.locator("img[data-testid=chart]");
  assert.equal(await charts.count(), 5, "five trend charts (a chart that fails to load is replaced by a message)");
  for (const chart of await charts.all()) {
    assert.match(await chart.getAttribute("data-src"), /^\/api\/v1\/charts\/[a-z-]+\.svg\?from=2024-01-01&to=2024-01-14&bucket=week$/);
    await chart.scrollIntoViewIfNeeded();
    await eventually(() => chart.evaluate((img) => img.complete && img.naturalWidth > 0), { timeout: 10000, what: "a chart to load" });
  }
});

pageTest("without a read token the dashboard asks for one once and then shows the keys", "token", async (page) => {
  await page.goto(`${base}/?${WINDOW}`);
  const form = page.getByTestId("token-form");
  await eventually(() => form.isVisible(), { timeout: 10000, what: "the token form" });
  assert.match(await page.getByTestId("token-status").textContent(), /needs a read token/);
  await page.fill("#token-input", "not-the-token");
  await page.locator("#token-form button[type=submit]").click();
  await eventually(async () => /refused this token/.test(await page.getByTestId("token-status").textContent()), { timeout: 10000, what: "the refusal" });
  await page.fill("#token-input", readToken);
  await page.locator("#token-form button[type=submit]").click();
  await expectValue(page, "deployment_frequency", "6");
  assert.equal(await form.isVisible(), false, "the form is gone once the token works");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("dora-events-read-token")), readToken, "kept for the session");
  const chart = page.locator("img[data-testid=chart]").first();
  await chart.scrollIntoViewIfNeeded();
  await eventually(() => chart.evaluate((img) => img.complete && img.naturalWidth > 0), { timeout: 10000, what: "a chart loaded with the token" });
}, { withToken: false });

pageTest("the service, team and environment filters change every number and stay in the URL", "filters", async (page) => {
  await page.goto(`${base}/?${WINDOW}`);
  await expectValue(page, "deployment_frequency", "6");
  await eventually(async () => (await page.locator("#filter-service option").allTextContents()).includes("web"), { what: "service options" });
  await page.selectOption("#filter-service", "web");
  await expectValue(page, "deployment_frequency", "3");
  assert.equal(await expectValue(page, "lead_time", "8 h"), "28800");
  await expectValue(page, "change_failure_rate", "33.3 %");
  assert.equal(await expectValue(page, "recovery_time", "2 h"), "7200");
  await expectValue(page, "rework_rate", "0 %");
  assert.match(await card(page, "lead_time").textContent(), /service web · all environments/);
  assert.match(page.url(), /[?&]service=web(&|$)/);
  for (const chart of await page.locator("img[data-testid=chart]").all()) {
    assert.match(await chart.getAttribute("data-src"), /[?&]service=web&/);
  }

  // The URL is the view: opening it again gives the same numbers.
  await page.goto(page.url().replace("service=web", "service=api"));
  await expectValue(page, "deployment_frequency", "3");
  assert.equal(await page.inputValue("#filter-service"), "api");
  assert.equal(await expectValue(page, "lead_time", "1 d"), "86400");
  assert.equal(await card(page, "lead_time").getByTestId("level").textContent(), "high");
  assert.equal(await expectValue(page, "recovery_time", "1 h"), "3600");
  assert.equal(await card(page, "recovery_time").getByTestId("level").textContent(), "high");
  await expectValue(page, "rework_rate", "33.3 %");

  // Team platform is the api service (configured teams).
  await page.selectOption("#filter-service", "");
  await expectValue(page, "deployment_frequency", "6");
  await eventually(async () => (await page.locator("#filter-team option").allTextContents()).includes("platform"), { what: "team options" });
  await page.selectOption("#filter-team", "platform");
  await expectValue(page, "deployment_frequency", "3");
  await expectValue(page, "lead_time", "1 d");
  await expectValue(page, "rework_rate", "33.3 %");
  await page.selectOption("#filter-team", "");

  // Staging is not production: no deployment counts there.
  await page.selectOption("#filter-environment", "staging");
  await expectValue(page, "deployment_frequency", "0");
  await expectValue(page, "lead_time", "–");

  // A window preset replaces the dates (the data set lies in 2024: nothing in the last 30 days).
  await page.selectOption("#filter-environment", "");
  await page.selectOption("#filter-window", "30");
  await expectValue(page, "deployment_frequency", "0");
  assert.doesNotMatch(page.url(), /from=/);
  assert.match(page.url(), /days=30/);
});

pageTest("drill-down lists the deployments, changes and incidents behind the numbers", "drill-down", async (page) => {
  await page.goto(`${base}/?${WINDOW}`);
  await expectValue(page, "change_failure_rate", "33.3 %");
  await card(page, "change_failure_rate").getByTestId("drill-link").click();
  await page.waitForURL(/#drill\/deployments$/);
  const rows = page.getByTestId("drill-row");
  await eventually(async () => (await rows.count()) === 7, { what: "7 deployment rows" });
  const order = await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
  assert.deepEqual(order, ["api-d3", "api-d2", "api-d1", "web-d3", "web-s1", "web-d2", "web-d1"], "newest first");
  assert.match(await page.locator("#drill-range").textContent(), /1–7 of 7/);
  assert.ok(await page.locator("#drill-next").isDisabled());
  assert.match(await page.locator("#drill-caption").textContent(), /2024-01-01 – 2024-01-14/);
  await page.screenshot({ path: join(artifacts, "drill-down-deployments.png"), fullPage: true });

  const row = (id) => page.locator(`[data-testid=drill-row][data-id="${id}"]`);
  const webD2 = await row("web-d2").textContent();
  assert.match(webD2, /acme\/web#2/, "what it shipped");
  assert.match(webD2, /inc-1/, "the incident that failed it");
  assert.match(webD2, /recovered in 2 h \(incidents resolved/);
  assert.match(await row("api-d2").textContent(), /rolled back by #\d+/);
  assert.match(await row("api-d2").textContent(), /recovered in 1 h \(deployment #\d+/);
  assert.match(await row("api-d3").textContent(), /rolls back #\d+/);
  assert.match(await row("web-s1").textContent(), /staging \(not production\)/);

  // Paging: five rows per page, then the older two.
  await page.selectOption("#drill-limit", "5");
  await eventually(async () => (await rows.count()) === 5, { what: "a page of 5 rows" });
  assert.match(await page.locator("#drill-range").textContent(), /1–5 of 7/);
  await page.locator("#drill-next").click();
  await eventually(async () => (await rows.count()) === 2, { what: "the last page" });
  assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.id)), ["web-d2", "web-d1"]);
  assert.match(await page.locator("#drill-range").textContent(), /6–7 of 7/);
  await page.locator("#drill-prev").click();
  await eventually(async () => (await rows.count()) === 5, { what: "the first page again" });

  await page.locator("#list-changes").click();
  await page.waitForURL(/#drill\/changes$/);
  await eventually(async () => (await rows.count()) === 3 && (await rows.first().getAttribute("data-id")) === "acme/api#1", { what: "3 change rows" });
  const leads = await rows.evaluateAll((trs) => trs.map((tr) => [tr.dataset.id, tr.querySelector("data")?.value]));
  assert.deepEqual(leads, [["acme/api#1", "86400"], ["acme/web#2", "43200"], ["acme/web#1", "14400"]]);

  await page.locator("#list-incidents").click();
  await eventually(async () => (await rows.count()) === 1 && (await rows.first().getAttribute("data-id")) === "inc-1", { what: "the incident row" });
  const deployments = await api(`/api/v1/deployments?${WINDOW}&service=web`);
  const webD2Id = deployments.items.find((d) => d.cdevent_id === "web-d2").id;
  assert.match(await rows.first().textContent(), new RegExp(`#${webD2Id}service environment time`), "failed deployment and rule");
  assert.match(await rows.first().textContent(), /2 h/);
});

pageTest("an event posted to /events appears in the live view within 2 seconds", "live-events", async (page) => {
  await page.goto(`${base}/#live`);
  await eventually(async () => /Connected/.test(await page.getByTestId("live-status").textContent()), { timeout: 10000, what: "the stream to connect" });
  const post = (id) => fetch(`${base}/events`, {
    method: "POST",
    headers: { "content-type": "application/cloudevents+json", ...ingestHeaders },
    body: JSON.stringify({ specversion: "1.0", id, source: "/browser-tests/live", type: "dev.browser-tests.ping", data: { hello: id } }),
  });
  const id = `live-${Date.now()}`;
  const posted = Date.now();
  assert.equal((await post(id)).status, 202);
  const row = page.locator(`#live-list [data-testid=event-row][data-id="${id}"]`);
  await eventually(() => row.count(), { timeout: 2000, interval: 50, what: "the posted event in the live view" });
  console.log(`# event shown ${Date.now() - posted} ms after it was posted`);
  assert.match(await row.textContent(), /dev\.browser-tests\.ping/);
  await row.locator("summary").click();
  assert.match(await row.locator("pre").textContent(), new RegExp(`"hello": "${id}"`));

  // Paused, new events are held back until resumed.
  await page.locator("#live-pause").click();
  const held = `${id}-held`;
  await post(held);
  await eventually(async () => /1 new events held/.test(await page.getByTestId("live-status").textContent()), { timeout: 5000, what: "the held count" });
  assert.equal(await page.locator(`#live-list [data-id="${held}"]`).count(), 0);
  await page.locator("#live-pause").click();
  assert.equal(await page.locator(`#live-list [data-id="${held}"]`).count(), 1);

  // A type filter keeps the ping out: a CDEvent posted after it shows while the ping never does.
  await page.fill("#live-type", "dev.cdevents.");
  await page.locator("#live-type").dispatchEvent("change");
  await eventually(async () => /Connected/.test(await page.getByTestId("live-status").textContent()), { timeout: 10000, what: "the stream to reconnect" });
  const filtered = `${id}-filtered`;
  await post(filtered);
  const cdevent = JSON.parse(readFileSync("../fixtures/cdevents-spec/v0.5.1/conformance/pipelinerun_started.json", "utf8"));
  cdevent.context.id = `${id}-cdevent`;
  const response = await fetch(`${base}/cdevents`, { method: "POST", headers: { "content-type": "application/json", ...ingestHeaders }, body: JSON.stringify(cdevent) });
  assert.equal(response.status, 202, await response.text());
  await eventually(() => page.locator(`#live-list [data-id="${id}-cdevent"]`).count(), { timeout: 5000, what: "the CDEvent in the live view" });
  assert.equal(await page.locator(`#live-list [data-id="${filtered}"]`).count(), 0, "filtered out of the live view");

  // The history holds what the live view filtered out.
  await page.fill("#live-type", "dev.browser-tests.");
  await page.locator("#live-type").dispatchEvent("change");
  await eventually(async () => (await page.locator(`#history-list [data-id="${filtered}"]`).count()) === 1, { timeout: 5000, what: "the history" });
  const history = await page.locator("#history-list [data-testid=event-row]").evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
  assert.deepEqual(history, [filtered, held, id], "newest first, only the ping type");
});

pageTest("pipeline health shows ingest counters, lags and failed transformations", "pipeline", async (page) => {
  // One event the server refuses (CloudEvents 0.2), to be counted among the rejections.
  const refused = await fetch(`${base}/events`, {
    method: "POST", headers: { "content-type": "application/cloudevents+json", ...ingestHeaders },
    body: JSON.stringify({ specversion: "0.2", id: "refused-1", source: "/browser-tests", type: "dev.browser-tests.old" }),
  });
  assert.equal(refused.status, 400);
  await page.goto(`${base}/#pipeline`);
  const stat = (name) => page.locator(`[data-testid=stat-${name}] dd`);
  // 12 CDEvents of the data set, the broken Kubernetes event and the tutorial's 4 (plus the live test's).
  await eventually(async () => Number(await stat("raw_events").textContent()) >= 17, { timeout: 10000, what: "the raw event count" });
  assert.equal(await stat("router_lag").textContent(), "0");
  assert.equal(await stat("deployments_lag").textContent(), "0");
  await eventually(async () => Number(await stat("received").textContent()) >= 17, { timeout: 10000, what: "the ingest counters" });
  assert.ok(Number(await stat("rejected").textContent()) >= 1, "the refused event is counted");
  const byReason = await page.locator("#pipeline-rejected tbody tr").evaluateAll((trs) => trs.map((tr) => Number(tr.cells[1]?.textContent)));
  assert.ok(byReason.some((n) => n >= 1), "rejections by reason");
  // The Kubernetes event without a name failed its transformation, with the reason.
  const failure = page.locator("[data-testid=failure-row]", { hasText: "browser-tests-broken-1" });
  await eventually(() => failure.count(), { timeout: 5000, what: "the failed transformation" });
  assert.match(await failure.textContent(), /kubernetes.*data\.metadata\.name is missing/);
});

pageTest("an endpoint answering an error gives a clear message, not a broken page", "degraded", async (page) => {
  await page.route("**/api/v1/dora?*", (route) => route.fulfill({
    status: 503, contentType: "application/problem+json", headers: { "retry-after": "5" },
    body: JSON.stringify({ type: "about:blank", title: "Unavailable", status: 503, detail: "the database is unavailable" }),
  }));
  await page.goto(`${base}/?${WINDOW}`);
  await eventually(async () => /Could not load the keys: 503 the database is unavailable/.test(await page.locator("#keys-status").textContent()), { what: "the error message" });
  assert.equal(await page.locator("#keys-status").getAttribute("class"), "error");
  // Every form control is labelled.
  const unlabelled = await page.$$eval("select, input", (controls) => controls.filter((c) => !c.labels.length).map((c) => c.id));
  assert.deepEqual(unlabelled, []);
});
