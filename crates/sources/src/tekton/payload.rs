//! Reading Tekton's run objects: JSON access with the field's path in every error, so that a
//! malformed run is a failure naming what is wrong (`data.pipelineRun.status.startTime is not
//! a string`).

use chrono::{DateTime, Utc};
use dora_model::time::parse_rfc3339;
use serde_json::Value;

use crate::transform::TransformError;

/// A JSON value with the path it was reached by (for error messages: `data.pipelineRun.x`).
#[derive(Clone)]
pub(crate) struct Json<'a> {
    pub(crate) value: &'a Value,
    pub(crate) path: String,
}

/// An array member, with its path.
pub(crate) struct JsonArray<'a> {
    pub(crate) items: &'a [Value],
    pub(crate) path: String,
}

impl<'a> JsonArray<'a> {
    /// `items[index]`, which must be an object.
    pub(crate) fn item_object(
        &self,
        index: usize,
        item: &'a Value,
    ) -> Result<Json<'a>, TransformError> {
        let path = format!("{}[{index}]", self.path);
        if item.is_object() {
            Ok(Json { value: item, path })
        } else {
            Err(TransformError::new(format!("{path} is not an object")))
        }
    }
}

impl<'a> Json<'a> {
    pub(crate) fn root(value: &'a Value) -> Self {
        Self {
            value,
            path: "data".into(),
        }
    }

    pub(crate) fn child_path(&self, key: &str) -> String {
        if key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            format!("{}.{key}", self.path)
        } else {
            format!("{}[{key:?}]", self.path)
        }
    }

    /// The path of `path` under this value, for messages.
    pub(crate) fn display(&self, path: &[&str]) -> String {
        let mut json = self.clone();
        for key in path {
            json.path = json.child_path(key);
        }
        json.path
    }

    /// A member that must be an object when present (`null` is absent).
    pub(crate) fn object(&self, key: &str) -> Result<Option<Json<'a>>, TransformError> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value @ Value::Object(_)) => Ok(Some(Json {
                value,
                path: self.child_path(key),
            })),
            Some(_) => Err(TransformError::new(format!(
                "{} is not an object",
                self.child_path(key)
            ))),
        }
    }

    pub(crate) fn required_object(&self, key: &str) -> Result<Json<'a>, TransformError> {
        self.object(key)?
            .ok_or_else(|| TransformError::new(format!("{} is missing", self.child_path(key))))
    }

    /// A member that must be a string when present; empty strings are absent.
    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>, TransformError> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.as_str()).filter(|text| !text.is_empty())),
            Some(_) => Err(TransformError::new(format!(
                "{} is not a string",
                self.child_path(key)
            ))),
        }
    }

    pub(crate) fn required_str(&self, key: &str) -> Result<&'a str, TransformError> {
        self.str(key)?
            .ok_or_else(|| TransformError::new(format!("{} is missing", self.child_path(key))))
    }

    /// A member that must be an RFC 3339 timestamp when present.
    pub(crate) fn time(&self, key: &str) -> Result<Option<DateTime<Utc>>, TransformError> {
        match self.str(key)? {
            None => Ok(None),
            Some(text) => parse_rfc3339(text).map(Some).ok_or_else(|| {
                TransformError::new(format!(
                    "{} {text:?} is not an RFC 3339 timestamp",
                    self.child_path(key)
                ))
            }),
        }
    }

    /// Walks to the object holding the last key of `path`.
    pub(crate) fn walk(&self, path: &[&str]) -> Result<Option<Json<'a>>, TransformError> {
        let mut current = self.clone();
        for key in &path[..path.len().saturating_sub(1)] {
            match current.object(key)? {
                Some(next) => current = next,
                None => return Ok(None),
            }
        }
        Ok(Some(current))
    }

    pub(crate) fn path_str(&self, path: &[&str]) -> Result<Option<&'a str>, TransformError> {
        match (self.walk(path)?, path.last()) {
            (Some(holder), Some(key)) => holder.str(key),
            _ => Ok(None),
        }
    }

    pub(crate) fn path_time(&self, path: &[&str]) -> Result<Option<DateTime<Utc>>, TransformError> {
        match (self.walk(path)?, path.last()) {
            (Some(holder), Some(key)) => holder.time(key),
            _ => Ok(None),
        }
    }

    pub(crate) fn path_array(
        &self,
        path: &[&str],
    ) -> Result<Option<JsonArray<'a>>, TransformError> {
        let (Some(holder), Some(key)) = (self.walk(path)?, path.last()) else {
            return Ok(None);
        };
        match holder.value.get(*key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => Ok(Some(JsonArray {
                items,
                path: holder.child_path(key),
            })),
            Some(_) => Err(TransformError::new(format!(
                "{} is not an array",
                holder.child_path(key)
            ))),
        }
    }
}
