//! Core v1 Events about Deployments (what the book's ApiServerSource watches): a
//! `ScalingReplicaSet` Event that scales a ReplicaSet up from zero is a rollout. `transform.rs`
//! hands the Events here; they are read through the structs of `payload.rs`.

use dora_model::cloudevent::CloudEvent;
use dora_model::ids::derived_id;
use serde_json::{json, Value};

use super::payload::{Count, EventHead, ScalingEvent};
use super::transform::*;
use crate::common::{missing, read};
use crate::transform::{Emitted, TransformError};

/// `service.deployed` for a core v1 Event reporting that a Deployment scaled a ReplicaSet up from
/// zero; nothing for any other Event.
pub(crate) fn from_event(event: &CloudEvent, data: &Value) -> Result<Vec<Emitted>, TransformError> {
    let EventHead {
        involved_object,
        reason,
        message,
    } = read(data)?;
    let object = involved_object.ok_or_else(|| missing("data.involvedObject"))?;
    if object.kind != Some("Deployment")
        || !in_groups(object.api_version, &DEPLOYMENT_GROUPS)
        || reason != Some("ScalingReplicaSet")
    {
        return Ok(Vec::new());
    }
    let message = message.ok_or_else(|| missing("data.message"))?;
    let (replica_set, from) = match parse_scaling_message(message) {
        Some(Scaling::Up { replica_set, from }) => (replica_set, from),
        Some(Scaling::Down) => return Ok(Vec::new()),
        None => {
            return Err(TransformError::new(format!(
                "data.message {message:?} is not a ScalingReplicaSet message \
                 (\"Scaled up|down replica set <name> to <n> [from <m>]\")"
            )))
        }
    };
    if from.is_some_and(|from| from != 0) {
        return Ok(Vec::new());
    }
    let scaling: ScalingEvent = read(data)?;
    let name = object
        .name
        .ok_or_else(|| missing("data.involvedObject.name"))?;
    let namespace = object
        .namespace
        .or(scaling.metadata.namespace)
        .ok_or_else(|| missing("data.involvedObject.namespace"))?;
    let id = event_id(
        event,
        data,
        &scaling,
        [namespace, name, replica_set],
        from.is_some(),
    )?;
    let timestamp = timestamp(
        event,
        &[
            ("data.lastTimestamp", scaling.last_timestamp),
            ("data.eventTime", scaling.event_time),
            ("data.firstTimestamp", scaling.first_timestamp),
            (CREATION_TIMESTAMP, scaling.metadata.creation_timestamp),
        ],
    )?;

    let mut details = object_details(namespace, name, object.uid);
    details.insert("replicaSet".into(), json!(replica_set));

    let artifact_id = deployment_purl(namespace, name);
    let deployed = ServiceEvent::deployed(id, timestamp, name, namespace, artifact_id, details);
    Ok(vec![deployed.into_cdevent(event)])
}

/// The id of the rollout an Event reports: per Event occurrence (its uid and count) when the
/// message says "from 0", else per ReplicaSet (an older controller's message without "from").
fn event_id(
    event: &CloudEvent,
    data: &Value,
    scaling: &ScalingEvent,
    object: [&str; 3],
    counted: bool,
) -> Result<String, TransformError> {
    let [namespace, name, replica_set] = object;
    let cluster = event.source.as_str();
    let id = if counted {
        let event_key = scaling
            .metadata
            .uid
            .or(scaling.metadata.name)
            .ok_or_else(|| missing("data.metadata.uid"))?;
        let count = read::<Count>(data)?
            .count
            .map_or_else(|| "1".to_owned(), |count| count.to_string());
        derived_id(&[
            "kubernetes",
            "event",
            cluster,
            namespace,
            name,
            replica_set,
            event_key,
            &count,
        ])
    } else {
        derived_id(&["kubernetes", "event", cluster, namespace, name, replica_set])
    };
    Ok(id)
}

/// What a `ScalingReplicaSet` message says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Scaling<'a> {
    /// `Scaled up replica set <rs> to <n>[ from <m>]`.
    Up {
        replica_set: &'a str,
        from: Option<u64>,
    },
    /// `Scaled down replica set <rs> to <n>[ from <m>]`.
    Down,
}

/// Parses the deployment controller's `ScalingReplicaSet` message; `None` if it has another form.
pub(crate) fn parse_scaling_message(message: &str) -> Option<Scaling<'_>> {
    let (up, rest) = if let Some(rest) = message.strip_prefix("Scaled up replica set ") {
        (true, rest)
    } else {
        (false, message.strip_prefix("Scaled down replica set ")?)
    };
    let words: Vec<&str> = rest.split_whitespace().collect();
    let (replica_set, from) = match words.as_slice() {
        [replica_set, "to", to] => {
            to.parse::<u64>().ok()?;
            (*replica_set, None)
        }
        [replica_set, "to", to, "from", from] => {
            to.parse::<u64>().ok()?;
            (*replica_set, Some(from.parse::<u64>().ok()?))
        }
        _ => return None,
    };
    Some(if up {
        Scaling::Up { replica_set, from }
    } else {
        Scaling::Down
    })
}
