//! The query parameters of the read routes as `/openapi.json` describes them: every bound the
//! parsers enforce (non-empty values, number ranges, the accepted words, text limits) is in the
//! schema, so a request the description allows is one the server takes. Also the errors the
//! read routes share, described once.

use utoipa::openapi::schema::{
    ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::{KnownFormat, RefOr};

/// A non-empty text of at most `max` characters, without U+0000.
pub fn text(max: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some("^[^\\x00]*$"))
}

/// `from` and `to`: an RFC 3339 time or a date.
pub fn time_or_date() -> RefOr<Schema> {
    let schema = OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
        )
        .build();
    RefOr::T(Schema::OneOf(schema))
}

/// A repeatable filter (`service`, `environment`, `team`): non-empty names of at most the
/// length a name may have.
pub fn names() -> RefOr<Schema> {
    ArrayBuilder::new()
        .items(text(dora_model::limits::MAX_NAME_BYTES))
        .build()
        .into()
}

/// A whole number from `min` to `max`.
pub fn whole(min: i64, max: i64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(min as f64))
        .maximum(Some(max as f64))
}

/// One of the given words.
pub fn word(words: &[&str]) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(words.iter().copied()))
}

/// `kind` of the event routes.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // described only; the routes parse the text
pub enum EventKind {
    Cloudevents,
    Cdevents,
}

/// A bucket of the series and the book's endpoint.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum BucketName {
    Day,
    Week,
    Month,
    Year,
}

/// A key of `/api/v1/metrics/{key}`.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "kebab-case")]
#[allow(dead_code)]
pub enum KeyName {
    DeploymentFrequency,
    LeadTime,
    ChangeFailureRate,
    RecoveryTime,
    ReworkRate,
}

/// A chart file of `/api/v1/charts/{file}`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub enum ChartFile {
    #[schema(rename = "deployment-frequency.svg")]
    DeploymentFrequency,
    #[schema(rename = "lead-time.svg")]
    LeadTime,
    #[schema(rename = "change-failure-rate.svg")]
    ChangeFailureRate,
    #[schema(rename = "recovery-time.svg")]
    RecoveryTime,
    #[schema(rename = "rework-rate.svg")]
    ReworkRate,
}

/// The errors of a read route that takes parameters: one of them is wrong, or the database is
/// unavailable.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // described only; the routes answer `Problem`s
pub enum QueryErrors {
    #[response(
        status = 400,
        description = "A parameter is unknown, repeated or invalid (named in `field`)",
        content_type = "application/problem+json"
    )]
    BadParameter(dora_http::ProblemDetails),
    #[response(
        status = 503,
        description = "The database is unavailable",
        content_type = "application/problem+json"
    )]
    Unavailable(dora_http::ProblemDetails),
}

/// The error of a read route without parameters: the database is unavailable.
#[derive(utoipa::IntoResponses)]
#[response(
    status = 503,
    description = "The database is unavailable",
    content_type = "application/problem+json"
)]
#[allow(dead_code)]
pub struct Unavailable(dora_http::ProblemDetails);
