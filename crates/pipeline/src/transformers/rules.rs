//! User-defined rules: transformers written in the configuration file, in jq syntax (the `jaq`
//! crates), for tools dora-events has no built-in transformer for.
//!
//! ```toml
//! [[rules]]
//! name = "jenkins-deploy"
//! match = '.type == "io.jenkins.build.finished" and .data.build.status == "SUCCESS"'
//! emit = '''
//! { context: { type: "dev.cdevents.service.deployed.0.3.0" },
//!   subject: { id: .data.name,
//!              content: { environment: { id: "production" },
//!                         artifactId: "pkg:generic/\(.data.name)@\(.data.build.number)" } } }
//! '''
//! ```
//!
//! Both expressions read the whole CloudEvent in its structured JSON form (`.type`, `.source`,
//! `.data`, extensions, ...). `match` (optional) decides whether the rule applies: its first
//! output is truthy (not `false` or `null`). `emit` produces the CDEvents: each output is one
//! CDEvent object or an array of them (`null` and `empty` produce none).
//!
//! The rule fills in what an emitted CDEvent leaves out of its `context`: `specversion` (the
//! release dora-events emits), `source` (the CloudEvent's), `timestamp` (the CloudEvent's
//! `time`) and `id`, derived from the rule's name, the CloudEvent's source and id and the
//! position of the CDEvent among the rule's output, so processing the event again gives the same
//! ids and adds nothing. A `timestamp` in a tool's own format (`2016-08-12 15:23:28 UTC`, Unix
//! seconds or milliseconds, ...) is rewritten as RFC 3339. The router then validates each CDEvent
//! against the schema, as it does for the built-in transformers.
//!
//! Each rule is compiled once, when the routing table is built; errors name the rule and point at
//! the offending position in the expression. A rule that fails on an event (a jq error, an output
//! that is not an object) is a [`TransformError`], recorded as a failure of the transformer
//! `rule:<name>`.
//!
//! The rules get jaq's standard library (`select`, `map`, `test`, `sub`, `capture`, `split`,
//! `fromdate`, `todate`, `strptime`, `tojson`, `@base64`, ...) and two filters of dora-events:
//! `timestamp` (a time in any format tools write -> RFC 3339 in UTC) and `oci_purl` (a container
//! image -> its `pkg:oci` purl, as the Kubernetes transformer writes it); nothing reads the
//! environment or the clock (`env`, `$ENV`, `now`, `localtime`), and `halt` is an error: a rule is a
//! pure function of the event, like every transformer. A rule runs to its end: one that loops
//! forever holds the router up, which `dora-events transform` shows before it is deployed.

use chrono::{DateTime, Utc};
use dora_model::cloudevent::CloudEvent;
use dora_model::ids::derived_id;
use dora_model::json_kind as kind;
use dora_model::time::format_rfc3339;
use jaq_core::data::JustLut;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::native::{bome, v, Fun};
use jaq_core::{Compiler, Ctx, Cv, ValXs, Vars};
use jaq_json::{Num, Val};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use dora_sources::common::time_value;
use dora_sources::kubernetes::oci_purl;
use dora_sources::transform::{Emitted, TransformError, Transformer, EMIT_SPEC_VERSION};

/// The most CDEvents one rule may emit for one event: more is surely a mistake in the rule (a
/// runaway `range` or `recurse`), and is a failure rather than a flood.
pub const MAX_EMITTED: usize = 1000;

/// Native filters left out of the rules: a rule must be a pure function of the event, and must
/// not read the process's environment (where secrets live, `DORA_WEBHOOKS__*`).
const EXCLUDED_FILTERS: [&str; 4] = ["env", "now", "localtime", "strflocaltime"];

/// One `[[rules]]` entry of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Routes name the rule as `rule:<name>`; also part of every id it derives. Letters, digits,
    /// `-`, `_` and `.`.
    pub name: String,
    /// jq expression on the CloudEvent: the rule applies when its first output is truthy.
    /// Absent: the rule applies to every event its routes send it.
    #[serde(rename = "match", default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
    /// jq expression on the CloudEvent producing CDEvent objects (or arrays of them).
    pub emit: String,
}

/// A rule that does not compile or is misnamed, naming the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule:?}: {message}")]
pub struct RuleError {
    /// The rule's `name`.
    pub rule: String,
    /// What is wrong, with the position in the expression when there is one.
    pub message: String,
}

type Program = jaq_core::Filter<JustLut<Val>>;

/// A compiled rule: the transformer `rule:<name>`.
pub struct Rule {
    /// `rule:<name>`, as routes and failures name it.
    transformer: String,
    /// The rule's own name.
    rule: String,
    matcher: Option<Program>,
    emitter: Program,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule").field("name", &self.rule).finish()
    }
}

/// True for the names a rule may have.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Rule {
    /// Compiles both expressions of a rule.
    pub fn compile(config: &RuleConfig) -> Result<Self, RuleError> {
        let fail = |message: String| RuleError {
            rule: config.name.clone(),
            message,
        };
        if !is_valid_name(&config.name) {
            return Err(fail(
                "name must be letters, digits, '-', '_' or '.' (routes name it as rule:<name>)"
                    .into(),
            ));
        }
        let matcher = match &config.matches {
            Some(code) => Some(compile(code).map_err(|e| fail(format!("match: {e}")))?),
            None => None,
        };
        let emitter = compile(&config.emit).map_err(|e| fail(format!("emit: {e}")))?;
        Ok(Self {
            transformer: format!("rule:{}", config.name),
            rule: config.name.clone(),
            matcher,
            emitter,
        })
    }

    /// The rule's own name (without `rule:`).
    pub fn rule_name(&self) -> &str {
        &self.rule
    }

    fn applies(&self, input: &Val) -> Result<bool, TransformError> {
        let Some(matcher) = &self.matcher else {
            return Ok(true);
        };
        match run(matcher, input.clone()).next() {
            None => Ok(false),
            Some(Ok(value)) => Ok(!matches!(value, Val::Null | Val::Bool(false))),
            Some(Err(e)) => Err(TransformError::new(format!("match: {e}"))),
        }
    }

    fn emitted(&self, input: Val) -> Result<Vec<Map<String, Value>>, TransformError> {
        let fail = |message: String| TransformError::new(format!("emit: {message}"));
        let mut documents = Vec::new();
        for output in run(&self.emitter, input) {
            let value = to_json(output.map_err(fail)?).map_err(fail)?;
            let items = match value {
                Value::Array(items) => items,
                Value::Null => Vec::new(),
                other => vec![other],
            };
            for item in items {
                match item {
                    Value::Object(document) => documents.push(document),
                    Value::Null => {}
                    other => {
                        return Err(fail(format!(
                            "produced {}, not a CDEvent object",
                            kind(&other)
                        )))
                    }
                }
                if documents.len() > MAX_EMITTED {
                    return Err(fail(format!("produced more than {MAX_EMITTED} CDEvents")));
                }
            }
        }
        Ok(documents)
    }

    /// Fills in the context attributes the rule left out (see the module documentation).
    fn complete(
        &self,
        event: &CloudEvent,
        position: usize,
        document: &mut Map<String, Value>,
    ) -> Result<(), TransformError> {
        let context = document
            .entry("context")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(context) = context else {
            return Err(TransformError::new(format!(
                "CDEvent {position}: context is {}, not an object",
                kind(context)
            )));
        };
        let absent =
            |context: &Map<String, Value>, key: &str| context.get(key).is_none_or(Value::is_null);
        if absent(context, "specversion") {
            context.insert(
                "specversion".into(),
                Value::String(EMIT_SPEC_VERSION.into()),
            );
        }
        if absent(context, "id") {
            let id = derived_id(&[
                "rule",
                &self.rule,
                &event.source,
                &event.id,
                &position.to_string(),
            ]);
            context.insert("id".into(), Value::String(id));
        }
        if absent(context, "source") {
            context.insert("source".into(), Value::String(event.source.clone()));
        }
        let timestamp: DateTime<Utc> = match context.get("timestamp") {
            None | Some(Value::Null) => event.time.ok_or_else(|| {
                TransformError::new(format!(
                    "CDEvent {position}: context.timestamp is not set and the CloudEvent has no time"
                ))
            })?,
            Some(value) => time_value(value).ok_or_else(|| {
                TransformError::new(format!(
                    "CDEvent {position}: context.timestamp {value} is not a timestamp"
                ))
            })?,
        };
        context.insert(
            "timestamp".into(),
            Value::String(format_rfc3339(&timestamp)),
        );
        Ok(())
    }
}

impl Transformer for Rule {
    fn name(&self) -> &str {
        &self.transformer
    }

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Emitted>, TransformError> {
        let input = to_val(&event.to_json());
        if !self.applies(&input)? {
            return Ok(Vec::new());
        }
        let mut documents = self.emitted(input)?;
        for (position, document) in documents.iter_mut().enumerate() {
            self.complete(event, position, document)?;
        }
        // What a rule makes is the user's document: it is validated and stored as written.
        Ok(documents
            .into_iter()
            .map(|document| Emitted::Verbatim(Value::Object(document)))
            .collect())
    }
}

// ---------------------------------------------------------------------------------------------
// jaq

/// Parses and compiles one expression; the error says what and where.
fn compile(code: &str) -> Result<Program, String> {
    let arena = Arena::default();
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let modules = Loader::new(defs)
        .load(&arena, File { code, path: () })
        .map_err(|errors| {
            let mut found = Vec::new();
            for (_file, error) in errors {
                match error {
                    jaq_core::load::Error::Io(errors) => found.extend(
                        errors
                            .into_iter()
                            .map(|(path, message)| (path, format!("cannot import: {message}"))),
                    ),
                    jaq_core::load::Error::Lex(errors) => found.extend(
                        errors
                            .into_iter()
                            .map(|(expected, at)| (at, format!("expected {}", expected.as_str()))),
                    ),
                    jaq_core::load::Error::Parse(errors) => {
                        found.extend(errors.into_iter().map(|(expected, at)| {
                            let what = if at.is_empty() {
                                "the end".to_owned()
                            } else {
                                format!("{at:?}")
                            };
                            (at, format!("expected {}, found {what}", expected.as_str()))
                        }))
                    }
                }
            }
            describe(code, found)
        })?;
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .filter(|(name, _, _)| !EXCLUDED_FILTERS.contains(name))
        .chain(dora_funs());
    Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errors| {
            let found = errors
                .into_iter()
                .flat_map(|(_file, errors)| errors)
                .map(|(name, undefined)| {
                    let what = match undefined {
                        jaq_core::compile::Undefined::Filter(arity) => {
                            format!("undefined filter {name}/{arity}")
                        }
                        other => format!("undefined {} {name}", other.as_str()),
                    };
                    (name, what)
                })
                .collect();
            describe(code, found)
        })
}

/// The filters dora-events adds to jq's: the helpers its built-in transformers use.
///
/// * `timestamp`: a time in any format tools write (RFC 3339, `2016-08-12 15:23:28 UTC`, `+0200`
///   offsets, Unix seconds or milliseconds as numbers or text) -> RFC 3339 in UTC;
/// * `oci_purl`: a container image reference (`nginx:1.25`, `ghcr.io/o/app@sha256:...`) -> its
///   `pkg:oci` purl, as the Kubernetes transformer writes `artifactId`.
fn dora_funs() -> impl Iterator<Item = Fun<JustLut<Val>>> {
    fn timestamp(cv: Cv<'_, JustLut<Val>>) -> ValXs<'_, Val> {
        let time = to_json(cv.1.clone())
            .ok()
            .as_ref()
            .and_then(time_value)
            .map(|time| Val::from(format_rfc3339(&time)))
            .ok_or_else(|| jaq_core::Error::str(format!("{} is not a timestamp", cv.1)));
        bome(time)
    }
    fn purl(cv: Cv<'_, JustLut<Val>>) -> ValXs<'_, Val> {
        let purl = match &cv.1 {
            Val::TStr(bytes) => std::str::from_utf8(bytes).ok().and_then(oci_purl),
            _ => None,
        }
        .map(Val::from)
        .ok_or_else(|| {
            jaq_core::Error::str(format!("{} is not a container image reference", cv.1))
        });
        bome(purl)
    }
    let natives: [(&'static str, jaq_core::RunPtr<JustLut<Val>>); 2] =
        [("timestamp", timestamp), ("oci_purl", purl)];
    natives
        .into_iter()
        .map(|(name, run)| jaq_core::native::run::<JustLut<Val>>((name, v(0), run)))
}

/// The messages of a failed compilation, the first with the line of the expression it is
/// about and a caret under the position.
fn describe(code: &str, found: Vec<(&str, String)>) -> String {
    let mut messages = Vec::new();
    let mut pointer = None;
    for (at, message) in found {
        match offset_in(code, at) {
            Some(offset) => {
                let (line, column, text) = line_of(code, offset);
                messages.push(format!("{message} at line {line}, column {column}"));
                if pointer.is_none() {
                    pointer = Some(format!("\n    {text}\n    {}^", " ".repeat(column - 1)));
                }
            }
            None => messages.push(message),
        }
    }
    if messages.is_empty() {
        messages.push("does not compile".into());
    }
    let mut text = messages.join("; ");
    text.push_str(pointer.as_deref().unwrap_or(""));
    text
}

/// Where `part` starts in `code`, when it is a slice of it (jaq's errors point into the source;
/// errors inside the standard library point elsewhere).
fn offset_in(code: &str, part: &str) -> Option<usize> {
    let start = code.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    (at >= start && at + part.len() <= start + code.len()).then(|| at - start)
}

/// The 1-based line and column (in characters) of a byte offset, and the text of that line.
fn line_of(code: &str, offset: usize) -> (usize, usize, &str) {
    let before = &code[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line_end = code[offset..].find('\n').map_or(code.len(), |i| offset + i);
    let line = before.matches('\n').count() + 1;
    let column = code[line_start..offset].chars().count() + 1;
    (
        line,
        column,
        code[line_start..line_end].trim_end_matches('\r'),
    )
}

/// Runs a program on one input: its outputs, errors as text.
fn run(program: &Program, input: Val) -> impl Iterator<Item = Result<Val, String>> + '_ {
    let context = Ctx::<JustLut<Val>>::new(&program.lut, Vars::new([]));
    program.id.run((context, input)).map(|output| {
        output.map_err(|exception| match exception.get_err() {
            Ok(error) => match error.into_val() {
                Val::TStr(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                other => other.to_string(),
            },
            Err(exception) => match exception.get_halt() {
                Ok(code) => format!("halt({code}) is not allowed in a rule"),
                Err(_) => "the expression stopped without a value".into(),
            },
        })
    })
}

/// JSON into jaq's values.
fn to_val(value: &Value) -> Val {
    match value {
        Value::Null => Val::Null,
        Value::Bool(flag) => Val::Bool(*flag),
        Value::Number(number) => match (number.as_i64(), number.as_u64()) {
            (Some(whole), _) => Val::Num(Num::from_integral(whole)),
            (None, Some(whole)) => Val::Num(Num::from_integral(whole)),
            _ => Val::from(number.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) => Val::from(text.clone()),
        Value::Array(items) => items.iter().map(to_val).collect(),
        Value::Object(map) => Val::obj(
            map.iter()
                .map(|(key, value)| (Val::from(key.clone()), to_val(value)))
                .collect(),
        ),
    }
}

/// jaq's values back into JSON; byte strings and non-string keys are not JSON.
fn to_json(value: Val) -> Result<Value, String> {
    Ok(match value {
        Val::Null => Value::Null,
        Val::Bool(flag) => Value::Bool(flag),
        Val::Num(number) => number_to_json(&number)?,
        Val::TStr(bytes) => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
        Val::BStr(_) => return Err("produced a byte string, which JSON cannot hold".into()),
        Val::Arr(items) => Value::Array(
            items
                .iter()
                .cloned()
                .map(to_json)
                .collect::<Result<_, _>>()?,
        ),
        Val::Obj(map) => {
            let mut object = Map::new();
            for (key, value) in map.iter() {
                let Val::TStr(key) = key else {
                    return Err(format!("produced an object key {key}, not a string"));
                };
                object.insert(
                    String::from_utf8_lossy(key).into_owned(),
                    to_json(value.clone())?,
                );
            }
            Value::Object(object)
        }
    })
}

fn number_to_json(number: &Num) -> Result<Value, String> {
    match number {
        Num::Int(whole) => Ok(Value::from(*whole)),
        Num::Float(float) => {
            Ok(serde_json::Number::from_f64(*float).map_or(Value::Null, Value::Number))
        }
        // Large integers and decimal literals: JSON numbers as written (serde_json reads what
        // does not fit 64 bits as a float).
        Num::BigInt(_) | Num::Dec(_) => serde_json::from_str::<Value>(&number.to_string())
            .ok()
            .filter(Value::is_number)
            .ok_or_else(|| format!("produced the number {number}, which JSON cannot hold")),
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
