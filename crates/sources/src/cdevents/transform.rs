//! Pass-through: a CloudEvent whose type is `dev.cdevents.*` (or `dev.cdeventsx.*`) carries a
//! CDEvent as its data; it is stored as it is, after the router's schema validation (or ingest's, for what
//! `POST /cdevents` took: the router does not check it twice).

use dora_model::cloudevent::{CloudEvent, Data};
use serde_json::Value;

use crate::transform::{Emitted, TransformError, Transformer};

/// The `cdevents` transformer.
pub struct PassThrough;

/// Whether the event is of the CDEvents v0.1 CloudEvents binding (the Jenkins plugin's): a
/// `*.0.1.0` type whose data is the tool's own, not a CDEvent document (no `context`). It
/// carries no CDEvent to pass through; a source that knows the tool reads it (`jenkins`).
fn is_v01_binding(event: &CloudEvent) -> bool {
    event.event_type.ends_with(".0.1.0")
        && matches!(&event.data, Some(Data::Json(Value::Object(data))) if !data.contains_key("context"))
}

/// The pass-through's name in routes.
pub const PASS_THROUGH: &str = "cdevents";

impl Transformer for PassThrough {
    fn name(&self) -> &str {
        PASS_THROUGH
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        if is_v01_binding(event) {
            return Ok(Vec::new());
        }
        match &event.data {
            Some(Data::Json(document @ Value::Object(_))) => {
                Ok(vec![Emitted::Verbatim(document.clone())])
            }
            Some(Data::Text(text)) => serde_json::from_str::<Value>(text)
                .ok()
                .filter(Value::is_object)
                .map(|document| vec![Emitted::Verbatim(document)])
                .ok_or_else(|| TransformError::new("data is text, not a CDEvent JSON object")),
            Some(_) => Err(TransformError::new("data is not a CDEvent JSON object")),
            None => Err(TransformError::new(
                "the event has no data; a CDEvent was expected",
            )),
        }
    }
}
