//! `GET /api/v1/deployments|changes|incidents`: the evidence behind the keys, newest first.
//!
//! Unfiltered lists page through the link tables the calculator keeps (indexed by time;
//! `offset`, or `after` = the `next` of the previous page for a keyset start that costs the
//! same however deep). Filtered lists link the scope's facts ([`crate::live_keys`]) and page
//! in memory. Both give the same items (`dora_metrics::dora::drilldown`).

use chrono::{DateTime, Utc};
use dora_http::Problem;
use dora_metrics::dora::drilldown::{ChangeLinks, DeploymentLinks, IncidentLinks};
use dora_metrics::dora::link_rows::{ChangeDetail, DeploymentDetail, IncidentDetail};
use dora_metrics::dora::linking::{is_production, Linked};
use dora_metrics::dora::{Deployment, Window};
use dora_model::time::{from_micros, to_micros};
use dora_store::{PageAfter, PageQuery, Store};
use serde_json::{json, Value};

use crate::dora::{keys_config, DoraQuery, Listing};
use crate::live_keys::Freshness;
use crate::{store_problem, ApiState};

/// `total`, the page's items, the `next` cursor (when the page is full) and the freshness.
pub(crate) type Listed = (i64, Vec<Value>, Option<String>, Freshness);

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Hex back to text (bytes that are not UTF-8 become U+FFFD, and NULs, which no stored id holds
/// and PostgreSQL refuses in text, are dropped: a cursor only orders).
fn unhex(text: &str) -> Option<String> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some(String::from_utf8_lossy(&bytes).replace('\0', ""))
}

/// The cursor after an item: `<time in µs>.<number>.<hex of a text>`, the item's place in the
/// newest-first order of its list (a deployment's time and id; a change's first production
/// deployment's time and id, and its id; an incident's detection and id).
fn cursor(after: &PageAfter) -> String {
    let (at, number, text) = match after {
        PageAfter::Deployment(at, id) => (at, *id, String::new()),
        PageAfter::Change(at, deployment, id) => (at, *deployment, hex(id)),
        PageAfter::Incident(at, id) => (at, 0, hex(id)),
    };
    format!("{}.{number}.{text}", to_micros(at))
}

/// The cursor's pattern, as `/openapi.json` describes it (18 digits at most: always an i64).
pub(crate) const CURSOR_PATTERN: &str = r"^-?[0-9]{1,18}\.-?[0-9]{1,18}\.([0-9a-f]{2}){0,1024}$";

/// Reads an `after` cursor as a place in `listing` (any well-formed cursor is one).
pub(crate) fn parse_after(listing: Listing, text: &str) -> Result<PageAfter, Problem> {
    let parse = || -> Option<PageAfter> {
        let mut parts = text.splitn(3, '.');
        let micros: i64 = parts.next()?.parse().ok()?;
        let number: i64 = parts.next()?.parse().ok()?;
        let text = unhex(parts.next()?)?;
        // Inside what both databases store.
        let at = from_micros(micros.clamp(-62_135_596_800_000_000, 8_000_000_000_000_000_000));
        Some(match listing {
            Listing::Deployments => PageAfter::Deployment(at, number),
            Listing::Changes => PageAfter::Change(at, number, text),
            Listing::Incidents => PageAfter::Incident(at, text),
        })
    };
    parse().ok_or_else(|| {
        Problem::bad_request(
            "invalid-parameter",
            "Invalid query parameter",
            "after",
            "after must be the `next` of a previous page".to_owned(),
        )
    })
}

/// A deployment as the drill-down shows it: its team is the configured one, else its events'.
fn deployment_fact(record: &dora_store::DeploymentRecord, state: &ApiState) -> Deployment {
    Deployment {
        team: state
            .dora
            .teams
            .get(&record.service)
            .cloned()
            .or_else(|| record.team.clone()),
        ..dora_metrics::folding::deployment_fact(record)
    }
}

fn corrupt(what: &str, error: serde_json::Error) -> Problem {
    Problem::internal(&format!("a stored {what} link cannot be read: {error}"))
}

fn with_cdevent_id(links: &DeploymentLinks, cdevent_id: Option<&String>) -> Value {
    let mut item = serde_json::to_value(links).unwrap_or_default();
    if let Some(object) = item.as_object_mut() {
        object.insert("cdevent_id".into(), json!(cdevent_id));
    }
    item
}

/// A page of an unfiltered list, from the link tables.
pub(crate) async fn from_tables(
    state: &ApiState,
    window: &Window,
    listing: Listing,
    limit: usize,
    offset: usize,
    after: Option<PageAfter>,
) -> Result<Listed, Problem> {
    let (total_known, freshness) = known_total(state, window, listing).await?;
    let query = PageQuery {
        from: window.from,
        to: window.to,
        limit: i64::try_from(limit).unwrap_or(i64::MAX),
        offset: i64::try_from(offset).unwrap_or(i64::MAX),
        after,
        count: total_known.is_none(),
    };
    let (total, items, last) = match listing {
        Listing::Deployments => deployment_page(state, &query).await?,
        Listing::Changes => change_page(&state.store, &query).await?,
        Listing::Incidents => incident_page(&state.store, &query).await?,
    };
    let next = last.filter(|_| items.len() == limit).map(|a| cursor(&a));
    let total = total.or(total_known).unwrap_or_default();
    Ok((total, items, next, freshness))
}

/// The total of the list in the window, when the keys' columns (brought up to date first) know
/// it without counting rows: all but the deployments of non-production environments, which the
/// keys leave out.
async fn known_total(
    state: &ApiState,
    window: &Window,
    listing: Listing,
) -> Result<(Option<i64>, Freshness), Problem> {
    let (columns, freshness) = state
        .keys
        .unfiltered(&state.store, &keys_config(state))
        .await
        .map_err(store_problem)?;
    let (production, shipped, detected) = columns.counts_in(window);
    let known = |n: u64| Some(i64::try_from(n).unwrap_or(i64::MAX));
    let total = match listing {
        Listing::Deployments if state.dora.config().production_environments.is_empty() => {
            known(production)
        }
        Listing::Deployments => None,
        Listing::Changes => known(shipped),
        Listing::Incidents => known(detected),
    };
    Ok((total, freshness))
}

/// One page from a link table: its total when counted, its items, and the place of its last.
type TablePage = (Option<i64>, Vec<Value>, Option<PageAfter>);

async fn deployment_page(state: &ApiState, query: &PageQuery) -> Result<TablePage, Problem> {
    let config = state.dora.config();
    let page = state
        .store
        .deployment_page(query)
        .await
        .map_err(store_problem)?;
    let last = page
        .items
        .last()
        .map(|row| PageAfter::Deployment(row.deployment.deployed_at, row.deployment.id));
    let mut items = Vec::with_capacity(page.items.len());
    for row in page.items {
        let detail: DeploymentDetail = match &row.detail {
            Some(text) => serde_json::from_str(text).map_err(|e| corrupt("deployment", e))?,
            None => DeploymentDetail::default(),
        };
        let d = deployment_fact(&row.deployment, state);
        let production = is_production(&d.environment, &config);
        let links = DeploymentLinks::new(&d, production, row.shipped, row.incidents, detail);
        items.push(with_cdevent_id(&links, Some(&row.deployment.cdevent_id)));
    }
    Ok((page.total, items, last))
}

async fn change_page(store: &Store, query: &PageQuery) -> Result<TablePage, Problem> {
    let page = store.change_page(query).await.map_err(store_problem)?;
    let last = page.items.last().and_then(|row| {
        Some(PageAfter::Change(
            row.first_at?,
            row.first_deployment?,
            row.change_id.clone(),
        ))
    });
    let items = page
        .items
        .into_iter()
        .map(|row| {
            let detail: ChangeDetail =
                serde_json::from_str(&row.detail).map_err(|e| corrupt("change", e))?;
            let links = ChangeLinks::new(
                &detail.change,
                detail.contained_in,
                row.first_deployment.zip(row.first_at),
                detail.start,
            );
            Ok(serde_json::to_value(&links).unwrap_or_default())
        })
        .collect::<Result<_, Problem>>()?;
    Ok((page.total, items, last))
}

async fn incident_page(store: &Store, query: &PageQuery) -> Result<TablePage, Problem> {
    let page = store.incident_page(query).await.map_err(store_problem)?;
    let last = page
        .items
        .last()
        .map(|row| PageAfter::Incident(row.detected_at, row.incident_id.clone()));
    let items = page
        .items
        .into_iter()
        .map(|row| {
            let detail: IncidentDetail =
                serde_json::from_str(&row.detail).map_err(|e| corrupt("incident", e))?;
            let links = IncidentLinks::new(&detail.incident, detail.attribution);
            Ok(serde_json::to_value(&links).unwrap_or_default())
        })
        .collect::<Result<_, Problem>>()?;
    Ok((page.total, items, last))
}

/// A page of a filtered list: the scope's facts linked in memory.
pub(crate) async fn from_scope(
    state: &ApiState,
    query: &DoraQuery,
    listing: Listing,
    limit: usize,
    offset: usize,
    after: Option<&PageAfter>,
) -> Result<Listed, Problem> {
    let (links, freshness) = state
        .keys
        .scope(&state.store, &keys_config(state), &query.scope)
        .await
        .map_err(store_problem)?;
    let config = state.dora.config();
    let linked = Linked::new(&links.facts, &config);
    let window = &query.window;
    // Newest first, each with the cursor that starts after it.
    let mut listed: Vec<(PageAfter, Value)> = match listing {
        Listing::Deployments => linked
            .deployments_in(window)
            .into_iter()
            .map(|d| {
                let key = PageAfter::Deployment(d.at, d.id);
                (key, with_cdevent_id(&d, links.cdevent_ids.get(&d.id)))
            })
            .collect(),
        Listing::Changes => linked
            .changes_in(window)
            .into_iter()
            .filter_map(|c| {
                let key =
                    PageAfter::Change(c.deployed_at?, c.first_production_deployment?, c.id.clone());
                Some((key, serde_json::to_value(&c).unwrap_or_default()))
            })
            .collect(),
        Listing::Incidents => linked
            .incidents_in(window)
            .into_iter()
            .map(|i| {
                let key = PageAfter::Incident(i.detected_at, i.id.clone());
                (key, serde_json::to_value(&i).unwrap_or_default())
            })
            .collect(),
    };
    listed.reverse();
    let total = i64::try_from(listed.len()).unwrap_or(i64::MAX);
    let start = match after {
        Some(after) => listed
            .iter()
            .position(|(key, _)| before(key, after))
            .unwrap_or(listed.len()),
        None => offset.min(listed.len()),
    };
    let page: Vec<(PageAfter, Value)> = listed.into_iter().skip(start).take(limit).collect();
    let next = page
        .last()
        .filter(|_| page.len() == limit)
        .map(|(key, _)| cursor(key));
    Ok((
        total,
        page.into_iter().map(|(_, item)| item).collect(),
        next,
        freshness,
    ))
}

/// Whether `key` comes after `after` in a newest-first list.
fn before(key: &PageAfter, after: &PageAfter) -> bool {
    fn order(key: &PageAfter) -> (DateTime<Utc>, i64, &str) {
        match key {
            PageAfter::Deployment(at, id) => (*at, *id, ""),
            PageAfter::Change(at, deployment, id) => (*at, *deployment, id.as_str()),
            PageAfter::Incident(at, id) => (*at, 0, id.as_str()),
        }
    }
    order(key) < order(after)
}
