//! `dora-events transform`: runs the configured routes (built-in transformers and `[[rules]]`)
//! offline on CloudEvent files and reports what the router would store, for writing and testing
//! rules without a server or a database.
//!
//! The events go through the same code as in the router ([`route_event`]): the routing table,
//! each transformer, and the schema validation of every CDEvent. A file holds one event, a JSON
//! array of events, or JSON Lines (`-` reads standard input).

use std::path::Path;

use dora_model::cloudevent::CloudEvent;
use dora_pipeline::router::route_event;
use dora_pipeline::routing::RoutingTable;
use serde::Serialize;
use serde_json::Value;

use crate::config::Settings;
use crate::documents::{documents, is_bare_cdevent, read_text, Document};

/// What the routes make of the events of a file.
#[derive(Debug, Clone, Serialize)]
pub struct TransformReport {
    /// One entry per event, in the order of the file.
    pub events: Vec<EventReport>,
    /// Valid CDEvents emitted in all.
    pub cdevents: usize,
    /// Failures in all: transformations that failed or emitted an invalid CDEvent, and events
    /// that are not CloudEvents.
    pub failures: usize,
}

impl TransformReport {
    /// True when nothing failed (the command exits with 0).
    pub fn is_clean(&self) -> bool {
        self.failures == 0
    }
}

/// What the routes make of one event.
#[derive(Debug, Clone, Serialize)]
pub struct EventReport {
    /// `file`, or `file[i]` for the i-th event of an array or of JSON Lines.
    pub location: String,
    /// The CloudEvent `id`, when it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The CloudEvent `type`, when it is one.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The transformers its routes send it to, in order (empty: no route matches it).
    pub transformers: Vec<String>,
    /// The CDEvents that passed validation, as the router would store them.
    pub cdevents: Vec<Emitted>,
    /// Why a transformer failed, or why the event is not a CloudEvent.
    pub failures: Vec<Failure>,
    /// External functions its routes name (`http:<name>`): the server would call them; this
    /// offline run does not, so what they would emit is not shown.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub functions_not_called: Vec<String>,
}

/// A CDEvent and the transformer that emitted it.
#[derive(Debug, Clone, Serialize)]
pub struct Emitted {
    pub transformer: String,
    pub cdevent: Value,
}

/// A failure, as `GET /api/v1/failures` would list it.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub transformer: String,
    pub reason: String,
}

/// Runs the routes of `settings` on the events of the file at `input` (`-`: standard input).
/// `Err` only when the routes do not compile or the file cannot be read; events that fail are in
/// the report.
pub fn transform_file(input: &Path, settings: &Settings) -> anyhow::Result<TransformReport> {
    let table = settings.routing_table()?;
    let name = input.display().to_string();
    let text = read_text(input)?;
    let documents =
        documents(&name, &text).map_err(|problem| anyhow::anyhow!("{name}: {problem}"))?;
    Ok(transform_documents(&table, documents))
}

/// Runs the routes on each document.
pub fn transform_documents(table: &RoutingTable, documents: Vec<Document>) -> TransformReport {
    let events: Vec<EventReport> = documents
        .into_iter()
        .map(|(location, document)| transform_document(table, location, document))
        .collect();
    TransformReport {
        cdevents: events.iter().map(|e| e.cdevents.len()).sum(),
        failures: events.iter().map(|e| e.failures.len()).sum(),
        events,
    }
}

fn transform_document(
    table: &RoutingTable,
    location: String,
    document: Result<Value, String>,
) -> EventReport {
    let unreadable = |location: String, reason: String| EventReport {
        location,
        id: None,
        event_type: None,
        transformers: Vec::new(),
        cdevents: Vec::new(),
        failures: vec![Failure {
            transformer: "router".into(),
            reason,
        }],
        functions_not_called: Vec::new(),
    };
    let value = match document {
        Ok(value) => value,
        Err(problem) => return unreadable(location, problem),
    };
    if is_bare_cdevent(&value) {
        return unreadable(
            location,
            "a bare CDEvent, not a CloudEvent: it is stored as it is (check it with `dora-events validate`)"
                .into(),
        );
    }
    let event = match CloudEvent::from_json_value(value) {
        Ok(event) => event,
        Err(e) => return unreadable(location, format!("not a valid CloudEvent: {e}")),
    };
    let functions_not_called = table
        .functions_for(&event)
        .into_iter()
        .map(|name| format!("http:{name}"))
        .collect();
    let routed = route_event(table, &event, false);
    let mut cdevents = Vec::with_capacity(routed.cdevents.len());
    let mut failures: Vec<Failure> = routed
        .failures
        .into_iter()
        .map(|(transformer, reason)| Failure {
            transformer,
            reason,
        })
        .collect();
    for cdevent in routed.cdevents {
        match serde_json::from_str::<Value>(&cdevent.content) {
            Ok(document) => cdevents.push(Emitted {
                transformer: cdevent.transformer,
                cdevent: document,
            }),
            Err(e) => failures.push(Failure {
                transformer: cdevent.transformer,
                reason: format!("the CDEvent does not print as JSON: {e}"),
            }),
        }
    }
    EventReport {
        location,
        id: Some(event.id),
        event_type: Some(event.event_type),
        transformers: routed.transformers,
        cdevents,
        failures,
        functions_not_called,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::Overrides;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
    }

    fn kubewatch_settings() -> Settings {
        Settings::load(
            Some(&fixtures().join("kubewatch.toml")),
            &Overrides::default(),
        )
        .unwrap()
    }

    /// Each case of `tests/fixtures/rules/kubewatch/` against its `expected.json` (the report of
    /// its one event, without the location); `DORA_UPDATE_GOLDEN=1` rewrites them.
    #[test]
    fn kubewatch_cases_give_their_golden_reports() {
        let settings = kubewatch_settings();
        let update = std::env::var("DORA_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
        let mut cases: Vec<PathBuf> = std::fs::read_dir(fixtures().join("kubewatch"))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.join("input.json").is_file())
            .collect();
        cases.sort();
        assert!(cases.len() >= 6, "kubewatch cases missing");
        let mut failures = Vec::new();
        for case in &cases {
            let report = transform_file(&case.join("input.json"), &settings).unwrap();
            assert_eq!(report.events.len(), 1);
            let mut got = serde_json::to_value(&report.events[0]).unwrap();
            got.as_object_mut().unwrap().remove("location");
            for emitted in &report.events[0].cdevents {
                dora_spec::validate(&emitted.cdevent).unwrap();
            }
            let expected_path = case.join("expected.json");
            if update {
                let mut text = serde_json::to_string_pretty(&got).unwrap();
                text.push('\n');
                std::fs::write(&expected_path, text).unwrap();
                continue;
            }
            let expected: Value =
                serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
            if got != expected {
                failures.push(format!(
                    "{}: got\n{got:#}\nexpected\n{expected:#}",
                    case.display()
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }

    #[test]
    fn the_rule_emits_a_deployment_for_an_image_change_and_fails_without_the_object() {
        let settings = kubewatch_settings();
        let case = |name: &str| {
            transform_file(
                &fixtures().join("kubewatch").join(name).join("input.json"),
                &settings,
            )
            .unwrap()
        };
        let report = case("deployment-update");
        assert!(report.is_clean());
        let event = &report.events[0];
        assert_eq!(event.transformers, ["rule:kubewatch-deployments"]);
        let emitted = &event.cdevents[0];
        assert_eq!(emitted.transformer, "rule:kubewatch-deployments");
        let cdevent = &emitted.cdevent;
        let context = &cdevent["context"];
        assert_eq!(context["type"], "dev.cdevents.service.deployed.0.3.0");
        assert_eq!(context["timestamp"], "2024-12-18T17:58:39.674637507Z");
        assert_eq!(
            context["id"],
            dora_model::ids::derived_id(&[
                "rule",
                "kubewatch-deployments",
                "https://github.com/aantn/aaaaaaaaa",
                "1111111111-1",
                "0"
            ])
        );
        assert_eq!(cdevent["subject"]["id"], "aaaaaaaaa");
        assert_eq!(
            cdevent["subject"]["content"]["artifactId"],
            "pkg:oci/aaaaaaaaa?repository_url=docker.io/robustadev/aaaaaaaaa&tag=v2.9.0"
        );

        assert_eq!(case("deployment-update-same").cdevents, 0, "same images");
        assert_eq!(case("deployment-update-missing-oldobj").cdevents, 1);
        assert_eq!(
            case("pod-update").events[0].transformers,
            ["rule:kubewatch-deployments"]
        );
        assert_eq!(case("pod-update").cdevents, 0);

        let failing = case("deployment-update-missing-obj");
        assert!(!failing.is_clean());
        let failure = &failing.events[0].failures[0];
        assert_eq!(failure.transformer, "rule:kubewatch-deployments");
        assert_eq!(
            failure.reason,
            "emit: data.obj is missing: kubewatch sent no Deployment"
        );
    }

    #[test]
    fn functions_a_route_names_are_listed_as_not_called() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("functions.toml");
        std::fs::write(
            &config,
            r#"
[functions.releases]
url = "http://127.0.0.1:9/"

[[routes]]
name = "releases"
type = "com.example.release"
transformers = ["http:releases"]
"#,
        )
        .unwrap();
        let settings = Settings::load(Some(&config), &Overrides::default()).unwrap();
        let event = serde_json::json!({"specversion": "1.0", "id": "1", "source": "/ci",
            "type": "com.example.release"});
        let report = transform_documents(
            &settings.routing_table().unwrap(),
            documents("release.json", &event.to_string()).unwrap(),
        );
        assert_eq!(report.events[0].functions_not_called, ["http:releases"]);
        assert!(report.events[0].cdevents.is_empty());
        assert!(report.events[0].failures.is_empty());
        let printed = serde_json::to_value(&report.events[0]).unwrap();
        assert_eq!(printed["functions_not_called"][0], "http:releases");
    }

    #[test]
    fn arrays_json_lines_and_bad_documents_are_reported_one_by_one() {
        let table = RoutingTable::new(
            &dora_pipeline::routing::default_routes(),
            &Default::default(),
            &[],
        )
        .unwrap();
        let cdevent: Value = serde_json::from_str(
            &std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures/cdevents-spec/v0.5.1/conformance/service_deployed.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let wrapped = serde_json::json!({"specversion": "1.0", "id": "1", "source": "/ci",
            "type": "dev.cdevents.service.deployed.0.3.0", "data": cdevent});
        let other = serde_json::json!({"specversion": "1.0", "id": "2", "source": "/x",
            "type": "com.example.unrouted"});
        let lines = format!("{wrapped}\n{other}\n{{\"specversion\": \"1.0\"}}\n{cdevent}\nnope\n");
        let report = transform_documents(&table, documents("events.jsonl", &lines).unwrap());
        assert_eq!(report.events.len(), 5);
        assert_eq!(report.cdevents, 1);
        assert_eq!(report.events[0].transformers, ["cdevents"]);
        assert_eq!(report.events[0].cdevents[0].cdevent, cdevent);
        assert!(report.events[1].transformers.is_empty());
        assert!(report.events[1].failures.is_empty());
        assert!(report.events[2].failures[0]
            .reason
            .starts_with("not a valid CloudEvent"));
        assert!(report.events[3].failures[0]
            .reason
            .starts_with("a bare CDEvent"));
        assert_eq!(report.events[4].location, "events.jsonl[4]");
        assert!(report.events[4].failures[0]
            .reason
            .starts_with("not valid JSON"));
        assert_eq!(report.failures, 3);
        assert!(!report.is_clean());
    }

    /// The rules the docs show load, and the kubewatch ones do what the docs say on kubewatch's
    /// event.
    #[test]
    fn the_rules_in_the_docs_work() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().unwrap();
        let mut checked = 0;
        for doc in ["docs/integrations/rules.md", "docs/configuration.md"] {
            let text = std::fs::read_to_string(root.join(doc)).unwrap();
            for (i, block) in text.split("```toml\n").skip(1).enumerate() {
                let block = block.split("```").next().unwrap();
                if !block.starts_with("[[rules]]") {
                    continue;
                }
                let config = dir.path().join(format!("{i}.toml"));
                std::fs::write(&config, block).unwrap();
                let settings = Settings::load(Some(&config), &Overrides::default())
                    .unwrap_or_else(|e| panic!("{doc} block {i}: {e:#}"));
                checked += 1;
                if settings.rules[0].name != "kubewatch-deployments" {
                    continue;
                }
                let report = transform_file(
                    &fixtures().join("kubewatch/deployment-update/input.json"),
                    &settings,
                )
                .unwrap();
                assert!(report.is_clean(), "{doc} block {i}: {report:#?}");
                assert_eq!(report.cdevents, 1, "{doc} block {i}");
                let cdevent = &report.events[0].cdevents[0].cdevent;
                assert_eq!(
                    cdevent["subject"]["content"]["artifactId"],
                    "pkg:oci/aaaaaaaaa?repository_url=docker.io/robustadev/aaaaaaaaa&tag=v2.9.0"
                );
            }
        }
        assert_eq!(checked, 3, "the kubewatch rule twice, the CI rule once");
    }

    #[test]
    fn a_rule_that_does_not_compile_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("dora.toml");
        std::fs::write(
            &config,
            "[[rules]]\nname = \"broken\"\nemit = '{context: {type: }}'\n",
        )
        .unwrap();
        let error = Settings::load(Some(&config), &Overrides::default()).unwrap_err();
        let text = format!("{error:#}");
        assert!(
            text.contains("rule \"broken\": emit: expected term, found \"}\" at line 1, column 18"),
            "{text}"
        );
    }
}
