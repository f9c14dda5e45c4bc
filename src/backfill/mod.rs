//! `dora-events backfill github`: a repository's history from the GitHub REST API (v3), sent
//! through the `github` source as if its webhooks had delivered it, so that the DORA keys of a
//! backfilled history are those of the same history delivered live, and nothing counts twice.
//!
//! * `client`: HTTP, pages (`Link`), rate limits and their waits;
//! * `kinds`: what is read per repository (deployments with their statuses, closed pull
//!   requests, the default branch's commits, incident issues, workflow runs, releases);
//! * `payloads`: REST objects -> webhook payloads -> CloudEvents, with ids made from the objects;
//! * `sink`: the database (one transaction per page, with its checkpoint) or a dry run.
//!
//! The events wait in the raw store for the router, as imported ones do: a running server picks
//! them up, or `dora-events serve --once` processes them.

pub mod client;
pub mod kinds;
pub mod payloads;
pub mod sink;

use std::collections::BTreeMap;

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::Value;

use client::GithubClient;
use kinds::{Fit, Kind, RepoContext, Window};
use sink::Sink;

/// Pages read per list at most (100 objects each).
const MAX_PAGES: i64 = 10_000;

/// What to backfill.
#[derive(Debug, Clone)]
pub struct Options {
    /// `owner/name`, each.
    pub repos: Vec<String>,
    pub kinds: Vec<Kind>,
    pub window: Window,
    /// `[sources.github] incident_label`.
    pub incident_label: String,
    /// Draw progress bars (when standard error is a terminal).
    pub progress: bool,
}

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
    /// The page this run started at, when it resumed an interrupted one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_at_page: Option<i64>,
}

/// What a backfill did, per repository and kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub repos: BTreeMap<String, BTreeMap<Kind, KindReport>>,
    pub requests: u64,
}

impl Report {
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
        }
        total
    }
}

/// The repositories of an organization (`GET /orgs/{org}/repos`), archived ones left out.
pub async fn org_repos(client: &GithubClient, org: &str) -> anyhow::Result<Vec<String>> {
    let mut url = Some(client.url(&format!("/orgs/{org}/repos?type=all&per_page=100")));
    let mut repos = Vec::new();
    let mut pages = 0;
    while let Some(next) = url.take() {
        pages += 1;
        anyhow::ensure!(
            pages <= MAX_PAGES,
            "--org {org}: more than {MAX_PAGES} pages"
        );
        let page = client
            .page(&next, None)
            .await
            .with_context(|| format!("--org {org}"))?;
        for repo in page.items {
            if repo["archived"].as_bool() != Some(true) {
                repos.extend(repo["full_name"].as_str().map(str::to_owned));
            }
        }
        url = page.next;
    }
    Ok(repos)
}

/// Backfills every repository of `options` into `sink`. Stops at the first error (naming the
/// repository, the endpoint and the status); what was stored until then stays, with its
/// checkpoints, and the same command resumes from there.
pub async fn run(client: &GithubClient, sink: &Sink, options: &Options) -> anyhow::Result<Report> {
    let bars = MultiProgress::with_draw_target(if options.progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let mut report = Report::default();
    let mut checkpoints = Vec::new();
    for repo in &options.repos {
        let bar = bars.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix}: {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(repo.clone());
        let outcome = backfill_repo(client, sink, options, repo, &bar).await;
        bar.finish();
        let (kinds, names) = outcome.with_context(|| format!("backfill of {repo} stopped"))?;
        report.repos.insert(repo.clone(), kinds);
        checkpoints.extend(names);
    }
    sink.clear(&checkpoints).await?;
    report.requests = client.requests();
    Ok(report)
}

/// One repository: every kind in turn. The reports, and the names of the checkpoints it used.
async fn backfill_repo(
    client: &GithubClient,
    sink: &Sink,
    options: &Options,
    repo: &str,
    bar: &ProgressBar,
) -> anyhow::Result<(BTreeMap<Kind, KindReport>, Vec<String>)> {
    anyhow::ensure!(is_repo_name(repo), "{repo:?} is not OWNER/NAME");
    let rest = client
        .object(&client.url(&format!("/repos/{repo}")))
        .await?;
    let repository = payloads::repository(&rest);
    let default_branch = rest["default_branch"].as_str().unwrap_or("main").to_owned();
    let context = RepoContext {
        client,
        full_name: repo,
        repository: &repository,
        default_branch: &default_branch,
        incident_label: &options.incident_label,
        window: options.window,
    };
    let mut reports = BTreeMap::new();
    let mut names = Vec::new();
    for &kind in &options.kinds {
        if kind == Kind::Incidents && options.incident_label.trim().is_empty() {
            continue; // `[sources.github] incident_label = ""`: no issue is an incident
        }
        let name = format!(
            "backfill:github:{}:{}:{}",
            client.url(&format!("/{repo}")),
            kind.name(),
            options.window.label()
        );
        let report = backfill_kind(&context, sink, kind, &name, bar).await?;
        reports.insert(kind, report);
        names.push(name);
    }
    Ok((reports, names))
}

/// `OWNER/NAME` of the characters GitHub allows (letters, digits, `-`, `_`, `.`).
pub fn is_repo_name(repo: &str) -> bool {
    let part = |text: &str| {
        !text.is_empty()
            && text != "."
            && text != ".."
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    repo.split_once('/')
        .is_some_and(|(owner, name)| part(owner) && part(name))
}

/// One list of one repository, page by page from its checkpoint.
async fn backfill_kind(
    context: &RepoContext<'_>,
    sink: &Sink,
    kind: Kind,
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
    loop {
        bar.set_message(format!("{} page {page_number}", kind.name()));
        let page = context.client.page(&url, kind.field()).await?;
        let (events, older) = page_events(context, kind, &page.items, &mut report).await?;
        let last = older || page.next.is_none() || page_number >= MAX_PAGES;
        let position = if last { sink::DONE } else { page_number };
        let written = sink.write(events, name, position).await?;
        report.pages += 1;
        report.stored += written.stored;
        report.duplicates += written.duplicates;
        report.rejected += written.rejected;
        bar.tick();
        match page.next {
            Some(next) if !last => url = next,
            _ => return Ok(report),
        }
        page_number += 1;
    }
}

/// The events of one page's objects in the window; `true` when an object older than the window
/// ends the list.
async fn page_events(
    context: &RepoContext<'_>,
    kind: Kind,
    items: &[Value],
    report: &mut KindReport,
) -> anyhow::Result<(Vec<dora_model::cloudevent::CloudEvent>, bool)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_are_owner_slash_name() {
        for good in ["acme/shop", "a-b/c.d_e", "o/.github"] {
            assert!(is_repo_name(good), "{good}");
        }
        for bad in [
            "acme", "acme/", "/shop", "a/b/c", "a/b?x=1", "a/..", "a b/c", "",
        ] {
            assert!(!is_repo_name(bad), "{bad}");
        }
    }
}
