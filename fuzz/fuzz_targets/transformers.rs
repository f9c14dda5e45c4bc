//! Every transformer on a CloudEvent built from the input (structured JSON, read as the router
//! reads a stored event): the eight built-in ones, each with the default `[sources.*]` settings
//! and with settings like the fixtures', and compiled `[[rules]]` (the kubewatch rule of the
//! fixtures, the example configuration's Jenkins rule, and a probe rule that feeds every string
//! of the event to the `timestamp` and `oci_purl` filters), each with and without its `match`.
//! Whatever a transformer emits is validated as the router validates it, and a transformer must
//! give the same output twice (the router relies on it to process an event again). Then the
//! default routes, with the event taken as posted to `POST /cdevents`.
#![no_main]

use std::sync::OnceLock;

use dora_model::cloudevent::CloudEvent;
use dora_pipeline::router::{route_event, validated_cdevent};
use dora_pipeline::routing::{default_routes, RoutingTable};
use dora_pipeline::transformers::rules::{Rule, RuleConfig};
use dora_pipeline::transformers::{SourcesConfig, Transformer, TransformerKind};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

struct Harness {
    transformers: Vec<Box<dyn Transformer>>,
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
[ .. | strings
  | { context: {type: "dev.cdevents.service.deployed.0.3.0", timestamp: (timestamp? // null)},
      subject: {id: "probe",
                content: {environment: {id: "e"}, artifactId: (oci_purl? // "pkg:generic/x")}}} ]
| .[:8]
'''
"#;

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let configured: SourcesConfig =
            serde_json::from_str(CONFIGURED).expect("the settings deserialize");
        let mut transformers: Vec<Box<dyn Transformer>> = Vec::new();
        for sources in [SourcesConfig::default(), configured] {
            for kind in TransformerKind::ALL {
                transformers.push(kind.build(&sources));
            }
        }
        let kubewatch = include_str!("../../tests/fixtures/rules/kubewatch.toml");
        for file in [kubewatch, JENKINS] {
            let file: RulesFile = toml::from_str(file).expect("the rules parse");
            for rule in file.rules {
                let unmatched = RuleConfig {
                    name: format!("{}-always", rule.name),
                    matches: None,
                    emit: rule.emit.clone(),
                };
                for config in [rule, unmatched] {
                    let compiled = Rule::compile(&config).expect("the rule compiles");
                    transformers.push(Box::new(compiled));
                }
            }
        }
        let table = RoutingTable::new(&default_routes(), &SourcesConfig::default(), &[])
            .expect("the default routes build");
        Harness {
            transformers,
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
        let first = transformer.transform(&event);
        let again = transformer.transform(&event);
        assert_eq!(first, again, "{} is not deterministic", transformer.name());
        if let Ok(documents) = first {
            for document in &documents {
                let _ = validated_cdevent(document, transformer.name());
            }
        }
    }
    let _ = route_event(&harness.table, &event, true);
});
