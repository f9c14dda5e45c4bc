//! The Argo CD notification as the template of `docs/integrations/argocd.md` renders it, read
//! into serde structs by [`parse`] (with [`crate::common::read_fields`]): by the webhook, which
//! answers `400` naming the member as a JSON pointer, and again by the transformer, whose
//! errors name it as `data.<path>`.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use dora_model::ids::derived_id;
use dora_model::time::format_rfc3339;
use serde::de::{Error, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::transform::{DEFAULT_SOURCE, MISSING};
use crate::common::{de, read_fields, Fault, FieldFault};

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

/// A notification, checked: only what the transformer and the webhook read (the template renders
/// more). Strings that are empty or blank count as absent.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification<'a> {
    #[serde(deserialize_with = "trigger")]
    pub trigger: &'a str,
    #[serde(default, deserialize_with = "word")]
    pub argocd_url: Option<&'a str>,
    #[serde(borrow)]
    pub app: App<'a>,
    #[serde(default, borrow, deserialize_with = "de::or_default")]
    pub destination: Destination<'a>,
    #[serde(default, borrow, deserialize_with = "de::or_default")]
    pub sync: Sync<'a>,
    #[serde(default, borrow, deserialize_with = "de::or_default")]
    pub operation: Operation<'a>,
    #[serde(default, borrow, deserialize_with = "de::or_default")]
    pub health: Health<'a>,
    #[serde(default, deserialize_with = "words")]
    pub images: Vec<&'a str>,
    /// The last (at most two) successful syncs, oldest first; earlier entries are not read.
    #[serde(default, borrow, deserialize_with = "last_two")]
    pub history: Vec<Rollout<'a>>,
}

/// `app`: the Application.
#[derive(Debug, Clone, Deserialize)]
pub struct App<'a> {
    #[serde(deserialize_with = "required_word")]
    pub name: &'a str,
    #[serde(default, deserialize_with = "word")]
    pub namespace: Option<&'a str>,
    #[serde(default, deserialize_with = "word")]
    pub project: Option<&'a str>,
    #[serde(default, borrow)]
    pub labels: Option<BTreeMap<&'a str, &'a str>>,
    #[serde(default, borrow)]
    pub annotations: Option<BTreeMap<&'a str, &'a str>>,
}

/// `destination`: the cluster and namespace the Application deploys to.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Destination<'a> {
    #[serde(default, deserialize_with = "word")]
    pub server: Option<&'a str>,
    #[serde(default, deserialize_with = "word")]
    pub name: Option<&'a str>,
    #[serde(default, deserialize_with = "word")]
    pub namespace: Option<&'a str>,
}

/// `sync`: the sync status.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Sync<'a> {
    #[serde(default, deserialize_with = "word")]
    pub status: Option<&'a str>,
    #[serde(default, deserialize_with = "word")]
    pub revision: Option<&'a str>,
    #[serde(default, deserialize_with = "words")]
    pub revisions: Vec<&'a str>,
}

/// `operation`: the last sync operation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation<'a> {
    #[serde(default, deserialize_with = "word")]
    pub phase: Option<&'a str>,
    #[serde(default, deserialize_with = "word")]
    pub message: Option<&'a str>,
    #[serde(default, deserialize_with = "time")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "time")]
    pub finished_at: Option<DateTime<Utc>>,
    /// The sync result's revision(s).
    #[serde(default, deserialize_with = "word")]
    pub revision: Option<&'a str>,
    #[serde(default, deserialize_with = "words")]
    pub revisions: Vec<&'a str>,
    /// The requested revision(s).
    #[serde(default, deserialize_with = "word")]
    pub sync_revision: Option<&'a str>,
    #[serde(default, deserialize_with = "words")]
    pub sync_revisions: Vec<&'a str>,
}

/// `health`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health<'a> {
    #[serde(default, deserialize_with = "word")]
    pub status: Option<&'a str>,
    #[serde(default, deserialize_with = "word")]
    pub message: Option<&'a str>,
    #[serde(default, deserialize_with = "time")]
    pub last_transition_time: Option<DateTime<Utc>>,
}

/// One entry of `history`: a successful sync.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollout<'a> {
    #[serde(default, deserialize_with = "word")]
    pub revision: Option<&'a str>,
    #[serde(default, deserialize_with = "words")]
    pub revisions: Vec<&'a str>,
    /// When the sync started (the operation's `startedAt`).
    #[serde(default, deserialize_with = "time")]
    pub deploy_started_at: Option<DateTime<Utc>>,
}

impl<'a> Rollout<'a> {
    /// The revision deployed ([`pick_revision`] of `revision` and `revisions`).
    pub fn picked_revision(&self) -> Option<&'a str> {
        pick_revision(self.revision, &self.revisions)
    }
}

/// The members that must be there, and what their error says.
const REQUIRED: [(&str, &str); 3] = [
    ("/trigger", "is required (the trigger name)"),
    ("/app", "is required (an object)"),
    ("/app/name", "is required (the application name)"),
];

/// Checks a payload as the documented template renders it.
pub fn parse(data: &Value) -> Result<Notification<'_>, FieldError> {
    if !data.is_object() {
        return Err(FieldError::new(
            "",
            "an Argo CD notification must be a JSON object",
        ));
    }
    read_fields(data).map_err(|fault| field_error(&fault))
}

/// The [`FieldError`] of a member [`read_fields`] found wrong: `/app/name is required (the
/// application name)`, `/images/1 must be a string`, `/operation/startedAt "x" is not an RFC 3339
/// timestamp`.
fn field_error(fault: &FieldFault) -> FieldError {
    let pointer = fault.pointer();
    let required = REQUIRED.iter().find(|(at, _)| *at == pointer);
    let message = match (&fault.fault, required) {
        (Fault::Missing | Fault::Null(_), Some((_, message))) => (*message).to_owned(),
        (Fault::Missing, None) => "is required".to_owned(),
        (Fault::Null(expected) | Fault::NotA(expected), _) => format!("must be {expected}"),
        (Fault::Other(message), _) => message.clone(),
    };
    FieldError::new(pointer, message)
}

// ---------------------------------------------------------------------------------------------
// Readers of the members (`deserialize_with`)

/// A string that may be absent: absent, `null`, empty or blank is `None`.
fn word<'de, D: Deserializer<'de>>(data: D) -> Result<Option<&'de str>, D::Error> {
    Ok(Option::<&str>::deserialize(data)?.filter(|text| !text.trim().is_empty()))
}

/// A string that must be there ([`word`]).
fn required_word<'de, D: Deserializer<'de>>(data: D) -> Result<&'de str, D::Error> {
    word(data)?.ok_or_else(|| D::Error::custom("is missing"))
}

/// The trigger's name: letters, digits, `-`, `_` and `.`.
fn trigger<'de, D: Deserializer<'de>>(data: D) -> Result<&'de str, D::Error> {
    let trigger = required_word(data)?;
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.';
    if trigger.bytes().all(allowed) {
        Ok(trigger)
    } else {
        Err(D::Error::custom(format!(
            "{trigger:?} is not a trigger name (letters, digits, '-', '_', '.')"
        )))
    }
}

/// An array of strings that may be absent; empty or blank strings are left out.
fn words<'de, D: Deserializer<'de>>(data: D) -> Result<Vec<&'de str>, D::Error> {
    let mut words = Option::<Vec<&str>>::deserialize(data)?.unwrap_or_default();
    words.retain(|text| !text.trim().is_empty());
    Ok(words)
}

/// An RFC 3339 time that may be absent ([`word`]).
fn time<'de, D: Deserializer<'de>>(data: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    de::rfc3339(word(data)?)
}

/// The last two entries of an array that may be absent; the others are not read.
fn last_two<'de, D, T>(data: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    /// The entries of the array.
    struct LastTwo<T>(Vec<T>);

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for LastTwo<T> {
        fn deserialize<D: Deserializer<'de>>(data: D) -> Result<Self, D::Error> {
            data.deserialize_seq(LastTwoVisitor(PhantomData))
        }
    }

    struct LastTwoVisitor<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for LastTwoVisitor<T> {
        type Value = LastTwo<T>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a sequence")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
            // Payloads are read from JSON values, which know their length.
            let skip = items.size_hint().unwrap_or(0).saturating_sub(2);
            for _ in 0..skip {
                items.next_element::<IgnoredAny>()?;
            }
            let mut kept = Vec::new();
            while let Some(item) = items.next_element()? {
                kept.push(item);
            }
            Ok(LastTwo(kept))
        }
    }

    Ok(Option::<LastTwo<T>>::deserialize(data)?.map_or_else(Vec::new, |last| last.0))
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

impl<'a> Notification<'a> {
    /// The CloudEvent source: the Argo CD URL without a trailing `/`, or [`DEFAULT_SOURCE`].
    pub fn source(&self) -> String {
        match self.argocd_url.map(|url| url.trim().trim_end_matches('/')) {
            Some(url) if !url.is_empty() => url.to_owned(),
            _ => DEFAULT_SOURCE.to_owned(),
        }
    }

    /// `<app namespace>/<app name>` (the name alone without a namespace).
    pub fn app_key(&self) -> String {
        match self.app.namespace {
            Some(namespace) => format!("{namespace}/{}", self.app.name),
            None => self.app.name.to_owned(),
        }
    }

    /// The revision a sync applied ([`pick_revision`]): the operation's (its result), else the
    /// requested one, else the sync status's.
    pub fn revision(&self) -> Option<&'a str> {
        let (operation, sync) = (&self.operation, &self.sync);
        pick_revision(operation.revision, &operation.revisions)
            .or(pick_revision(
                operation.sync_revision,
                &operation.sync_revisions,
            ))
            .or(pick_revision(sync.revision, &sync.revisions))
    }

    /// Every revision the payload names, each once: the operation's, the requested one and
    /// the sync status's, then their lists in the same order.
    pub fn revisions(&self) -> Vec<&'a str> {
        let (operation, sync) = (&self.operation, &self.sync);
        let mut revisions = Vec::new();
        for candidate in [operation.revision, operation.sync_revision, sync.revision]
            .into_iter()
            .flatten()
            .chain(operation.revisions.iter().copied())
            .chain(operation.sync_revisions.iter().copied())
            .chain(sync.revisions.iter().copied())
        {
            if !revisions.contains(&candidate) {
                revisions.push(candidate);
            }
        }
        revisions
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
            self.revision().unwrap_or(MISSING),
            time(&self.operation.started_at),
            self.trigger,
            time(&self.health.last_transition_time)
        )
    }

    /// The CloudEvent time: the latest of the operation's start and end and the health change.
    pub fn time(&self) -> Option<DateTime<Utc>> {
        let operation = &self.operation;
        [
            operation.started_at,
            operation.finished_at,
            self.health.last_transition_time,
        ]
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

    /// The Application's label `name`, trimmed, when not blank.
    pub(crate) fn label(&self, name: &str) -> Option<&'a str> {
        tag(self.app.labels.as_ref(), name)
    }

    /// The first of `keys` that is a label, then the first that is an annotation.
    pub(crate) fn first_key(&self, keys: &[String]) -> Option<&'a str> {
        let annotations = self.app.annotations.as_ref();
        keys.iter()
            .find_map(|key| self.label(key))
            .or_else(|| keys.iter().find_map(|key| tag(annotations, key)))
    }
}

/// The value of label (or annotation) `name`, trimmed, when not blank.
fn tag<'a>(tags: Option<&BTreeMap<&'a str, &'a str>>, name: &str) -> Option<&'a str> {
    Some(tags?.get(name)?.trim()).filter(|value| !value.is_empty())
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
