//! The parts of GitHub's webhook payloads the transformer reads, as serde structs: only the fields
//! it uses (GitHub adds fields all the time; the others are ignored), read with
//! [`crate::common::read`] so that a wrong or missing field is an error naming it.
//!
//! An event whose other actions (or states) give nothing is read in steps: first what decides
//! whether it gives anything ([`Action`], [`PushRef`], [`DeploymentState`], [`IssueLabels`]),
//! then the rest, so that an ignored event never fails on a field it lacks.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::{Error, IgnoredAny, MapAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};

use crate::code_host::{label_name, Commit};
use crate::common::de;

/// `action`: read first by the events whose other actions give nothing.
#[derive(Deserialize)]
pub(crate) struct Action<'a> {
    #[serde(deserialize_with = "de::text")]
    pub(crate) action: &'a str,
}

/// `repository`, in every event the transformer reads.
#[derive(Deserialize)]
pub(crate) struct Repository<'a> {
    /// `<owner>/<name>`.
    #[serde(deserialize_with = "de::text")]
    pub(crate) full_name: &'a str,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) html_url: Option<&'a str>,
    /// Unix seconds in webhooks, RFC 3339 from GitHubSource.
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) pushed_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) default_branch: Option<&'a str>,
    /// What older payloads call `default_branch`.
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) master_branch: Option<&'a str>,
}

// ---------------------------------------------------------------------------------------------
// push

/// What decides whether a `push` gives anything: a branch, not deleted, with commits.
#[derive(Deserialize)]
pub(crate) struct PushRef<'a> {
    #[serde(rename = "ref", deserialize_with = "de::text")]
    pub(crate) git_ref: &'a str,
    pub(crate) deleted: Option<bool>,
    pub(crate) commits: Option<Vec<IgnoredAny>>,
}

/// A `push` to a branch with commits.
#[derive(Deserialize)]
pub(crate) struct Push<'a> {
    #[serde(borrow)]
    pub(crate) repository: Repository<'a>,
    #[serde(deserialize_with = "de::text")]
    pub(crate) before: &'a str,
    #[serde(deserialize_with = "de::text")]
    pub(crate) after: &'a str,
    #[serde(borrow)]
    pub(crate) commits: Vec<Commit<'a>>,
    pub(crate) head_commit: Option<HeadCommit>,
    pub(crate) created: Option<bool>,
    pub(crate) forced: Option<bool>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) compare: Option<&'a str>,
}

/// `push.head_commit`.
#[derive(Deserialize)]
pub(crate) struct HeadCommit {
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) timestamp: Option<DateTime<Utc>>,
}

// ---------------------------------------------------------------------------------------------
// pull_request

/// A `pull_request` opened or closed.
#[derive(Deserialize)]
pub(crate) struct PullRequestEvent<'a> {
    #[serde(borrow)]
    pub(crate) repository: Repository<'a>,
    #[serde(borrow)]
    pub(crate) pull_request: PullRequest<'a>,
}

/// `pull_request.pull_request`.
#[derive(Deserialize)]
pub(crate) struct PullRequest<'a> {
    pub(crate) number: u64,
    #[serde(deserialize_with = "de::time")]
    pub(crate) created_at: DateTime<Utc>,
    #[serde(borrow)]
    pub(crate) head: Head<'a>,
    #[serde(borrow)]
    pub(crate) base: Option<Base<'a>>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) html_url: Option<&'a str>,
    /// How many commits; passed on when it is a whole number.
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) commits: Option<u64>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) title: Option<&'a str>,
    pub(crate) merged: Option<bool>,
    /// Required when merged.
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) merged_at: Option<DateTime<Utc>>,
    /// Required when merged.
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) merge_commit_sha: Option<&'a str>,
    /// Required when closed without merging.
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) closed_at: Option<DateTime<Utc>>,
    /// The labels (`{"name"}`), read when they are a list: the team label.
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) labels: Option<Vec<serde_json::Value>>,
}

/// `pull_request.head`.
#[derive(Deserialize)]
pub(crate) struct Head<'a> {
    #[serde(deserialize_with = "de::text")]
    pub(crate) sha: &'a str,
    #[serde(rename = "ref", default, deserialize_with = "de::optional_text")]
    pub(crate) git_ref: Option<&'a str>,
}

/// `pull_request.base`.
#[derive(Deserialize)]
pub(crate) struct Base<'a> {
    #[serde(rename = "ref", default, deserialize_with = "de::optional_text")]
    pub(crate) git_ref: Option<&'a str>,
}

// ---------------------------------------------------------------------------------------------
// deployment_status

/// What decides whether a `deployment_status` gives anything: its state.
#[derive(Deserialize)]
pub(crate) struct DeploymentState<'a> {
    #[serde(borrow)]
    pub(crate) deployment_status: State<'a>,
}

/// `deployment_status.deployment_status.state`.
#[derive(Deserialize)]
pub(crate) struct State<'a> {
    #[serde(deserialize_with = "de::text")]
    pub(crate) state: &'a str,
}

/// A `deployment_status` that ends a deployment.
#[derive(Deserialize)]
pub(crate) struct DeploymentStatusEvent<'a> {
    #[serde(borrow)]
    pub(crate) repository: Repository<'a>,
    #[serde(borrow)]
    pub(crate) deployment: Deployment<'a>,
    #[serde(borrow)]
    pub(crate) deployment_status: DeploymentStatus<'a>,
}

/// `deployment_status.deployment`.
#[derive(Deserialize)]
pub(crate) struct Deployment<'a> {
    pub(crate) id: u64,
    #[serde(deserialize_with = "de::text")]
    pub(crate) sha: &'a str,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) environment: Option<&'a str>,
    #[serde(rename = "ref", default, deserialize_with = "de::optional_text")]
    pub(crate) git_ref: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) task: Option<&'a str>,
    /// The service `payload.service` names, when the deployment payload is an object naming one.
    #[serde(rename = "payload", default, deserialize_with = "payload_service")]
    pub(crate) service: Option<&'a str>,
}

/// `deployment_status.deployment_status`.
#[derive(Deserialize)]
pub(crate) struct DeploymentStatus<'a> {
    /// What older payloads carry instead of `deployment.environment`.
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) environment: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) updated_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) created_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) description: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) log_url: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) target_url: Option<&'a str>,
}

/// `deployment.payload` is whatever the deployer sent (an object, a string, ...): its `service`
/// is read when it is an object with one, and must then be a non-empty string.
fn payload_service<'de, D: Deserializer<'de>>(data: D) -> Result<Option<&'de str>, D::Error> {
    struct Payload;

    impl<'de> Visitor<'de> for Payload {
        type Value = Option<&'de str>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("any JSON value")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut service = None;
            while let Some(key) = map.next_key::<&str>()? {
                if key == "service" {
                    service = map.next_value::<Option<Service<'de>>>()?.map(|s| s.0);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(service)
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            IgnoredAny.visit_seq(seq).map(|_| None)
        }

        fn visit_str<E: Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_bool<E: Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_i64<E: Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E: Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_f64<E: Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    data.deserialize_any(Payload)
}

/// `deployment.payload.service`: a non-empty string.
struct Service<'a>(&'a str);

impl<'de> Deserialize<'de> for Service<'de> {
    fn deserialize<D: Deserializer<'de>>(data: D) -> Result<Self, D::Error> {
        struct NonEmpty;

        impl<'de> Visitor<'de> for NonEmpty {
            type Value = &'de str;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a non-empty string")
            }

            fn visit_borrowed_str<E: Error>(self, text: &'de str) -> Result<&'de str, E> {
                match text {
                    "" => Err(E::invalid_value(Unexpected::Str(text), &self)),
                    text => Ok(text),
                }
            }
        }

        data.deserialize_str(NonEmpty).map(Service)
    }
}

// ---------------------------------------------------------------------------------------------
// workflow_run

/// A `workflow_run` completed.
#[derive(Deserialize)]
pub(crate) struct WorkflowRunEvent<'a> {
    #[serde(borrow)]
    pub(crate) repository: Repository<'a>,
    #[serde(borrow)]
    pub(crate) workflow_run: WorkflowRun<'a>,
    #[serde(borrow)]
    pub(crate) workflow: Option<Workflow<'a>>,
}

/// `workflow_run.workflow_run`.
#[derive(Deserialize)]
pub(crate) struct WorkflowRun<'a> {
    pub(crate) id: u64,
    /// 1 when absent.
    pub(crate) run_attempt: Option<u64>,
    #[serde(deserialize_with = "de::text")]
    pub(crate) conclusion: &'a str,
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) updated_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) run_started_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) name: Option<&'a str>,
    /// The workflow file, `.github/workflows/<name>.yml`.
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) path: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) html_url: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) head_sha: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) head_branch: Option<&'a str>,
    /// What triggered the run (`push`, `pull_request`, ...).
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) event: Option<&'a str>,
}

/// `workflow_run.workflow`.
#[derive(Deserialize)]
pub(crate) struct Workflow<'a> {
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) name: Option<&'a str>,
}

// ---------------------------------------------------------------------------------------------
// issues

/// What decides whether an `issues` event is about an incident: the label an issue was
/// `labeled` with, and the issue's labels.
#[derive(Deserialize)]
pub(crate) struct IssueLabels<'a> {
    /// Required when `labeled`.
    #[serde(borrow)]
    pub(crate) label: Option<NamedLabel<'a>>,
    #[serde(borrow)]
    pub(crate) issue: Option<IssueState<'a>>,
}

/// `issues.label`.
#[derive(Deserialize)]
pub(crate) struct NamedLabel<'a> {
    #[serde(deserialize_with = "de::text")]
    pub(crate) name: &'a str,
}

/// `issues.issue`, its state and labels.
#[derive(Deserialize)]
pub(crate) struct IssueState<'a> {
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) state: Option<&'a str>,
    #[serde(borrow)]
    pub(crate) labels: Option<Vec<Label<'a>>>,
}

/// A label's name: `{"name": ...}`, or (GitHubSource's older payload types) the name itself.
pub(crate) struct Label<'a>(pub(crate) &'a str);

impl<'de: 'a, 'a> Deserialize<'de> for Label<'a> {
    fn deserialize<D: Deserializer<'de>>(data: D) -> Result<Self, D::Error> {
        label_name(data, "name").map(Label)
    }
}

/// An `issues` event of an incident issue.
#[derive(Deserialize)]
pub(crate) struct IssuesEvent<'a> {
    #[serde(borrow)]
    pub(crate) repository: Repository<'a>,
    #[serde(borrow)]
    pub(crate) issue: Issue<'a>,
}

/// `issues.issue`.
#[derive(Deserialize)]
pub(crate) struct Issue<'a> {
    pub(crate) number: u64,
    #[serde(deserialize_with = "de::time")]
    pub(crate) created_at: DateTime<Utc>,
    /// Required when the event resolves the incident (unless the CloudEvent has a time).
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) closed_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) title: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) html_url: Option<&'a str>,
}

// ---------------------------------------------------------------------------------------------
// release

/// A `release` published.
#[derive(Deserialize)]
pub(crate) struct ReleaseEvent<'a> {
    #[serde(borrow)]
    pub(crate) repository: Repository<'a>,
    #[serde(borrow)]
    pub(crate) release: Release<'a>,
}

/// `release.release`.
#[derive(Deserialize)]
pub(crate) struct Release<'a> {
    pub(crate) id: u64,
    #[serde(deserialize_with = "de::text")]
    pub(crate) tag_name: &'a str,
    #[serde(default, deserialize_with = "de::optional_time")]
    pub(crate) published_at: Option<DateTime<Utc>>,
    #[serde(borrow)]
    pub(crate) author: Option<Author<'a>>,
    /// A branch name, or the released commit's SHA.
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) target_commitish: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) name: Option<&'a str>,
    pub(crate) prerelease: Option<bool>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) html_url: Option<&'a str>,
}

/// `release.release.author`.
#[derive(Deserialize)]
pub(crate) struct Author<'a> {
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) login: Option<&'a str>,
}
