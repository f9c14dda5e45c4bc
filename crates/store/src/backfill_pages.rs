//! The validators of the list pages `dora-events backfill` stored (`backfill_pages`): what the
//! tool's API answered as `ETag`, so that the next run of the same list asks with
//! `If-None-Match` and skips the pages that did not change. Written once for both backends.

use crate::sql::with_pool;
use crate::{Store, StoreError};

/// What is known of a stored page: its `ETag`, and the page after it (none: it ended the list).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PageValidator {
    pub etag: String,
    #[sqlx(rename = "next_url")]
    pub next: Option<String>,
}

impl Store {
    /// The validator of page `url` of the list `list` (a backfill checkpoint's name), if one was
    /// kept.
    pub async fn page_validator(
        &self,
        list: &str,
        url: &str,
    ) -> Result<Option<PageValidator>, StoreError> {
        let sql = "SELECT etag, next_url FROM backfill_pages WHERE list = $1 AND url = $2";
        Ok(with_pool!(self, pool => sqlx::query_as(sql)
            .bind(list)
            .bind(url)
            .fetch_optional(pool)
            .await?))
    }

    /// Forgets the validators of the lists named `<prefix>...` other than `list` (the same
    /// list read over another window, by an earlier run).
    pub async fn forget_other_page_validators(
        &self,
        prefix: &str,
        list: &str,
    ) -> Result<(), StoreError> {
        let sql = format!(
            "DELETE FROM backfill_pages WHERE {} AND list <> $2",
            self.dialect().starts_with("list", 1)
        );
        with_pool!(self, pool => sqlx::query(&sql)
            .bind(prefix)
            .bind(list)
            .execute(pool)
            .await
            .map(|_| ())?);
        Ok(())
    }

    /// Keeps `validator` for page `url` of `list` (after the page's events are stored).
    pub async fn keep_page_validator(
        &self,
        list: &str,
        url: &str,
        validator: &PageValidator,
    ) -> Result<(), StoreError> {
        let sql = "INSERT INTO backfill_pages (list, url, etag, next_url) VALUES ($1, $2, $3, $4)
                   ON CONFLICT (list, url) DO UPDATE SET etag = excluded.etag, next_url = excluded.next_url";
        with_pool!(self, pool => sqlx::query(sql)
            .bind(list)
            .bind(url)
            .bind(&validator.etag)
            .bind(&validator.next)
            .execute(pool)
            .await
            .map(|_| ())?);
        Ok(())
    }
}
