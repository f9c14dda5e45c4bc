//! Events that must be refused, each with the exact error and the field it names.

use dora_spec::{validate, SpecError, SpecRelease};
use serde_json::{json, Value};

use crate::fixture;

/// A valid v0.5.1 `service.deployed` event from the official conformance set.
fn service_deployed() -> Value {
    fixture("v0.5.1/conformance/service_deployed.json")
}

/// Unpacks a `SpecError::Schema` into (instance_path, schema_path, message).
fn schema_error(err: SpecError) -> (String, String, String) {
    match err {
        SpecError::Schema {
            instance_path,
            schema_path,
            message,
        } => (instance_path, schema_path, message),
        other => panic!("expected SpecError::Schema, got {other:?}"),
    }
}

#[test]
fn a_missing_context_id_is_named_as_context_id() {
    let mut event = service_deployed();
    event["context"].as_object_mut().unwrap().remove("id");

    let err = validate(&event).unwrap_err();

    assert_eq!(err.field(), "/context/id");
    let (instance_path, schema_path, message) = schema_error(err);
    assert_eq!(instance_path, "/context/id");
    assert_eq!(schema_path, "/properties/context/required");
    assert!(message.contains("\"id\""), "{message}");
}

#[test]
fn a_missing_artifact_id_on_service_deployed_points_at_subject_content_artifact_id() {
    let mut event = service_deployed();
    event["subject"]["content"]
        .as_object_mut()
        .unwrap()
        .remove("artifactId");

    let err = validate(&event).unwrap_err();

    assert_eq!(err.field(), "/subject/content/artifactId");
    let (instance_path, schema_path, _) = schema_error(err);
    assert_eq!(instance_path, "/subject/content/artifactId");
    assert_eq!(
        schema_path,
        "/properties/subject/properties/content/required"
    );
}

#[test]
fn a_type_version_of_another_release_fails_at_context_type() {
    let mut event = service_deployed();
    // 0.2.0 is service.deployed in v0.4.1; v0.5.1 has 0.3.0.
    event["context"]["type"] = "dev.cdevents.service.deployed.0.2.0".into();

    let err = validate(&event).unwrap_err();

    assert_eq!(err.field(), "/context/type");
    let (_, schema_path, _) = schema_error(err);
    assert_eq!(schema_path, "/properties/context/properties/type/enum");
}

#[test]
fn an_unsupported_spec_version_is_refused_with_the_version_found() {
    let mut event = service_deployed();
    event["context"]["specversion"] = "0.9.0".into();

    let err = validate(&event).unwrap_err();

    assert!(
        matches!(&err, SpecError::UnsupportedSpecVersion { found } if found == "0.9.0"),
        "{err:?}"
    );
    assert_eq!(err.field(), "/context/specversion");
    assert!(err.to_string().contains("0.5.x"), "{err}");
}

#[test]
fn an_unsupported_legacy_version_is_named_as_context_version() {
    let mut event = fixture("v0.3.0/examples/service_deployed.json");
    event["context"]["version"] = "0.2.0".into();

    let err = validate(&event).unwrap_err();

    assert!(
        matches!(&err, SpecError::UnsupportedSpecVersion { found } if found == "0.2.0"),
        "{err:?}"
    );
    assert_eq!(err.field(), "/context/version");
}

#[test]
fn a_context_without_any_spec_version_is_unsupported() {
    let mut event = service_deployed();
    event["context"]
        .as_object_mut()
        .unwrap()
        .remove("specversion");

    let err = validate(&event).unwrap_err();

    assert!(
        matches!(&err, SpecError::UnsupportedSpecVersion { found } if found.is_empty()),
        "{err:?}"
    );
}

#[test]
fn an_unknown_predicate_is_an_unknown_type_of_that_release() {
    let mut event = service_deployed();
    event["context"]["type"] = "dev.cdevents.service.exploded.0.3.0".into();

    let err = validate(&event).unwrap_err();

    assert_eq!(err.field(), "/context/type");
    match err {
        SpecError::UnknownType {
            event_type,
            release,
        } => {
            assert_eq!(event_type, "dev.cdevents.service.exploded.0.3.0");
            assert_eq!(release, SpecRelease::V0_5_1);
        }
        other => panic!("expected UnknownType, got {other:?}"),
    }
}

#[test]
fn a_subject_introduced_later_is_unknown_to_an_older_release() {
    let mut event = fixture("v0.3.0/examples/service_deployed.json");
    event["context"]["type"] = "dev.cdevents.ticket.created.0.1.0".into();

    let err = validate(&event).unwrap_err();

    assert!(
        matches!(
            &err,
            SpecError::UnknownType {
                release: SpecRelease::V0_3_0,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_custom_type_is_unknown_to_a_release_without_a_custom_schema() {
    let mut event = fixture("v0.3.0/examples/service_deployed.json");
    event["context"]["type"] = "dev.cdeventsx.mytool-resource.created.0.1.0".into();

    let err = validate(&event).unwrap_err();

    assert!(
        matches!(&err, SpecError::UnknownType { event_type, release: SpecRelease::V0_3_0 }
            if event_type == "dev.cdeventsx.mytool-resource.created.0.1.0"),
        "{err:?}"
    );
}

#[test]
fn a_timestamp_that_is_not_rfc_3339_breaks_the_date_time_format() {
    let mut event = service_deployed();
    event["context"]["timestamp"] = "20/03/2023 14:27".into();

    let err = validate(&event).unwrap_err();

    assert_eq!(err.field(), "/context/timestamp");
    let (_, schema_path, message) = schema_error(err);
    assert_eq!(
        schema_path,
        "/properties/context/properties/timestamp/format"
    );
    assert!(message.contains("date-time"), "{message}");
}

#[test]
fn an_unexpected_context_property_is_named_itself() {
    let mut event = service_deployed();
    event["context"]["priority"] = "high".into();

    let err = validate(&event).unwrap_err();

    assert_eq!(err.field(), "/context/priority");
    let (_, schema_path, _) = schema_error(err);
    assert_eq!(schema_path, "/properties/context/additionalProperties");
}

#[test]
fn a_broken_link_is_found_through_the_link_schemas() {
    let mut event = service_deployed();
    event["context"]["links"] = json!([{ "linkType": "END", "from": {} }]);

    let err = validate(&event).unwrap_err();

    let field = err.field();
    assert!(field.starts_with("/context/links/0"), "{field}");
    let (_, schema_path, _) = schema_error(err);
    assert!(
        schema_path.starts_with("/properties/context/properties/links/$ref/"),
        "{schema_path}"
    );
}

#[test]
fn documents_that_are_not_objects_are_not_cdevents() {
    for document in [json!([]), json!("event"), json!(42), Value::Null] {
        let err = validate(&document).unwrap_err();
        assert!(
            matches!(err, SpecError::NotACdevent { .. }),
            "{document}: {err:?}"
        );
        assert_eq!(err.field(), "/context");
    }
}

#[test]
fn an_object_without_a_context_object_is_not_a_cdevent() {
    for document in [json!({}), json!({ "context": "x", "subject": {} })] {
        let err = validate(&document).unwrap_err();
        assert!(
            matches!(err, SpecError::NotACdevent { .. }),
            "{document}: {err:?}"
        );
        assert_eq!(err.field(), "/context");
    }
}

#[test]
fn a_missing_or_foreign_type_is_a_bad_type() {
    let mut event = service_deployed();
    event["context"].as_object_mut().unwrap().remove("type");
    let err = validate(&event).unwrap_err();
    assert!(
        matches!(&err, SpecError::BadType { found } if found.is_empty()),
        "{err:?}"
    );
    assert_eq!(err.field(), "/context/type");

    event["context"]["type"] = "com.github.push".into();
    let err = validate(&event).unwrap_err();
    assert!(
        matches!(&err, SpecError::BadType { found } if found == "com.github.push"),
        "{err:?}"
    );
}

// --- SDK test resources -------------------------------------------------------------------------

#[test]
fn sdk_java_event_without_context_is_not_a_cdevent() {
    let err = validate(&fixture("sdk-java/artifact_published_with_no_context.json")).unwrap_err();
    assert!(matches!(err, SpecError::NotACdevent { .. }), "{err:?}");
}

#[test]
fn sdk_java_invalid_predicate_is_an_unknown_v0_3_0_type() {
    let err = validate(&fixture("sdk-java/artifact_signed_with_invalid_type.json")).unwrap_err();
    assert!(
        matches!(&err, SpecError::UnknownType { event_type, release: SpecRelease::V0_3_0 }
            if event_type == "dev.cdevents.artifact.invalid.0.1.0"),
        "{err:?}"
    );
}

#[test]
fn sdk_java_artifact_without_content_reports_the_wrong_type_version_first() {
    // v0.3.0 event with a v0.4 type version and no subject.content: the type explains the rest.
    let err = validate(&fixture("sdk-java/artifact_packaged_with_no_content.json")).unwrap_err();
    assert_eq!(err.field(), "/context/type");
    assert!(matches!(err, SpecError::Schema { .. }), "{err:?}");
}

#[test]
fn sdk_java_v0_1_2_event_with_a_later_type_version_fails_at_context_type() {
    let err = validate(&fixture("sdk-java/pipelinerun_started_optional.json")).unwrap_err();
    assert_eq!(err.field(), "/context/type");
    let (_, schema_path, _) = schema_error(err);
    assert_eq!(schema_path, "/properties/context/properties/type/enum");
}

#[test]
fn sdk_go_unknown_type_is_unknown_to_v0_1_2() {
    let err = validate(&fixture("sdk-go/unknown_type.json")).unwrap_err();
    assert!(
        matches!(&err, SpecError::UnknownType { event_type, release: SpecRelease::V0_1_2 }
            if event_type == "dev.cdevents.foosubject.gazumped.0.1.0"),
        "{err:?}"
    );
}

#[test]
fn sdk_go_unparsable_type_is_a_bad_type() {
    let err = validate(&fixture("sdk-go/unparsable_type.json")).unwrap_err();
    assert!(
        matches!(&err, SpecError::BadType { found } if found == "dev.cdevents.foosubject_barpredicate_0.1.0"),
        "{err:?}"
    );
}

#[test]
fn sdk_go_future_spec_version_is_unsupported() {
    let err = validate(&fixture("sdk-go/custom_type_event.json")).unwrap_err();
    assert!(
        matches!(&err, SpecError::UnsupportedSpecVersion { found } if found == "99.1.0"),
        "{err:?}"
    );
}

#[test]
fn sdk_rust_custom_type_without_a_tool_prefix_breaks_the_custom_type_pattern() {
    // The Rust SDK accepts `dev.cdeventsx.probes.ping.0.1.0`; the official v0.5.1 custom schema
    // wants `<tool>-<resource>` as subject.
    let err = validate(&fixture("sdk-rust/custom_cdeventsx.json")).unwrap_err();
    assert_eq!(err.field(), "/context/type");
    let (_, schema_path, _) = schema_error(err);
    assert_eq!(schema_path, "/properties/context/properties/type/pattern");
}

#[test]
fn sdk_rust_foreign_domain_type_is_a_bad_type() {
    let err = validate(&fixture("sdk-rust/custom_domain.json")).unwrap_err();
    assert!(
        matches!(&err, SpecError::BadType { found } if found == "com.example.probes.ping.0.1.0"),
        "{err:?}"
    );
}

#[test]
fn a_well_formed_custom_type_validates_against_the_custom_schema() {
    let mut event = fixture("sdk-rust/custom_cdeventsx.json");
    event["context"]["type"] = "dev.cdeventsx.cdviz-probes.ping.0.1.0".into();
    let valid = validate(&event).unwrap();
    assert_eq!(valid.release, SpecRelease::V0_5_1);
    assert!(valid.event_type.custom);
    assert_eq!(valid.event_type.subject, "cdviz-probes");
}
