//! Folding: from stored rows to the facts the DORA keys are computed on (observer -> stored rows
//! -> **folding** -> linking): deployment rows as they are (team from configuration first),
//! [`Observation`]s folded per change and per incident. Folding is order-independent, so events
//! that arrived late or out of order give the same facts.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use dora_store::{DeploymentRecord, FactRows};

use crate::dora::facts::{Change, Commit, Deployment, DoraFacts, Incident};
use crate::observation::{
    read_all, time_of, FactKind, IncidentPredicate, IncidentReport, Observation, Observed,
};

/// Folds stored rows into facts. `teams` maps a service to its team and wins over event metadata.
///
/// An observation that does not read is left out: the linker recorded it in `fact_failures`
/// when it first read it ([`crate::linker`]).
pub fn fold(rows: FactRows, teams: &BTreeMap<String, String>) -> DoraFacts {
    let (observed, unreadable) = read_all(&rows.observations);
    for observation in &unreadable {
        tracing::debug!(%observation, "left out of the facts");
    }
    fold_observed(&rows.deployments, &observed, teams)
}

/// Folds deployment rows and observations that read into facts, as [`fold`].
pub fn fold_observed(
    deployments: &[DeploymentRecord],
    observed: &[Observed],
    teams: &BTreeMap<String, String>,
) -> DoraFacts {
    // Incidents may name the deployment they blame by its CDEvent id.
    let by_cdevent_id: BTreeMap<&str, i64> = deployments
        .iter()
        .map(|d| (d.cdevent_id.as_str(), d.id))
        .collect();
    let mut changes = ChangeDrafts::default();
    let mut incidents: BTreeMap<String, IncidentDraft> = BTreeMap::new();
    for observed in observed {
        match observed.observation.kind() {
            FactKind::Change => changes.add(observed, &by_cdevent_id),
            FactKind::Incident => incidents
                .entry(observed.fact_id.clone())
                .or_default()
                .add(observed, &by_cdevent_id),
        }
    }
    let incidents = incidents
        .into_iter()
        // A resolution without a detection is not an incident we can measure.
        .filter_map(|(id, draft)| draft.incident(id))
        .collect();
    let ChangeDrafts {
        mut changes,
        mut listed,
        reported,
    } = changes;
    listed.retain(|id| !reported.contains(id));
    absorb_listed_commits(&mut changes, &listed);
    absorb_landing_pushes(&mut changes);
    DoraFacts {
        deployments: deployments
            .iter()
            .map(|d| Deployment {
                team: teams.get(&d.service).cloned().or(d.team.clone()),
                ..deployment_fact(d)
            })
            .collect(),
        changes: changes.into_values().collect(),
        incidents,
    }
}

/// A deployment row as the pure computation reads it (teams play no part in links: the team is
/// left empty).
pub fn deployment_fact(record: &DeploymentRecord) -> Deployment {
    Deployment {
        id: record.id,
        service: record.service.clone(),
        environment: record.environment.clone(),
        team: None,
        at: record.deployed_at,
        kind: record.kind,
        failed: record.failed,
        artifact_id: record.artifact_id.clone(),
        revision: record.revision.clone(),
    }
}

/// Changes as their observations fold, with which are only known from deployments' commit
/// lists and which some event reported.
#[derive(Default)]
struct ChangeDrafts {
    changes: BTreeMap<String, Change>,
    listed: BTreeSet<String>,
    reported: BTreeSet<String>,
}

impl ChangeDrafts {
    fn add(&mut self, observed: &Observed, by_cdevent_id: &BTreeMap<&str, i64>) {
        let id = &observed.fact_id;
        let observation = &observed.observation;
        if matches!(observation, Observation::Listed(_)) {
            self.listed.insert(id.clone());
        } else {
            self.reported.insert(id.clone());
        }
        let change = self.changes.entry(id.clone()).or_insert_with(|| Change {
            id: id.clone(),
            ..Change::default()
        });
        change.service = change.service.take().or(observed.service.clone());
        if let Observation::Change(report) = observation {
            change.repository = change.repository.take().or(report.repository.clone());
            let on =
                |predicate: &str| (report.predicate == predicate).then_some(observed.observed_at);
            let created = time_of(&report.created_at).or(on("created"));
            change.created_at = earliest(change.created_at, created);
            let merged = time_of(&report.merged_at).or(on("merged"));
            change.merged_at = earliest(change.merged_at, merged);
            change.merge_sha = change.merge_sha.take().or(report.merge_sha.clone());
        }
        if let Some(artifact) = observation.artifact_id() {
            if !change.artifact_ids.iter().any(|a| a == artifact) {
                change.artifact_ids.push(artifact.to_owned());
            }
        }
        if let Some(&id) = observation
            .deployment()
            .and_then(|id| by_cdevent_id.get(id))
        {
            if !change.deployment_refs.contains(&id) {
                change.deployment_refs.push(id);
                change.deployment_refs.sort_unstable();
            }
        }
        add_commits(change, observation.commits().into_iter());
    }
}

/// A commit a deployment lists (`customData.dora.commits`) is part of the change that has it, as
/// a commit or as its merge SHA: that change gains the deployment, and the commit is no change of
/// its own. Commits no change has stay changes `<service>@<sha>`, one per commit, shared by every
/// deployment that lists it (so staging and production listing the same commit count it once).
fn absorb_listed_commits(changes: &mut BTreeMap<String, Change>, listed: &BTreeSet<String>) {
    if listed.is_empty() {
        return;
    }
    // The first change by id that has a SHA owns it (deterministic).
    let mut owners: HashMap<String, String> = HashMap::new();
    for change in changes.values().filter(|c| !listed.contains(&c.id)) {
        let shas = change
            .merge_sha
            .iter()
            .chain(change.commits.iter().map(|c| &c.sha));
        for sha in shas {
            owners
                .entry(sha.to_ascii_lowercase())
                .or_insert_with(|| change.id.clone());
        }
    }
    for id in listed {
        let owner = changes.get(id).and_then(|listed_change| {
            listed_change
                .commits
                .iter()
                .find_map(|c| owners.get(&c.sha.to_ascii_lowercase()))
        });
        let Some(owner) = owner.cloned() else {
            continue;
        };
        let Some(listed_change) = changes.remove(id) else {
            continue;
        };
        if let Some(owner) = changes.get_mut(&owner) {
            for reference in listed_change.deployment_refs {
                if !owner.deployment_refs.contains(&reference) {
                    owner.deployment_refs.push(reference);
                }
            }
            owner.deployment_refs.sort_unstable();
        }
    }
}

/// A push that landed a pull/merge request is that request arriving on the branch, not another
/// change: GitHub and GitLab send both, and counting both would put the same work twice into
/// lead time. A change without a merge SHA (a push) whose commits include the merge SHA of a
/// change that has one (a merged request) is folded into that request and disappears.
///
/// The request gains the push's commits (so deployments of any of them contain it), but only the
/// timestamps of commits made before the request was opened: those are earlier work on it, while
/// a squash or merge commit is dated at the merge and would make the change look younger than it
/// is; a push that lands several requests gives them its commits without timestamps. The
/// request's start is then its earliest such commit, else its creation as before (METRICS.md,
/// "One change per merged request").
///
/// In a monorepo (`[[services]]`) the push comes as one change per service its commits touched.
/// A request naming no service that such a push lands **follows the push** instead: each
/// service's change takes the request's times, merge SHA, commits, artifacts and deployments
/// (with the same rule for its own commits' timestamps), and the request disappears, so the
/// request counts once per service, at that service's deployment (METRICS.md, "Monorepo
/// services and teams").
fn absorb_landing_pushes(changes: &mut BTreeMap<String, Change>) {
    let requests: HashMap<String, String> = changes
        .values()
        .filter_map(|c| Some((c.merge_sha.as_deref()?.to_ascii_lowercase(), c.id.clone())))
        .collect();
    if requests.is_empty() {
        return;
    }
    let landings: Vec<(String, Vec<String>)> = changes
        .values()
        .filter(|c| c.merge_sha.is_none())
        .filter_map(|push| {
            let landed: BTreeSet<String> = push
                .commits
                .iter()
                .filter_map(|commit| requests.get(&commit.sha.to_ascii_lowercase()))
                .cloned()
                .collect();
            (!landed.is_empty()).then(|| (push.id.clone(), landed.into_iter().collect()))
        })
        .collect();
    let of_a_service: BTreeSet<String> = changes
        .values()
        .filter(|c| c.service.is_some())
        .map(|c| c.id.clone())
        .collect();
    let has_service = |id: &String| of_a_service.contains(id);
    // Requests of no service landed by a push of a service: they follow their pushes.
    let following: BTreeSet<String> = landings
        .iter()
        .filter(|(push, _)| has_service(push))
        .flat_map(|(_, landed)| landed.iter().filter(|r| !has_service(r)).cloned())
        .collect();
    let mut followed = Vec::new();
    for (push_id, landed) in landings {
        if has_service(&push_id) && landed.iter().any(|r| following.contains(r)) {
            followed.push((push_id, landed));
        } else {
            fold_into_requests(changes, &push_id, landed);
        }
    }
    for (push_id, landed) in followed {
        let landed: Vec<Change> = landed
            .iter()
            .filter(|id| following.contains(*id))
            .filter_map(|id| changes.get(id).cloned())
            .collect();
        if let Some(push) = changes.get_mut(&push_id) {
            follow_requests(push, &landed);
        }
    }
    for id in &following {
        changes.remove(id);
    }
}

/// The push `push_id` folded into the requests it `landed` (and removed).
fn fold_into_requests(changes: &mut BTreeMap<String, Change>, push_id: &str, landed: Vec<String>) {
    let Some(push) = changes.remove(push_id) else {
        return;
    };
    // Several requests landed at once: whose commit is whose is unknown, so none of them
    // takes the push's timestamps.
    let single = landed.len() == 1;
    for request_id in landed {
        let Some(request) = changes.get_mut(&request_id) else {
            continue;
        };
        let opened = request.created_at;
        let commits = push.commits.iter().map(|commit| Commit {
            sha: commit.sha.clone(),
            at: commit
                .at
                .filter(|at| single && opened.is_some_and(|opened| *at <= opened)),
        });
        add_commits(request, commits);
        add_deployment_refs(request, &push.deployment_refs);
        request.service = request.service.take().or(push.service.clone());
        request.repository = request.repository.take().or(push.repository.clone());
    }
}

/// A push of a service taking what the requests it landed know: their times, merge SHA,
/// commits (without their timestamps), artifacts and deployments. Its own commits keep their
/// timestamps only when made before the one request it landed was opened (as a request folding
/// a push keeps them).
fn follow_requests(push: &mut Change, requests: &[Change]) {
    let opened = match requests {
        [request] => request.created_at,
        _ => None,
    };
    for commit in &mut push.commits {
        commit.at = commit
            .at
            .filter(|at| opened.is_some_and(|opened| *at <= opened));
    }
    for request in requests {
        push.created_at = earliest(push.created_at, request.created_at);
        push.merged_at = earliest(push.merged_at, request.merged_at);
        push.merge_sha = push.merge_sha.take().or(request.merge_sha.clone());
        push.repository = push.repository.take().or(request.repository.clone());
        // Which of the request's own commits touched this service is unknown: no timestamps.
        let commits = request.commits.iter().map(|commit| Commit {
            sha: commit.sha.clone(),
            at: None,
        });
        add_commits(push, commits);
        add_deployment_refs(push, &request.deployment_refs);
        for artifact in &request.artifact_ids {
            if !push.artifact_ids.contains(artifact) {
                push.artifact_ids.push(artifact.clone());
            }
        }
    }
}

/// `commits` joined to `change`'s: a known SHA keeps the earlier timestamp.
fn add_commits(change: &mut Change, commits: impl Iterator<Item = Commit>) {
    for commit in commits {
        match change
            .commits
            .iter_mut()
            .find(|c| c.sha.eq_ignore_ascii_case(&commit.sha))
        {
            Some(known) => known.at = earliest(known.at, commit.at),
            None => change.commits.push(commit),
        }
    }
}

/// `refs` joined to `change`'s deployment references, kept sorted.
fn add_deployment_refs(change: &mut Change, refs: &[i64]) {
    for &id in refs {
        if !change.deployment_refs.contains(&id) {
            change.deployment_refs.push(id);
        }
    }
    change.deployment_refs.sort_unstable();
}

/// An incident as its observations fold.
#[derive(Default)]
struct IncidentDraft {
    service: Option<String>,
    environment: Option<String>,
    artifact_id: Option<String>,
    deployment_ref: Option<i64>,
    detected_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
}

impl IncidentDraft {
    fn add(&mut self, observed: &Observed, by_cdevent_id: &BTreeMap<&str, i64>) {
        let observation = &observed.observation;
        self.service = self.service.take().or(observed.service.clone());
        self.environment = self.environment.take().or(observed.environment.clone());
        self.artifact_id = self
            .artifact_id
            .take()
            .or(observation.artifact_id().map(str::to_owned));
        self.deployment_ref = self.deployment_ref.or_else(|| {
            observation
                .deployment()
                .and_then(|id| by_cdevent_id.get(id).copied())
        });
        let at = Some(observed.observed_at);
        match observation {
            Observation::Incident(IncidentReport {
                predicate: IncidentPredicate::Resolved,
                ..
            }) => self.resolved_at = latest(self.resolved_at, at),
            _ => self.detected_at = earliest(self.detected_at, at),
        }
    }

    /// The incident, unless it was never detected.
    fn incident(self, id: String) -> Option<Incident> {
        Some(Incident {
            id,
            service: self.service,
            environment: self.environment,
            artifact_id: self.artifact_id,
            deployment_ref: self.deployment_ref,
            detected_at: self.detected_at?,
            resolved_at: self.resolved_at,
        })
    }
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use dora_model::dora::DeploymentKind;
    use dora_model::time::parse_rfc3339;
    use dora_store::ObservationRecord;

    pub(crate) fn at(text: &str) -> DateTime<Utc> {
        parse_rfc3339(text).unwrap()
    }

    pub(crate) fn observation(
        fact: &str,
        id: &str,
        when: &str,
        body: serde_json::Value,
    ) -> ObservationRecord {
        ObservationRecord {
            fact: fact.into(),
            fact_id: id.into(),
            service: Some("web".into()),
            environment: Some("production".into()),
            observed_at: at(when),
            body: body.to_string(),
        }
    }

    /// A merged request observed at `when`.
    fn merged(id: &str, when: &str, merge_sha: &str, created_at: &str) -> ObservationRecord {
        let body = serde_json::json!({"predicate": "merged", "merge_sha": merge_sha,
                                      "created_at": created_at});
        observation("change", id, when, body)
    }

    /// A push of `commits` observed at `when`.
    fn pushed(id: &str, when: &str, commits: serde_json::Value) -> ObservationRecord {
        observation(
            "change",
            id,
            when,
            serde_json::json!({"predicate": "updated", "commits": commits}),
        )
    }

    #[test]
    fn observations_fold_into_facts_whatever_their_order() {
        let deployment = DeploymentRecord {
            id: 7,
            cdevent_id: "deploy-7".into(),
            kind: DeploymentKind::Deployed,
            service: "web".into(),
            environment: "production".into(),
            artifact_id: None,
            deployed_at: at("2024-01-02T12:00:00Z"),
            team: Some("from-event".into()),
            failed: false,
            revision: Some("abc".into()),
        };
        let observations = vec![
            observation(
                "incident",
                "inc",
                "2024-01-02T15:00:00Z",
                serde_json::json!({"predicate": "resolved"}),
            ),
            observation(
                "change",
                "pr-1",
                "2024-01-02T06:00:00Z",
                serde_json::json!({"predicate": "merged", "merge_sha": "abc", "created_at": "2024-01-01T00:00:00Z",
                                   "commits": [{"sha": "c1", "timestamp": "2023-12-31T10:00:00Z"}, "c2"]}),
            ),
            observation(
                "incident",
                "inc",
                "2024-01-02T13:00:00Z",
                serde_json::json!({"predicate": "detected", "deployment": "deploy-7"}),
            ),
            observation(
                "change",
                "pr-1",
                "2024-01-02T07:00:00Z",
                serde_json::json!({"predicate": "artifact", "artifact_id": "pkg:oci/web@1"}),
            ),
            observation(
                "incident",
                "orphan",
                "2024-01-03T00:00:00Z",
                serde_json::json!({"predicate": "resolved"}),
            ),
        ];
        let teams = BTreeMap::from([("web".to_owned(), "payments".to_owned())]);
        let rows = || FactRows {
            deployments: vec![deployment.clone()],
            observations: observations.clone(),
        };
        let facts = fold(rows(), &teams);
        assert_eq!(
            facts.deployments[0].team.as_deref(),
            Some("payments"),
            "configuration wins"
        );
        let change = &facts.changes[0];
        assert_eq!(change.created_at, Some(at("2024-01-01T00:00:00Z")));
        assert_eq!(change.merged_at, Some(at("2024-01-02T06:00:00Z")));
        assert_eq!(change.merge_sha.as_deref(), Some("abc"));
        assert_eq!(change.commits.len(), 2);
        assert_eq!(change.commits[0].at, Some(at("2023-12-31T10:00:00Z")));
        assert_eq!(change.artifact_ids, ["pkg:oci/web@1"]);
        assert_eq!(
            facts.incidents.len(),
            1,
            "a resolution without a detection is no incident"
        );
        let incident = &facts.incidents[0];
        assert_eq!(incident.detected_at, at("2024-01-02T13:00:00Z"));
        assert_eq!(incident.resolved_at, Some(at("2024-01-02T15:00:00Z")));
        assert_eq!(incident.deployment_ref, Some(7), "named by its CDEvent id");

        let mut reversed = rows();
        reversed.observations.reverse();
        assert_eq!(fold(reversed, &teams), facts);
    }

    #[test]
    fn listed_commits_belong_to_the_change_that_has_them() {
        let mut staging = deployment(1, "web", "staging", None);
        staging.cdevent_id = "s1".into();
        let mut production = deployment(2, "web", "production", None);
        production.cdevent_id = "p1".into();
        let listed = |id: &str, deployment: &str, sha: &str, when: &str| {
            observation(
                "change",
                id,
                "2024-01-02T12:00:00Z",
                serde_json::json!({"predicate": "listed", "deployment": deployment,
                                   "commits": [{"sha": sha, "timestamp": when}]}),
            )
        };
        let observations = vec![
            // c1 listed by both deployments; nothing else has it.
            listed("web@c1", "s1", "c1", "2024-01-01T09:00:00Z"),
            listed("web@c1", "p1", "c1", "2024-01-01T09:00:00Z"),
            // p2 is a push that has c2: the listed c2 is part of it.
            pushed(
                "acme/web@c2",
                "2024-01-01T11:00:00Z",
                serde_json::json!([
                    {"sha": "C2", "timestamp": "2024-01-01T10:00:00Z"}]),
            ),
            listed("web@c2", "p1", "c2", "2024-01-01T10:00:00Z"),
            // A push landing two requests at once: neither takes its timestamps.
            merged(
                "acme/web#3",
                "2024-01-02T00:00:00Z",
                "m3",
                "2024-01-01T12:00:00Z",
            ),
            merged(
                "acme/web#4",
                "2024-01-02T00:00:00Z",
                "m4",
                "2024-01-01T12:00:00Z",
            ),
            pushed(
                "acme/web@m4",
                "2024-01-02T00:00:05Z",
                serde_json::json!([
                    {"sha": "b3", "timestamp": "2024-01-01T08:00:00Z"},
                    {"sha": "m3", "timestamp": "2024-01-02T00:00:00Z"},
                    {"sha": "m4", "timestamp": "2024-01-02T00:00:01Z"}]),
            ),
        ];
        let rows = || FactRows {
            deployments: vec![staging.clone(), production.clone()],
            observations: observations.clone(),
        };
        let facts = fold(rows(), &BTreeMap::new());
        let ids: Vec<&str> = facts.changes.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["acme/web#3", "acme/web#4", "acme/web@c2", "web@c1"]);
        let change = |id: &str| facts.changes.iter().find(|c| c.id == id).unwrap();
        assert_eq!(change("web@c1").deployment_refs, [1, 2]);
        assert_eq!(
            change("acme/web@c2").deployment_refs,
            [2],
            "the push gains it"
        );
        for request in ["acme/web#3", "acme/web#4"] {
            assert_eq!(change(request).commits.len(), 3);
            assert!(change(request).commits.iter().all(|c| c.at.is_none()));
        }
        let mut reversed = rows();
        reversed.observations.reverse();
        assert_eq!(fold(reversed, &BTreeMap::new()), facts);
    }

    #[test]
    fn a_push_that_landed_a_pull_request_is_that_pull_request() {
        // pr-1 opened Jan 1 10:00, merged as m1. The push to main lands it: its branch commit
        // (Jan 1 08:00, before the opening) and the merge commit m1 (Jan 2, at the merge). pr-2
        // (merged as m2, never pushed) and a direct push (no request) stay as they are.
        let observations = vec![
            merged(
                "acme/web#1",
                "2024-01-02T06:00:00Z",
                "M1",
                "2024-01-01T10:00:00Z",
            ),
            pushed(
                "acme/web@m1",
                "2024-01-02T06:00:05Z",
                serde_json::json!([
                    {"sha": "b1", "timestamp": "2024-01-01T08:00:00Z"},
                    {"sha": "m1", "timestamp": "2024-01-02T06:00:00Z"}]),
            ),
            merged(
                "acme/web#2",
                "2024-01-03T06:00:00Z",
                "m2",
                "2024-01-03T00:00:00Z",
            ),
            pushed(
                "acme/web@d1",
                "2024-01-04T06:00:00Z",
                serde_json::json!([
                    {"sha": "d1", "timestamp": "2024-01-04T05:00:00Z"}]),
            ),
        ];
        let rows = || FactRows {
            deployments: Vec::new(),
            observations: observations.clone(),
        };
        let facts = fold(rows(), &BTreeMap::new());
        let ids: Vec<&str> = facts.changes.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["acme/web#1", "acme/web#2", "acme/web@d1"]);
        let landed = &facts.changes[0];
        assert_eq!(
            landed.commits,
            [
                Commit {
                    sha: "b1".into(),
                    at: Some(at("2024-01-01T08:00:00Z"))
                },
                Commit {
                    sha: "m1".into(),
                    at: None
                },
            ],
            "the branch commit keeps its time; the merge commit, dated at the merge, does not"
        );
        assert_eq!(facts.changes[1].commits, []);
        assert_eq!(facts.changes[2].commits.len(), 1);
        let mut reversed = rows();
        reversed.observations.reverse();
        assert_eq!(fold(reversed, &BTreeMap::new()), facts);
    }

    /// `record` as an observation of `service` (or of none).
    fn of_service(mut record: ObservationRecord, service: Option<&str>) -> ObservationRecord {
        record.service = service.map(str::to_owned);
        record
    }

    /// A merged request of no service and the push of its merge, split by `[[services]]`.
    fn monorepo_observations() -> Vec<ObservationRecord> {
        // acme/mono#7 (no service) opened Jan 1 09:00, merged Jan 2 10:00 as m. The push of its
        // merge comes split by [[services]]: api's change (c1, Jan 1 08:00, and m), web's (c2,
        // Jan 1 08:30, and m), and the rest (c0, a README, Jan 1 07:00). An artifact was built
        // from the request.
        vec![
            of_service(
                merged(
                    "acme/mono#7",
                    "2024-01-02T10:00:00Z",
                    "M",
                    "2024-01-01T09:00:00Z",
                ),
                None,
            ),
            of_service(
                observation(
                    "change",
                    "acme/mono#7",
                    "2024-01-02T11:00:00Z",
                    serde_json::json!({"predicate": "artifact", "artifact_id": "pkg:oci/mono@7"}),
                ),
                None,
            ),
            of_service(
                pushed(
                    "acme/mono@m:api",
                    "2024-01-02T10:00:05Z",
                    serde_json::json!([
                    {"sha": "c1", "timestamp": "2024-01-01T08:00:00Z"},
                    {"sha": "m", "timestamp": "2024-01-02T10:00:00Z"}]),
                ),
                Some("api"),
            ),
            of_service(
                pushed(
                    "acme/mono@m:web",
                    "2024-01-02T10:00:05Z",
                    serde_json::json!([
                    {"sha": "c2", "timestamp": "2024-01-01T08:30:00Z"},
                    {"sha": "m", "timestamp": "2024-01-02T10:00:00Z"}]),
                ),
                Some("web"),
            ),
            of_service(
                pushed(
                    "acme/mono@m",
                    "2024-01-02T10:00:05Z",
                    serde_json::json!([
                    {"sha": "c0", "timestamp": "2024-01-01T07:00:00Z"}, "m"]),
                ),
                None,
            ),
        ]
    }

    #[test]
    fn a_request_landed_by_the_pushes_of_two_services_counts_once_per_service() {
        let observations = monorepo_observations();
        let rows = || FactRows {
            deployments: Vec::new(),
            observations: observations.clone(),
        };
        let facts = fold(rows(), &BTreeMap::new());
        let ids: Vec<(&str, Option<&str>)> = facts
            .changes
            .iter()
            .map(|c| (c.id.as_str(), c.service.as_deref()))
            .collect();
        assert_eq!(
            ids,
            [
                ("acme/mono@m:api", Some("api")),
                ("acme/mono@m:web", Some("web"))
            ],
            "the request and the rest of the push are gone: the request counts once per service"
        );
        let commit = |sha: &str, time: Option<&str>| Commit {
            sha: sha.into(),
            at: time.map(at),
        };
        for (change, own) in facts.changes.iter().zip([
            commit("c1", Some("2024-01-01T08:00:00Z")),
            commit("c2", Some("2024-01-01T08:30:00Z")),
        ]) {
            assert_eq!(change.created_at, Some(at("2024-01-01T09:00:00Z")));
            assert_eq!(change.merged_at, Some(at("2024-01-02T10:00:00Z")));
            assert_eq!(change.merge_sha.as_deref(), Some("M"));
            assert_eq!(change.artifact_ids, ["pkg:oci/mono@7"]);
            // Its own branch commit keeps its time; the merge commit (dated at the merge) and
            // the README commit (the request's, through the rest of the push) join without.
            assert_eq!(change.commits, [own, commit("m", None), commit("c0", None)]);
        }
        let mut reversed = rows();
        reversed.observations.reverse();
        assert_eq!(fold(reversed, &BTreeMap::new()), facts);
    }

    pub(crate) fn deployment(
        id: i64,
        service: &str,
        environment: &str,
        team: Option<&str>,
    ) -> DeploymentRecord {
        DeploymentRecord {
            id,
            cdevent_id: format!("deploy-{id}"),
            kind: DeploymentKind::Deployed,
            service: service.into(),
            environment: environment.into(),
            artifact_id: Some(format!("pkg:oci/{service}@{id}")),
            deployed_at: at("2024-01-02T12:00:00Z"),
            team: team.map(str::to_owned),
            failed: false,
            revision: None,
        }
    }
}
