//! `dora-events backfill <tool>`: a tool's history from its REST API, sent through its source as
//! if its webhooks had delivered it, so that the DORA keys of a backfilled history are those of
//! the same history delivered live, and nothing counts twice.
//!
//! Shared by the tools:
//!
//! * `client`: HTTP, pages (`Link`, `X-Next-Page`), rate limits and their waits ([`client::Dialect`]
//!   says what differs);
//! * `window`: the `--since`/`--until` window;
//! * `sink`: the database (one transaction per page, with its checkpoint), a server, or a dry run;
//! * this module: the report, and reading one list page by page from its checkpoint ([`Lists`]).
//!
//! Per tool, `github` and `gitlab`: what is read (`kinds`) and the webhook payloads made of it
//! (`payloads`), with CloudEvent ids made from the objects; `bitbucket`: Pipelines deployments
//! (no webhook sends them).
//!
//! The events wait in the raw store for the router, as imported ones do: a running server picks
//! them up, or `dora-events serve --once` processes them.

pub mod bitbucket;
pub mod client;
pub mod github;
pub mod gitlab;
pub mod sink;
pub mod window;

use std::collections::BTreeMap;
use std::future::Future;

use anyhow::Context;
use dora_model::cloudevent::CloudEvent;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::Value;

use client::ApiClient;
use dora_store::PageValidator;
use sink::Sink;
use window::{Fit, Window};

/// Pages read per list at most (100 objects each).
pub const MAX_PAGES: i64 = 10_000;

/// What was read and sent of one list.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindReport {
    pub pages: u64,
    /// Objects in the window.
    pub objects: u64,
    /// CloudEvents made of them.
    pub events: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Pages the API answered `304 Not Modified` (skipped with their objects: stored before).
    #[serde(skip_serializing_if = "is_zero")]
    pub unchanged_pages: u64,
    /// The page this run started at, when it resumed an interrupted one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_at_page: Option<i64>,
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

/// What a backfill did, per repository (or project) and kind.
#[derive(Debug, Clone, Serialize)]
pub struct Report<K> {
    pub repos: BTreeMap<String, BTreeMap<K, KindReport>>,
    pub requests: u64,
}

impl<K> Default for Report<K> {
    fn default() -> Self {
        Self {
            repos: BTreeMap::new(),
            requests: 0,
        }
    }
}

impl<K> Report<K> {
    /// The sum over every list of one repository.
    pub fn total(&self, repo: &str) -> KindReport {
        let mut total = KindReport::default();
        for kind in self.repos.get(repo).into_iter().flat_map(BTreeMap::values) {
            total.pages += kind.pages;
            total.objects += kind.objects;
            total.events += kind.events;
            total.stored += kind.stored;
            total.duplicates += kind.duplicates;
            total.rejected += kind.rejected;
            total.unchanged_pages += kind.unchanged_pages;
        }
        total
    }
}

/// A kind of history of a tool, read from one list endpoint.
pub trait ListKind: Copy {
    /// `deployments`: for checkpoints, the progress bar and the report.
    fn name(self) -> &'static str;
}

/// The lists of one repository (or project) of a tool, one per kind.
pub trait Lists {
    type Kind: ListKind;
    fn client(&self) -> &ApiClient;
    /// The URL of `kind`'s list, from page `page` (1 = the first).
    fn first_url(&self, kind: Self::Kind, page: i64) -> String;
    /// Where the list lives under a list answer that is an object.
    fn field(&self, _kind: Self::Kind) -> Option<&'static str> {
        None
    }
    /// Whether a page of `kind` that the API answers `304 Not Modified` may be skipped whole:
    /// its objects carry all their events are made of (no part of them is read elsewhere and
    /// could change without the page changing).
    fn skips_unchanged(&self, _kind: Self::Kind) -> bool {
        true
    }
    /// Whether `object` of `kind` is in the window.
    fn fit(&self, kind: Self::Kind, object: &Value) -> Fit;
    /// The CloudEvents of one object of `kind` in the window.
    fn events(
        &self,
        kind: Self::Kind,
        object: &Value,
    ) -> impl Future<Output = anyhow::Result<Vec<CloudEvent>>> + Send;
}

/// The name of a list's checkpoint without its window (`<since>..<until>`, added by
/// [`backfill_list`]): `backfill:<tool>:<api>/<repository>:<kind>:`.
pub fn list_prefix(tool: &str, client: &ApiClient, repo: &str, kind: &str) -> String {
    format!(
        "backfill:{tool}:{}:{kind}:",
        client.url(&format!("/{repo}"))
    )
}

/// Backfills each of `repos` with `one` (given the repository and its progress bar), into a
/// report; then sets the checkpoints of the finished run back to 0. Stops at the first error,
/// naming the repository; what was stored until then stays, with its checkpoints.
pub async fn run_each<K, F, Fut>(
    client: &ApiClient,
    sink: &Sink,
    repos: &[String],
    progress: bool,
    mut one: F,
) -> anyhow::Result<Report<K>>
where
    K: Ord,
    F: FnMut(String, ProgressBar) -> Fut,
    Fut: Future<Output = anyhow::Result<(BTreeMap<K, KindReport>, Vec<String>)>>,
{
    let bars = MultiProgress::with_draw_target(if progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let mut report = Report::default();
    let mut checkpoints = Vec::new();
    for repo in repos {
        let bar = bars.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix}: {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(repo.clone());
        let outcome = one(repo.clone(), bar.clone()).await;
        bar.finish();
        let (kinds, names) = outcome.with_context(|| format!("backfill of {repo} stopped"))?;
        report.repos.insert(repo.clone(), kinds);
        checkpoints.extend(names);
    }
    sink.clear(&checkpoints).await?;
    report.requests = client.requests();
    Ok(report)
}

/// One list of one repository over `window`, page by page from its checkpoint (named
/// `<prefix><window>`, [`list_prefix`]); the report and the checkpoint's name. Once the list is
/// read to its end, the page validators of the same list over other windows are forgotten.
async fn backfill_list<L: Lists>(
    context: &L,
    sink: &Sink,
    kind: L::Kind,
    prefix: &str,
    window: &Window,
    bar: &ProgressBar,
) -> anyhow::Result<(KindReport, String)> {
    let name = format!("{prefix}{}", window.label());
    let report = read_list(context, sink, kind, &name, bar).await?;
    if context.skips_unchanged(kind) {
        sink.forget_other_page_validators(prefix, &name).await?;
    }
    Ok((report, name))
}

/// Each of `kinds` of the repository (or project) `repo` in turn, by [`backfill_list`] from its
/// checkpoint under `tool`'s [`list_prefix`]: the reports, and the names of the checkpoints
/// used.
pub async fn backfill_kinds<L: Lists>(
    tool: &str,
    context: &L,
    sink: &Sink,
    repo: &str,
    kinds: impl IntoIterator<Item = L::Kind>,
    window: &Window,
    bar: &ProgressBar,
) -> anyhow::Result<(BTreeMap<L::Kind, KindReport>, Vec<String>)>
where
    L::Kind: Ord,
{
    let mut reports = BTreeMap::new();
    let mut names = Vec::new();
    for kind in kinds {
        let prefix = list_prefix(tool, context.client(), repo, kind.name());
        let (report, name) = backfill_list(context, sink, kind, &prefix, window, bar).await?;
        reports.insert(kind, report);
        names.push(name);
    }
    Ok((reports, names))
}

/// [`backfill_list`]'s pages, from the checkpoint `name`.
async fn read_list<L: Lists>(
    context: &L,
    sink: &Sink,
    kind: L::Kind,
    name: &str,
    bar: &ProgressBar,
) -> anyhow::Result<KindReport> {
    let mut report = KindReport::default();
    let done = sink.checkpoint(name).await?;
    if done == sink::DONE {
        return Ok(report);
    }
    if done > 0 {
        report.resumed_at_page = Some(done + 1);
    }
    let mut page_number = done + 1;
    let mut url = context.first_url(kind, page_number);
    let conditional = context.skips_unchanged(kind);
    loop {
        bar.set_message(format!("{} page {page_number}", kind.name()));
        let known = match conditional {
            true => sink.page_validator(name, &url).await?,
            false => None,
        };
        let etag = known.as_ref().map(|known| known.etag.as_str());
        let answer = context
            .client()
            .page_if_changed(&url, context.field(kind), etag)
            .await?;
        report.pages += 1;
        let next = match answer {
            Some(page) => {
                let (events, older) = page_events(context, kind, &page.items, &mut report).await?;
                // Not kept for the last page of a list: an ETag may not cover the paging
                // headers, and a page added after it would go unseen.
                let keep = conditional && page.next.is_some();
                let next = page.next.filter(|_| !older && page_number < MAX_PAGES);
                let position = if next.is_none() {
                    sink::DONE
                } else {
                    page_number
                };
                let written = sink.write(events, name, position).await?;
                report.stored += written.stored;
                report.duplicates += written.duplicates;
                report.rejected += written.rejected;
                // Nor for a page with refused events: a later run, under other limits, should
                // read them again.
                if let Some(etag) = page.etag.filter(|_| keep && written.rejected == 0) {
                    let validator = PageValidator {
                        etag,
                        next: next.clone(),
                    };
                    sink.keep_page_validator(name, &url, &validator).await?;
                }
                next
            }
            None => {
                report.unchanged_pages += 1;
                let next = known.and_then(|known| known.next);
                let next = next.filter(|_| page_number < MAX_PAGES);
                let position = if next.is_none() {
                    sink::DONE
                } else {
                    page_number
                };
                sink.write(Vec::new(), name, position).await?;
                next
            }
        };
        bar.tick();
        let Some(next) = next else {
            return Ok(report);
        };
        url = next;
        page_number += 1;
    }
}

/// The events of one page's objects in the window; `true` when an object older than the window
/// ends the list.
async fn page_events<L: Lists>(
    context: &L,
    kind: L::Kind,
    items: &[Value],
    report: &mut KindReport,
) -> anyhow::Result<(Vec<CloudEvent>, bool)> {
    let mut events = Vec::new();
    for item in items {
        match context.fit(kind, item) {
            Fit::Inside => {}
            Fit::Outside => continue,
            Fit::Older => return Ok((events, true)),
        }
        let made = context.events(kind, item).await?;
        report.objects += 1;
        report.events += made.len() as u64;
        events.extend(made);
    }
    Ok((events, false))
}

/// One segment of a repository or project path: letters, digits, `-`, `_` and `.` (not `.` or
/// `..` alone), as GitHub and GitLab allow.
pub fn is_path_segment(text: &str) -> bool {
    !text.is_empty()
        && text != "."
        && text != ".."
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Every item of a list (at most `max_pages` pages), for the small lists read whole (a group's
/// projects, a deployment's statuses, a merge request's commits).
pub async fn read_all(
    client: &ApiClient,
    first: String,
    max_pages: usize,
) -> anyhow::Result<Vec<Value>> {
    let mut url = Some(first);
    let mut items = Vec::new();
    for _ in 0..max_pages {
        let Some(next) = url.take() else { break };
        let page = client.page(&next, None).await?;
        items.extend(page.items);
        url = page.next;
    }
    Ok(items)
}
