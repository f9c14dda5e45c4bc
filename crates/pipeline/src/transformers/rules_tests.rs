//! Unit tests of the rules.

#![allow(clippy::unwrap_used, clippy::expect_used)]
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

/// Why the rule that emits `emit` (and matches everything) failed on `input`.
fn run_time_reason(emit: &str, input: &CloudEvent) -> String {
    rule(None, emit)
        .unwrap()
        .documents(input)
        .unwrap_err()
        .reason
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

    // How the message of each broken expression starts and ends.
    for (matches, emit, starts, ends) in [
        (
            Some(".type ==\n  \"x\" and nosuch"),
            DEPLOYED,
            "match: undefined filter nosuch/0 at line 2, column 11",
            "\n      \"x\" and nosuch\n              ^",
        ),
        (
            None,
            "$x",
            "emit: undefined variable $x at line 1, column 1",
            "",
        ),
    ] {
        let error = rule(matches, emit).unwrap_err();
        assert!(error.message.starts_with(starts), "{error}");
        assert!(error.message.ends_with(ends), "{error}");
    }
    for (emit, part) in [
        (".data | \"unclosed", "expected closing quote"),
        ("import \"m\" as m; .", "cannot import"),
    ] {
        let error = rule(None, emit).unwrap_err();
        assert!(error.message.contains(part), "{error}");
    }
}

#[test]
fn the_environment_and_the_clock_are_out_of_reach() {
    for code in ["env", "now", "localtime", "$ENV"] {
        let error = rule(None, code).unwrap_err();
        assert!(error.message.contains("undefined"), "{code}: {error}");
    }
    let halting = rule(None, "halt_error").unwrap();
    let error = halting.documents(&event(json!({}))).unwrap_err();
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
    let out = rule.documents(&input).unwrap();
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
    assert_eq!(rule.documents(&input).unwrap(), out);
    // The rule's name is part of the id.
    let renamed = Rule::compile(&RuleConfig {
        name: "other".into(),
        matches: None,
        emit: DEPLOYED.into(),
    })
    .unwrap();
    assert_ne!(
        renamed.documents(&input).unwrap()[0]["context"]["id"],
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
            rule.documents(&input).unwrap().len(),
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
        let out = rule(None, emit).unwrap().documents(&input).unwrap();
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
    let out = rule(None, emit).unwrap().documents(&input).unwrap();
    assert_eq!(out[0]["context"]["id"], "mine");
    assert_eq!(out[0]["context"]["source"], "/ci");
    assert_eq!(out[0]["context"]["specversion"], "0.4.1");
    assert_eq!(out[0]["context"]["timestamp"], "2023-04-06T20:56:06Z");
    assert_eq!(out[1]["context"]["timestamp"], "2023-04-06T20:56:06Z");
}

#[test]
fn run_time_errors_are_transform_errors_with_the_reason() {
    let input = event(json!({"name": "web"}));
    let reason = |emit: &str| run_time_reason(emit, &input);
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
    assert_eq!(matcher.documents(&input).unwrap_err().reason, "match: web");

    let timeless = CloudEvent::from_json_value(json!({"specversion": "1.0", "id": "1",
        "source": "/s", "type": "t", "data": {}}))
    .unwrap();
    assert_eq!(
        rule(None, "{}")
            .unwrap()
            .documents(&timeless)
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
    let out = rule(None, emit).unwrap().documents(&input).unwrap();
    assert_eq!(
        out[0]["subject"]["content"],
        json!({"at": "2016-08-12T15:23:28Z", "ms": "2016-08-12T15:23:28Z",
               "purl": "pkg:oci/nginx?repository_url=docker.io/library/nginx&tag=1.25"})
    );
    let reason = |emit: &str| run_time_reason(emit, &input);
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
    .documents(&input)
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
    let out = rule(None, emit).unwrap().documents(&input).unwrap();
    assert_eq!(
        out[0]["subject"],
        json!({"id": "web", "content": {"deploy": true, "epoch": 1_680_814_566,
               "parts": ["deploy", "web"], "upper": "DEPLOY-WEB"}})
    );
}
