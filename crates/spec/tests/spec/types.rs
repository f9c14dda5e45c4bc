//! `type_for`, `parse_type`, and old (v0.1.x) events.

use dora_spec::{
    parse_type, type_for, validate, CdeventType, SpecError, SpecRelease, EMIT_RELEASE,
};
use serde_json::json;

#[test]
fn type_for_reads_each_release_s_own_type_version() {
    use SpecRelease::*;
    let cases = [
        (
            V0_1_2,
            "service",
            "deployed",
            "dev.cdevents.service.deployed.0.1.0",
        ),
        (
            V0_1_2,
            "branch",
            "created",
            "dev.cdevents.branch.created.0.1.1",
        ),
        (
            V0_1_2,
            "testcase",
            "finished",
            "dev.cdevents.testcase.finished.0.1.0",
        ),
        (
            V0_3_0,
            "service",
            "deployed",
            "dev.cdevents.service.deployed.0.1.1",
        ),
        (
            V0_3_0,
            "incident",
            "detected",
            "dev.cdevents.incident.detected.0.1.0",
        ),
        (
            V0_3_0,
            "change",
            "merged",
            "dev.cdevents.change.merged.0.1.2",
        ),
        (
            V0_4_1,
            "service",
            "deployed",
            "dev.cdevents.service.deployed.0.2.0",
        ),
        (
            V0_4_1,
            "change",
            "created",
            "dev.cdevents.change.created.0.3.0",
        ),
        (
            V0_4_1,
            "ticket",
            "closed",
            "dev.cdevents.ticket.closed.0.1.0",
        ),
        (
            V0_5_1,
            "service",
            "deployed",
            "dev.cdevents.service.deployed.0.3.0",
        ),
        (
            V0_5_1,
            "service",
            "rolledback",
            "dev.cdevents.service.rolledback.0.3.0",
        ),
        (
            V0_5_1,
            "incident",
            "resolved",
            "dev.cdevents.incident.resolved.0.3.0",
        ),
        (
            V0_5_1,
            "change",
            "created",
            "dev.cdevents.change.created.0.4.0",
        ),
        (
            V0_5_1,
            "testcaserun",
            "skipped",
            "dev.cdevents.testcaserun.skipped.0.2.0",
        ),
    ];
    for (release, subject, predicate, expected) in cases {
        assert_eq!(
            type_for(release, subject, predicate),
            Some(expected),
            "{release} {subject}.{predicate}"
        );
    }
}

#[test]
fn type_for_is_none_for_what_a_release_does_not_define() {
    assert_eq!(type_for(SpecRelease::V0_1_2, "incident", "detected"), None);
    assert_eq!(type_for(SpecRelease::V0_3_0, "ticket", "created"), None);
    assert_eq!(type_for(SpecRelease::V0_5_1, "service", "exploded"), None);
    assert_eq!(type_for(SpecRelease::V0_5_1, "links/link", "end"), None);
    assert_eq!(type_for(SpecRelease::V0_5_1, "custom/", "schema"), None);
}

#[test]
fn emit_release_is_v0_5_1() {
    assert_eq!(EMIT_RELEASE, SpecRelease::V0_5_1);
    assert_eq!(EMIT_RELEASE.as_str(), "0.5.1");
    assert_eq!(SpecRelease::V0_1_2.to_string(), "0.1.2");
}

#[test]
fn parse_type_splits_well_formed_types() {
    assert_eq!(
        parse_type("dev.cdevents.service.deployed.0.3.0"),
        Some(CdeventType {
            custom: false,
            subject: "service".into(),
            predicate: "deployed".into(),
            version: "0.3.0".into(),
        })
    );
    assert_eq!(
        parse_type("dev.cdeventsx.tool-resource.created.0.1.0"),
        Some(CdeventType {
            custom: true,
            subject: "tool-resource".into(),
            predicate: "created".into(),
            version: "0.1.0".into(),
        })
    );
    let parsed = parse_type("dev.cdevents.testcaserun.skipped.10.20.30-draft").unwrap();
    assert_eq!(parsed.version, "10.20.30-draft");
    assert_eq!(
        parsed.to_string(),
        "dev.cdevents.testcaserun.skipped.10.20.30-draft"
    );
}

#[test]
fn parse_type_refuses_malformed_types() {
    for malformed in [
        "",
        "dev.cdevents",
        "dev.cdevents.",
        "dev.cdevents.service.deployed",
        "dev.cdevents.service.deployed.0.3",
        "dev.cdevents.service.deployed.0.3.0.1",
        "dev.cdevents.service.deployed.0.3.x",
        "dev.cdevents.service.deployed.0.3.",
        "dev.cdevents.service..0.3.0",
        "dev.cdevents..deployed.0.3.0",
        "dev.cdevents.foosubject_barpredicate_0.1.0",
        "dev.cdevents.ser vice.deployed.0.3.0",
        "dev.cdevents.service.deployed.0.3.0-",
        "dev.cdeventsxy.tool-resource.created.0.1.0",
        "com.example.probes.ping.0.1.0",
        "DEV.CDEVENTS.service.deployed.0.3.0",
        " dev.cdevents.service.deployed.0.3.0",
    ] {
        assert_eq!(parse_type(malformed), None, "{malformed:?}");
    }
}

/// The book's CDEvent is a `dev.cdevents.service.deployed.0.1.0` with context `version` 0.1.0.
/// The v0.1.2 schema accepts that type and needs `context.{version,id,source,type,timestamp}`,
/// `subject.{id,type,content}` and `subject.content.{environment.id,artifactId}`.
fn book_event() -> serde_json::Value {
    json!({
        "context": {
            "version": "0.1.0",
            "id": "8d3b7a8e-9a6f-4a4e-8a0c-2b1c9d1f7e11",
            "source": "/apis/apps/v1/namespaces/default/deployments/conference-frontend",
            "type": "dev.cdevents.service.deployed.0.1.0",
            "timestamp": "2023-06-15T10:21:34Z"
        },
        "subject": {
            "id": "conference-frontend",
            "source": "/apis/apps/v1/namespaces/default/deployments/conference-frontend",
            "type": "service",
            "content": {
                "environment": { "id": "default" },
                "artifactId": "docker.io/salaboy/frontend-go:v1.0.0"
            }
        }
    })
}

#[test]
fn a_book_style_v0_1_event_validates_against_v0_1_2() {
    let valid = validate(&book_event()).unwrap();

    assert_eq!(valid.release, SpecRelease::V0_1_2);
    assert_eq!(valid.event_type.version, "0.1.0");
}

#[test]
fn a_book_style_v0_1_event_still_needs_an_artifact_id() {
    let mut event = book_event();
    event["subject"]["content"]
        .as_object_mut()
        .unwrap()
        .remove("artifactId");

    let err = validate(&event).unwrap_err();

    assert!(matches!(err, SpecError::Schema { .. }), "{err:?}");
    assert_eq!(err.field(), "/subject/content/artifactId");
}
