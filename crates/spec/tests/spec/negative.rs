//! Events that must be refused, each with the exact error and the field it names.

use dora_spec::{validate, SpecError, SpecRelease};
use serde_json::{json, Value};

use crate::fixture;

/// A valid v0.5.1 `service.deployed` event from the official conformance set.
const DEPLOYED: &str = "v0.5.1/conformance/service_deployed.json";
/// A v0.3.0 `service.deployed` example (a spec of the `context.version` era).
const DEPLOYED_V0_3_0: &str = "v0.3.0/examples/service_deployed.json";

/// The fixture `rel` with `value` set at the JSON pointer `pointer` (its parent must exist).
fn with(rel: &str, pointer: &str, value: impl Into<Value>) -> Value {
    let mut event = fixture(rel);
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    event.pointer_mut(parent).unwrap()[key] = value.into();
    event
}

/// The fixture `rel` without the property at the JSON pointer `pointer`.
fn without(rel: &str, pointer: &str) -> Value {
    let mut event = fixture(rel);
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let removed = event
        .pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key);
    assert!(removed.is_some(), "{rel} has no {pointer}");
    event
}

/// How an event must be refused.
enum Refusal {
    /// `SpecError::NotACdevent`, named at `/context`.
    NotACdevent,
    /// `SpecError::BadType` with the type found, named at `/context/type`.
    BadType(&'static str),
    /// `SpecError::UnknownType` with the type and the release it is unknown to, named at `/context/type`.
    UnknownType(&'static str, SpecRelease),
    /// `SpecError::UnsupportedSpecVersion` with the version found, named at `field`.
    Unsupported {
        found: &'static str,
        field: &'static str,
    },
    /// `SpecError::Schema` at `field` (its instance path), breaking `schema_path`, with a message
    /// that holds `message`.
    Schema {
        field: &'static str,
        schema_path: &'static str,
        message: &'static str,
    },
}

/// Asserts that `event` is refused as `expected`; `case` names it in a failure.
fn assert_refused(case: &str, event: &Value, expected: &Refusal) {
    let err = validate(event).expect_err(case);
    let field = err.field();
    match (expected, &err) {
        (Refusal::NotACdevent, SpecError::NotACdevent { .. }) => {
            assert_eq!(field, "/context", "{case}");
        }
        (Refusal::BadType(want), SpecError::BadType { found }) => {
            assert_eq!(found, want, "{case}");
            assert_eq!(field, "/context/type", "{case}");
        }
        (
            Refusal::UnknownType(want, want_release),
            SpecError::UnknownType {
                event_type,
                release,
            },
        ) => {
            assert_eq!(
                (event_type.as_str(), release),
                (*want, want_release),
                "{case}"
            );
            assert_eq!(field, "/context/type", "{case}");
        }
        (
            Refusal::Unsupported {
                found: want,
                field: want_field,
            },
            SpecError::UnsupportedSpecVersion { found },
        ) => {
            assert_eq!(
                (found.as_str(), field.as_str()),
                (*want, *want_field),
                "{case}"
            );
            assert!(err.to_string().contains("0.5.x"), "{case}: {err}");
        }
        (
            Refusal::Schema {
                field: want_field,
                schema_path: want_path,
                message: want_message,
            },
            SpecError::Schema {
                instance_path,
                schema_path,
                message,
            },
        ) => {
            assert_eq!(field, *want_field, "{case}");
            assert_eq!(instance_path, want_field, "{case}");
            assert_eq!(schema_path, want_path, "{case}");
            assert!(message.contains(want_message), "{case}: {message}");
        }
        _ => panic!("{case}: got {err:?}"),
    }
}

/// Asserts every `(case, event, refusal)` of a table.
fn assert_all_refused<const N: usize>(cases: [(&str, Value, Refusal); N]) {
    for (case, event, expected) in &cases {
        assert_refused(case, event, expected);
    }
}

#[test]
fn schema_violations_name_the_field_and_the_broken_keyword() {
    use Refusal::Schema;
    assert_all_refused([
        (
            "a missing context id is named as context.id",
            without(DEPLOYED, "/context/id"),
            Schema {
                field: "/context/id",
                schema_path: "/properties/context/required",
                message: "\"id\"",
            },
        ),
        (
            "a missing artifactId on service.deployed points at subject.content.artifactId",
            without(DEPLOYED, "/subject/content/artifactId"),
            Schema {
                field: "/subject/content/artifactId",
                schema_path: "/properties/subject/properties/content/required",
                message: "\"artifactId\"",
            },
        ),
        (
            // 0.2.0 is service.deployed in v0.4.1; v0.5.1 has 0.3.0.
            "a type version of another release fails at context.type",
            with(
                DEPLOYED,
                "/context/type",
                "dev.cdevents.service.deployed.0.2.0",
            ),
            Schema {
                field: "/context/type",
                schema_path: "/properties/context/properties/type/enum",
                message: "is not one of",
            },
        ),
        (
            "a timestamp that is not RFC 3339 breaks the date-time format",
            with(DEPLOYED, "/context/timestamp", "20/03/2023 14:27"),
            Schema {
                field: "/context/timestamp",
                schema_path: "/properties/context/properties/timestamp/format",
                message: "date-time",
            },
        ),
        (
            "an unexpected context property is named itself",
            with(DEPLOYED, "/context/priority", "high"),
            Schema {
                field: "/context/priority",
                schema_path: "/properties/context/additionalProperties",
                message: "'priority' was unexpected",
            },
        ),
        (
            // A v0.3.0 event with a v0.4 type version and no subject.content: the type explains the rest.
            "sdk-java: an artifact without content reports the wrong type version first",
            fixture("sdk-java/artifact_packaged_with_no_content.json"),
            Schema {
                field: "/context/type",
                schema_path: "/properties/context/properties/type/enum",
                message: "is not one of",
            },
        ),
        (
            "sdk-java: a v0.1.2 event with a later type version fails at context.type",
            fixture("sdk-java/pipelinerun_started_optional.json"),
            Schema {
                field: "/context/type",
                schema_path: "/properties/context/properties/type/enum",
                message: "is not one of",
            },
        ),
        (
            // The Rust SDK accepts `dev.cdeventsx.probes.ping.0.1.0`; the official v0.5.1 custom
            // schema wants `<tool>-<resource>` as subject.
            "sdk-rust: a custom type without a tool prefix breaks the custom type pattern",
            fixture("sdk-rust/custom_cdeventsx.json"),
            Schema {
                field: "/context/type",
                schema_path: "/properties/context/properties/type/pattern",
                message: "does not match",
            },
        ),
    ]);
}

#[test]
fn spec_versions_this_build_does_not_ship_are_unsupported() {
    use Refusal::Unsupported;
    assert_all_refused([
        (
            "an unsupported spec version is refused with the version found",
            with(DEPLOYED, "/context/specversion", "0.9.0"),
            Unsupported {
                found: "0.9.0",
                field: "/context/specversion",
            },
        ),
        (
            "an unsupported legacy version is named as context.version",
            with(DEPLOYED_V0_3_0, "/context/version", "0.2.0"),
            Unsupported {
                found: "0.2.0",
                field: "/context/version",
            },
        ),
        (
            "a context without any spec version is unsupported",
            without(DEPLOYED, "/context/specversion"),
            Unsupported {
                found: "",
                field: "/context/specversion",
            },
        ),
        (
            "sdk-go: a future spec version is unsupported",
            fixture("sdk-go/custom_type_event.json"),
            Unsupported {
                found: "99.1.0",
                field: "/context/specversion",
            },
        ),
    ]);
}

#[test]
fn types_a_release_does_not_define_are_unknown_to_that_release() {
    use Refusal::UnknownType;
    use SpecRelease::{V0_1_2, V0_3_0, V0_5_1};
    let cases = [
        (
            "an unknown predicate is an unknown type of that release",
            with(
                DEPLOYED,
                "/context/type",
                "dev.cdevents.service.exploded.0.3.0",
            ),
            UnknownType("dev.cdevents.service.exploded.0.3.0", V0_5_1),
        ),
        (
            "a subject introduced later is unknown to an older release",
            with(
                DEPLOYED_V0_3_0,
                "/context/type",
                "dev.cdevents.ticket.created.0.1.0",
            ),
            UnknownType("dev.cdevents.ticket.created.0.1.0", V0_3_0),
        ),
        (
            "a custom type is unknown to a release without a custom schema",
            with(
                DEPLOYED_V0_3_0,
                "/context/type",
                "dev.cdeventsx.mytool-resource.created.0.1.0",
            ),
            UnknownType("dev.cdeventsx.mytool-resource.created.0.1.0", V0_3_0),
        ),
        (
            "sdk-java: an invalid predicate is an unknown v0.3.0 type",
            fixture("sdk-java/artifact_signed_with_invalid_type.json"),
            UnknownType("dev.cdevents.artifact.invalid.0.1.0", V0_3_0),
        ),
        (
            "sdk-go: an unknown type is unknown to v0.1.2",
            fixture("sdk-go/unknown_type.json"),
            UnknownType("dev.cdevents.foosubject.gazumped.0.1.0", V0_1_2),
        ),
    ];
    assert_all_refused(cases);
}

#[test]
fn a_missing_or_foreign_type_is_a_bad_type() {
    use Refusal::BadType;
    assert_all_refused([
        (
            "a missing type",
            without(DEPLOYED, "/context/type"),
            BadType(""),
        ),
        (
            "a foreign type",
            with(DEPLOYED, "/context/type", "com.github.push"),
            BadType("com.github.push"),
        ),
        (
            "sdk-go: an unparsable type",
            fixture("sdk-go/unparsable_type.json"),
            BadType("dev.cdevents.foosubject_barpredicate_0.1.0"),
        ),
        (
            "sdk-rust: a foreign domain type",
            fixture("sdk-rust/custom_domain.json"),
            BadType("com.example.probes.ping.0.1.0"),
        ),
    ]);
}

#[test]
fn documents_without_a_context_object_are_not_cdevents() {
    let documents = [
        ("an array", json!([])),
        ("a string", json!("event")),
        ("a number", json!(42)),
        ("null", Value::Null),
        ("an empty object", json!({})),
        (
            "a context that is not an object",
            json!({ "context": "x", "subject": {} }),
        ),
        (
            "sdk-java: an event without context",
            fixture("sdk-java/artifact_published_with_no_context.json"),
        ),
    ];
    assert_all_refused(documents.map(|(case, document)| (case, document, Refusal::NotACdevent)));
}

#[test]
fn a_broken_link_is_found_through_the_link_schemas() {
    let event = with(
        DEPLOYED,
        "/context/links",
        json!([{ "linkType": "END", "from": {} }]),
    );

    let err = validate(&event).unwrap_err();

    let field = err.field();
    assert!(field.starts_with("/context/links/0"), "{field}");
    let SpecError::Schema { schema_path, .. } = err else {
        panic!("expected SpecError::Schema, got {err:?}");
    };
    assert!(
        schema_path.starts_with("/properties/context/properties/links/$ref/"),
        "{schema_path}"
    );
}

#[test]
fn a_well_formed_custom_type_validates_against_the_custom_schema() {
    let event = with(
        "sdk-rust/custom_cdeventsx.json",
        "/context/type",
        "dev.cdeventsx.cdviz-probes.ping.0.1.0",
    );
    let valid = validate(&event).unwrap();
    assert_eq!(valid.release, SpecRelease::V0_5_1);
    assert!(valid.event_type.custom);
    assert_eq!(valid.event_type.subject, "cdviz-probes");
}
