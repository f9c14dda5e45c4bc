//! Every transformer on a CloudEvent built from the input (structured JSON, read as the router
//! reads a stored event): the eight built-in ones, each with the default `[sources.*]` settings
//! and with settings like the fixtures', and compiled `[[rules]]` (the kubewatch rule of the
//! fixtures, the example configuration's Jenkins rule, and a probe rule that feeds the first
//! strings of the event's data to the `timestamp` and `oci_purl` filters), each with and without
//! its `match`. Whatever a transformer emits is validated as the router validates it, and a
//! built-in transformer must give the same output twice (the router relies on it to process an
//! event again). Then the default routes, with the event taken as posted to `POST /cdevents`.
#![no_main]

use std::sync::OnceLock;

use dora_model::cloudevent::CloudEvent;
use dora_pipeline::router::{route_event, validated_cdevent};
use dora_pipeline::routing::{default_routes, RoutingTable};
use dora_pipeline::transformers::rules::{Rule, RuleConfig};
use dora_sources::{SourcesConfig, Transformer, SOURCES};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

struct Harness {
    transformers: Vec<Box<dyn Transformer>>,
    rules: Vec<Rule>,
    table: RoutingTable,
}

#[derive(Deserialize)]
struct RulesFile {
    rules: Vec<RuleConfig>,
}

/// `[sources.*]` as the fixtures' `settings.json` files set them.
const CONFIGURED: &str = r#"{
    "github": {"incident_label": "bug"},
    "gitlab": {"incident_label": "API"},
    "tekton": {"deploy_pipelines": ["deploy-*"]},
    "argocd": {"environments": {"https://kubernetes.default.svc/argocd": "production"}}
}"#;

const JENKINS: &str = r#"
[[rules]]
name = "jenkins-deploy"
match = '.type == "io.jenkins.job.completed" and .data.result == "SUCCESS" and (.data.job | startswith("deploy-"))'
emit = '''
{ context: {type: "dev.cdevents.service.deployed.0.3.0", timestamp: .data.finishedAt},
  subject: {id: (.data.job | ltrimstr("deploy-")),
            content: {environment: {id: .data.parameters.ENVIRONMENT},
                      artifactId: (.data.parameters.IMAGE | oci_purl)}},
  customData: {dora: {revision: .data.scm.commit}} }
'''

[[rules]]
name = "probe"
emit = '''
limit(8; .data | .. | strings
  | { context: {type: "dev.cdevents.service.deployed.0.3.0", timestamp: (timestamp? // null)},
      subject: {id: "probe",
                content: {environment: {id: "e"}, artifactId: (oci_purl? // "pkg:generic/x")}}})
'''
"#;

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let configured: SourcesConfig =
            serde_json::from_str(CONFIGURED).expect("the settings deserialize");
        let mut transformers: Vec<Box<dyn Transformer>> = Vec::new();
        for sources in [SourcesConfig::default(), configured] {
            for source in SOURCES {
                transformers.push(source.transformer(&sources));
            }
        }
        let mut rules = Vec::new();
        let kubewatch = include_str!("../../tests/fixtures/rules/kubewatch.toml");
        for file in [kubewatch, JENKINS] {
            let file: RulesFile = toml::from_str(file).expect("the rules parse");
            for rule in file.rules {
                if rule.matches.is_some() {
                    let unmatched = RuleConfig {
                        name: format!("{}-always", rule.name),
                        matches: None,
                        emit: rule.emit.clone(),
                    };
                    rules.push(Rule::compile(&unmatched).expect("the rule compiles"));
                }
                rules.push(Rule::compile(&rule).expect("the rule compiles"));
            }
        }
        let table = RoutingTable::new(&default_routes(), &SourcesConfig::default(), &[])
            .expect("the default routes build");
        Harness {
            transformers,
            rules,
            table,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(event) = CloudEvent::from_json_bytes(data) else {
        return;
    };
    let harness = harness();
    for transformer in &harness.transformers {
        let first = transformer.documents(&event);
        let again = transformer.documents(&event);
        assert_eq!(first, again, "{} is not deterministic", transformer.name());
        if let Ok(documents) = first {
            for document in &documents {
                let _ = validated_cdevent(document, transformer.name());
            }
        }
    }
    // jq is deterministic: the rules run once (they cost most of the time of an input).
    for rule in &harness.rules {
        if let Ok(documents) = rule.documents(&event) {
            for document in &documents {
                let _ = validated_cdevent(document, rule.name());
            }
        }
    }
    let _ = route_event(&harness.table, &event, true);
});
