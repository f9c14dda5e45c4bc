//! The data of the Jenkins CDEvents plugin's `pipelinerun.finished` CloudEvents (CDEvents v0.1
//! binding: the subject's fields are CloudEvent extensions, `data` is the plugin's own
//! description of the job and its build), read into the fields the transformer uses.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

/// `data` of a `dev.cdevents.pipelinerun.finished.0.1.0` event.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobRun {
    /// The job's full name (`folder/job`).
    pub(crate) name: String,
    pub(crate) build: Build,
}

/// `data.build`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Build {
    pub(crate) number: u64,
    /// `SUCCESS`, `UNSTABLE`, `FAILURE`, `ABORTED` or `NOT_BUILT`.
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default)]
    pub(crate) full_url: Option<String>,
    #[serde(default)]
    pub(crate) parameters: Option<Parameters>,
    #[serde(default)]
    pub(crate) scm_state: Option<ScmState>,
}

/// The build's parameters: an object of names to values, or a list of `{name, value}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Parameters {
    Map(BTreeMap<String, Value>),
    List(Vec<Parameter>),
}

#[derive(Debug, Deserialize)]
pub(crate) struct Parameter {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) value: Value,
}

impl Parameters {
    /// The parameter `name` as text (a string, number or boolean), if set and not empty.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        let value = match self {
            Parameters::Map(map) => map.get(name),
            Parameters::List(list) => list.iter().find(|p| p.name == name).map(|p| &p.value),
        }?;
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            Value::Bool(flag) => flag.to_string(),
            _ => return None,
        };
        (!text.is_empty()).then_some(text)
    }
}

/// `data.build.scmState`: the checkout the build ran on.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ScmState {
    #[serde(default)]
    pub(crate) url: Option<String>,
    #[serde(default)]
    pub(crate) branch: Option<String>,
    #[serde(default)]
    pub(crate) commit: Option<String>,
}
