//! Validation of CDEvents against the official JSON schemas of their spec version.
//!
//! In the dora-events pipeline this crate guards the CDEvents store from both sides: the
//! `POST /cdevents` endpoint validates every incoming CDEvent before storing it in `cdevents_raw`
//! (and answers 400 naming [`SpecError::field`] and the schema path of the first error), and the
//! transformers validate the CDEvents they emit (release [`EMIT_RELEASE`]) before storing them.
//!
//! ```
//! let event = serde_json::json!({
//!     "context": {
//!         "specversion": "0.5.1",
//!         "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
//!         "source": "/event/source/123",
//!         "type": "dev.cdevents.service.deployed.0.3.0",
//!         "timestamp": "2023-03-20T14:27:05.315384Z"
//!     },
//!     "subject": {
//!         "id": "mySubject123",
//!         "source": "/event/source/123",
//!         "content": {
//!             "environment": { "id": "production" },
//!             "artifactId": "pkg:oci/myapp@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427"
//!         }
//!     }
//! });
//! let valid = dora_spec::validate(&event)?;
//! assert_eq!(valid.release, dora_spec::SpecRelease::V0_5_1);
//! assert_eq!(valid.event_type.subject, "service");
//!
//! let mut broken = event.clone();
//! broken["subject"]["content"].as_object_mut().unwrap().remove("artifactId");
//! let err = dora_spec::validate(&broken).unwrap_err();
//! assert_eq!(err.field(), "/subject/content/artifactId");
//!
//! assert_eq!(
//!     dora_spec::type_for(dora_spec::EMIT_RELEASE, "service", "deployed"),
//!     Some("dev.cdevents.service.deployed.0.3.0"),
//! );
//! # Ok::<(), dora_spec::SpecError>(())
//! ```
//!
//! # Choosing the schema
//!
//! - **Release**: from `context.specversion` (spec 0.5 and later) or else `context.version` (spec
//!   0.4 and earlier), by major.minor: 0.1.x is read as v0.1.2, 0.3.x as v0.3.0, 0.4.x as v0.4.1,
//!   0.5.x as v0.5.1; anything else is [`SpecError::UnsupportedSpecVersion`]. One exception: a
//!   `context.version` (not `specversion`) holding a 0.5.0 pre-release such as `0.5.0-draft` is read
//!   as v0.4.1. The key was renamed to `specversion` in 0.5.0 itself, so such an event predates the
//!   rename and the v0.5.1 schemas would reject its `version` key outright; the v0.4.1 tag's own
//!   custom-event conformance example is exactly such an event.
//! - **Schema**: `dev.cdevents.<subject>.<predicate>.<version>` selects `<subject><predicate>.json`
//!   of that release; the version in the type is then checked by the schema itself (its
//!   `context.type` enum), so a type version that belongs to another release fails with a
//!   [`SpecError::Schema`] at `/context/type`. Custom types (`dev.cdeventsx.…`) use the release's
//!   `custom/schema.json` (v0.4.1 and v0.5.1 only).
//!
//! # What is checked
//!
//! The schemas are the official ones, copied verbatim (see `schemas/NOTICE.md`) and embedded at
//! compile time; nothing is read from disk or network at run time: every schema of a release is
//! registered under its `$id` so the relative `$ref`s (`links/embeddedlinksarray`, …) resolve in
//! memory, and the retriever refuses every URI it is asked for.
//!
//! Formats are asserted (`date-time`, `uri`, `uri-reference`): every official example of v0.3.0,
//! v0.4.1 and v0.5.1 passes with them on, and a `timestamp` that is not RFC 3339 would otherwise be
//! stored and break the metrics later.
//!
//! Validators are compiled once per schema, on first use, and shared between threads.

use std::collections::HashMap;
use std::fmt;
use std::sync::{LazyLock, OnceLock};

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Draft, Resource, Retrieve, Uri, ValidationError, Validator};
use serde_json::{Map, Value};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/schemas.rs"));
}

/// Which CDEvents release a schema set belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecRelease {
    V0_1_2,
    V0_3_0,
    V0_4_1,
    V0_5_1,
}

impl SpecRelease {
    /// Every release this build ships, oldest first.
    pub const ALL: [SpecRelease; 4] = [
        SpecRelease::V0_1_2,
        SpecRelease::V0_3_0,
        SpecRelease::V0_4_1,
        SpecRelease::V0_5_1,
    ];

    /// The release number, e.g. `"0.5.1"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            SpecRelease::V0_1_2 => "0.1.2",
            SpecRelease::V0_3_0 => "0.3.0",
            SpecRelease::V0_4_1 => "0.4.1",
            SpecRelease::V0_5_1 => "0.5.1",
        }
    }

    /// The release that reads a spec version string, by its major.minor (`"0.4.0"` -> v0.4.1,
    /// `"0.5.0-draft"` -> v0.5.1). None for versions this build does not ship (0.2, 0.6, ...).
    pub fn for_spec_version(version: &str) -> Option<SpecRelease> {
        let mut parts = version.splitn(3, '.');
        let major = parts.next()?;
        let minor = parts.next()?;
        // The minor may carry a pre-release suffix when there is no patch ("0.5-draft").
        let minor = minor.split(['-', '+']).next()?;
        let number = |s: &str| -> Option<u64> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        match (number(major)?, number(minor)?) {
            (0, 1) => Some(SpecRelease::V0_1_2),
            (0, 3) => Some(SpecRelease::V0_3_0),
            (0, 4) => Some(SpecRelease::V0_4_1),
            (0, 5) => Some(SpecRelease::V0_5_1),
            _ => None,
        }
    }

    /// The context key that carries the spec version in this release.
    pub fn version_key(&self) -> &'static str {
        match self {
            SpecRelease::V0_1_2 | SpecRelease::V0_3_0 | SpecRelease::V0_4_1 => "version",
            SpecRelease::V0_5_1 => "specversion",
        }
    }

    /// Directory of this release under `schemas/`.
    fn dir(self) -> &'static str {
        match self {
            SpecRelease::V0_1_2 => "v0.1.2",
            SpecRelease::V0_3_0 => "v0.3.0",
            SpecRelease::V0_4_1 => "v0.4.1",
            SpecRelease::V0_5_1 => "v0.5.1",
        }
    }

    fn from_dir(dir: &str) -> Option<SpecRelease> {
        SpecRelease::ALL.into_iter().find(|r| r.dir() == dir)
    }
}

impl fmt::Display for SpecRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed CDEvents type string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdeventType {
    /// True for the `dev.cdeventsx.` namespace (custom events).
    pub custom: bool,
    pub subject: String,
    pub predicate: String,
    /// The event's own version, e.g. `"0.3.0"` (not the spec version).
    pub version: String,
}

impl fmt::Display for CdeventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let namespace = if self.custom { CUSTOM_PREFIX } else { PREFIX };
        write!(
            f,
            "{namespace}{}.{}.{}",
            self.subject, self.predicate, self.version
        )
    }
}

const PREFIX: &str = "dev.cdevents.";
const CUSTOM_PREFIX: &str = "dev.cdeventsx.";

/// Parses `dev.cdevents.service.deployed.0.3.0` (and `dev.cdeventsx.tool-resource.created.0.1.0`); None when malformed.
///
/// Subject and predicate are ASCII letters, digits and `-`; the version is three dot-separated
/// numbers, the last of which may carry a pre-release suffix (`0.3.0-draft`). Whether the type
/// exists is the schemas' business, not this function's.
pub fn parse_type(type_str: &str) -> Option<CdeventType> {
    let (custom, rest) = if let Some(rest) = type_str.strip_prefix(CUSTOM_PREFIX) {
        (true, rest)
    } else {
        (false, type_str.strip_prefix(PREFIX)?)
    };
    let mut parts = rest.splitn(5, '.');
    let subject = parts.next()?;
    let predicate = parts.next()?;
    let major = parts.next()?;
    let minor = parts.next()?;
    let patch = parts.next()?;

    let is_name = |s: &str| {
        !s.is_empty()
            && !s.starts_with('-')
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let patch_ok = match patch.split_once('-') {
        Some((number, pre)) => {
            is_number(number)
                && !pre.is_empty()
                && pre.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        }
        None => is_number(patch),
    };
    if !(is_name(subject) && is_name(predicate) && is_number(major) && is_number(minor) && patch_ok)
    {
        return None;
    }
    Some(CdeventType {
        custom,
        subject: subject.to_owned(),
        predicate: predicate.to_owned(),
        version: format!("{major}.{minor}.{patch}"),
    })
}

/// What a valid event turned out to be.
#[derive(Debug, Clone)]
pub struct Validated {
    pub release: SpecRelease,
    pub event_type: CdeventType,
}

/// Why an event is not a valid CDEvent.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The document is not a JSON object with a `context` object.
    #[error("not a CDEvent: {detail}")]
    NotACdevent { detail: String },
    /// `context.type` is missing or not a CDEvents type.
    #[error("`context.type` is missing or not a CDEvents type `dev.cdevents.<subject>.<predicate>.<version>` (found {found:?})")]
    BadType { found: String },
    /// The spec version is not one this build ships.
    #[error("unsupported CDEvents spec version {found:?} (supported: {SUPPORTED})")]
    UnsupportedSpecVersion { found: String },
    /// The type is not defined by that release.
    #[error("type {event_type:?} is not defined by CDEvents {release}")]
    UnknownType {
        event_type: String,
        release: SpecRelease,
    },
    /// The event breaks its schema; `instance_path` is a JSON pointer into the event, `schema_path` into the schema.
    #[error(
        "event breaks its schema at {instance_path:?}: {message} (schema path {schema_path:?})"
    )]
    Schema {
        instance_path: String,
        schema_path: String,
        message: String,
    },
}

const SUPPORTED: &str = "0.1.x (read as 0.1.2), 0.3.x (0.3.0), 0.4.x (0.4.1), 0.5.x (0.5.1)";

impl SpecError {
    /// JSON pointer of the offending field in the event, e.g. "/context/type" or "/subject/content/artifactId"
    ///
    /// - [`SpecError::NotACdevent`]: `/context`, the object every CDEvent must have (also when the
    ///   document is not an object at all).
    /// - [`SpecError::BadType`], [`SpecError::UnknownType`]: `/context/type`.
    /// - [`SpecError::UnsupportedSpecVersion`]: `/context/version` when the value found reads as a
    ///   spec older than 0.5, else `/context/specversion` (the key the spec of that version uses).
    /// - [`SpecError::Schema`]: its `instance_path`. For a missing required property or an
    ///   unexpected one, that path already names the property itself, not its parent object.
    pub fn field(&self) -> String {
        match self {
            SpecError::NotACdevent { .. } => "/context".to_owned(),
            SpecError::BadType { .. } | SpecError::UnknownType { .. } => "/context/type".to_owned(),
            SpecError::UnsupportedSpecVersion { found } => {
                if legacy_version_key(found) {
                    "/context/version".to_owned()
                } else {
                    "/context/specversion".to_owned()
                }
            }
            SpecError::Schema { instance_path, .. } => instance_path.clone(),
        }
    }
}

/// Whether a spec version string belongs to the era of `context.version` (before 0.5).
fn legacy_version_key(version: &str) -> bool {
    let mut parts = version.split('.');
    let major = parts.next().and_then(|s| s.parse::<u64>().ok());
    let minor = parts
        .next()
        .and_then(|s| s.split(['-', '+']).next())
        .and_then(|s| s.parse::<u64>().ok());
    matches!((major, minor), (Some(0), Some(minor)) if minor < 5)
}

/// The release transformers emit.
pub const EMIT_RELEASE: SpecRelease = SpecRelease::V0_5_1;

/// The full type string a release uses for subject+predicate, e.g. type_for(V0_5_1, "service", "deployed") == Some("dev.cdevents.service.deployed.0.3.0"), read from the shipped schema's `context.type.enum`.
pub fn type_for(release: SpecRelease, subject: &str, predicate: &str) -> Option<&'static str> {
    let catalog: &'static Catalog = &CATALOG;
    catalog
        .get(release, &event_schema_key(subject, predicate))?
        .event_type
        .as_deref()
}

/// Validates one CDEvent (the JSON document with `context`, `subject`, ...).
pub fn validate(event: &Value) -> Result<Validated, SpecError> {
    let Some(document) = event.as_object() else {
        return Err(SpecError::NotACdevent {
            detail: format!("the document is {}, not a JSON object", json_kind(event)),
        });
    };
    let context = match document.get("context") {
        Some(Value::Object(context)) => context,
        Some(other) => {
            return Err(SpecError::NotACdevent {
                detail: format!("`context` is {}, not an object", json_kind(other)),
            })
        }
        None => {
            return Err(SpecError::NotACdevent {
                detail: "the document has no `context` object".to_owned(),
            })
        }
    };

    let event_type = match context.get("type") {
        Some(Value::String(type_str)) => {
            parse_type(type_str).ok_or_else(|| SpecError::BadType {
                found: type_str.clone(),
            })?
        }
        Some(other) => {
            return Err(SpecError::BadType {
                found: other.to_string(),
            })
        }
        None => {
            return Err(SpecError::BadType {
                found: String::new(),
            })
        }
    };
    let release = release_of(context)?;

    let key = if event_type.custom {
        CUSTOM_KEY.to_owned()
    } else {
        event_schema_key(&event_type.subject, &event_type.predicate)
    };
    let Some(schema) = CATALOG
        .get(release, &key)
        .filter(|schema| event_type.custom || schema.event_type.is_some())
    else {
        return Err(SpecError::UnknownType {
            event_type: event_type.to_string(),
            release,
        });
    };

    let validator = schema.validator(&CATALOG)?;
    if validator.is_valid(event) {
        return Ok(Validated {
            release,
            event_type,
        });
    }
    Err(first_error(validator, event))
}

/// Compiles the validator of every event schema of every release now rather than on first use
/// (call it at start-up to take the compile cost off the first requests). Returns how many
/// validators are ready; the error names the first embedded schema that fails to load or compile,
/// which is a build defect (the crate's tests compile them all).
pub fn compile_all() -> Result<usize, String> {
    let catalog: &Catalog = &CATALOG;
    if let Some(problem) = catalog.problems.first() {
        return Err(problem.clone());
    }
    let mut compiled = 0;
    for release in SpecRelease::ALL {
        for (key, schema) in catalog.schemas_of(release) {
            if schema.event_type.is_none() && key != CUSTOM_KEY {
                continue; // link schemas are only referenced
            }
            schema.validator(catalog).map_err(|e| e.to_string())?;
            compiled += 1;
        }
    }
    Ok(compiled)
}

// ---------------------------------------------------------------------------------------------
// Release selection

fn release_of(context: &Map<String, Value>) -> Result<SpecRelease, SpecError> {
    let (key, value) = match (context.get("specversion"), context.get("version")) {
        (Some(value), _) => ("specversion", value),
        (None, Some(value)) => ("version", value),
        (None, None) => {
            return Err(SpecError::UnsupportedSpecVersion {
                found: String::new(),
            })
        }
    };
    let Value::String(version) = value else {
        return Err(SpecError::UnsupportedSpecVersion {
            found: format!("{value} (not a string)"),
        });
    };
    let release = SpecRelease::for_spec_version(version).ok_or_else(|| {
        SpecError::UnsupportedSpecVersion {
            found: version.clone(),
        }
    })?;
    // See the crate docs: `version` was renamed `specversion` by 0.5.0, so a 0.5.0 pre-release
    // under the old key is the v0.4 format.
    if key == "version" && release == SpecRelease::V0_5_1 && version.starts_with("0.5.0-") {
        return Ok(SpecRelease::V0_4_1);
    }
    Ok(release)
}

// ---------------------------------------------------------------------------------------------
// Embedded schemas

/// Catalog key of the custom-event schema (`custom/schema.json`).
const CUSTOM_KEY: &str = "custom/schema";

/// Catalog key of an event schema: its path in the release without `.json`.
fn event_schema_key(subject: &str, predicate: &str) -> String {
    format!("schemas/{subject}{predicate}")
}

struct Schema {
    release: SpecRelease,
    /// Path inside the release directory, e.g. `schemas/servicedeployed.json`.
    path: &'static str,
    contents: Value,
    /// `context.type.enum[0]`, for event schemas.
    event_type: Option<String>,
    validator: OnceLock<Result<Validator, String>>,
}

impl Schema {
    fn validator(&self, catalog: &Catalog) -> Result<&Validator, SpecError> {
        self.validator
            .get_or_init(|| compile(catalog.resources(self.release), &self.contents))
            .as_ref()
            .map_err(|message| SpecError::Schema {
                instance_path: String::new(),
                schema_path: String::new(),
                message: format!(
                    "internal error: the embedded schema {}/{} does not compile: {message}",
                    self.release.dir(),
                    self.path
                ),
            })
    }
}

#[derive(Default)]
struct Catalog {
    /// Per release: catalog key (path without `.json`) -> schema.
    schemas: HashMap<SpecRelease, HashMap<String, Schema>>,
    /// Per release: every schema as `($id, contents)`, registered with each validator.
    resources: HashMap<SpecRelease, Vec<(String, Value)>>,
    /// Embedded files that could not be loaded (none in a tested build).
    problems: Vec<String>,
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(Catalog::load);

impl Catalog {
    fn load() -> Catalog {
        let mut catalog = Catalog::default();
        for &(dir, path, text) in embedded::SCHEMA_FILES {
            let Some(release) = SpecRelease::from_dir(dir) else {
                catalog
                    .problems
                    .push(format!("{dir}/{path}: unknown release directory"));
                continue;
            };
            let contents: Value = match serde_json::from_str(text) {
                Ok(contents) => contents,
                Err(e) => {
                    catalog
                        .problems
                        .push(format!("{dir}/{path}: not JSON: {e}"));
                    continue;
                }
            };
            let Some(id) = contents.get("$id").and_then(Value::as_str) else {
                catalog.problems.push(format!("{dir}/{path}: no `$id`"));
                continue;
            };
            catalog
                .resources
                .entry(release)
                .or_default()
                .push((id.to_owned(), contents.clone()));
            let event_type = contents
                .pointer("/properties/context/properties/type/enum/0")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let key = path.strip_suffix(".json").unwrap_or(path).to_owned();
            catalog.schemas.entry(release).or_default().insert(
                key,
                Schema {
                    release,
                    path,
                    contents,
                    event_type,
                    validator: OnceLock::new(),
                },
            );
        }
        catalog
    }

    fn get(&self, release: SpecRelease, key: &str) -> Option<&Schema> {
        self.schemas.get(&release)?.get(key)
    }

    fn schemas_of(&self, release: SpecRelease) -> impl Iterator<Item = (&String, &Schema)> {
        self.schemas.get(&release).into_iter().flatten()
    }

    fn resources(&self, release: SpecRelease) -> &[(String, Value)] {
        self.resources.get(&release).map_or(&[], Vec::as_slice)
    }
}

/// Refuses every retrieval: all references must resolve to the embedded schemas.
struct Offline;

impl Retrieve for Offline {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!("{uri} is not an embedded CDEvents schema (no network or file access)").into())
    }
}

fn compile(resources: &[(String, Value)], schema: &Value) -> Result<Validator, String> {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .with_retriever(Offline)
        .with_resources(
            resources
                .iter()
                .map(|(id, contents)| (id.clone(), Resource::from_contents(contents.clone()))),
        )
        .build(schema)
        .map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Picks the error to report: the first one, unless `context.type` itself is wrong, which
/// explains the others (they come from checking the event against another version's schema).
fn first_error(validator: &Validator, event: &Value) -> SpecError {
    let mut chosen: Option<ValidationError<'_>> = None;
    for error in validator.iter_errors(event) {
        let at_type = error.instance_path().as_str() == "/context/type";
        if chosen.is_none() || at_type {
            chosen = Some(error);
        }
        if at_type {
            break;
        }
    }
    match chosen {
        Some(error) => schema_error(&error),
        None => SpecError::Schema {
            instance_path: String::new(),
            schema_path: String::new(),
            message: "the event does not match its schema".to_owned(),
        },
    }
}

/// Longest message kept verbatim; longer ones (which quote big parts of the event) are masked.
const MAX_MESSAGE: usize = 300;

fn schema_error(error: &ValidationError<'_>) -> SpecError {
    let mut instance_path = error.instance_path().as_str().to_owned();
    match error.kind() {
        ValidationErrorKind::Required {
            property: Value::String(property),
        } => push_pointer_token(&mut instance_path, property),
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            if let Some(property) = unexpected.first() {
                push_pointer_token(&mut instance_path, property);
            }
        }
        _ => {}
    }
    let mut message = error.to_string();
    if message.len() > MAX_MESSAGE {
        message = error.masked().to_string();
    }
    SpecError::Schema {
        instance_path,
        schema_path: error.schema_path().as_str().to_owned(),
        message,
    }
}

/// Appends one reference token to a JSON pointer (RFC 6901 escaping).
fn push_pointer_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    pointer.push_str(&token.replace('~', "~0").replace('/', "~1"));
}

use dora_model::json_kind;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_schema_loads_and_every_event_schema_compiles() {
        let compiled = compile_all().unwrap();
        // v0.1.2, v0.3.0, then v0.4.1 and v0.5.1 with their custom schema each
        assert_eq!(compiled, 33 + 39 + (45 + 1) + (45 + 1));
    }

    #[test]
    fn every_event_schema_declares_exactly_one_type_matching_its_file() {
        for release in SpecRelease::ALL {
            for (key, schema) in CATALOG.schemas_of(release) {
                let Some(name) = key.strip_prefix("schemas/") else {
                    continue;
                };
                if name.starts_with("links/") {
                    assert!(schema.event_type.is_none(), "{release} {key}");
                    continue;
                }
                let event_type = schema.event_type.as_deref().unwrap();
                let parsed = parse_type(event_type).unwrap();
                assert_eq!(format!("{}{}", parsed.subject, parsed.predicate), name);
                let types = schema
                    .contents
                    .pointer("/properties/context/properties/type/enum")
                    .and_then(Value::as_array)
                    .unwrap();
                assert_eq!(types.len(), 1, "{release} {key}");
            }
        }
    }

    #[test]
    fn spec_versions_map_by_major_minor() {
        use SpecRelease::*;
        let cases = [
            ("0.1.0", Some(V0_1_2)),
            ("0.1.2", Some(V0_1_2)),
            ("0.3.0", Some(V0_3_0)),
            ("0.4.0", Some(V0_4_1)),
            ("0.4.1", Some(V0_4_1)),
            ("0.5.0-draft", Some(V0_5_1)),
            ("0.5.1", Some(V0_5_1)),
            ("0.5", Some(V0_5_1)),
            ("0.2.0", None),
            ("0.6.0", None),
            ("1.0.0", None),
            ("v0.5.1", None),
            ("", None),
            ("0", None),
        ];
        for (version, expected) in cases {
            assert_eq!(
                SpecRelease::for_spec_version(version),
                expected,
                "{version}"
            );
        }
    }

    #[test]
    fn references_outside_the_embedded_schemas_are_never_fetched() {
        let schema = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": "https://cdevents.dev/0.5.1/schema/links/not-shipped"
        });
        let err = compile(CATALOG.resources(SpecRelease::V0_5_1), &schema).unwrap_err();
        assert!(err.contains("not an embedded CDEvents schema"), "{err}");
    }

    #[test]
    fn json_pointer_tokens_are_escaped() {
        let mut pointer = "/context".to_owned();
        push_pointer_token(&mut pointer, "a/b~c");
        assert_eq!(pointer, "/context/a~1b~0c");
    }
}
