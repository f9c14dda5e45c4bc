//! The Argo CD notification as the template of `docs/integrations/argocd.md` renders it: read
//! and checked by [`parse`] (the webhook, which answers `400` naming the field) and read again
//! by the transformer, with errors that carry the JSON pointer of the member at fault.

use chrono::{DateTime, Utc};
use dora_model::ids::derived_id;
use dora_model::time::{format_rfc3339, parse_rfc3339};
use serde_json::{Map, Value};

use super::transform::{DEFAULT_SOURCE, MISSING};

// ---------------------------------------------------------------------------------------------
// The payload

/// A member of the payload that is not what the template renders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// JSON pointer of the member (`/operation/startedAt`; `""` for the whole payload).
    pub pointer: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    pub(crate) fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// `data.operation.startedAt <message>`: for transform errors.
    pub fn describe(&self) -> String {
        let path: String = self
            .pointer
            .split('/')
            .skip(1)
            .map(|segment| {
                let segment = segment.replace("~1", "/").replace("~0", "~");
                match segment.parse::<usize>() {
                    Ok(index) => format!("[{index}]"),
                    Err(_) => format!(".{segment}"),
                }
            })
            .collect();
        format!("data{path} {}", self.message)
    }
}

/// One entry of `history`: a successful sync.
#[derive(Debug, Clone, PartialEq)]
pub struct Rollout<'a> {
    /// The revision deployed ([`pick_revision`] of `revision` and `revisions`).
    pub revision: Option<&'a str>,
    /// When the sync started (`deployStartedAt`; the operation's `startedAt`).
    pub started_at: Option<DateTime<Utc>>,
}

/// A notification, checked.
#[derive(Debug, Clone)]
pub struct Notification<'a> {
    pub trigger: &'a str,
    pub argocd_url: Option<&'a str>,
    pub app_name: &'a str,
    pub app_namespace: Option<&'a str>,
    pub project: Option<&'a str>,
    pub labels: Option<&'a Map<String, Value>>,
    pub annotations: Option<&'a Map<String, Value>>,
    pub destination_server: Option<&'a str>,
    pub destination_name: Option<&'a str>,
    pub destination_namespace: Option<&'a str>,
    pub sync_status: Option<&'a str>,
    pub phase: Option<&'a str>,
    pub message: Option<&'a str>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The revision of the operation (or, without one, of the sync status).
    pub revision: Option<&'a str>,
    /// Every revision named by the operation and the sync status, in order, without repeats.
    pub revisions: Vec<&'a str>,
    pub health_status: Option<&'a str>,
    pub health_message: Option<&'a str>,
    pub health_since: Option<DateTime<Utc>>,
    pub images: Vec<&'a str>,
    /// The last (at most two) successful syncs, oldest first.
    pub history: Vec<Rollout<'a>>,
}

/// Checks a payload as the documented template renders it.
pub fn parse(data: &Value) -> Result<Notification<'_>, FieldError> {
    let Value::Object(root) = data else {
        return Err(FieldError::new(
            "",
            "an Argo CD notification must be a JSON object",
        ));
    };
    let root = Obj {
        map: root,
        pointer: String::new(),
    };
    let trigger = root
        .str("trigger")?
        .ok_or_else(|| FieldError::new("/trigger", "is required (the trigger name)"))?;
    if !trigger
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(FieldError::new(
            "/trigger",
            format!("{trigger:?} is not a trigger name (letters, digits, '-', '_', '.')"),
        ));
    }
    let app = root
        .object("app")?
        .ok_or_else(|| FieldError::new("/app", "is required (an object)"))?;
    let app_name = app
        .str("name")?
        .ok_or_else(|| FieldError::new("/app/name", "is required (the application name)"))?;
    let empty = Obj::empty();
    let destination = root
        .object("destination")?
        .unwrap_or_else(|| empty.at("/destination"));
    let sync = root.object("sync")?.unwrap_or_else(|| empty.at("/sync"));
    let operation = root
        .object("operation")?
        .unwrap_or_else(|| empty.at("/operation"));
    let health = root
        .object("health")?
        .unwrap_or_else(|| empty.at("/health"));

    let (revision, revisions) = revisions(&operation, &sync)?;
    let history = history(&root)?;

    Ok(Notification {
        trigger,
        argocd_url: root.str("argocdUrl")?,
        app_name,
        app_namespace: app.str("namespace")?,
        project: app.str("project")?,
        labels: app.string_map("labels")?,
        annotations: app.string_map("annotations")?,
        destination_server: destination.str("server")?,
        destination_name: destination.str("name")?,
        destination_namespace: destination.str("namespace")?,
        sync_status: sync.str("status")?,
        phase: operation.str("phase")?,
        message: operation.str("message")?,
        started_at: operation.time("startedAt")?,
        finished_at: operation.time("finishedAt")?,
        revision,
        revisions,
        health_status: health.str("status")?,
        health_message: health.str("message")?,
        health_since: health.time("lastTransitionTime")?,
        images: root.str_array("images")?,
        history,
    })
}

/// The revision a sync applied, and every revision the payload names (each once): the
/// operation's, the requested ones, then the sync status's.
fn revisions<'a>(
    operation: &Obj<'a>,
    sync: &Obj<'a>,
) -> Result<(Option<&'a str>, Vec<&'a str>), FieldError> {
    let op_revisions = operation.str_array("revisions")?;
    let requested_revisions = operation.str_array("syncRevisions")?;
    let sync_revisions = sync.str_array("revisions")?;
    let revision = pick_revision(operation.str("revision")?, &op_revisions)
        .or(pick_revision(
            operation.str("syncRevision")?,
            &requested_revisions,
        ))
        .or(pick_revision(sync.str("revision")?, &sync_revisions));
    let mut revisions = Vec::new();
    for candidate in [
        operation.str("revision")?,
        operation.str("syncRevision")?,
        sync.str("revision")?,
    ]
    .into_iter()
    .flatten()
    .chain(op_revisions.iter().copied())
    .chain(requested_revisions.iter().copied())
    .chain(sync_revisions.iter().copied())
    {
        if !revisions.contains(&candidate) {
            revisions.push(candidate);
        }
    }
    Ok((revision, revisions))
}

/// The last (at most two) successful syncs of `history`, oldest first.
fn history<'a>(root: &Obj<'a>) -> Result<Vec<Rollout<'a>>, FieldError> {
    let mut history = Vec::new();
    if let Some(entries) = root.array("history")? {
        let count = entries.len();
        for (index, entry) in entries.iter().enumerate().skip(count.saturating_sub(2)) {
            let pointer = format!("/history/{index}");
            let Value::Object(entry) = entry else {
                return Err(FieldError::new(pointer, "must be an object"));
            };
            let entry = Obj {
                map: entry,
                pointer,
            };
            let listed = entry.str_array("revisions")?;
            history.push(Rollout {
                revision: pick_revision(entry.str("revision")?, &listed),
                started_at: entry.time("deployStartedAt")?,
            });
        }
    }
    Ok(history)
}

/// The revision among a single one and a list (multi-source applications list one per
/// source): the single one when set, else the first commit SHA of the list, else its first.
pub fn pick_revision<'a>(single: Option<&'a str>, listed: &[&'a str]) -> Option<&'a str> {
    single
        .or_else(|| listed.iter().copied().find(|r| is_commit_sha(r)))
        .or_else(|| listed.first().copied())
}

/// 40 (SHA-1) or 64 (SHA-256) hexadecimal digits.
pub(crate) fn is_commit_sha(text: &str) -> bool {
    matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Notification<'_> {
    /// The CloudEvent source: the Argo CD URL without a trailing `/`, or [`DEFAULT_SOURCE`].
    pub fn source(&self) -> String {
        match self.argocd_url.map(|url| url.trim().trim_end_matches('/')) {
            Some(url) if !url.is_empty() => url.to_owned(),
            _ => DEFAULT_SOURCE.to_owned(),
        }
    }

    /// `<app namespace>/<app name>` (the name alone without a namespace).
    pub fn app_key(&self) -> String {
        match self.app_namespace {
            Some(namespace) => format!("{namespace}/{}", self.app_name),
            None => self.app_name.to_owned(),
        }
    }

    /// The CloudEvent id (see the module documentation).
    pub fn event_id(&self) -> String {
        let time = |time: &Option<DateTime<Utc>>| {
            time.as_ref()
                .map_or_else(|| MISSING.to_owned(), format_rfc3339)
        };
        format!(
            "{}/{}/{}/{}/{}",
            self.app_key(),
            self.revision.unwrap_or(MISSING),
            time(&self.started_at),
            self.trigger,
            time(&self.health_since)
        )
    }

    /// The CloudEvent time: the latest of the operation's start and end and the health change.
    pub fn time(&self) -> Option<DateTime<Utc>> {
        [self.started_at, self.finished_at, self.health_since]
            .into_iter()
            .flatten()
            .max()
    }

    /// The context id of the deployment CDEvent of a rollout (sync operation) of this app.
    pub(crate) fn deployment_id(
        &self,
        source: &str,
        revision: Option<&str>,
        started: &DateTime<Utc>,
    ) -> String {
        derived_id(&[
            "argocd",
            source,
            &self.app_key(),
            revision.unwrap_or(""),
            &format_rfc3339(started),
        ])
    }

    pub(crate) fn label(&self, name: &str) -> Option<&str> {
        string_value(self.labels, name)
    }

    pub(crate) fn annotation(&self, name: &str) -> Option<&str> {
        string_value(self.annotations, name)
    }

    /// The first of `keys` that is a label, then the first that is an annotation.
    pub(crate) fn first_key(&self, keys: &[String]) -> Option<&str> {
        keys.iter()
            .find_map(|key| self.label(key))
            .or_else(|| keys.iter().find_map(|key| self.annotation(key)))
    }
}

pub(crate) fn string_value<'a>(map: Option<&'a Map<String, Value>>, name: &str) -> Option<&'a str> {
    map?.get(name)?
        .as_str()
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The image deployed: the first of `images` whose tag is one of `revisions` (ignoring a leading
/// `v`), else the first image.
pub fn chosen_image<'a>(images: &[&'a str], revisions: &[&str]) -> Option<&'a str> {
    let bare = |text: &str| text.strip_prefix('v').unwrap_or(text).to_owned();
    images
        .iter()
        .copied()
        .find(|image| {
            image_tag(image).is_some_and(|tag| revisions.iter().any(|r| bare(r) == bare(tag)))
        })
        .or_else(|| images.first().copied())
}

/// The tag of an image reference (`registry/name:tag@digest`), if it has one.
pub(crate) fn image_tag(image: &str) -> Option<&str> {
    let reference = image.split('@').next()?;
    let (_, tag) = reference.rsplit_once(':')?;
    (!tag.contains('/') && !tag.is_empty()).then_some(tag)
}

// ---------------------------------------------------------------------------------------------
// JSON access with JSON pointers in errors

/// An object of the payload, with its JSON pointer.
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    pointer: String,
}

/// The empty object standing for a missing section.
static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl<'a> Obj<'a> {
    pub(crate) fn empty() -> Obj<'static> {
        Obj {
            map: &EMPTY,
            pointer: String::new(),
        }
    }

    pub(crate) fn at(&self, pointer: &str) -> Obj<'a> {
        Obj {
            map: self.map,
            pointer: pointer.to_owned(),
        }
    }

    pub(crate) fn child(&self, key: &str) -> String {
        format!(
            "{}/{}",
            self.pointer,
            key.replace('~', "~0").replace('/', "~1")
        )
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    /// A member that must be a string when present; empty (or blank) strings are absent.
    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.as_str()).filter(|t| !t.trim().is_empty())),
            Some(_) => Err(FieldError::new(self.child(key), "must be a string")),
        }
    }

    pub(crate) fn object(&self, key: &str) -> Result<Option<Obj<'a>>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj {
                map,
                pointer: self.child(key),
            })),
            Some(_) => Err(FieldError::new(self.child(key), "must be an object")),
        }
    }

    pub(crate) fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, FieldError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(FieldError::new(self.child(key), "must be an array")),
        }
    }

    /// An array of strings (empty strings left out).
    pub(crate) fn str_array(&self, key: &str) -> Result<Vec<&'a str>, FieldError> {
        let Some(items) = self.array(key)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            match item {
                Value::String(text) if text.trim().is_empty() => {}
                Value::String(text) => out.push(text.as_str()),
                _ => {
                    return Err(FieldError::new(
                        format!("{}/{index}", self.child(key)),
                        "must be a string",
                    ))
                }
            }
        }
        Ok(out)
    }

    /// An object whose values must be strings (labels, annotations).
    pub(crate) fn string_map(
        &self,
        key: &str,
    ) -> Result<Option<&'a Map<String, Value>>, FieldError> {
        let Some(object) = self.object(key)? else {
            return Ok(None);
        };
        for (name, value) in object.map {
            if !value.is_string() {
                return Err(FieldError::new(object.child(name), "must be a string"));
            }
        }
        Ok(Some(object.map))
    }

    /// A member that must be an RFC 3339 timestamp when present.
    pub(crate) fn time(&self, key: &str) -> Result<Option<DateTime<Utc>>, FieldError> {
        match self.str(key)? {
            None => Ok(None),
            Some(text) => parse_rfc3339(text).map(Some).ok_or_else(|| {
                FieldError::new(
                    self.child(key),
                    format!("{text:?} is not an RFC 3339 timestamp"),
                )
            }),
        }
    }
}
