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
use dora_sources::transform::{TransformError, Transformer, EMIT_SPEC_VERSION};

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

    fn transform(&self, event: &CloudEvent) -> Result<Vec<Value>, TransformError> {
        let input = to_val(&event.to_json());
        if !self.applies(&input)? {
            return Ok(Vec::new());
        }
        let mut documents = self.emitted(input)?;
        for (position, document) in documents.iter_mut().enumerate() {
            self.complete(event, position, document)?;
        }
        Ok(documents.into_iter().map(Value::Object).collect())
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

/// What a JSON value is, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(matches: Option<&str>, emit: &str) -> Result<Rule, RuleError> {
        Rule::compile(&RuleConfig {
            name: "deploys".into(),
            matches: matches.map(str::to_owned),
            emit: emit.into(),
        })
    }

    fn event(data: Value) -> CloudEvent {
        CloudEvent::from_json_value(json!({
            "specversion": "1.0", "id": "build-167", "source": "https://jenkins.example.com",
            "type": "io.jenkins.build.finished", "time": "2023-04-06T16:56:06-04:00",
            "data": data}))
        .unwrap()
    }

    const DEPLOYED: &str = r#"{context: {type: "dev.cdevents.service.deployed.0.3.0"},
        subject: {id: .data.name, content: {environment: {id: "prod"},
                  artifactId: "pkg:generic/\(.data.name)@\(.data.number)"}}}"#;

    #[test]
    fn compile_errors_name_the_rule_the_expression_and_the_position() {
        let error = rule(None, "{context: {type: }}").unwrap_err();
        assert_eq!(error.rule, "deploys");
        assert_eq!(
            error.to_string(),
            "rule \"deploys\": emit: expected term, found \"}\" at line 1, column 18\n    {context: {type: }}\n                     ^"
        );

        let error = rule(Some(".type ==\n  \"x\" and nosuch"), DEPLOYED).unwrap_err();
        assert!(
            error
                .message
                .starts_with("match: undefined filter nosuch/0 at line 2, column 11"),
            "{error}"
        );
        assert!(
            error
                .message
                .ends_with("\n      \"x\" and nosuch\n              ^"),
            "{error}"
        );

        let error = rule(None, ".data | \"unclosed").unwrap_err();
        assert!(error.message.contains("expected closing quote"), "{error}");
        let error = rule(None, "$x").unwrap_err();
        assert!(
            error
                .message
                .starts_with("emit: undefined variable $x at line 1, column 1"),
            "{error}"
        );
        let error = rule(None, "import \"m\" as m; .").unwrap_err();
        assert!(error.message.contains("cannot import"), "{error}");
    }

    #[test]
    fn the_environment_and_the_clock_are_out_of_reach() {
        for code in ["env", "now", "localtime", "$ENV"] {
            let error = rule(None, code).unwrap_err();
            assert!(error.message.contains("undefined"), "{code}: {error}");
        }
        let halting = rule(None, "halt_error").unwrap();
        let error = halting.transform(&event(json!({}))).unwrap_err();
        assert_eq!(error.reason, "emit: halt(5) is not allowed in a rule");
    }

    #[test]
    fn names_are_checked() {
        for bad in ["", "a b", "a:b", "ü"] {
            let error = Rule::compile(&RuleConfig {
                name: bad.into(),
                matches: None,
                emit: ".".into(),
            })
            .unwrap_err();
            assert!(error.message.contains("name must be"), "{bad:?}");
        }
        assert!(is_valid_name("jenkins-deploy_2.prod"));
    }

    #[test]
    fn an_applying_rule_emits_completed_cdevents_with_derived_ids() {
        let rule = rule(Some(".data.status == \"SUCCESS\""), DEPLOYED).unwrap();
        assert_eq!(rule.name(), "rule:deploys");
        let input = event(json!({"name": "web", "number": 167, "status": "SUCCESS"}));
        let out = rule.transform(&input).unwrap();
        assert_eq!(out.len(), 1);
        let document = &out[0];
        assert_eq!(
            document["context"],
            json!({"type": "dev.cdevents.service.deployed.0.3.0",
                   "specversion": "0.5.1",
                   "id": derived_id(&["rule", "deploys", "https://jenkins.example.com", "build-167", "0"]),
                   "source": "https://jenkins.example.com",
                   "timestamp": "2023-04-06T20:56:06Z"})
        );
        assert_eq!(
            document["subject"]["content"]["artifactId"],
            "pkg:generic/web@167"
        );
        dora_spec::validate(document).unwrap();
        // Same event, same ids.
        assert_eq!(rule.transform(&input).unwrap(), out);
        // The rule's name is part of the id.
        let renamed = Rule::compile(&RuleConfig {
            name: "other".into(),
            matches: None,
            emit: DEPLOYED.into(),
        })
        .unwrap();
        assert_ne!(
            renamed.transform(&input).unwrap()[0]["context"]["id"],
            document["context"]["id"]
        );
    }

    #[test]
    fn match_is_truthy_first_output_and_absent_means_always() {
        let input = event(json!({"name": "web", "number": 1, "status": "FAILURE"}));
        for (matches, applies) in [
            (Some(".data.status == \"SUCCESS\""), false),
            (Some(".data.nothing"), false),
            (Some("empty"), false),
            (Some(".data.status"), true),
            (Some("0"), true),
            (Some("false, true"), false),
            (None, true),
        ] {
            let rule = rule(matches, DEPLOYED).unwrap();
            assert_eq!(
                rule.transform(&input).unwrap().len(),
                usize::from(applies),
                "{matches:?}"
            );
        }
    }

    #[test]
    fn emit_gives_objects_arrays_streams_or_nothing() {
        let input = event(json!({"name": "web", "number": 1}));
        let two = format!("[{DEPLOYED}, {DEPLOYED}]");
        let stream = format!("{DEPLOYED}, {DEPLOYED}");
        for (emit, count) in [
            (two.as_str(), 2),
            (stream.as_str(), 2),
            ("empty", 0),
            ("null", 0),
            ("[]", 0),
        ] {
            let out = rule(None, emit).unwrap().transform(&input).unwrap();
            assert_eq!(out.len(), count, "{emit}");
            if count == 2 {
                assert_ne!(out[0]["context"]["id"], out[1]["context"]["id"], "{emit}");
            }
        }
    }

    #[test]
    fn explicit_context_values_are_kept_and_tool_times_become_rfc3339() {
        let input = event(
            json!({"name": "web", "number": 1, "at": 1_680_814_566_000_u64,
                                 "gitlab": "2023-04-06 20:56:06 UTC"}),
        );
        let emit = r#"{context: {id: "mine", source: "/ci", specversion: "0.4.1",
                                 type: "dev.cdevents.service.deployed.0.3.0", timestamp: .data.at},
                       subject: {id: "web", content: {}}},
                      {context: {type: "t", timestamp: .data.gitlab}, subject: {}}"#;
        let out = rule(None, emit).unwrap().transform(&input).unwrap();
        assert_eq!(out[0]["context"]["id"], "mine");
        assert_eq!(out[0]["context"]["source"], "/ci");
        assert_eq!(out[0]["context"]["specversion"], "0.4.1");
        assert_eq!(out[0]["context"]["timestamp"], "2023-04-06T20:56:06Z");
        assert_eq!(out[1]["context"]["timestamp"], "2023-04-06T20:56:06Z");
    }

    #[test]
    fn run_time_errors_are_transform_errors_with_the_reason() {
        let input = event(json!({"name": "web"}));
        let reason = |emit: &str| {
            rule(None, emit)
                .unwrap()
                .transform(&input)
                .unwrap_err()
                .reason
        };
        assert_eq!(
            reason("error(\"no build number\")"),
            "emit: no build number"
        );
        assert_eq!(reason("error({code: 1})"), "emit: {\"code\":1}");
        assert_eq!(
            reason(".data.name.first"),
            "emit: cannot index \"web\" with \"first\""
        );
        assert_eq!(
            reason("\"text\""),
            "emit: produced a string, not a CDEvent object"
        );
        assert_eq!(
            reason("[1]"),
            "emit: produced a number, not a CDEvent object"
        );
        assert_eq!(
            reason("{context: 1}"),
            "CDEvent 0: context is a number, not an object"
        );
        assert_eq!(
            reason("{context: {timestamp: \"soon\"}}"),
            "CDEvent 0: context.timestamp \"soon\" is not a timestamp"
        );
        assert_eq!(
            reason("range(2000) | {}"),
            format!("emit: produced more than {MAX_EMITTED} CDEvents")
        );
        let matcher = rule(Some(".data.name | error"), DEPLOYED).unwrap();
        assert_eq!(matcher.transform(&input).unwrap_err().reason, "match: web");

        let timeless = CloudEvent::from_json_value(json!({"specversion": "1.0", "id": "1",
            "source": "/s", "type": "t", "data": {}}))
        .unwrap();
        assert_eq!(
            rule(None, "{}")
                .unwrap()
                .transform(&timeless)
                .unwrap_err()
                .reason,
            "CDEvent 0: context.timestamp is not set and the CloudEvent has no time"
        );
    }

    #[test]
    fn timestamp_and_oci_purl_are_the_transformers_helpers() {
        let input = event(
            json!({"at": "2016-08-12 17:23:28 +0200", "ms": 1_471_015_408_000_u64,
                                 "image": "nginx:1.25"}),
        );
        let emit = r#"{context: {type: "t"}, subject: {content: {
                         at: (.data.at | timestamp), ms: (.data.ms | timestamp),
                         purl: (.data.image | oci_purl)}}}"#;
        let out = rule(None, emit).unwrap().transform(&input).unwrap();
        assert_eq!(
            out[0]["subject"]["content"],
            json!({"at": "2016-08-12T15:23:28Z", "ms": "2016-08-12T15:23:28Z",
                   "purl": "pkg:oci/nginx?repository_url=docker.io/library/nginx&tag=1.25"})
        );
        let reason = |emit: &str| {
            rule(None, emit)
                .unwrap()
                .transform(&input)
                .unwrap_err()
                .reason
        };
        assert_eq!(
            reason("\"soon\" | timestamp"),
            "emit: \"soon\" is not a timestamp"
        );
        assert_eq!(
            reason("1 | oci_purl"),
            "emit: 1 is not a container image reference"
        );
    }

    #[test]
    fn json_survives_the_round_trip_through_jaq() {
        let value = json!({"null": null, "t": true, "i": -3, "u": u64::MAX, "f": 1.5,
                           "s": "é", "a": [1, {"b": []}], "o": {}});
        assert_eq!(to_json(to_val(&value)).unwrap(), value);
        let input = event(json!({"keep": value}));
        let out = rule(
            None,
            "{context: {type: \"t\"}, subject: {content: .data.keep}}",
        )
        .unwrap()
        .transform(&input)
        .unwrap();
        assert_eq!(out[0]["subject"]["content"], value);
    }

    #[test]
    fn the_standard_library_is_there() {
        let input = event(json!({"name": "deploy-web", "started": "2023-04-06T20:56:06Z"}));
        let emit = r#"{context: {type: "t"}, subject: {id: (.data.name | sub("^deploy-"; "")),
                       content: {deploy: (.data.name | test("^deploy-")),
                                 epoch: (.data.started | fromdate),
                                 parts: (.data.name | split("-")),
                                 upper: (.data.name | ascii_upcase)}}}"#;
        let out = rule(None, emit).unwrap().transform(&input).unwrap();
        assert_eq!(
            out[0]["subject"],
            json!({"id": "web", "content": {"deploy": true, "epoch": 1_680_814_566,
                   "parts": ["deploy", "web"], "upper": "DEPLOY-WEB"}})
        );
    }
}
