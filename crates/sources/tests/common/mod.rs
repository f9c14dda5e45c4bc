//! The golden harness shared by the transformer tests: case directories under
//! `tests/fixtures/<tool>/` (repository root), JSON reading, the input CloudEvent, schema
//! validation of every emitted CDEvent, and the comparison with (or, with
//! `DORA_UPDATE_GOLDEN=1`, the rewriting of) each case's `expected.json`.
//!
//! Each test file compiles this module on its own, and not every file uses every item.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use dora_model::cloudevent::CloudEvent;
use dora_sources::transform::SERVICE_DEPLOYED;
use dora_sources::webhook::Webhook;
use dora_sources::{Transformer, WebhookSettings};
use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// `tests/fixtures/<tool>` at the repository root.
pub fn fixtures(tool: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(tool)
}

/// The case directories directly under `dir` (those with an `input.json`), sorted by name.
pub fn cases_in(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{} is readable: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("input.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// The case directories of a tool, sorted by name.
pub fn cases(tool: &str) -> Vec<PathBuf> {
    cases_in(&fixtures(tool))
}

/// The name of a case directory.
pub fn case_name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

pub fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The settings of a case: its `settings.json`, else the defaults.
pub fn settings<T: DeserializeOwned + Default>(dir: &Path) -> T {
    let path = dir.join("settings.json");
    if path.is_file() {
        serde_json::from_value(read_json(&path))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    } else {
        T::default()
    }
}

/// The `settings.json` of a code-host case: the tool's `[sources.<tool>]` settings, and the
/// top-level `[[services]]` as `"services"`.
#[derive(Default, serde::Deserialize)]
pub struct WithServices<S> {
    #[serde(flatten)]
    pub tool: S,
    #[serde(default)]
    pub services: Vec<dora_sources::services::ServiceConfig>,
}

impl<S> WithServices<S> {
    /// Only the tool's settings, no `[[services]]`.
    pub fn of(tool: S) -> Self {
        Self {
            tool,
            services: Vec::new(),
        }
    }

    /// The compiled `[[services]]` (a case's must be valid).
    pub fn service_map(&self) -> dora_sources::services::ServiceMap {
        dora_sources::services::ServiceMap::new(&self.services).expect("the case's services")
    }
}

/// `(subject.id suffix after the head, service, team, first 7 hex digits of each commit)`.
pub fn services_of(output: &[Value]) -> Vec<(String, Value, Value, Vec<String>)> {
    output
        .iter()
        .map(|document| {
            let dora = &document["customData"]["dora"];
            let subject = document["subject"]["id"].as_str().unwrap();
            let suffix = subject.split_once(':').map_or("", |(_, s)| s).to_owned();
            let commits = dora["commits"].as_array().unwrap();
            let shas = commits
                .iter()
                .map(|c| c["sha"].as_str().unwrap()[..7].to_owned())
                .collect();
            (suffix, dora["service"].clone(), dora["team"].clone(), shas)
        })
        .collect()
}

/// The input CloudEvent of a case of `tool` (by directory name), as JSON.
pub fn input(tool: &str, case: &str) -> Value {
    read_json(&fixtures(tool).join(case).join("input.json"))
}

/// The input CloudEvent of a case directory.
pub fn input_event(dir: &Path) -> CloudEvent {
    parse(read_json(&dir.join("input.json")))
}

pub fn parse(value: Value) -> CloudEvent {
    CloudEvent::from_json_value(value).expect("the input is a valid CloudEvent")
}

/// Runs a transformer and checks every CDEvent against the schemas.
pub fn checked(transformer: &dyn Transformer, event: &CloudEvent) -> Vec<Value> {
    let out = transformer
        .documents(event)
        .unwrap_or_else(|e| panic!("event {} failed: {e}", event.id));
    for document in &out {
        let validated = dora_spec::validate(document)
            .unwrap_or_else(|e| panic!("event {}: invalid CDEvent: {e}\n{document:#}", event.id));
        assert_eq!(validated.release, dora_spec::EMIT_RELEASE);
    }
    out
}

/// A webhook body received by the source's webhook (no secret or token configured), then
/// transformed, every CDEvent checked against the schemas.
pub fn adapted(webhook: Webhook, transformer: &dyn Transformer, body: &[u8]) -> Vec<Value> {
    let events = webhook
        .receive(&HeaderMap::new(), body, &WebhookSettings::default())
        .unwrap();
    events
        .iter()
        .flat_map(|event| checked(transformer, event))
        .collect()
}

/// The webhook body of a case of `tool` (by directory name), as text.
pub fn body(tool: &str, case: &str) -> String {
    let path = fixtures(tool).join(case).join("input.json");
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The one CDEvent of an output of `case`.
pub fn single(mut out: Vec<Value>, case: &str) -> Value {
    assert_eq!(
        out.len(),
        1,
        "{case} should give exactly one CDEvent: {out:#?}"
    );
    out.remove(0)
}

pub fn id(document: &Value) -> &str {
    document["context"]["id"].as_str().unwrap()
}

pub fn event_type(document: &Value) -> &str {
    document["context"]["type"].as_str().unwrap()
}

/// The CloudEvent types a Knative source's registry file (`<source>.registry-eventTypes.json`)
/// declares.
pub fn declared_types(registry: &Value) -> Vec<&str> {
    registry
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["type"].as_str().unwrap())
        .collect()
}

/// Asserts that every name of `mapped` is declared as `<prefix><name>`, and that every other
/// declared type gives nothing for `sample` (an input CloudEvent, as JSON, that its own type
/// maps) retyped to it.
pub fn assert_unmapped_types_give_nothing(
    declared: &[&str],
    prefix: &str,
    mapped: &[&str],
    sample: &Value,
    transform: impl Fn(&CloudEvent) -> Vec<Value>,
) {
    for name in mapped {
        assert!(
            declared.contains(&format!("{prefix}{name}").as_str()),
            "{name}"
        );
    }
    for event_type in declared {
        let name = event_type.strip_prefix(prefix).unwrap();
        if mapped.contains(&name) {
            continue;
        }
        let mut event = sample.clone();
        event["type"] = Value::from(*event_type);
        assert!(transform(&parse(event)).is_empty(), "{event_type}");
    }
}

/// Asserts that each of `cases` gives no CDEvent (`run` gives a case's output).
pub fn assert_give_nothing(cases: &[&str], run: impl Fn(&str) -> Vec<Value>) {
    for case in cases {
        assert!(run(case).is_empty(), "{case}");
    }
}

/// Asserts that `document` is a `service.deployed` of `service` to `environment`.
pub fn assert_deployed(document: &Value, service: &str, environment: &str) {
    assert_eq!(event_type(document), SERVICE_DEPLOYED, "{document:#}");
    assert_eq!(document["subject"]["id"], service);
    assert_eq!(
        document["subject"]["content"]["environment"]["id"],
        environment
    );
}

/// Asserts that `document` (an incident) is about `service` in `environment`.
pub fn assert_incident_in(document: &Value, service: &str, environment: &str) {
    let content = &document["subject"]["content"];
    assert_eq!(content["service"]["id"], service, "{document:#}");
    assert_eq!(content["environment"]["id"], environment, "{document:#}");
}

/// Asserts that at least `minimum` cases were found (`label` names them in the message).
pub fn assert_minimum(label: &str, cases: &[PathBuf], minimum: usize) {
    assert!(
        cases.len() >= minimum,
        "{label}fixtures missing: found {} cases",
        cases.len()
    );
}

/// Compares the output of every case with its `expected.json` (or, with
/// `DORA_UPDATE_GOLDEN=1`, rewrites it) and adds a message per difference to `failures`;
/// `label` prefixes the case names in the messages.
pub fn compare_golden(
    label: &str,
    cases: &[PathBuf],
    name: impl Fn(&Path) -> String,
    mut output: impl FnMut(&Path) -> Vec<Value>,
    failures: &mut Vec<String>,
) {
    let update = std::env::var("DORA_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    for dir in cases {
        let name = name(dir);
        let out = Value::Array(output(dir));
        let expected_path = dir.join("expected.json");
        if update {
            let mut text = serde_json::to_string_pretty(&out).unwrap();
            text.push('\n');
            fs::write(&expected_path, text).unwrap();
            continue;
        }
        if !expected_path.is_file() {
            failures.push(format!(
                "{label}{name}: no expected.json (run with DORA_UPDATE_GOLDEN=1)"
            ));
            continue;
        }
        let expected = read_json(&expected_path);
        if out != expected {
            failures.push(format!(
                "{label}{name}: output differs from expected.json\n--- got:\n{out:#}\n--- expected:\n{expected:#}"
            ));
        }
    }
}

/// The golden test of one tool's cases: at least `minimum` of them, each giving its
/// `expected.json` ([`compare_golden`]); fails naming every case that differs.
pub fn assert_golden(cases: &[PathBuf], minimum: usize, output: impl FnMut(&Path) -> Vec<Value>) {
    assert_minimum("", cases, minimum);
    let mut failures = Vec::new();
    compare_golden("", cases, case_name, output, &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Runs every case twice and asserts the same output, then hands the input and output to
/// `check` (the rules every CDEvent of a tool keeps).
pub fn each_case_twice(
    cases: &[PathBuf],
    run: impl Fn(&Path, &CloudEvent) -> Vec<Value>,
    check: impl Fn(&Path, &CloudEvent, &[Value]),
) {
    for dir in cases {
        let event = parse(read_json(&dir.join("input.json")));
        let first = run(dir, &event);
        assert_eq!(first, run(dir, &event), "{}", case_name(dir));
        check(dir, &event, &first);
    }
}

/// The helpers of a webhook source's golden tests, whose cases hold the tool's own body: the
/// golden test (at least `golden_minimum` cases), `run_body(body, settings)` (the body received
/// by `$webhook`, then transformed, every CDEvent checked), `run_dir(dir)`, `run(case)`, `one(case)`
/// and `body(case)`.
#[macro_export]
macro_rules! golden_webhook_tool {
    ($tool:expr, $settings:ty, $new:expr, $webhook:path, golden_minimum: $minimum:expr) => {
        const TOOL: &str = $tool;

        /// Every case gives its `expected.json`.
        #[test]
        fn golden_cases() {
            common::assert_golden(&common::cases(TOOL), $minimum, run_dir);
        }

        /// The body wrapped by the webhook, then transformed.
        fn run_body(body: &[u8], settings: $settings) -> Vec<serde_json::Value> {
            common::adapted($webhook, &$new(settings), body)
        }

        fn run_dir(dir: &std::path::Path) -> Vec<serde_json::Value> {
            let body = std::fs::read(dir.join("input.json")).unwrap();
            run_body(&body, common::settings(dir))
        }

        #[allow(dead_code)]
        fn run(case: &str) -> Vec<serde_json::Value> {
            run_dir(&common::fixtures(TOOL).join(case))
        }

        #[allow(dead_code)]
        fn one(case: &str) -> serde_json::Value {
            common::single(run(case), case)
        }

        #[allow(dead_code)]
        fn body(case: &str) -> String {
            common::body(TOOL, case)
        }
    };
}

/// The helpers of one tool's golden tests, over its settings type and transformer constructor:
/// `fixtures()`, `cases()`, `settings(dir)`, `input(case)`, `transform_with(settings, event)`
/// (every CDEvent checked against its schema), `run(case)` and `one(case)`.
#[macro_export]
macro_rules! golden_tool {
    ($tool:expr, $settings:ty, $new:expr, golden_minimum: $minimum:expr) => {
        const TOOL: &str = $tool;

        /// Every case gives its `expected.json`.
        #[test]
        fn golden_cases() {
            common::assert_golden(&cases(), $minimum, |dir| {
                transform_with(settings(dir), &common::input_event(dir))
            });
        }

        /// A case's input with the case's settings.
        #[allow(dead_code)]
        fn run_in(
            dir: &std::path::Path,
            event: &dora_model::cloudevent::CloudEvent,
        ) -> Vec<serde_json::Value> {
            transform_with(settings(dir), event)
        }

        fn fixtures() -> std::path::PathBuf {
            common::fixtures(TOOL)
        }

        /// The case directories, sorted by name.
        fn cases() -> Vec<std::path::PathBuf> {
            common::cases(TOOL)
        }

        /// The settings of a case: its `settings.json`, else the defaults.
        fn settings(dir: &std::path::Path) -> $settings {
            common::settings(dir)
        }

        /// The input CloudEvent of a case (by directory name).
        #[allow(dead_code)]
        fn input(case: &str) -> serde_json::Value {
            common::input(TOOL, case)
        }

        /// Runs the transformer with `settings` and checks every CDEvent against the schemas.
        fn transform_with(
            settings: $settings,
            event: &dora_model::cloudevent::CloudEvent,
        ) -> Vec<serde_json::Value> {
            common::checked(&$new(settings), event)
        }

        /// The output of a case, with its own settings.
        #[allow(dead_code)]
        fn run(case: &str) -> Vec<serde_json::Value> {
            let dir = fixtures().join(case);
            transform_with(settings(&dir), &common::parse(input(case)))
        }

        /// The one CDEvent a case gives.
        #[allow(dead_code)]
        fn one(case: &str) -> serde_json::Value {
            common::single(run(case), case)
        }
    };
}
