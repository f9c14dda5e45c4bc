//! What GitHub and GitLab share: their settings and transformer, the repository (project) an
//! event is about, the CDEvents about it, and the commits a push lists. Each tool reads its own
//! payload into these; the CDEvents they make come out of one place.

use chrono::{DateTime, Utc};
use dora_model::cdevent::{ChangeContent, Content, DoraData, IncidentContent, Reference};
use dora_model::ids::derived_id;
use dora_model::time::format_rfc3339;
use serde::de::{self as serde_de, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value};
use std::fmt;
use std::marker::PhantomData;

use dora_model::cloudevent::CloudEvent;
use serde::Serialize;

use crate::common::{de, is_http_url, repository_fact_id};
use crate::services::ServiceMap;
use crate::transform::{
    Emitted, Fact, TransformError, Transformer, CHANGE_UPDATED, INCIDENT_DETECTED,
    INCIDENT_RESOLVED,
};

/// The environment of incidents without an environment label, by default.
pub const DEFAULT_ENVIRONMENT: &str = "production";

/// `[sources.github]` and `[sources.gitlab]` in the configuration: the same options for both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CodeHostSettings {
    /// Issues with this label are incidents (opened: detected, closed: resolved); on GitLab,
    /// besides GitLab's own incidents (issue type `incident`).
    pub incident_label: String,
    /// The environment of an incident whose issue has no environment label (`env:<name>` or
    /// `environment:<name>`; on GitLab also scoped, `env::<name>`) (default `"production"`; the
    /// incident schemas require an environment).
    pub default_environment: String,
    /// A pull or merge request label `<prefix><team>` (e.g. `team/payments` with `"team/"`, or
    /// GitLab's scoped label `team::payments` with `"team::"`) puts the request's changes in
    /// that team: `customData.dora.team`. Empty (the default): off.
    pub team_label_prefix: String,
    /// The top-level `[[services]]` (not a key of this table): pushes to their repositories
    /// are split by service.
    #[serde(skip)]
    pub services: ServiceMap,
}

impl Default for CodeHostSettings {
    fn default() -> Self {
        Self {
            incident_label: "incident".into(),
            default_environment: DEFAULT_ENVIRONMENT.into(),
            team_label_prefix: String::new(),
            services: ServiceMap::default(),
        }
    }
}

/// A code host: its name, the prefix of its CloudEvent types, and the CDEvents of its events.
pub trait CodeHost {
    /// The transformer's name.
    const NAME: &'static str;
    /// The CloudEvent type prefix of its events; what follows is the event's name.
    const TYPE_PREFIX: &'static str;

    /// The CDEvents of the event named `name` (nothing for an event the host does not map).
    fn cdevents(
        settings: &CodeHostSettings,
        name: &str,
        event: &CloudEvent,
    ) -> Result<Vec<Emitted>, TransformError>;
}

/// The transformer of the code host `H`: events of another type prefix give nothing.
pub struct CodeHostTransformer<H> {
    settings: CodeHostSettings,
    host: PhantomData<fn() -> H>,
}

impl<H> CodeHostTransformer<H> {
    pub fn new(settings: CodeHostSettings) -> Self {
        Self {
            settings,
            host: PhantomData,
        }
    }
}

impl<H: CodeHost> Transformer for CodeHostTransformer<H> {
    fn name(&self) -> &str {
        H::NAME
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        match event.event_type.strip_prefix(H::TYPE_PREFIX) {
            Some(name) => H::cdevents(&self.settings, name, event),
            None => Ok(Vec::new()),
        }
    }
}

/// A git SHA of 40 (SHA-1) or 64 (SHA-256) hex digits.
pub(crate) fn is_full_sha(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The repository (GitHub, Bitbucket) or project (GitLab) an event is about.
pub(crate) struct Repository<'a> {
    /// `github`, `gitlab` or `bitbucket`: part of every id, and the key of the tool's own custom data.
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

impl<'a> Repository<'a> {
    /// The repository at `path` (`<owner>/<name>`, nested groups allowed) whose web URL is the
    /// first http(s) one of `urls`, else `<default_server>/<path>`; the server is that URL
    /// without `/<path>` (else its origin). `None` when `path` is not `<owner>/<name>`.
    pub(crate) fn at(
        tool: &'static str,
        path: &'a str,
        urls: &[Option<&str>],
        default_server: &str,
    ) -> Option<Self> {
        let name = path
            .rsplit('/')
            .next()
            .filter(|name| !name.is_empty() && !path.starts_with('/') && !path.contains("//"))?;
        let url = match urls.iter().flatten().find(|url| is_http_url(url)) {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("{default_server}/{path}"),
        };
        let server = url
            .strip_suffix(path)
            .and_then(|rest| rest.strip_suffix('/'))
            .filter(|server| is_http_url(server))
            .map_or_else(|| origin(&url), str::to_owned);
        Some(Repository {
            tool,
            path,
            name,
            url,
            server,
        })
    }
}

/// `scheme://host[:port]` of an http(s) URL.
fn origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or(rest);
            format!("{scheme}://{host}")
        }
        None => url.to_owned(),
    }
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

    /// The CDEvents of a push at `timestamp` (`own`: the tool's own fields): its `change.updated`
    /// (subject `<path>@<after>`, `customData.dora` of [`Repository::push_dora`]), split by
    /// service as [`Repository::per_service`] says.
    pub(crate) fn push_cdevents(
        &self,
        push: Push<'_>,
        timestamp: DateTime<Utc>,
        own: Map<String, Value>,
        commits: &[Commit<'_>],
        services: &ServiceMap,
    ) -> Vec<Emitted> {
        let fact = RepositoryFact {
            event_type: CHANGE_UPDATED,
            id: self.id(&["push", push.git_ref, push.before, push.after]),
            timestamp,
            subject_id: format!("{}@{}", self.path, push.after),
            content: self.change_content(None),
            dora: self.push_dora(push),
            own,
        };
        self.per_service(fact, commits, services)
    }

    /// The CDEvents of a push: `fact` (a `change.updated` listing every commit of `commits`, in
    /// their order) as it is when no `[[services]]` entry names the repository. Else one change
    /// per service whose paths the commits touched, made of those commits (a commit touching
    /// two services is in both): id derived from `fact`'s and the service, subject
    /// `<fact's subject>:<service>`, `customData.dora.service` (and `team`) set; the push's head
    /// stays its `revision`. The commits touching no service's path stay in `fact`, which is
    /// left out when there are none.
    fn per_service(
        &self,
        mut fact: RepositoryFact,
        commits: &[Commit<'_>],
        services: &ServiceMap,
    ) -> Vec<Emitted> {
        let entries = services.of_repository(self.path);
        let listed = fact.dora.commits.take().unwrap_or_default();
        if entries.is_empty() || listed.len() != commits.len() {
            fact.dora.commits = Some(listed);
            return vec![self.cdevent(fact)];
        }
        let mut by_service: Vec<Vec<Value>> = vec![Vec::new(); entries.len()];
        let mut elsewhere = Vec::new();
        for (commit, entry) in commits.iter().zip(listed) {
            let touched = ServiceMap::touched(&entries, commit.files());
            if touched.is_empty() {
                elsewhere.push(entry);
                continue;
            }
            for i in touched {
                by_service[i].push(entry.clone());
            }
        }
        let mut out = Vec::with_capacity(entries.len() + 1);
        for (entry, commits) in entries.iter().zip(by_service) {
            if commits.is_empty() {
                continue;
            }
            let mut dora = fact.dora.clone();
            dora.commits = Some(commits);
            dora.service = Some(entry.name.clone());
            dora.team.clone_from(&entry.team);
            out.push(self.cdevent(RepositoryFact {
                event_type: fact.event_type,
                id: derived_id(&[&fact.id, "service", &entry.name]),
                timestamp: fact.timestamp,
                subject_id: format!("{}:{}", fact.subject_id, entry.name),
                content: fact.content.clone(),
                dora,
                own: fact.own.clone(),
            }));
        }
        if !elsewhere.is_empty() {
            fact.dora.commits = Some(elsewhere);
            out.insert(0, self.cdevent(fact));
        }
        out
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

/// A commit a push lists: GitHub and GitLab write it the same way, Bitbucket with other names.
#[derive(Deserialize)]
pub(crate) struct Commit<'a> {
    /// `id` (GitHub, GitLab) or `hash` (Bitbucket).
    #[serde(alias = "hash", deserialize_with = "de::text")]
    pub(crate) id: &'a str,
    /// `timestamp` (GitHub, GitLab) or `date` (Bitbucket).
    #[serde(alias = "date", default, deserialize_with = "de::optional_time")]
    pub(crate) timestamp: Option<DateTime<Utc>>,
    /// Passed on (its first line) when it is a string.
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) message: Option<String>,
    /// The files the commit added, modified and removed (GitHub, GitLab; Bitbucket lists
    /// none): which `[[services]]` it belongs to. Read when they are lists of strings.
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) added: Option<Vec<String>>,
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) modified: Option<Vec<String>>,
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) removed: Option<Vec<String>>,
}

impl Commit<'_> {
    /// Every file the commit touched.
    fn files(&self) -> impl Iterator<Item = &str> + Clone {
        [&self.added, &self.modified, &self.removed]
            .into_iter()
            .flatten()
            .flatten()
            .map(String::as_str)
    }
}

/// The commits of a push (`data.commits[]`) as `customData.dora.commits` carries them; `after`
/// is the SHA the branch moved to.
pub(crate) fn listed_commits(commits: &[Commit<'_>], after: &str) -> ListedCommits {
    let mut listed = Vec::with_capacity(commits.len());
    let mut head_time = None;
    let mut latest_time: Option<DateTime<Utc>> = None;
    for commit in commits {
        let mut entry = Map::new();
        entry.insert("sha".into(), json!(commit.id));
        if let Some(time) = commit.timestamp {
            entry.insert("timestamp".into(), json!(format_rfc3339(&time)));
            if commit.id == after {
                head_time = Some(time);
            }
            latest_time = Some(latest_time.map_or(time, |latest| latest.max(time)));
        }
        let first_line = commit.message.as_deref().and_then(|m| m.lines().next());
        if let Some(first) = first_line.filter(|line| !line.is_empty()) {
            entry.insert("message".into(), json!(first));
        }
        listed.push(Value::Object(entry));
    }
    ListedCommits {
        listed,
        head_time,
        latest_time,
    }
}

/// A label's name, for `Deserialize` of each tool's label: an object with the name under `key`
/// (GitHub's `name`, GitLab's `title`), or the bare name, as older GitHubSource and
/// GitLabSource payloads render a label.
pub(crate) fn label_name<'de, D: Deserializer<'de>>(
    data: D,
    key: &'static str,
) -> Result<&'de str, D::Error> {
    struct Label(&'static str);

    impl<'de> Visitor<'de> for Label {
        type Value = &'de str;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            write!(
                formatter,
                "a label (an object with its {}, or its name)",
                self.0
            )
        }

        fn visit_borrowed_str<E: serde_de::Error>(self, name: &'de str) -> Result<&'de str, E> {
            Ok(name)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<&'de str, A::Error> {
            let mut name = None;
            while let Some(key) = map.next_key::<&str>()? {
                if key == self.0 {
                    name = Some(map.next_value::<&str>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            name.ok_or_else(|| <A::Error as serde_de::Error>::missing_field(self.0))
        }
    }

    data.deserialize_any(Label(key))
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

/// The team a pull/merge request's labels name: the rest of the first label that starts with
/// `prefix` (compared without case; `team/payments` with the prefix `team/`, GitLab's scoped
/// `team::payments` with `team::`). Labels are objects with their name under `key` (GitHub's
/// `name`, GitLab's `title`) or bare names; others are skipped. `None` when `prefix` is empty.
pub(crate) fn team_label(labels: &[Value], key: &str, prefix: &str) -> Option<String> {
    let prefix = prefix.trim();
    if prefix.is_empty() {
        return None;
    }
    labels.iter().find_map(|label| {
        let name = label.as_str().or_else(|| label.get(key)?.as_str())?;
        let head = name.get(..prefix.len())?;
        let team = name[prefix.len()..].trim();
        (head.eq_ignore_ascii_case(prefix) && !team.is_empty()).then(|| team.to_owned())
    })
}

/// The configured default environment of incidents, else `fallback`.
pub(crate) fn default_environment<'a>(setting: &'a str, fallback: &'a str) -> &'a str {
    match setting.trim() {
        "" => fallback,
        environment => environment,
    }
}

/// A CloudEvent as a GitHubSource or GitLabSource sends it: `event_type` from `source`, carrying
/// `data` (for the code hosts' unit tests).
#[cfg(test)]
#[allow(clippy::expect_used)]
pub(crate) fn source_event(id: &str, source: &str, event_type: String, data: Value) -> CloudEvent {
    CloudEvent::from_json_value(json!({
        "specversion": "1.0",
        "id": id,
        "source": source,
        "type": event_type,
        "datacontenttype": "application/json",
        "data": data,
    }))
    .expect("a valid CloudEvent")
}

/// The CDEvents `transformer` makes of `event`, each valid against the CDEvents schemas (for the
/// code hosts' unit tests).
#[cfg(test)]
pub(crate) fn checked_documents(
    transformer: &dyn Transformer,
    event: &CloudEvent,
) -> Result<Vec<Value>, TransformError> {
    let out = transformer.documents(event)?;
    for document in &out {
        dora_spec::validate(document)
            .unwrap_or_else(|e| panic!("invalid CDEvent: {e}\n{document:#}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_team_label_is_the_first_with_the_prefix_and_a_name_after_it() {
        let labels = [
            json!({"name": "bug"}),
            json!({"name": "team/"}),
            json!("TEAM/Payments "),
            json!({"name": "team/checkout"}),
            json!(5),
        ];
        assert_eq!(
            team_label(&labels, "name", "team/"),
            Some("Payments".into())
        );
        assert_eq!(team_label(&labels, "name", ""), None);
        assert_eq!(team_label(&labels, "title", "squad:"), None);
        let scoped = [json!({"title": "team::payments"})];
        assert_eq!(
            team_label(&scoped, "title", "team::"),
            Some("payments".into())
        );
        // A multi-byte label shorter than the prefix, or cut inside a character, is no match.
        assert_eq!(team_label(&[json!("é")], "name", "team/"), None);
        assert_eq!(team_label(&[json!("téam/x")], "name", "te/"), None);
    }
}
