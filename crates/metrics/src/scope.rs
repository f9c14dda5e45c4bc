//! Scopes: the facts one request is about (services, environments, teams), cut out of the facts
//! folded from everything stored (stored rows -> [`crate::folding`] -> **scope** -> linking ->
//! keys), so that a change or an incident is judged on all its observations.

use std::collections::HashSet;

use crate::dora::facts::{Change, Deployment, DoraFacts, Incident};

/// Which facts a request is about: `None` = all; a list = any of.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Scope {
    pub services: Option<Vec<String>>,
    pub environments: Option<Vec<String>>,
    pub teams: Option<Vec<String>>,
}

/// Narrows folded facts to a scope. Facts are folded from everything stored first, so a change or
/// an incident is judged on all its observations, and the team is the one after the
/// configuration's precedence ([`crate::folding::fold`]).
///
/// - deployments: service, environment and team must match;
/// - changes: those naming no service, or one of the services in scope (by service filter, or the
///   services of the team's deployments), that a deployment in scope could contain (by artifact,
///   revision or reference; the others could not count, so leaving them out changes no number);
/// - incidents: environment (when named) must match; service must be in scope, or, for an
///   incident naming no service, it must name a deployment or an artifact of a deployment in scope.
pub fn narrow(facts: &DoraFacts, scope: &Scope) -> DoraFacts {
    if scope == &Scope::default() {
        return facts.clone();
    }
    let deployments: Vec<Deployment> = facts
        .deployments
        .iter()
        .filter(|d| {
            wanted(&scope.services, Some(&d.service))
                && wanted(&scope.environments, Some(&d.environment))
                && wanted(&scope.teams, d.team.as_deref())
        })
        .cloned()
        .collect();
    let reach = Reach::of(&deployments, scope);
    let changes = facts
        .changes
        .iter()
        .filter(|c| c.service.is_none() || reach.in_services(c.service.as_deref()))
        .filter(|c| reach.can_contain(c))
        .cloned()
        .collect();
    let incidents = facts
        .incidents
        .iter()
        .filter(|i| {
            i.environment.is_none() || wanted(&scope.environments, i.environment.as_deref())
        })
        .filter(|i| reach.has_incident(i))
        .cloned()
        .collect();
    DoraFacts {
        deployments,
        changes,
        incidents,
    }
}

/// Whether `value` passes a filter (`None`: every value does; a value-less fact passes none).
fn wanted(list: &Option<Vec<String>>, value: Option<&str>) -> bool {
    match (list, value) {
        (None, _) => true,
        (Some(list), Some(value)) => list.iter().any(|v| v == value),
        (Some(_), None) => false,
    }
}

/// What the deployments in scope reach: their services (when the scope filters by service or
/// team), ids, artifacts and revisions. Sets, not lists: a team's scope can hold thousands of
/// deployments.
struct Reach<'d> {
    services: Option<HashSet<&'d str>>,
    deployment_ids: HashSet<i64>,
    artifacts: HashSet<&'d str>,
    /// Lowercase.
    revisions: HashSet<String>,
}

impl<'d> Reach<'d> {
    fn of(deployments: &'d [Deployment], scope: &Scope) -> Self {
        Reach {
            services: match (&scope.services, &scope.teams) {
                (None, None) => None,
                _ => Some(deployments.iter().map(|d| d.service.as_str()).collect()),
            },
            deployment_ids: deployments.iter().map(|d| d.id).collect(),
            artifacts: deployments
                .iter()
                .filter_map(|d| d.artifact_id.as_deref())
                .collect(),
            revisions: deployments
                .iter()
                .filter_map(|d| d.revision.as_deref())
                .map(str::to_ascii_lowercase)
                .collect(),
        }
    }

    fn in_services(&self, service: Option<&str>) -> bool {
        match (&self.services, service) {
            (None, _) => true,
            (Some(set), Some(s)) => set.contains(s),
            (Some(_), None) => false,
        }
    }

    /// A change can only count in the scope if one of its deployments can contain it (by
    /// artifact, revision or reference): the others are left out before linking, however many.
    fn can_contain(&self, c: &Change) -> bool {
        c.artifact_ids
            .iter()
            .any(|a| self.artifacts.contains(a.as_str()))
            || c.deployment_refs
                .iter()
                .any(|id| self.deployment_ids.contains(id))
            || c.merge_sha
                .iter()
                .chain(c.commits.iter().map(|commit| &commit.sha))
                .any(|sha| {
                    // Most SHAs are lowercase already: no copy for them.
                    if sha.bytes().any(|b| b.is_ascii_uppercase()) {
                        self.revisions.contains(&sha.to_ascii_lowercase())
                    } else {
                        self.revisions.contains(sha.as_str())
                    }
                })
    }

    /// An incident of a service in scope, or naming none but a deployment or an artifact of
    /// one in scope.
    fn has_incident(&self, i: &Incident) -> bool {
        match i.service.as_deref() {
            Some(service) => self.in_services(Some(service)),
            None => {
                self.services.is_none()
                    || i.deployment_ref
                        .is_some_and(|id| self.deployment_ids.contains(&id))
                    || i.artifact_id
                        .as_deref()
                        .is_some_and(|artifact| self.artifacts.contains(artifact))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use dora_store::{FactRows, ObservationRecord};

    use super::*;
    use crate::folding::fold;
    use crate::folding::tests::{at, deployment, observation};

    #[test]
    fn narrowing_leaves_out_changes_no_deployment_in_scope_can_contain() {
        use crate::dora::linking::Linked;
        use crate::dora::{DoraConfig, Window};
        let mut web = deployment(1, "web", "production", None);
        web.revision = Some("AAA".into());
        let api = deployment(2, "api", "production", None);
        let change = |id: &str, merge_sha: &str| {
            observation(
                "change",
                id,
                "2024-01-02T06:00:00Z",
                serde_json::json!({"predicate": "merged", "merge_sha": merge_sha,
                                   "created_at": "2024-01-02T00:00:00Z"}),
            )
        };
        let facts = fold(
            FactRows {
                deployments: vec![web, api],
                observations: vec![
                    ObservationRecord {
                        service: None,
                        ..change("shipped-by-web", "aaa")
                    },
                    ObservationRecord {
                        service: None,
                        ..change("shipped-by-nothing", "bbb")
                    },
                ],
            },
            &BTreeMap::new(),
        );
        let scope = Scope {
            services: Some(vec!["web".into()]),
            ..Scope::default()
        };
        let narrowed = narrow(&facts, &scope);
        let ids: Vec<&str> = narrowed.changes.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            ["shipped-by-web"],
            "matched case-insensitively by revision"
        );
        // The same numbers as with every change of the scope's services kept.
        let mut everything = narrowed.clone();
        everything.changes = facts.changes.clone();
        let config = DoraConfig::default();
        let window = Window::new(at("2024-01-01T00:00:00Z"), at("2024-02-01T00:00:00Z")).unwrap();
        assert_eq!(
            Linked::new(&narrowed, &config).report(&window),
            Linked::new(&everything, &config).report(&window)
        );
        assert_eq!(
            Linked::new(&narrowed, &config)
                .report(&window)
                .keys
                .lead_time
                .sample_size,
            1
        );
    }

    /// Deployments of web (production, staging) and api (team payments), a change of web and an
    /// incident of web, each partly observed without a service.
    fn web_and_api_rows() -> FactRows {
        FactRows {
            deployments: vec![
                deployment(1, "web", "production", None),
                deployment(2, "api", "production", Some("payments")),
                deployment(3, "web", "staging", None),
            ],
            observations: vec![
                // A change of web whose artifact observation names no service: still web's.
                observation(
                    "change",
                    "pr-web",
                    "2024-01-01T00:00:00Z",
                    serde_json::json!({"predicate": "merged", "merge_sha": "w1"}),
                ),
                ObservationRecord {
                    service: None,
                    ..observation(
                        "change",
                        "pr-web",
                        "2024-01-01T01:00:00Z",
                        serde_json::json!({"predicate": "artifact", "artifact_id": "pkg:oci/web@1"}),
                    )
                },
                // An incident detected without a service, resolved naming web.
                ObservationRecord {
                    service: None,
                    ..observation(
                        "incident",
                        "inc",
                        "2024-01-02T13:00:00Z",
                        serde_json::json!({"predicate": "detected"}),
                    )
                },
                observation(
                    "incident",
                    "inc",
                    "2024-01-02T14:00:00Z",
                    serde_json::json!({"predicate": "resolved"}),
                ),
            ],
        }
    }

    #[test]
    fn narrowing_uses_configured_teams_and_keeps_facts_whole() {
        let rows = web_and_api_rows();
        // Configuration puts web in team "storefront"; events say nothing of it.
        let teams = BTreeMap::from([("web".to_owned(), "storefront".to_owned())]);
        let facts = fold(rows, &teams);
        let by_team = narrow(
            &facts,
            &Scope {
                teams: Some(vec!["storefront".into()]),
                ..Scope::default()
            },
        );
        assert_eq!(
            by_team.deployments.iter().map(|d| d.id).collect::<Vec<_>>(),
            [1, 3]
        );
        assert_eq!(by_team.changes.len(), 1, "the change of web, whole");
        assert_eq!(by_team.changes[0].artifact_ids, ["pkg:oci/web@1"]);
        assert_eq!(by_team.incidents.len(), 1);
        assert_eq!(
            by_team.incidents[0].service.as_deref(),
            Some("web"),
            "judged on all its observations"
        );
        let api = narrow(
            &facts,
            &Scope {
                services: Some(vec!["api".into()]),
                ..Scope::default()
            },
        );
        assert_eq!(api.deployments.len(), 1);
        assert!(api.changes.is_empty(), "web's change is not api's");
        assert!(api.incidents.is_empty(), "web's incident is not api's");
        let staging = narrow(
            &facts,
            &Scope {
                environments: Some(vec!["staging".into()]),
                ..Scope::default()
            },
        );
        assert_eq!(
            staging.deployments.iter().map(|d| d.id).collect::<Vec<_>>(),
            [3]
        );
        assert!(
            staging.incidents.is_empty(),
            "the incident is in production"
        );
    }
}
