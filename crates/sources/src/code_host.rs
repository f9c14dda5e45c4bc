//! What GitHub and GitLab share: the repository (project) an event is about, the CDEvents about
//! it, and the commits a push lists. Each tool reads its own payload into these; the CDEvents
//! they make come out of one place.

use chrono::{DateTime, Utc};
use dora_model::cdevent::{ChangeContent, Content, DoraData, IncidentContent, Reference};
use dora_model::time::format_rfc3339;
use serde_json::{json, Map, Value};

use crate::common::{named_time, repository_fact_id};
use crate::transform::{Emitted, Fact, TransformError, INCIDENT_DETECTED, INCIDENT_RESOLVED};

/// The repository (GitHub) or project (GitLab) an event is about.
pub(crate) struct Repository<'a> {
    /// `github` or `gitlab`: part of every id, and the key of the tool's own custom data.
    pub(crate) tool: &'static str,
    /// `<owner>/<name>` (GitHub) or `path_with_namespace` (GitLab, nested groups included).
    pub(crate) path: &'a str,
    /// The repository's own name: the last segment of `path`.
    pub(crate) name: &'a str,
    /// The repository's web URL, without a trailing `/`.
    pub(crate) url: String,
    /// The server: `url` without `/<path>` (`https://github.com`).
    pub(crate) server: String,
}

/// A CDEvent about a repository, before it is laid out.
pub(crate) struct RepositoryFact {
    pub(crate) event_type: &'static str,
    pub(crate) id: String,
    pub(crate) timestamp: DateTime<Utc>,
    pub(crate) subject_id: String,
    pub(crate) content: Content,
    /// `customData.dora`.
    pub(crate) dora: DoraData,
    /// The tool's own fields, `customData.<tool>` (left out when empty).
    pub(crate) own: Map<String, Value>,
}

impl Repository<'_> {
    /// The owner (GitHub) or top-level namespace (GitLab): the first segment of `path`.
    pub(crate) fn owner(&self) -> &str {
        self.path.split('/').next().unwrap_or(self.path)
    }

    /// A deterministic CDEvent id for a fact about this repository.
    pub(crate) fn id(&self, parts: &[&str]) -> String {
        repository_fact_id(self.tool, &self.url, parts)
    }

    /// `{"id": <path>, "source": <server>}`: a CDEvents repository reference.
    pub(crate) fn reference(&self) -> Reference {
        Reference::within(self.path, &self.server)
    }

    /// The `subject.content` of a change of this repository.
    pub(crate) fn change_content(&self, description: Option<&str>) -> Content {
        Content::Change(ChangeContent {
            description: description.map(str::to_owned),
            repository: Some(self.reference()),
        })
    }

    /// `customData.dora` of a push: the commit the branch moved to is the revision, and the
    /// listed commits are the change's.
    pub(crate) fn push_dora(&self, push: Push<'_>) -> DoraData {
        let mut dora = self.dora();
        dora.revision = Some(push.after.to_owned());
        dora.commits = Some(push.commits);
        dora.detail("before", push.before)
            .detail("after", push.after)
            .detail("ref", push.git_ref)
            .detail("branch", push.branch);
        if let Some(default) = push.default_branch {
            dora.detail("defaultBranch", push.branch == default);
        }
        dora
    }

    /// `customData.dora` with `repository` set.
    pub(crate) fn dora(&self) -> DoraData {
        DoraData {
            repository: Some(self.path.to_owned()),
            ..DoraData::default()
        }
    }

    /// The CDEvent of `fact`: context and subject source are the repository's URL.
    pub(crate) fn cdevent(&self, fact: RepositoryFact) -> Emitted {
        Fact {
            event_type: fact.event_type,
            id: fact.id,
            timestamp: fact.timestamp,
            subject_id: fact.subject_id,
            content: fact.content,
            dora: Some(fact.dora),
            own: Some((self.tool, fact.own)).filter(|(_, own)| !own.is_empty()),
        }
        .into_cdevent(&self.url)
        .into()
    }
}

/// A push to a branch, as both tools tell it.
pub(crate) struct Push<'a> {
    pub(crate) before: &'a str,
    pub(crate) after: &'a str,
    pub(crate) git_ref: &'a str,
    pub(crate) branch: &'a str,
    /// The repository's default branch, when the payload names it.
    pub(crate) default_branch: Option<&'a str>,
    /// `customData.dora.commits` ([`listed_commits`]).
    pub(crate) commits: Vec<Value>,
}

/// The commits a push lists, as `customData.dora.commits` carries them.
pub(crate) struct ListedCommits {
    /// `{"sha", "timestamp"?, "message"?}` (the message's first line), in the push's order.
    pub(crate) listed: Vec<Value>,
    /// The time of the commit the push moved the branch to, when listed with a time.
    pub(crate) head_time: Option<DateTime<Utc>>,
    /// The latest time of any listed commit.
    pub(crate) latest_time: Option<DateTime<Utc>>,
}

/// Reads `data.commits[]` of a push (each with `id`, and optionally `timestamp` and
/// `message`); `after` is the SHA the branch moved to. Errors name the commit's field.
pub(crate) fn listed_commits(
    commits: &[Value],
    after: &str,
) -> Result<ListedCommits, TransformError> {
    let mut listed = Vec::with_capacity(commits.len());
    let mut head_time = None;
    let mut latest_time: Option<DateTime<Utc>> = None;
    for (index, commit) in commits.iter().enumerate() {
        let at = |key: &str| format!("data.commits[{index}].{key}");
        let sha = match commit.get("id") {
            Some(Value::String(sha)) if !sha.is_empty() => sha,
            Some(Value::String(_)) | Some(Value::Null) | None => {
                return Err(TransformError::new(format!("{} is missing", at("id"))))
            }
            Some(_) => return Err(TransformError::new(format!("{} is not a string", at("id")))),
        };
        let mut entry = Map::new();
        entry.insert("sha".into(), json!(sha));
        if let Some(time) = named_time(commit.get("timestamp"), || at("timestamp"))? {
            entry.insert("timestamp".into(), json!(format_rfc3339(&time)));
            if sha.as_str() == after {
                head_time = Some(time);
            }
            latest_time = Some(latest_time.map_or(time, |latest| latest.max(time)));
        }
        if let Some(Value::String(message)) = commit.get("message") {
            if let Some(first) = message.lines().next().filter(|line| !line.is_empty()) {
                entry.insert("message".into(), json!(first));
            }
        }
        listed.push(Value::Object(entry));
    }
    Ok(ListedCommits {
        listed,
        head_time,
        latest_time,
    })
}

/// An issue that is an incident, as the tool's payload tells it.
pub(crate) struct IncidentIssue<'a> {
    /// The issue's number (GitHub) or iid (GitLab), as decimal text.
    pub(crate) number: String,
    pub(crate) title: Option<&'a str>,
    pub(crate) service: &'a str,
    pub(crate) environment: &'a str,
    pub(crate) created_at: DateTime<Utc>,
    /// Whether this event reports the incident (every event of an incident issue does).
    pub(crate) detect: bool,
    /// When it was resolved, when this event resolves it.
    pub(crate) resolved_at: Option<DateTime<Utc>>,
    /// The tool's own fields (`customData.<tool>`).
    pub(crate) own: Map<String, Value>,
}

impl Repository<'_> {
    /// `incident.detected` and, once resolved, `incident.resolved` of an incident issue:
    /// subject `<path>#<number>`, the service and environment with the repository as source.
    pub(crate) fn incident_cdevents(&self, issue: IncidentIssue<'_>) -> Vec<Emitted> {
        let content = Content::Incident(IncidentContent {
            description: issue.title.map(str::to_owned),
            environment: Some(Reference::within(issue.environment, &self.url)),
            service: Some(Reference::within(issue.service, &self.url)),
            ..IncidentContent::default()
        });
        let mut dora = self.dora();
        dora.detail("detectedAt", format_rfc3339(&issue.created_at));
        let number = issue.number.as_str();
        let subject_id = format!("{}#{number}", self.path);
        let mut out = Vec::with_capacity(2);
        if issue.detect {
            out.push(self.cdevent(RepositoryFact {
                event_type: INCIDENT_DETECTED,
                id: self.id(&["issue", number, "detected"]),
                timestamp: issue.created_at,
                subject_id: subject_id.clone(),
                content: content.clone(),
                dora: dora.clone(),
                own: issue.own.clone(),
            }));
        }
        if let Some(resolved_at) = issue.resolved_at {
            dora.detail("resolvedAt", format_rfc3339(&resolved_at));
            out.push(self.cdevent(RepositoryFact {
                event_type: INCIDENT_RESOLVED,
                id: self.id(&["issue", number, "resolved"]),
                timestamp: resolved_at,
                subject_id,
                content,
                dora,
                own: issue.own,
            }));
        }
        out
    }
}

/// The value of the first label `<prefix>:<value>` (any of `prefixes`, any case) with a
/// non-empty value; `scoped` also reads GitLab's scoped labels `<prefix>::<value>`.
pub(crate) fn label_value<'a>(
    labels: &[&'a str],
    prefixes: &[&str],
    scoped: bool,
) -> Option<&'a str> {
    labels.iter().find_map(|label| {
        let (prefix, value) = label.split_once(':')?;
        let value = if scoped {
            value.trim_start_matches(':').trim()
        } else {
            value.trim()
        };
        (prefixes
            .iter()
            .any(|p| prefix.trim().eq_ignore_ascii_case(p))
            && !value.is_empty())
        .then_some(value)
    })
}

/// The configured default environment of incidents, else `fallback`.
pub(crate) fn default_environment<'a>(setting: &'a str, fallback: &'a str) -> &'a str {
    match setting.trim() {
        "" => fallback,
        environment => environment,
    }
}
