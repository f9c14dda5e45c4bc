//! Random but reproducible histories of CDEvents for the differential tests of the linker and
//! the API: what a platform team sends, with the awkward cases (ties, rollbacks, failed
//! rollouts, pushes landing requests, commits listed by deployments, incidents naming
//! deployments that may not exist).

#![allow(clippy::cast_possible_wrap, clippy::indexing_slicing)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};

/// A small deterministic generator (LCG).
pub struct Lcg(pub u64);

impl Lcg {
    /// A number below `n`.
    pub fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }

    /// True one time in `one_in`.
    pub fn chance(&mut self, one_in: u64) -> bool {
        self.next(one_in) == 0
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next(items.len() as u64) as usize]
    }
}

/// The start of every history: 2024-01-01 (a Monday), UTC.
pub fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn time(g: &mut Lcg, hours: u64) -> String {
    (base() + Duration::hours(g.next(hours) as i64)).to_rfc3339()
}

fn cdevent(id: &str, kind: &str, timestamp: &str, subject: Value, custom: Value) -> Value {
    let mut event = json!({
        "context": {"specversion": "0.5.1", "id": id, "source": "/test", "timestamp": timestamp,
                    "type": format!("dev.cdevents.{kind}.0.3.0")},
        "subject": subject,
    });
    if !custom.is_null() {
        event["customData"] = json!({"dora": custom});
    }
    event
}

/// A random history as CDEvents, in generation order: 50 deployments of two services in three
/// environments over 20 days (rollbacks, failed rollouts, revisions, artifacts, listed commits
/// and changes), 20 merged requests (some landed by a push, some packaged into an artifact),
/// 16 incidents (some resolved, some naming a deployment).
///
/// Every event is a schema-valid CDEvent of v0.5.1, as `POST /cdevents` takes them.
pub fn history(seed: u64) -> Vec<Value> {
    generate(seed, false)
}

/// [`history`], except that one incident in four names no environment (schema-invalid, but a
/// case the linking rules define): for tests that store CDEvents without the router.
pub fn loose_history(seed: u64) -> Vec<Value> {
    generate(seed, true)
}

fn generate(seed: u64, loose: bool) -> Vec<Value> {
    let mut g = Lcg(seed);
    let mut events = Vec::new();
    for n in 0..50 {
        events.push(deployment(&mut g, n));
    }
    for n in 0..20 {
        merged_request(&mut g, n, &mut events);
    }
    for n in 0..16 {
        incident(&mut g, n, loose, &mut events);
    }
    events
}

// Every function below draws its random numbers in the order of its code, so that a seed gives
// the same history: reorder nothing.

const SERVICES: [&str; 2] = ["api", "web"];
const ENVIRONMENTS: [&str; 3] = ["prod", "prod-eu", "staging"];

/// One of 24 commit SHAs, so that deployments, requests and pushes share some.
fn sha(g: &mut Lcg) -> String {
    format!("S{}", g.next(24))
}

/// Deployment `n`: deployed, upgraded or rolled back, with a random `customData.dora`.
fn deployment(g: &mut Lcg, n: u64) -> Value {
    let kind = match g.next(8) {
        0 => "service.rolledback",
        1 => "service.upgraded",
        _ => "service.deployed",
    };
    let custom = deployment_custom(g);
    let mut content = json!({"environment": {"id": g.pick(&ENVIRONMENTS)}});
    // Half share artifacts (and link by them); the others have one of their own.
    content["artifactId"] = if g.chance(2) {
        json!(format!("img:{}", g.next(12)))
    } else {
        json!(format!("own:{n}"))
    };
    cdevent(
        &format!("deploy-{n}"),
        kind,
        &time(g, 480),
        json!({"id": g.pick(&SERVICES), "content": content}),
        Value::Object(custom),
    )
}

/// A deployment's `customData.dora`: sometimes a revision, a failed outcome, listed commits
/// (SHAs alone or with their time) and a change.
fn deployment_custom(g: &mut Lcg) -> serde_json::Map<String, Value> {
    let mut custom = serde_json::Map::new();
    if g.next(3) > 0 {
        custom.insert("revision".into(), json!(sha(g)));
    }
    if g.chance(7) {
        custom.insert("outcome".into(), json!("failure"));
    }
    if g.chance(4) {
        let commits: Vec<Value> = (0..=g.next(2))
            .map(|_| {
                if g.chance(2) {
                    json!(sha(g))
                } else {
                    json!({"sha": sha(g), "timestamp": time(g, 480)})
                }
            })
            .collect();
        custom.insert("commits".into(), json!(commits));
    }
    if g.chance(5) {
        custom.insert("changes".into(), json!([format!("pr-{}", g.next(20))]));
    }
    custom
}

/// Request `n`, merged, then sometimes the push that landed it and an artifact packaging it.
fn merged_request(g: &mut Lcg, n: u64, events: &mut Vec<Value>) {
    // A request, merged, sometimes with its service, creation and commits.
    let merge_sha = sha(g);
    let mut custom = json!({"mergeSha": merge_sha});
    if g.chance(2) {
        custom["service"] = json!(g.pick(&SERVICES));
    }
    if g.next(3) > 0 {
        custom["createdAt"] = json!(time(g, 400));
    }
    if g.chance(3) {
        custom["commits"] = json!([{"sha": sha(g), "timestamp": time(g, 400)}]);
    }
    let id = format!("pr-{n}");
    events.push(cdevent(
        &format!("merged-{n}"),
        "change.merged",
        &time(g, 480),
        json!({"id": id, "content": {"repository": {"id": "acme"}}}),
        custom,
    ));
    // The push that landed it (sometimes), with its merge commit and an earlier one. One in
    // four comes as a monorepo's `[[services]]` split it: one change per service, each with its
    // own earlier commit and the merge commit (the same draws, so the rest of the history stays).
    if g.chance(2) {
        let at = time(g, 480);
        let (own, own_at, merged_at) = (sha(g), time(g, 400), time(g, 480));
        if n.is_multiple_of(4) {
            for (service, commit) in [("api", own.clone()), ("web", format!("b{}", &own[1..]))] {
                events.push(cdevent(
                    &format!("push-{n}-{service}"),
                    "change.updated",
                    &at,
                    json!({"id": format!("acme@{merge_sha}:{service}"), "content": {}}),
                    json!({"service": service, "commits": [
                        {"sha": commit, "timestamp": own_at},
                        {"sha": merge_sha, "timestamp": merged_at}]}),
                ));
            }
        } else {
            events.push(cdevent(
                &format!("push-{n}"),
                "change.updated",
                &at,
                json!({"id": format!("acme@{merge_sha}"), "content": {}}),
                json!({"commits": [
                    {"sha": own, "timestamp": own_at},
                    {"sha": merge_sha, "timestamp": merged_at}]}),
            ));
        }
    }
    if g.chance(3) {
        events.push(cdevent(
            &format!("packaged-{n}"),
            "artifact.packaged",
            &time(g, 480),
            json!({"id": format!("img:{}", g.next(12)), "content": {"change": {"id": id}}}),
            Value::Null,
        ));
    }
}

/// Incident `n`, detected (sometimes naming its service, environment, artifact or deployment)
/// and most often resolved; when `loose`, one in four names no environment.
fn incident(g: &mut Lcg, n: u64, loose: bool, events: &mut Vec<Value>) {
    let detected = base() + Duration::hours(g.next(500) as i64);
    let mut content = serde_json::Map::new();
    if g.next(5) > 0 {
        content.insert("service".into(), json!({"id": g.pick(&SERVICES)}));
    }
    // Drawn either way, so both kinds of history have the same facts otherwise.
    let environment_given = g.next(4) > 0;
    if !loose || environment_given {
        content.insert("environment".into(), json!({"id": g.pick(&ENVIRONMENTS)}));
    }
    if g.chance(4) {
        content.insert("artifactId".into(), json!(format!("img:{}", g.next(12))));
    }
    let custom = if g.chance(4) {
        json!({"deployment": format!("deploy-{}", g.next(60))})
    } else {
        Value::Null
    };
    let id = format!("inc-{n}");
    let resolved_content = match content.get("environment") {
        Some(environment) => json!({"environment": environment}),
        None => json!({}),
    };
    events.push(cdevent(
        &format!("detected-{n}"),
        "incident.detected",
        &detected.to_rfc3339(),
        json!({"id": id, "content": Value::Object(content)}),
        custom,
    ));
    if g.next(4) > 0 {
        let resolved = detected + Duration::hours(g.next(120) as i64);
        events.push(cdevent(
            &format!("resolved-{n}"),
            "incident.resolved",
            &resolved.to_rfc3339(),
            json!({"id": id, "content": resolved_content}),
            Value::Null,
        ));
    }
}
