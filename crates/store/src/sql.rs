//! What lets one query serve both backends (used by the shared modules beside the
//! backends: `reads`, `links::reads`, `links::pages`).
//!
//! Shared SQL numbers its parameters `$1`, `$2`, ... (sqlx reads that form on SQLite too). What
//! the two databases spell differently is a [`Dialect`] fragment; the values they store
//! differently are column types of their own: [`StoredTime`] (integer microseconds on SQLite,
//! `timestamptz` on PostgreSQL) and [`List`] (a JSON array read with `json_each` on SQLite, an
//! array on PostgreSQL). Rows map to structs through `sqlx::FromRow`, one derive per row type.

use chrono::{DateTime, Utc};
use dora_model::time::{from_micros, to_micros};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgRow, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentValue, SqliteRow, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type, ValueRef};

use crate::Bucket;

/// Which database a query is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// The positions (`key`: `seq`, or `tx, seq`, holding every column of `order`) of the next rows
/// of `table` that `filter` selects in the order `order`, at most `$limit`, as long as the text of the rows before each is under
/// `$budget` bytes: always the first row, then up to a budget of text (see
/// [`crate::PASS_TEXT_BYTES`]). The text itself is not read. SQLite's `octet_length` reads a
/// text's length from the row's header (a length column stored after the text would be behind
/// its overflow pages); PostgreSQL keeps JSONB, whose stored size can be a hundredth of its
/// text, so each row's `content_bytes`, the length of the JSONB's text that a read returns, is
/// written with it (rows stored before migration 0007 are measured).
pub(crate) fn positions_within_text_budget(
    dialect: Dialect,
    (table, filter, key, order): (&str, &str, &str, &str),
    limit: u8,
    budget: u8,
) -> String {
    let bytes = match dialect {
        Dialect::Sqlite => "octet_length(content)",
        Dialect::Postgres => "COALESCE(content_bytes, octet_length(content::text))",
    };
    // The window's order names the page's own columns: a bare `tx` missing from `key` would
    // otherwise be read from the query this one is nested in, and the sum would run in another
    // order (and once for every row of that query).
    let page_order = order
        .split(',')
        .map(|term| format!("page.{}", term.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {key} FROM (SELECT {key}, page.bytes, SUM(page.bytes) OVER (ORDER BY {page_order} ROWS UNBOUNDED PRECEDING) AS through \
         FROM (SELECT {key}, {bytes} AS bytes FROM {table} WHERE {filter} ORDER BY {order} LIMIT ${limit}) AS page) AS sized \
         WHERE sized.through - sized.bytes < ${budget}"
    )
}

impl Dialect {
    /// `column` is one of the values of the [`List`] parameter `$n`.
    pub(crate) fn in_list(self, column: &str, n: u8) -> String {
        match self {
            Self::Sqlite => format!("{column} IN (SELECT value FROM json_each(${n}))"),
            Self::Postgres => format!("{column} = ANY(${n})"),
        }
    }

    /// The collation that orders text by its bytes: SQLite's default, PostgreSQL's `"C"` (so
    /// both backends sort ids alike).
    pub(crate) fn bytewise(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " COLLATE \"C\"",
        }
    }

    /// The larger of two values.
    pub(crate) fn greatest(self) -> &'static str {
        match self {
            Self::Sqlite => "MAX",
            Self::Postgres => "GREATEST",
        }
    }

    /// A JSON column (`content`, `body`, possibly qualified: `r.content`) as text under its own
    /// name: PostgreSQL keeps JSONB, SQLite the text itself.
    pub(crate) fn json_text(self, column: &str) -> String {
        let name = column.rsplit('.').next().unwrap_or(column);
        match self {
            Self::Sqlite => column.to_owned(),
            Self::Postgres => format!("{column}::text AS {name}"),
        }
    }

    /// The statements that empty `tables`: `DELETE` on SQLite (which has no `TRUNCATE`), one
    /// `TRUNCATE` on PostgreSQL.
    pub(crate) fn empty_tables(self, tables: &[&str]) -> Vec<String> {
        match self {
            Self::Sqlite => tables.iter().map(|t| format!("DELETE FROM {t}")).collect(),
            Self::Postgres => vec![format!("TRUNCATE {}", tables.join(", "))],
        }
    }

    /// The UTC start of the day, ISO week (from Monday), month or year of the time `column`, as
    /// a stored time.
    pub(crate) fn bucket_start(self, bucket: Bucket, column: &str) -> String {
        match self {
            // Whole seconds; 'weekday 0' moves to the next Sunday (or stays on one), and six days
            // back from it is that ISO week's Monday.
            Self::Sqlite => {
                let start = match bucket {
                    Bucket::Day => "'start of day'",
                    Bucket::Week => "'weekday 0', '-6 days', 'start of day'",
                    Bucket::Month => "'start of month'",
                    Bucket::Year => "'start of year'",
                };
                format!(
                    "CAST(strftime('%s', {column} / 1000000, 'unixepoch', {start}) AS INTEGER) * 1000000"
                )
            }
            // date_trunc in UTC: 'week' starts on Monday (ISO 8601).
            Self::Postgres => {
                let unit = match bucket {
                    Bucket::Day => "day",
                    Bucket::Week => "week",
                    Bucket::Month => "month",
                    Bucket::Year => "year",
                };
                format!("date_trunc('{unit}', {column}, 'UTC')")
            }
        }
    }

    /// Whether the text `column` starts with the text parameter `$n`.
    pub(crate) fn starts_with(self, column: &str, n: u8) -> String {
        match self {
            Self::Sqlite => format!("substr({column}, 1, length(${n})) = ${n}"),
            Self::Postgres => format!("starts_with({column}, ${n})"),
        }
    }
}

/// Runs `$body` with `$pool` bound to the store's connection pool: code written once, compiled
/// for each backend.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::Store::Sqlite(backend) => {
                let $pool = backend.pool();
                $body
            }
            $crate::Store::Postgres(backend) => {
                let $pool = backend.pool();
                $body
            }
        }
    };
}
pub(crate) use with_pool;

/// The earliest instant both databases store (the year 1): a lower bound meaning "unbounded".
pub(crate) fn earliest() -> DateTime<Utc> {
    DateTime::from_timestamp(-62_135_596_800, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The latest instant PostgreSQL stores (its timestamps end in the year 294276; chrono's
/// before): an upper bound meaning "unbounded". Stored times end in the year 9999.
pub(crate) fn latest() -> DateTime<Utc> {
    DateTime::from_timestamp(8_000_000_000_000, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A time column or parameter: integer microseconds since the Unix epoch (UTC) on SQLite,
/// `timestamptz` on PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredTime(pub DateTime<Utc>);

/// A time column that may be NULL ([`StoredTime`] otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionalStoredTime(pub Option<DateTime<Utc>>);

impl From<StoredTime> for DateTime<Utc> {
    fn from(time: StoredTime) -> Self {
        time.0
    }
}

impl From<OptionalStoredTime> for Option<DateTime<Utc>> {
    fn from(time: OptionalStoredTime) -> Self {
        time.0
    }
}

impl Type<Sqlite> for StoredTime {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for StoredTime {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<Sqlite>>::encode(to_micros(&self.0), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for StoredTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(from_micros(<i64 as Decode<Sqlite>>::decode(value)?)))
    }
}

impl Type<Postgres> for StoredTime {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for StoredTime {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for StoredTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self(<DateTime<Utc> as Decode<Postgres>>::decode(value)?))
    }
}

impl<DB: sqlx::Database> Type<DB> for OptionalStoredTime
where
    StoredTime: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <StoredTime as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <StoredTime as Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: sqlx::Database> Decode<'r, DB> for OptionalStoredTime
where
    StoredTime: Decode<'r, DB>,
{
    fn decode(value: <DB as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.is_null() {
            return Ok(Self(None));
        }
        Ok(Self(Some(<StoredTime as Decode<DB>>::decode(value)?.0)))
    }
}

/// A list parameter: a JSON array on SQLite (read with `json_each`), an array on PostgreSQL
/// (read with `= ANY`). See [`Dialect::in_list`].
#[derive(Debug)]
pub struct List<'a, T>(pub &'a [T]);

impl<T> Clone for List<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for List<'_, T> {}

impl<T> Type<Sqlite> for List<'_, T> {
    fn type_info() -> SqliteTypeInfo {
        <str as Type<Sqlite>>::type_info()
    }
}

impl<'q, T: serde::Serialize> Encode<'q, Sqlite> for List<'_, T> {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(serde_json::to_string(self.0)?, buf)
    }
}

impl<T: PgHasArrayType> Type<Postgres> for List<'_, T> {
    fn type_info() -> PgTypeInfo {
        T::array_type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        T::array_compatible(ty)
    }
}

impl<'q, 'a, T> Encode<'q, Postgres> for List<'a, T>
where
    &'a [T]: Encode<'q, Postgres>,
{
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&[T] as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

/// The columns a [`crate::DeploymentRecord`] is read from.
pub(crate) const DEPLOYMENT_COLUMNS: &str =
    "id, cdevent_id, kind, service, environment, artifact_id, deployed_at, team, failed, revision";
/// The columns a [`crate::ChangeLinkRow`] is read from.
pub(crate) const CHANGE_LINK_COLUMNS: &str =
    "change_id, first_deployment, first_at, lead, skewed, detail";
/// The columns an [`crate::IncidentLinkRow`] is read from.
pub(crate) const INCIDENT_LINK_COLUMNS: &str = "incident_id, detected_at, resolved_at, service, \
     environment, artifact_id, deployment_id, target_service, target_environment, unattributed, detail";
/// The columns a [`crate::DeploymentLinkRow`] is read from.
pub(crate) const DEPLOYMENT_LINK_COLUMNS: &str = "deployment_id, flags, recovery_seconds, detail";

impl Dialect {
    /// The columns an [`crate::ObservationRecord`] is read from.
    pub(crate) fn observation_columns(self) -> String {
        format!(
            "fact, fact_id, service, environment, observed_at, {}",
            self.json_text("body")
        )
    }
}

/// A query parameter both backends bind.
pub(crate) trait Param:
    for<'q> Encode<'q, Sqlite> + Type<Sqlite> + for<'q> Encode<'q, Postgres> + Type<Postgres> + Send
{
}

impl<T> Param for T where
    T: for<'q> Encode<'q, Sqlite>
        + Type<Sqlite>
        + for<'q> Encode<'q, Postgres>
        + Type<Postgres>
        + Send
{
}

/// A row type both backends map.
pub(crate) trait Mapped:
    for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

impl<T> Mapped for T where
    T: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin
{
}

impl crate::Store {
    /// The rows `sql` selects with its one parameter `$1`.
    pub(crate) async fn rows_with<R: Mapped>(
        &self,
        sql: &str,
        param: impl Param,
    ) -> Result<Vec<R>, crate::StoreError> {
        Ok(with_pool!(self, pool => sqlx::query_as(sql).bind(param).fetch_all(pool).await?))
    }

    /// The rows `select` (a query up to its `WHERE`) picks whose `column` is one of `values`:
    /// none when `values` is empty.
    pub(crate) async fn rows_in<R: Mapped, T>(
        &self,
        select: &str,
        column: &str,
        values: &[T],
    ) -> Result<Vec<R>, crate::StoreError>
    where
        for<'a> List<'a, T>: Param,
    {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("{select} WHERE {}", self.dialect().in_list(column, 1));
        self.rows_with(&sql, List(values)).await
    }
}
