//! The drill-down lists ([`crate::links`]): deployments, changes and incidents of a window,
//! newest first, a page at a time by offset or after a keyset position. One query serves the
//! three lists; a [`PageList`] says what differs.

use std::collections::HashMap;

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::FromRow;

use crate::links::*;
use crate::sql::{
    with_pool, List, StoredTime, CHANGE_LINK_COLUMNS, DEPLOYMENT_COLUMNS, INCIDENT_LINK_COLUMNS,
};
use crate::{Store, StoreError};

/// A column that orders the ties of a list's time, with the parameter it is compared with.
enum Tie {
    /// A number, compared with `$4`.
    Number(&'static str),
    /// A text, compared with `$5` byte by byte.
    Text(&'static str),
}

/// One drill-down list.
struct PageList {
    /// The table (with its alias, if any), what is joined to it, and what is selected.
    table: &'static str,
    join: &'static str,
    columns: fn() -> String,
    /// The time column the window and the order follow.
    time: &'static str,
    /// What orders items of the same time, after it.
    ties: &'static [Tie],
    /// The keyset position of the list's kind of [`PageAfter`], as (time, number, text).
    after: fn(&PageAfter) -> Option<(StoredTime, i64, &str)>,
}

const DEPLOYMENTS: PageList = PageList {
    table: "deployments d",
    join: "LEFT JOIN deployment_links l ON l.deployment_id = d.id",
    columns: || {
        let columns: Vec<String> = DEPLOYMENT_COLUMNS
            .split(", ")
            .map(|c| format!("d.{c}"))
            .collect();
        format!("{}, l.detail", columns.join(", "))
    },
    time: "d.deployed_at",
    ties: &[Tie::Number("d.id")],
    after: |after| match after {
        PageAfter::Deployment(at, id) => Some((StoredTime(*at), *id, "")),
        _ => None,
    },
};

const CHANGES: PageList = PageList {
    table: "change_links",
    join: "",
    columns: || CHANGE_LINK_COLUMNS.to_owned(),
    time: "first_at",
    ties: &[Tie::Number("first_deployment"), Tie::Text("change_id")],
    after: |after| match after {
        PageAfter::Change(at, deployment, id) => Some((StoredTime(*at), *deployment, id)),
        _ => None,
    },
};

const INCIDENTS: PageList = PageList {
    table: "incident_links",
    join: "",
    columns: || INCIDENT_LINK_COLUMNS.to_owned(),
    time: "detected_at",
    ties: &[Tie::Text("incident_id")],
    after: |after| match after {
        PageAfter::Incident(at, id) => Some((StoredTime(*at), 0, id)),
        _ => None,
    },
};

impl Store {
    /// A page of the deployments (any environment) in the window, newest first.
    pub async fn deployment_page(
        &self,
        query: &PageQuery,
    ) -> Result<Page<DeploymentPageRow>, StoreError> {
        let mut page: Page<DeploymentPageRow> = self.page(&DEPLOYMENTS, query).await?;
        let ids: Vec<i64> = page.items.iter().map(|i| i.deployment.id).collect();
        let position: HashMap<i64, usize> =
            ids.iter().enumerate().map(|(n, id)| (*id, n)).collect();
        let (dialect, bytewise) = (self.dialect(), self.dialect().bytewise());
        let shipped = format!(
            "SELECT deployment_id, change_id FROM change_deployments
             WHERE {} AND shipped ORDER BY change_id{bytewise}",
            dialect.in_list("deployment_id", 1)
        );
        let incidents = format!(
            "SELECT deployment_id, incident_id FROM incident_links
             WHERE {} ORDER BY detected_at, incident_id{bytewise}",
            dialect.in_list("deployment_id", 1)
        );
        let shipped: Vec<(i64, String)> = self.rows_with(&shipped, List(&ids)).await?;
        let incidents: Vec<(i64, String)> = self.rows_with(&incidents, List(&ids)).await?;
        for (id, change) in shipped {
            if let Some(&n) = position.get(&id) {
                page.items[n].shipped.push(change);
            }
        }
        for (id, incident) in incidents {
            if let Some(&n) = position.get(&id) {
                page.items[n].incidents.push(incident);
            }
        }
        Ok(page)
    }

    /// A page of the changes first deployed to production in the window, newest first.
    pub async fn change_page(&self, query: &PageQuery) -> Result<Page<ChangeLinkRow>, StoreError> {
        self.page(&CHANGES, query).await
    }

    /// A page of the incidents detected in the window, newest first.
    pub async fn incident_page(
        &self,
        query: &PageQuery,
    ) -> Result<Page<IncidentLinkRow>, StoreError> {
        self.page(&INCIDENTS, query).await
    }

    /// A page of `list`: its items in `[from, to)`, newest first (ties in descending order
    /// too), after `query.after` or from `query.offset`, with their count when asked.
    async fn page<T>(&self, list: &PageList, query: &PageQuery) -> Result<Page<T>, StoreError>
    where
        T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        let (time, table) = (list.time, list.table);
        let window = format!("{time} >= $1 AND {time} < $2");
        let count = format!("SELECT COUNT(*) FROM {table} WHERE {window}");
        let after = query.after.as_ref().and_then(list.after);
        let bytewise = self.dialect().bytewise();
        let (mut keys, mut values) = (vec![time.to_owned()], vec!["$3".to_owned()]);
        for tie in list.ties {
            let (key, value) = match tie {
                Tie::Number(column) => ((*column).to_owned(), "$4".to_owned()),
                Tie::Text(column) => (format!("{column}{bytewise}"), format!("$5{bytewise}")),
            };
            keys.push(key);
            values.push(value);
        }
        let keyset = match after {
            Some(_) => format!(
                "AND {time} <= $3 AND ({}) < ({})",
                keys.join(", "),
                values.join(", ")
            ),
            None => String::new(),
        };
        let order: Vec<String> = keys.iter().map(|key| format!("{key} DESC")).collect();
        let items = format!(
            "SELECT {} FROM {table} {} WHERE {window} {keyset} ORDER BY {} LIMIT $6 OFFSET $7",
            (list.columns)(),
            list.join,
            order.join(", ")
        );
        let (after_at, after_number, after_text) = match after {
            Some((at, number, text)) => (Some(at), number, text),
            None => (None, 0, ""),
        };
        // A keyset page starts right after its position; an offset page counts from the top.
        let offset = if query.after.is_some() {
            0
        } else {
            query.offset
        };
        let (from, to) = (StoredTime(query.from), StoredTime(query.to));
        with_pool!(self, pool => Ok(Page {
            total: match query.count {
                true => Some(sqlx::query_scalar(&count).bind(from).bind(to).fetch_one(pool).await?),
                false => None,
            },
            items: sqlx::query_as(&items)
                .bind(from)
                .bind(to)
                .bind(after_at)
                .bind(after_number)
                .bind(after_text)
                .bind(query.limit)
                .bind(offset)
                .fetch_all(pool)
                .await?,
        }))
    }
}
