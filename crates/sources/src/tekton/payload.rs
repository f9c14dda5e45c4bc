//! Tekton's run objects (the CloudEvent's `data`), read once with [`crate::common::read`] into
//! the fields the transformer uses (others ignored), so that a malformed run is a failure naming
//! the field (`data.pipelineRun.status.startTime "soon" is not an RFC 3339 timestamp`). Tekton
//! writes times only as RFC 3339; empty strings count as absent.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::common::de;

/// `data` of a `pipelinerun.*` event.
#[derive(Deserialize)]
pub(crate) struct PipelineRunData<'a> {
    #[serde(rename = "pipelineRun", borrow)]
    pub(crate) run: RunObject<'a>,
}

/// `data` of a `taskrun.*` event.
#[derive(Deserialize)]
pub(crate) struct TaskRunData<'a> {
    #[serde(rename = "taskRun", borrow)]
    pub(crate) run: RunObject<'a>,
}

/// A PipelineRun or TaskRun.
#[derive(Deserialize)]
pub(crate) struct RunObject<'a> {
    #[serde(borrow)]
    pub(crate) metadata: Metadata<'a>,
    #[serde(default, borrow, deserialize_with = "de::or_default")]
    pub(crate) spec: Spec<'a>,
    #[serde(default, borrow, deserialize_with = "de::or_default")]
    pub(crate) status: Status<'a>,
}

/// Labels or annotations: a `null` value counts as absent.
pub(crate) type Tags<'a> = BTreeMap<&'a str, Option<&'a str>>;

/// `metadata`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Metadata<'a> {
    #[serde(deserialize_with = "de::text")]
    pub(crate) name: &'a str,
    #[serde(deserialize_with = "de::text")]
    pub(crate) namespace: &'a str,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) uid: Option<&'a str>,
    #[serde(default, borrow)]
    pub(crate) labels: Option<Tags<'a>>,
    #[serde(default, borrow)]
    pub(crate) annotations: Option<Tags<'a>>,
    #[serde(default, deserialize_with = "de::optional_rfc3339")]
    pub(crate) creation_timestamp: Option<DateTime<Utc>>,
}

/// `spec`: the parameters and the pipeline (or task) run.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Spec<'a> {
    #[serde(default, borrow)]
    pub(crate) params: Option<Vec<Param<'a>>>,
    #[serde(default, borrow)]
    pub(crate) pipeline_ref: Option<DefinitionRef<'a>>,
    #[serde(default, borrow)]
    pub(crate) task_ref: Option<DefinitionRef<'a>>,
}

/// A parameter: of the run (`spec.params`, its `value`) or of the pipeline
/// (`status.pipelineSpec.params`, its `default`); values are read only when they are strings.
#[derive(Deserialize)]
pub(crate) struct Param<'a> {
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) name: Option<&'a str>,
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) value: Option<String>,
    #[serde(default, deserialize_with = "de::lenient")]
    pub(crate) default: Option<String>,
}

/// `spec.pipelineRef` / `spec.taskRef`.
#[derive(Deserialize)]
pub(crate) struct DefinitionRef<'a> {
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) name: Option<&'a str>,
}

/// `status`.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Status<'a> {
    #[serde(default, deserialize_with = "de::optional_rfc3339")]
    pub(crate) start_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "de::optional_rfc3339")]
    pub(crate) completion_time: Option<DateTime<Utc>>,
    #[serde(default, borrow)]
    pub(crate) conditions: Option<Vec<Condition<'a>>>,
    /// The pipeline run's pipeline, with its parameters' defaults (task runs' parameters are not
    /// read).
    #[serde(default, borrow)]
    pub(crate) pipeline_spec: Option<PipelineSpec<'a>>,
}

/// A condition of `status.conditions`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Condition<'a> {
    #[serde(rename = "type", default, deserialize_with = "de::optional_text")]
    pub(crate) condition_type: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) reason: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_text")]
    pub(crate) message: Option<&'a str>,
    #[serde(default, deserialize_with = "de::optional_rfc3339")]
    pub(crate) last_transition_time: Option<DateTime<Utc>>,
}

/// `status.pipelineSpec`.
#[derive(Deserialize)]
pub(crate) struct PipelineSpec<'a> {
    #[serde(default, borrow)]
    pub(crate) params: Option<Vec<Param<'a>>>,
}

impl<'a> RunObject<'a> {
    /// The label `name`, when set and not empty.
    pub(crate) fn label(&self, name: &str) -> Option<&'a str> {
        tag(self.metadata.labels.as_ref(), name)
    }

    /// The annotation `name`, when set and not empty.
    pub(crate) fn annotation(&self, name: &str) -> Option<&'a str> {
        tag(self.metadata.annotations.as_ref(), name)
    }

    /// The first of `names` that is a label.
    pub(crate) fn first_label(&self, names: &[String]) -> Option<&'a str> {
        names.iter().find_map(|name| self.label(name))
    }

    /// The string value of a parameter: that of `spec.params` when the run sets it (`None` when
    /// not a string), else the default of the pipeline's parameter of that name.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        let named = |param: &Option<&str>| *param == Some(name);
        let value = match self.spec.params.iter().flatten().find(|p| named(&p.name)) {
            Some(param) => param.value.as_deref(),
            None => self
                .status
                .pipeline_spec
                .iter()
                .flat_map(|spec| spec.params.iter().flatten())
                .find(|p| named(&p.name))
                .and_then(|param| param.default.as_deref()),
        };
        value.filter(|value| !value.is_empty())
    }

    /// The first of `names` that is a string parameter of the run.
    pub(crate) fn first_param(&self, names: &[String]) -> Option<&str> {
        names.iter().find_map(|name| self.param(name))
    }

    /// The `Succeeded` condition, when there is one.
    pub(crate) fn succeeded(&self) -> Option<&Condition<'a>> {
        self.status
            .conditions
            .iter()
            .flatten()
            .find(|condition| condition.condition_type == Some("Succeeded"))
    }
}

fn tag<'a>(tags: Option<&Tags<'a>>, name: &str) -> Option<&'a str> {
    tags?
        .get(name)
        .copied()
        .flatten()
        .filter(|value| !value.is_empty())
}
