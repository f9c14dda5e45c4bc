//! The request bodies of the ingest routes as `/openapi.json` describes them: a structured
//! CloudEvent with every rule the binding enforces (required attributes, `specversion` 1.0,
//! lowercase extension names with string, boolean or 32-bit integer values, the storage limits
//! of `dora_model::limits`, no NUL anywhere), so that a body the description allows is one
//! ingest takes.

use std::borrow::Cow;

use dora_model::limits::{MAX_ID_BYTES, MAX_SOURCE_BYTES, MAX_SUBJECT_BYTES, MAX_TYPE_BYTES};
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::{KnownFormat, Ref, RefOr};

/// Text without NUL (PostgreSQL stores none).
const NO_NUL: &str = "^[^\\u0000]*$";

/// Non-empty text of at most `max` bytes, without NUL. (JSON Schema counts characters, so the
/// bound is the byte limit divided by 4, the most bytes a character takes in UTF-8.)
fn attribute(max_bytes: usize, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max_bytes / 4))
        .pattern(Some(NO_NUL))
        .description(Some(description))
}

/// An optional attribute: text (empty allowed) of at most `max_bytes`, without NUL, or null.
fn optional_text(max_bytes: Option<usize>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .max_length(max_bytes.map(|max| max / 4))
        .pattern(Some(NO_NUL))
}

/// Base64 (RFC 4648, padded).
const BASE64: &str = "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$";

/// Any JSON value PostgreSQL's `JSONB` can store: no NUL in strings or keys.
pub struct StorableJson;

impl utoipa::PartialSchema for StorableJson {
    fn schema() -> RefOr<Schema> {
        let itself = || Ref::from_schema_name("StorableJson");
        let text = || {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(NO_NUL))
        };
        Schema::AnyOf(
            AnyOfBuilder::new()
                .item(text())
                .item(ObjectBuilder::new().schema_type(Type::Number))
                .item(ObjectBuilder::new().schema_type(Type::Boolean))
                .item(ObjectBuilder::new().schema_type(Type::Null))
                .item(ArrayBuilder::new().items(itself()))
                .item(
                    ObjectBuilder::new()
                        .schema_type(Type::Object)
                        .additional_properties(Some(AdditionalProperties::RefOr(itself().into())))
                        .property_names(Some(text())),
                )
                .description(Some("Any JSON without U+0000 (NUL) in its strings or keys"))
                .build(),
        )
        .into()
    }
}

impl utoipa::ToSchema for StorableJson {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("StorableJson")
    }
}

/// A CloudEvent in structured mode (JSON).
pub struct CloudEvent;

impl utoipa::PartialSchema for CloudEvent {
    fn schema() -> RefOr<Schema> {
        let extension_value = AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(NO_NUL)),
            )
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(f64::from(i32::MIN)))
                    .maximum(Some(f64::from(i32::MAX))),
            );
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A CloudEvent 1.0 in structured mode. Binary mode (ce-* headers, the data as the body) \
                 is accepted too. Extension attributes: lowercase ASCII letters and digits, with \
                 string, boolean or 32-bit integer values.",
            ))
            .property(
                "specversion",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["1.0"])),
            )
            .required("specversion")
            .property("id", attribute(MAX_ID_BYTES, "Unique with `source`"))
            .required("id")
            .property(
                "source",
                attribute(MAX_SOURCE_BYTES, "A URI-reference naming the producer"),
            )
            .required("source")
            .property("type", attribute(MAX_TYPE_BYTES, "The event type"))
            .required("type")
            .property(
                "subject",
                optional_text(Some(MAX_SUBJECT_BYTES)).description(Some("The subject")),
            )
            .property(
                "time",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
            .property(
                "datacontenttype",
                optional_text(None).description(Some(
                    "The media type of `data`: string data of a type other than JSON is kept as text",
                )),
            )
            .property("dataschema", optional_text(None))
            .property("data", Ref::from_schema_name("StorableJson"))
            .property(
                "data_base64",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(BASE64))
                    .description(Some("Binary data in base64, instead of `data`")),
            )
            .property_names(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^(data_base64|[a-z0-9]+)$")),
            ))
            .additional_properties(Some(AdditionalProperties::RefOr(
                Schema::AnyOf(extension_value.build()).into(),
            )))
            .build()
            .into()
    }
}

impl utoipa::ToSchema for CloudEvent {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("CloudEvent")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            "StorableJson".to_owned(),
            <StorableJson as utoipa::PartialSchema>::schema(),
        ));
    }
}

/// The tools of `POST /webhooks/{tool}`: the sources that have a webhook.
pub struct WebhookTool;

impl utoipa::PartialSchema for WebhookTool {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(crate::webhook::tools()))
            .into()
    }
}

impl utoipa::ToSchema for WebhookTool {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("WebhookTool")
    }
}
